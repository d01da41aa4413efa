package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// EnvEndpoint points every SP-API and LWA call at another base URL (the
// offline Amazon, a proxy): either one URL, or per region
// "na=URL,eu=URL,fe=URL" (a bare URL among them serves the other regions).
const EnvEndpoint = "SPGATE_ENDPOINT"

const (
	flagEndpoint = "endpoint"
	flagSandbox  = "sandbox"
	flagApp      = "app"
	flagSeller   = "seller"
)

// addClientFlags adds the flags every verb that calls Amazon shares.
func addClientFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String(flagApp, "", "app (name, app id or client id) whose credentials to use; default: the only app in the vault")
	f.String(flagEndpoint, "", "send calls to this base URL instead of Amazon (e.g. the URL spgate emulate prints), or na=URL,eu=URL,fe=URL; default $"+EnvEndpoint)
	f.Bool(flagSandbox, false, "use Amazon's static sandbox (answers only the models' canned arguments)")
}

// endpointsFor picks production, the sandbox, or a custom base URL from
// --endpoint / $SPGATE_ENDPOINT.
func endpointsFor(cmd *cobra.Command) (spapi.Endpoints, error) {
	ep, _ := cmd.Flags().GetString(flagEndpoint) // "" for a verb without the flag
	if ep == "" {
		ep = os.Getenv(EnvEndpoint)
	}
	sandbox, _ := cmd.Flags().GetBool(flagSandbox)
	switch {
	case ep != "" && sandbox:
		return spapi.Endpoints{}, usageErr("--sandbox and --endpoint (or $%s) exclude each other", EnvEndpoint)
	case sandbox:
		return spapi.Sandbox(), nil
	case ep == "":
		return spapi.Production(), nil
	}
	return parseEndpoint(ep)
}

// parseEndpoint reads "URL" or "na=URL,eu=URL[,URL]" (spapi.ParseEndpoints).
func parseEndpoint(s string) (spapi.Endpoints, error) {
	ep, err := spapi.ParseEndpoints(s)
	if err != nil {
		return spapi.Endpoints{}, usageErr("%v", err)
	}
	return ep, nil
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
		return vault.App{}, notFound(err, "app", ref, "spgate app list")
	}
	return a, nil
}

// resolveSeller finds a seller by id or name.
func resolveSeller(ctx context.Context, v *vault.Vault, ref string) (vault.Seller, error) {
	if ref == "" {
		return vault.Seller{}, usageErr("--seller is required (a selling partner id or the seller's name in the vault)")
	}
	s, err := v.GetSeller(ctx, ref)
	if errors.Is(err, vault.ErrNotFound) {
		return vault.Seller{}, problemErr(ProblemNotFound, fmt.Errorf("no seller %q in the vault", ref), "add it with `spgate seller add`, or see `spgate seller list`")
	}
	return s, storeErr(err)
}

// openVaultApp opens the vault and resolves the app --app names (empty: the
// only app) and the endpoints the command's flags select, for the verbs that
// work with one app. On success the caller closes the vault.
func openVaultApp(ctx context.Context, cmd *cobra.Command) (*vault.Vault, vault.App, spapi.Endpoints, error) {
	v, err := openVault(cmd, false)
	if err != nil {
		return nil, vault.App{}, spapi.Endpoints{}, err
	}
	app, ep, err := appAndEndpoints(ctx, cmd, v)
	if err != nil {
		v.Close()
		return nil, vault.App{}, spapi.Endpoints{}, err
	}
	return v, app, ep, nil
}

// appAndEndpoints resolves the app --app names (empty: the only app) and
// the endpoints the command's flags select.
func appAndEndpoints(ctx context.Context, cmd *cobra.Command, v *vault.Vault) (vault.App, spapi.Endpoints, error) {
	appRef, _ := cmd.Flags().GetString(flagApp)
	app, err := resolveApp(ctx, v, appRef)
	if err != nil {
		return vault.App{}, spapi.Endpoints{}, err
	}
	ep, err := endpointsFor(cmd)
	return app, ep, err
}

// clientForApp builds the client for an app already read from the vault
// (appvault.NewClient).
func clientForApp(ctx context.Context, cmd *cobra.Command, v *vault.Vault, app vault.App, ep spapi.Endpoints) (*spapi.Client, error) {
	sign, err := signerFor(ctx, app)
	if err != nil {
		return nil, err
	}
	return appvault.NewClient(v, app, appvault.ClientConfig{Endpoints: ep, Sign: sign,
		UserAgent: "spgate/" + buildVersion() + " (Language=Go)", Logger: logger(cmd)})
}
