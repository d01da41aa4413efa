package servecmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/console"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/gatewayserver"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/vault"
)

// consoleOptions are the --console flags of spgate serve.
type consoleOptions struct {
	Addr            string
	TLSCert, TLSKey string
}

// addConsoleFlags adds serve's --console flags, bound to o.
func addConsoleFlags(cmd *cobra.Command, o *consoleOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.Addr, "console", "", "also serve the admin web console on this address, e.g. 127.0.0.1:8088 (loopback unless --console-tls-cert is given); prints a one-time sign-in link (`spgate console link` prints another)")
	fl.StringVar(&o.TLSCert, "console-tls-cert", "", "with --console: TLS certificate (PEM) for the console; needed for a non-loopback address")
	fl.StringVar(&o.TLSKey, "console-tls-key", "", "with --console: TLS private key (PEM, unencrypted)")
}

// validate refuses --console flags that cannot work.
func (o consoleOptions) validate() error {
	if o.Addr == "" {
		return nil
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return cmdutil.UsageErr("give both --console-tls-cert and --console-tls-key, or neither")
	}
	if err := console.CheckAddr(o.Addr, o.TLSCert != ""); err != nil {
		return cmdutil.UsageErr("--console: %v", err)
	}
	return nil
}

// config is the console's part of the gateway's configuration, listening
// on --console; nil without --console. checks runs spgate doctor's checks,
// setupAWS spgate setup aws (consoleSetupAWS).
func (o consoleOptions) config(checks func(context.Context) ([]doctor.Check, error), setupAWS func(context.Context, bool, func(string)) error) (*gatewayserver.Console, error) {
	if o.Addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, cmdutil.ConfigErr(fmt.Errorf("--console: listen on %s: %w (another process holds the port? choose another address)", o.Addr, err))
	}
	return &gatewayserver.Console{Listener: ln, TLSCert: o.TLSCert, TLSKey: o.TLSKey, Checks: checks,
		SetupAWS: setupAWS, ConsentPage: cmdutil.ConsentPage}, nil
}

// printLogin tells where the console is and how to sign in, once.
func (o consoleOptions) printLogin(w io.Writer, srv *gatewayserver.Server) {
	if srv.ConsoleURL() == "" {
		return
	}
	fmt.Fprintf(w, "spgate: admin console on %s; sign in once, within %d minutes, with:\n  %s\n(`spgate console link` prints a new link)\n",
		srv.ConsoleURL(), int(console.LoginTokenTTL/time.Minute), srv.ConsoleLogin())
}

// consoleSetupAWS is `spgate setup aws --app A --queue [--dry-run]` on the
// vault --vault names, run as the verb itself (f.Main) with its report
// going to the page.
func consoleSetupAWS(f *cmdutil.Factory, app string) func(context.Context, bool, func(string)) error {
	return func(ctx context.Context, dryRun bool, out func(string)) error {
		args := []string{"setup", "aws", "--app", app, "--queue"}
		if f.VaultFlag != "" {
			args = append(args, "--"+cmdutil.FlagVault, f.VaultFlag)
		}
		if dryRun {
			args = append(args, "--dry-run")
		}
		w := gatewayserver.NewLineWriter(out)
		code := f.Main(vault.WithActor(ctx, console.Actor), args, strings.NewReader(""), w, w)
		w.Flush()
		if code != problem.ExitOK {
			return fmt.Errorf("spgate %s exited with %d: see its report above", strings.Join(args, " "), code)
		}
		return nil
	}
}
