// Package cli is the root of the spgate command line (cli/cli's
// pkg/cmd/root): Main and its exit codes, the root command and its
// persistent flags, and the cmdutil.Factory every verb takes, built here
// and completed for the command cobra runs. The verbs live in packages of
// their own under internal/cmd, one a noun; they are thin: they parse
// flags, call a package of the library and print the result.
package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/internal/cmd/appcmd"
	"github.com/spgate/spgate/internal/cmd/callcmd"
	"github.com/spgate/spgate/internal/cmd/clientcmd"
	"github.com/spgate/spgate/internal/cmd/consolecmd"
	"github.com/spgate/spgate/internal/cmd/democmd"
	"github.com/spgate/spgate/internal/cmd/doctorcmd"
	"github.com/spgate/spgate/internal/cmd/emulatecmd"
	"github.com/spgate/spgate/internal/cmd/exportcmd"
	"github.com/spgate/spgate/internal/cmd/importcmd"
	"github.com/spgate/spgate/internal/cmd/orderscmd"
	"github.com/spgate/spgate/internal/cmd/rotatecmd"
	"github.com/spgate/spgate/internal/cmd/sellercmd"
	"github.com/spgate/spgate/internal/cmd/servecmd"
	"github.com/spgate/spgate/internal/cmd/setupcmd"
	"github.com/spgate/spgate/internal/cmd/vaultcmd"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/orderpull"
)

// EnvEndpoint points every SP-API and LWA call at another base URL
// (cmdutil.EnvEndpoint).
const EnvEndpoint = cmdutil.EnvEndpoint

// IO bundles the streams a command reads and writes, so tests can inject them.
type IO = cmdutil.IOStreams

// version is set with -ldflags "-X github.com/spgate/spgate/internal/cli.version=…".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// NewRoot builds the spgate command tree.
func NewRoot(streams IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "spgate",
		Short: "Credential and access layer for Amazon's Selling Partner API",
		Long: `spgate keeps every Selling Partner API credential in one encrypted vault,
keeps tokens fresh and client secrets rotated, paces and retries every call,
and serves one gateway URL for Business Central and scripts.

See it work end to end against the built-in offline Amazon (no account):

  spgate demo

Then add your own app and sellers:

  spgate app add main --app-id amzn1.sp.solution.… --client-id amzn1.application-oa2-client.…
  spgate seller add A1EXAMPLE2SELLER --app main --region eu --marketplace DE
  spgate doctor

Exit codes, the same for every verb: 0 ok; 1 failed (Amazon refused, a check
failed, a name already in the vault); 2 bad input (a wrong flag or value, an
app, seller or client that is not in the vault); 3 vault or key problem;
4 internal error. With --json a failure prints one JSON object on stderr:
{"code":"not_found","exit":2,"message":"…","fix":"…"}.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	pf := root.PersistentFlags()
	pf.String(flagVault, "", "vault file or postgres:// DSN (default $SPGATE_VAULT, else $XDG_DATA_HOME/spgate/vault.db)")
	pf.Bool(flagJSON, false, "print machine-readable JSON on stdout (and log JSON lines on stderr)")
	pf.String(flagLogLevel, "warn", "log level on stderr: debug, info, warn or error")
	f := newFactory(streams)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return bindFactory(f, cmd) }
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	for _, add := range []func(*cmdutil.Factory) *cobra.Command{
		appcmd.NewCmd, callcmd.NewCmd, clientcmd.NewCmd, consolecmd.NewCmd, democmd.NewCmd,
		doctorcmd.NewCmd, emulatecmd.NewCmd, exportcmd.NewCmd, importcmd.NewCmd, orderscmd.NewCmd,
		rotatecmd.NewCmd, sellercmd.NewCmd, servecmd.NewCmd, setupcmd.NewCmd, vaultcmd.NewCmd,
	} {
		root.AddCommand(add(f))
	}
	for _, add := range commands {
		root.AddCommand(add(streams))
	}
	root.AddCommand(newVersionCmd(streams))
	groupsRefuseUnknownVerbs(root)
	return root
}

// groupsRefuseUnknownVerbs makes every command group (spgate orders, spgate
// setup…) print its help when run alone and refuse a verb it does not have
// as bad input; without a RunE of its own, cobra would print the help and
// exit 0 for "spgate orders frobnicate".
func groupsRefuseUnknownVerbs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		groupsRefuseUnknownVerbs(sub)
	}
	if c.HasSubCommands() && !c.Runnable() {
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
	if c.HasSubCommands() && c.Args == nil {
		c.Args = cobra.NoArgs
	}
}

// commands lists the constructors of the top-level verbs defined in this
// package (spgate completion and bench); each appends itself in init.
var commands []func(IO) *cobra.Command

func newVersionCmd(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print spgate's version",
		Example: "  spgate version\n  spgate version --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if jsonOut(cmd) {
				return printJSON(streams.Out, map[string]string{"version": buildVersion(), "go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH})
			}
			_, err := fmt.Fprintf(streams.Out, "spgate %s\n", buildVersion())
			return err
		},
	}
}

// Main runs spgate with args and returns the process exit code. A failed
// command prints "spgate: …" on errw, or under --json one JSON object with
// the problem's code, the message and the fix (errors.go).
func Main(ctx context.Context, args []string, in io.Reader, out, errw io.Writer) int {
	root := NewRoot(IO{In: in, Out: out, Err: errw})
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	asJSON, path := argsWantJSON(args), root.CommandPath()
	if cmd != nil {
		asJSON = asJSON || jsonOut(cmd)
		path = cmd.CommandPath()
	}
	problem.Write(errw, err, asJSON, path)
	_, code := problem.Of(err)
	return code
}

// argsWantJSON reports whether args ask for --json, for errors met before
// the flags were parsed (an unknown flag, an unknown verb).
func argsWantJSON(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--" + flagJSON, "--" + flagJSON + "=true":
			return true
		}
	}
	return false
}

// ordersV0 is the Orders API version spgate bench pulls with.
const ordersV0 = orderpull.V0

// piiFor maps --pii's address and buyer to the data elements of the Orders
// API version api (cmdutil.PII), for spgate bench.
func piiFor(api string, pii []string) ([]string, error) { return cmdutil.PII(api, pii) }
