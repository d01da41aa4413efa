package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

type oauthEnv struct {
	srv       *amazontest.Server
	fake      *clock.Fake
	app       amazontest.App
	l         net.Listener
	redirect  string
	exchanges atomic.Int64
}

func newOAuthEnv(t *testing.T) *oauthEnv {
	t.Helper()
	e := &oauthEnv{fake: clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	e.srv = amazontest.NewServer(amazontest.WithClock(e.fake))
	t.Cleanup(e.srv.Close)
	var err error
	e.l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.redirect = "http://" + e.l.Addr().String() + "/callback"
	e.app, err = e.srv.AddApp(amazontest.App{RedirectURIs: []string{e.redirect}, Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *oauthEnv) flow(open func(string) error) *authFlow {
	lc := &lwa.Client{TokenURL: e.srv.TokenURL()}
	creds := lwa.StaticCredentials{ClientID: e.app.ClientID, ClientSecret: secret.New(e.app.ClientSecret)}
	return &authFlow{
		ConsentBase: e.srv.ConsentURL(), AppID: e.app.ID, Draft: true, RedirectURI: e.redirect,
		Listener: e.l, Open: open, Out: io.Discard, Timeout: testenv.Patience,
		Exchange: func(ctx context.Context, code, ru string) (secret.String, error) {
			e.exchanges.Add(1)
			_, rt, err := lc.ExchangeCode(ctx, creds, code, ru)
			return rt, err
		},
	}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: testenv.Patience}

// consent plays the seller's browser on the consent page (with extra query
// parameters) and returns where Amazon redirects.
func consent(link string, extra url.Values) (string, error) {
	u, _ := url.Parse(link)
	q := u.Query()
	for k, v := range extra {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	resp, err := noRedirect.Get(u.String())
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", errors.New("consent page answered " + resp.Status)
	}
	return resp.Header.Get("Location"), nil
}

func hit(u string) (int, error) {
	resp, err := noRedirect.Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestAuthFlow(t *testing.T) {
	tests := []struct {
		name    string
		browser func(e *oauthEnv, t *testing.T) func(string) error
		wantErr error
		check   func(t *testing.T, e *oauthEnv, res authResult)
	}{
		{"happy path", func(e *oauthEnv, t *testing.T) func(string) error {
			return func(link string) error {
				if !strings.Contains(link, "version=beta") || !strings.Contains(link, "state=") {
					t.Errorf("consent link lacks version=beta or state: %s", link)
				}
				loc, err := consent(link, nil)
				if err == nil {
					go hit(loc)
				}
				return err
			}
		}, nil, func(t *testing.T, e *oauthEnv, res authResult) {
			if !strings.HasPrefix(res.RefreshToken.Reveal(), "Atzr|") || res.SellerID == "" {
				t.Errorf("result %+v", res)
			}
		}},
		{"wrong state", func(e *oauthEnv, t *testing.T) func(string) error {
			return func(link string) error {
				loc, err := consent(link, url.Values{"state": {"forged"}})
				if err == nil {
					go hit(loc)
				}
				return err
			}
		}, errAuthState, func(t *testing.T, e *oauthEnv, _ authResult) {
			if e.exchanges.Load() != 0 {
				t.Error("a code with a wrong state was exchanged")
			}
		}},
		{"expired code", func(e *oauthEnv, t *testing.T) func(string) error {
			return func(link string) error {
				loc, err := consent(link, nil)
				if err == nil {
					e.fake.Advance(5*time.Minute + time.Second) // Amazon's code window
					go hit(loc)
				}
				return err
			}
		}, errAuthCode, nil},
		{"denied consent", func(e *oauthEnv, t *testing.T) func(string) error {
			return func(link string) error {
				loc, err := consent(link, url.Values{"deny": {"1"}})
				if err == nil {
					go hit(loc)
				}
				return err
			}
		}, errAuthDenied, nil},
		{"callback hit twice", func(e *oauthEnv, t *testing.T) func(string) error {
			return func(link string) error {
				loc, err := consent(link, nil)
				if err != nil {
					return err
				}
				// Two tabs (or a reload) deliver the same redirect at once:
				// one is exchanged, the other is told it was handled (or,
				// if it comes after the flow ended, finds no server).
				for i := 0; i < 2; i++ {
					go func() {
						c, err := hit(loc)
						if c != http.StatusOK && c != http.StatusConflict && err == nil {
							t.Errorf("callback answered %d", c)
						}
					}()
				}
				return nil
			}
		}, nil, func(t *testing.T, e *oauthEnv, res authResult) {
			if n := e.exchanges.Load(); n != 1 {
				t.Errorf("%d exchanges, want 1", n)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newOAuthEnv(t)
			res, err := e.flow(tc.browser(e, t)).run(context.Background())
			if tc.wantErr == nil && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "Atzr|") {
				t.Fatal("error holds a token")
			}
			if tc.check != nil {
				tc.check(t, e, res)
			}
		})
	}
}

func TestAuthFlowReusedCodeByPaste(t *testing.T) {
	e := newOAuthEnv(t)
	f := e.flow(nil)
	f.State = "fixed-state-for-test"
	link, _ := f.consentURL()
	loc, err := consent(link, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Paste, f.Listener = strings.NewReader(loc+"\n"), nil
	if _, err := f.run(context.Background()); err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	f2 := e.flow(nil)
	f2.State, f2.Paste, f2.Listener = "fixed-state-for-test", strings.NewReader(loc+"\n"), nil
	if _, err := f2.run(context.Background()); !errors.Is(err, errAuthCode) || !strings.Contains(err.Error(), "once") {
		t.Fatalf("reused code: %v", err)
	}
}

func TestConsentHosts(t *testing.T) {
	t.Setenv(EnvConsentURL, "")
	for region, want := range map[string]string{"na": "https://sellercentral.amazon.com/", "eu": "https://sellercentral-europe.amazon.com/", "fe": "https://sellercentral.amazon.co.jp/"} {
		if got := consentBase(region); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "/apps/authorize/consent") {
			t.Errorf("%s: %s", region, got)
		}
	}
	t.Setenv(EnvConsentURL, "http://127.0.0.1:9/apps/authorize/consent")
	if consentBase("eu") != "http://127.0.0.1:9/apps/authorize/consent" {
		t.Error("override ignored")
	}
}

// TestSellerAuthorizeCommand runs `spgate seller authorize` end to end: the
// test reads the consent link from stderr and plays the browser.
func TestSellerAuthorizeCommand(t *testing.T) {
	dir := cliEnv(t)
	e := newOAuthEnv(t)
	e.l.Close() // the command listens itself
	t.Setenv(EnvConsentURL, e.srv.ConsentURL())
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	secretFile := filepath.Join(dir, "cs")
	if err := os.WriteFile(secretFile, []byte(e.app.ClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "", "app", "add", "main", "--app-id", e.app.ID, "--client-id", e.app.ClientID, "--client-secret-file", secretFile, "--draft", "--region", "na"); code != 0 {
		t.Fatal(stderr)
	}
	pr, pw := io.Pipe()
	var out strings.Builder
	codec := make(chan int, 1)
	go func() {
		codec <- Main(context.Background(), []string{"seller", "authorize", "--app", "main", "--redirect-url", e.redirect,
			"--marketplace", "US", "--endpoint", e.srv.URL, "--no-browser"}, strings.NewReader(""), &out, pw)
		pw.Close()
	}()
	var stderr strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		stderr.WriteString(line + "\n")
		if l := strings.TrimSpace(line); strings.HasPrefix(l, e.srv.ConsentURL()) {
			loc, err := consent(l, nil)
			if err != nil {
				t.Fatal(err)
			}
			go hit(loc)
		}
	}
	if code := <-codec; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	p, _ := vault.DefaultPaths()
	key, _ := vault.LoadKey(p, false)
	v, err := vault.Open(context.Background(), p.Vault, key, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	sellers, _ := v.ListSellers(context.Background())
	if len(sellers) != 1 || len(sellers[0].Marketplaces) != 1 || sellers[0].Region != "na" {
		t.Fatalf("sellers %+v", sellers)
	}
	rt, err := v.RefreshToken(context.Background(), sellers[0].ID, "main")
	if err != nil || !strings.HasPrefix(rt.Reveal(), "Atzr|") {
		t.Fatalf("refresh token not stored: %v", err)
	}
	all := out.String() + stderr.String()
	if strings.Contains(all, rt.Reveal()) || strings.Contains(all, e.app.ClientSecret) {
		t.Fatal("a secret in the output")
	}
	if !strings.Contains(out.String(), "authorized app main") {
		t.Errorf("stdout: %s", out.String())
	}
}
