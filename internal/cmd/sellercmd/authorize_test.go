package sellercmd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// authorizeRun is `spgate seller authorize` run without cobra: a vault
// holding the offline Amazon's app, and the seller's browser played by
// browser.
type authorizeRun struct {
	e      *cmdtest.OAuth
	vault  string
	key    vault.Key
	clock  *clock.Fake
	out    strings.Builder
	errOut strings.Builder
}

func newAuthorizeRun(t *testing.T) *authorizeRun {
	t.Helper()
	r := &authorizeRun{e: cmdtest.NewOAuth(t), vault: filepath.Join(t.TempDir(), "vault.db"), clock: clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	var err error
	if r.key, err = vault.NewRandomKey(); err != nil {
		t.Fatal(err)
	}
	v := r.open(t)
	defer v.Close()
	app := vault.App{Name: "main", AppID: r.e.App.ID, ClientID: r.e.App.ClientID, Draft: true, Region: "na",
		ClientSecrets: []vault.Secret{{Value: secret.New(r.e.App.ClientSecret)}}}
	if err := v.AddApp(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *authorizeRun) open(t *testing.T) *vault.Vault {
	t.Helper()
	v, err := vault.Open(context.Background(), r.vault, r.key, vault.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (r *authorizeRun) options(browser func(link string) error) *authorizeOptions {
	return &authorizeOptions{
		Factory: &cmdutil.Factory{IO: cmdutil.IOStreams{In: strings.NewReader(""), Out: &r.out, Err: &r.errOut}, Log: slog.New(slog.DiscardHandler), Clock: r.clock,
			OpenApp: func(ctx context.Context) (*vault.Vault, vault.App, spapi.Endpoints, error) {
				v, err := vault.Open(ctx, r.vault, r.key, vault.Options{})
				if err != nil {
					return nil, vault.App{}, spapi.Endpoints{}, err
				}
				app, err := v.GetApp(ctx, "main")
				if err != nil {
					v.Close()
					return nil, vault.App{}, spapi.Endpoints{}, err
				}
				ep, err := cmdutil.ParseEndpoint(r.e.Srv.URL)
				return v, app, ep, err
			},
		},
		ConsentPage: func(region string) string {
			if region != "na" {
				return "https://unexpected.example/" + region
			}
			return r.e.Srv.ConsentURL()
		},
		Browser: browser, Listener: r.e.L,
		App: "main", RedirectURL: r.e.Redirect, Marketplaces: []string{"US"}, Timeout: testenv.Patience,
	}
}

// TestRunSellerAuthorize drives the verb's run function directly: the
// flow's outcome decides the exit code, and only a completed flow stores
// anything.
func TestRunSellerAuthorize(t *testing.T) {
	// follow plays a seller who confirms (with extra consent parameters)
	// and whose browser follows the redirect.
	follow := func(t *testing.T, extra url.Values) func(string) error {
		return func(link string) error {
			loc, err := testenv.ConsentRedirect(link, extra)
			if err != nil {
				t.Error(err)
				return err
			}
			go testenv.Visit(loc)
			return nil
		}
	}
	tests := []struct {
		name     string
		setup    func(t *testing.T, r *authorizeRun, o *authorizeOptions)
		wantCode int // 0: success
		wantErr  string
	}{
		{"callback", func(t *testing.T, r *authorizeRun, o *authorizeOptions) { o.Browser = follow(t, nil) }, 0, ""},
		{"paste", func(t *testing.T, r *authorizeRun, o *authorizeOptions) {
			o.Paste, o.Listener = true, nil
			pr, pw := io.Pipe()
			o.IO.In = pr
			o.Browser = func(link string) error {
				loc, err := testenv.ConsentRedirect(link, nil)
				if err != nil {
					t.Error(err)
				}
				go func() { io.WriteString(pw, loc+"\n") }()
				return nil
			}
		}, 0, ""},
		{"forged state", func(t *testing.T, r *authorizeRun, o *authorizeOptions) {
			o.Browser = follow(t, url.Values{"state": {"forged"}})
		}, problem.ExitFailure, "run `spgate seller authorize` again"},
		{"declined", func(t *testing.T, r *authorizeRun, o *authorizeOptions) {
			o.Browser = follow(t, url.Values{"deny": {"1"}})
		}, problem.ExitFailure, "declined"},
		{"no redirect in time", func(t *testing.T, r *authorizeRun, o *authorizeOptions) {
			o.Timeout = time.Minute
			o.Browser = func(string) error {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
					defer cancel()
					if r.clock.BlockUntil(ctx, 1) == nil {
						r.clock.Advance(time.Minute)
					}
				}()
				return nil
			}
		}, problem.ExitFailure, "--paste"},
		{"listen on every interface", func(t *testing.T, r *authorizeRun, o *authorizeOptions) {
			o.Listener, o.Listen = nil, "0.0.0.0:0"
		}, problem.ExitUsage, "loopback"},
		{"redirect URI elsewhere", func(t *testing.T, r *authorizeRun, o *authorizeOptions) {
			o.Listener, o.RedirectURL = nil, "https://app.example.com/amazon/callback"
		}, problem.ExitUsage, "--paste"},
		{"marketplace outside the region", func(t *testing.T, r *authorizeRun, o *authorizeOptions) {
			o.Marketplaces = []string{"DE"}
		}, problem.ExitUsage, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newAuthorizeRun(t)
			o := r.options(nil)
			tc.setup(t, r, o)
			err := runSellerAuthorize(context.Background(), o)
			v := r.open(t)
			defer v.Close()
			sellers, lerr := v.ListSellers(context.Background())
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("%v\nstderr: %s", err, r.errOut.String())
				}
				if len(sellers) != 1 || sellers[0].Region != "na" || len(sellers[0].Marketplaces) != 1 {
					t.Fatalf("sellers %+v", sellers)
				}
				if a, ok := sellers[0].Authorization("main"); !ok || a.AuthorizedAt.IsZero() || !a.AuthorizedAt.Equal(r.clock.Now()) {
					t.Errorf("authorization %+v, want one dated by the injected clock", a)
				}
				if !strings.Contains(r.out.String(), "authorized app main") {
					t.Errorf("stdout: %s", r.out.String())
				}
				return
			}
			var ee *problem.Error
			if !errors.As(err, &ee) || ee.Code != tc.wantCode || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want exit %d with %q", err, tc.wantCode, tc.wantErr)
			}
			if len(sellers) != 0 {
				t.Errorf("a failed flow stored %d sellers", len(sellers))
			}
			if strings.Contains(err.Error(), "Atzr|") || strings.Contains(r.errOut.String(), "Atzr|") {
				t.Error("a refresh token in the error or on stderr")
			}
		})
	}
}
