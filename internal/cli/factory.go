package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/prompt"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// newFactory is the Factory the verbs of one root share; bindFactory
// completes it for the command cobra runs. A stream not given is the
// process's, as cobra's own (InOrStdin…).
func newFactory(streams IO) *cmdutil.Factory {
	if streams.In == nil {
		streams.In = os.Stdin
	}
	if streams.Out == nil {
		streams.Out = os.Stdout
	}
	if streams.Err == nil {
		streams.Err = os.Stderr
	}
	f := &cmdutil.Factory{IO: streams, Clock: clock.Real{}, Version: buildVersion(),
		Log: slog.New(slog.DiscardHandler), Main: Main}
	f.VaultPaths = func() (vault.Paths, error) { return vaultPaths(f.VaultFlag) }
	f.OpenVault = func(ctx context.Context, create bool) (*vault.Vault, error) { return openVault(ctx, f, create) }
	f.NewClient = func(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) (*spapi.Client, error) {
		return clientForApp(f, v, app, ep)
	}
	f.Confirm = func(question string) (bool, error) {
		ok, err := prompt.Confirm(f.IO.In, f.IO.Err, question)
		return ok, promptErr(err)
	}
	f.NoDump = func() { noDump(f.Log) }
	return f
}

// bindFactory completes f for cmd, the command cobra is about to run (the
// root's PersistentPreRunE): the root's --json, --log-level and --vault,
// and what reads cmd's own flags (OpenApp: --app, --endpoint, --sandbox;
// ReadSecret: the file flag of a secret). A bad --log-level is a usage
// error.
func bindFactory(f *cmdutil.Factory, cmd *cobra.Command) error {
	lvl, err := parseLogLevel(cmd)
	if err != nil {
		return err
	}
	f.JSON, f.Level = jsonOut(cmd), lvl
	f.Log = output.Logger(f.IO.Err, lvl, f.JSON)
	f.VaultFlag, _ = cmd.Flags().GetString(flagVault)
	f.OpenApp = func(ctx context.Context) (*vault.Vault, vault.App, spapi.Endpoints, error) {
		return openVaultApp(ctx, f, cmd)
	}
	f.ReadSecret = func(src prompt.Source) (secret.String, error) {
		if fl := cmd.Flags().Lookup(src.FileFlag); fl != nil {
			src.File, src.FileGiven = fl.Value.String(), fl.Changed
		}
		s, err := prompt.ReadSecret(f.IO.In, f.IO.Err, src)
		return s, promptErr(err)
	}
	return nil
}

// promptErr makes input the user got wrong or did not give bad input
// (exit 2).
func promptErr(err error) error {
	var ie *prompt.InputError
	if errors.As(err, &ie) {
		return &ExitError{Code: ExitUsage, Problem: ProblemBadInput, Err: err}
	}
	return err
}

// vaultPaths returns the vault and key file locations: flag (--vault)
// overrides the vault file ($SPGATE_VAULT, else the XDG default).
func vaultPaths(flag string) (vault.Paths, error) {
	p, err := vault.DefaultPaths()
	if err != nil {
		return vault.Paths{}, &ExitError{Code: ExitConfig, Err: err}
	}
	if flag != "" {
		p.Vault = flag
	}
	return p, nil
}

// openVault opens the vault for f (vault.OpenAt). With create, a missing
// vault is created and, when no key exists yet, a new master key; a note
// about backing it up goes to stderr. Every vault or key problem comes back
// as *ExitError with ExitConfig and a message saying what is wrong and how
// to fix it.
func openVault(ctx context.Context, f *cmdutil.Factory, create bool) (*vault.Vault, error) {
	p, err := f.VaultPaths()
	if err != nil {
		return nil, err
	}
	v, opened, err := vault.OpenAt(ctx, p, vault.Options{Create: create, Actor: "cli"})
	if opened.KeyCreated {
		fmt.Fprintf(f.IO.Err, "spgate: created a new master key in %s; back it up apart from the vault: without it the vault cannot be opened\n", p.KeyFile)
	}
	if err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: err}
	}
	f.Log.Debug("vault opened", "path", v.Path(), "key", opened.KeySource, "created", opened.Created)
	return v, nil
}

// openVaultApp opens the vault and resolves the app cmd's --app names
// (empty: the only app) and the endpoints cmd's flags select, for the verbs
// that work with one app. On success the caller closes the vault.
func openVaultApp(ctx context.Context, f *cmdutil.Factory, cmd *cobra.Command) (*vault.Vault, vault.App, spapi.Endpoints, error) {
	v, err := f.OpenVault(ctx, false)
	if err != nil {
		return nil, vault.App{}, spapi.Endpoints{}, err
	}
	appRef, _ := cmd.Flags().GetString(cmdutil.FlagApp)
	app, err := resolveApp(ctx, v, appRef)
	if err != nil {
		v.Close()
		return nil, vault.App{}, spapi.Endpoints{}, err
	}
	ep, err := cmdutil.EndpointsFor(cmd)
	if err != nil {
		v.Close()
		return nil, vault.App{}, spapi.Endpoints{}, err
	}
	return v, app, ep, nil
}

// resolveApp finds the app ref names, or the only app when ref is empty.
func resolveApp(ctx context.Context, v *vault.Vault, ref string) (vault.App, error) {
	a, err := appvault.ResolveApp(ctx, v, ref)
	var many *appvault.ManyAppsError
	switch {
	case errors.Is(err, appvault.ErrNoApp):
		return vault.App{}, &ExitError{Code: ExitConfig, Err: err}
	case errors.As(err, &many):
		return vault.App{}, usageErr("the vault holds %d apps (%s): choose one with --app", len(many.Names), strings.Join(many.Names, ", "))
	case err != nil:
		return vault.App{}, cmdutil.NotFound(err, "app", ref, "spgate app list")
	}
	return a, nil
}

// clientForApp builds the client for an app already read from the vault
// (appvault.NewClient).
func clientForApp(f *cmdutil.Factory, v *vault.Vault, app vault.App, ep spapi.Endpoints) (*spapi.Client, error) {
	sign, err := cmdutil.Signer(app)
	if err != nil {
		return nil, err
	}
	return appvault.NewClient(v, app, appvault.ClientConfig{Endpoints: ep, Sign: sign,
		UserAgent: f.UserAgent(), Logger: f.Log})
}
