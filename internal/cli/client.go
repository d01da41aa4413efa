package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
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
	ep := ""
	if f := cmd.Flags().Lookup(flagEndpoint); f != nil {
		ep = f.Value.String()
	}
	if ep == "" {
		ep = os.Getenv(EnvEndpoint)
	}
	sandbox := false
	if f := cmd.Flags().Lookup(flagSandbox); f != nil {
		sandbox = f.Value.String() == "true"
	}
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

// parseEndpoint reads "URL" or "na=URL,eu=URL[,URL]".
func parseEndpoint(s string) (spapi.Endpoints, error) {
	base := ""
	per := map[spapi.Region]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if k, v, ok := strings.Cut(part, "="); ok && !strings.Contains(k, "/") {
			r, err := spapi.ParseRegion(k)
			if err != nil {
				return spapi.Endpoints{}, usageErr("endpoint %q: %v (use na=URL, eu=URL, fe=URL)", part, err)
			}
			per[r] = v
			if base == "" && r == spapi.NA {
				base = v
			}
			continue
		}
		base = part
	}
	if base == "" {
		for _, r := range []spapi.Region{spapi.NA, spapi.EU, spapi.FE} {
			if u, ok := per[r]; ok {
				base = u
				break
			}
		}
	}
	if base == "" {
		return spapi.Endpoints{}, usageErr("endpoint %q names no URL", s)
	}
	ep, err := spapi.Custom(base, per, "")
	if err != nil {
		return spapi.Endpoints{}, usageErr("%v", err)
	}
	return ep, nil
}

// resolveApp finds the app ref names, or the only app when ref is empty.
func resolveApp(ctx context.Context, v *vault.Vault, ref string) (vault.App, error) {
	if ref == "" {
		apps, err := v.ListApps(ctx)
		if err != nil {
			return vault.App{}, storeErr(err)
		}
		switch len(apps) {
		case 0:
			return vault.App{}, &ExitError{Code: ExitConfig, Err: errors.New("the vault holds no app: add one with `spgate app add`")}
		case 1:
			ref = apps[0].Name
		default:
			names := make([]string, len(apps))
			for i, a := range apps {
				names[i] = a.Name
			}
			return vault.App{}, usageErr("the vault holds %d apps (%s): choose one with --app", len(apps), strings.Join(names, ", "))
		}
	}
	a, err := v.GetApp(ctx, ref)
	if err != nil {
		if errors.Is(err, vault.ErrNotFound) {
			return vault.App{}, notFoundErr("app", ref, "spgate app list")
		}
		return vault.App{}, storeErr(err)
	}
	return a, nil
}

// resolveSeller finds a seller by id or name.
func resolveSeller(ctx context.Context, v *vault.Vault, ref string) (vault.Seller, error) {
	if ref == "" {
		return vault.Seller{}, usageErr("--seller is required (a selling partner id or the seller's name in the vault)")
	}
	s, err := v.GetSeller(ctx, ref)
	if err != nil {
		if errors.Is(err, vault.ErrNotFound) {
			return vault.Seller{}, problemErr(ProblemNotFound, fmt.Errorf("no seller %q in the vault", ref), "add it with `spgate seller add`, or see `spgate seller list`")
		}
		return vault.Seller{}, storeErr(err)
	}
	return s, nil
}

// vaultCredentials re-reads the app's client id and secret from the vault on
// every token request, so a secret rotated by another process takes effect
// without a restart; during a rotation's overlap it offers the previous
// secret as LWA's fallback (rotation.VaultCredentials).
type vaultCredentials struct {
	v   *vault.Vault
	app string
}

func (c vaultCredentials) Credentials(ctx context.Context) (lwa.Credentials, error) {
	return rotation.VaultCredentials{Vault: c.v, App: c.app}.Credentials(ctx)
}

// vaultSellers is the vault as an spapi.SellerStore for one app.
type vaultSellers struct {
	v   *vault.Vault
	app string
}

func (s vaultSellers) Seller(ctx context.Context, id string) (spapi.Seller, error) {
	sl, err := s.v.GetSeller(ctx, id)
	if err != nil {
		return spapi.Seller{}, fmt.Errorf("seller %s: %w", id, err)
	}
	au, ok := sl.Authorization(s.app)
	if !ok || au.RefreshToken.Value.IsZero() {
		return spapi.Seller{}, fmt.Errorf("seller %s has not authorized app %s: authorize it in Seller Central and store the refresh token with `spgate seller add`", id, s.app)
	}
	return spapi.Seller{ID: sl.ID, Region: spapi.Region(sl.Region), RefreshToken: au.RefreshToken.Value}, nil
}

// newClient builds an SP-API client for the app the command's --app names
// (empty: the only app in the vault) with the endpoints and logger its flags
// select. It reads --app itself, so no verb can register the flag and then
// forget to pass it on.
func newClient(ctx context.Context, cmd *cobra.Command, v *vault.Vault) (*spapi.Client, error) {
	appRef, _ := cmd.Flags().GetString(flagApp)
	app, ep, err := appAndEndpoints(ctx, cmd, v, appRef)
	if err != nil {
		return nil, err
	}
	return clientForApp(ctx, cmd, v, app, ep)
}

// openVaultApp opens the vault and resolves the app --app names (empty: the
// only app) and the endpoints the command's flags select, for the verbs that
// work with one app. On success the caller closes the vault.
func openVaultApp(ctx context.Context, cmd *cobra.Command) (*vault.Vault, vault.App, spapi.Endpoints, error) {
	v, err := openVault(cmd, false)
	if err != nil {
		return nil, vault.App{}, spapi.Endpoints{}, err
	}
	appRef, _ := cmd.Flags().GetString(flagApp)
	app, ep, err := appAndEndpoints(ctx, cmd, v, appRef)
	if err != nil {
		v.Close()
		return nil, vault.App{}, spapi.Endpoints{}, err
	}
	return v, app, ep, nil
}

// appAndEndpoints resolves the app appRef names (empty: the only app) and
// the endpoints the command's flags select.
func appAndEndpoints(ctx context.Context, cmd *cobra.Command, v *vault.Vault, appRef string) (vault.App, spapi.Endpoints, error) {
	app, err := resolveApp(ctx, v, appRef)
	if err != nil {
		return vault.App{}, spapi.Endpoints{}, err
	}
	ep, err := endpointsFor(cmd)
	if err != nil {
		return vault.App{}, spapi.Endpoints{}, err
	}
	return app, ep, nil
}

// clientForApp builds the client for an app already read from the vault. Its
// rate limiter keeps its buckets in the vault (vault.RateLimitStore).
func clientForApp(ctx context.Context, cmd *cobra.Command, v *vault.Vault, app vault.App, ep spapi.Endpoints) (*spapi.Client, error) {
	sign, err := signerFor(ctx, app)
	if err != nil {
		return nil, err
	}
	log := logger(cmd)
	return spapi.New(spapi.Config{
		AppID:       app.AppID,
		Sign:        sign,
		Credentials: vaultCredentials{v: v, app: app.Name},
		Sellers:     vaultSellers{v: v, app: app.Name},
		Endpoints:   ep,
		// The buckets live in the vault, so this command and every other
		// spgate process on the machine (spgate serve, a cron'd orders
		// pull) pace each seller's calls together.
		Limiter:   ratelimit.New(ratelimit.Options{Store: v.RateLimitStore(log), Headroom: 1, Logger: log}),
		UserAgent: "spgate/" + buildVersion() + " (Language=Go)",
		Logger:    log,
		// So are access tokens and RDTs: no request for one another process holds.
		TokenCache: appvault.NewTokenCache(v, log),
	})
}

// verifyClientSecret proves a client id and secret against LWA with the
// client_credentials grant (no seller needed), before the secret is stored.
func verifyClientSecret(ctx context.Context, ep spapi.Endpoints, clientID string, sec secret.String) error {
	c := &lwa.Client{TokenURL: ep.TokenURL}
	src := lwa.NewGrantlessSource(c, lwa.StaticCredentials{ClientID: clientID, ClientSecret: sec}, lwa.ScopeNotifications)
	if _, err := src.Token(ctx); err != nil {
		if errors.Is(err, lwa.ErrClientRejected) {
			return fmt.Errorf("LWA refused client id %s with this secret (invalid_client): copy the current secret from Seller Central → Develop Apps → View and try again: %w", clientID, err)
		}
		return fmt.Errorf("checking the client secret with LWA: %w", err)
	}
	return nil
}
