package cli

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/vault"
)

type oauthEnv struct {
	srv      *amazontest.Server
	fake     *clock.Fake
	app      amazontest.App
	l        net.Listener
	redirect string
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

// TestSellerAuthorizeCommand runs `spgate seller authorize` end to end: the
// test reads the consent link from stderr and plays the browser.
func TestSellerAuthorizeCommand(t *testing.T) {
	dir := cliEnv(t)
	e := newOAuthEnv(t)
	e.l.Close() // the command listens itself
	t.Setenv(cmdutil.EnvConsentURL, e.srv.ConsentURL())
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
			loc, err := testenv.ConsentRedirect(l, nil)
			if err != nil {
				t.Fatal(err)
			}
			go testenv.Visit(loc)
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
