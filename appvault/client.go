package appvault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// ErrNoApp is ResolveApp's answer when no app is named and the vault holds
// none.
var ErrNoApp = errors.New("the vault holds no app: add one with `spgate app add`")

// ManyAppsError is ResolveApp's answer when no app is named and the vault
// holds several.
type ManyAppsError struct{ Names []string }

// Error names the apps.
func (e *ManyAppsError) Error() string {
	return fmt.Sprintf("the vault holds %d apps (%s): name one", len(e.Names), strings.Join(e.Names, ", "))
}

// ResolveApp returns the app ref names (its name, app id or client id), or
// with an empty ref the vault's only app. An unknown ref matches
// vault.ErrNotFound.
func ResolveApp(ctx context.Context, v *vault.Vault, ref string) (vault.App, error) {
	if ref == "" {
		apps, err := v.ListApps(ctx)
		if err != nil {
			return vault.App{}, err
		}
		switch len(apps) {
		case 0:
			return vault.App{}, ErrNoApp
		case 1:
			ref = apps[0].Name
		default:
			names := make([]string, len(apps))
			for i, a := range apps {
				names[i] = a.Name
			}
			return vault.App{}, &ManyAppsError{Names: names}
		}
	}
	return v.GetApp(ctx, ref)
}

// ClientConfig is what NewClient takes besides the vault and the app.
type ClientConfig struct {
	Endpoints spapi.Endpoints
	// Sign signs each region's calls (spapi.Config.Sign); nil leaves them
	// unsigned, as SP-API has accepted since October 2023.
	Sign      func(spapi.Region, http.RoundTripper) http.RoundTripper
	UserAgent string
	Logger    *slog.Logger
}

// NewClient returns an SP-API client for app, an app read from v. It
// re-reads the app's client id and secret from the vault on every token
// request, so a secret rotated by another process takes effect without a
// restart, with the previous secret as LWA's fallback during a rotation's
// overlap (rotation.VaultCredentials). Sellers come from the vault
// (Sellers, uncached), and the rate limiter keeps its buckets in the vault
// (vault.RateLimitStore), so that every spgate process using the vault
// (spgate serve, a cron'd orders pull, a one-off call) paces each seller's
// calls together. So are access tokens and RDTs (NewTokenCache): no
// process asks LWA for a token another one holds.
func NewClient(v *vault.Vault, app vault.App, cfg ClientConfig) (*spapi.Client, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return spapi.New(spapi.Config{
		AppID:       app.AppID,
		Sign:        cfg.Sign,
		Credentials: rotation.VaultCredentials{Vault: v, App: app.Name},
		Sellers:     NewSellers(v, app.Name, 0, nil),
		Endpoints:   cfg.Endpoints,
		Limiter:     ratelimit.New(ratelimit.Options{Store: v.RateLimitStore(log), Headroom: 1, Logger: log}),
		UserAgent:   cfg.UserAgent,
		Logger:      log,
		TokenCache:  NewTokenCache(v, log),
	})
}
