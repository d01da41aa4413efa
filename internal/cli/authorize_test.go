package cli

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/vault"
)

// TestSellerAuthorizeCommand runs `spgate seller authorize` end to end: the
// test reads the consent link from stderr and plays the browser.
func TestSellerAuthorizeCommand(t *testing.T) {
	dir := cliEnv(t)
	e := cmdtest.NewOAuth(t)
	e.L.Close() // the command listens itself
	t.Setenv(cmdutil.EnvConsentURL, e.Srv.ConsentURL())
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	secretFile := filepath.Join(dir, "cs")
	if err := os.WriteFile(secretFile, []byte(e.App.ClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "", "app", "add", "main", "--app-id", e.App.ID, "--client-id", e.App.ClientID, "--client-secret-file", secretFile, "--draft", "--region", "na"); code != 0 {
		t.Fatal(stderr)
	}
	pr, pw := io.Pipe()
	var out strings.Builder
	codec := make(chan int, 1)
	go func() {
		codec <- Main(context.Background(), []string{"seller", "authorize", "--app", "main", "--redirect-url", e.Redirect,
			"--marketplace", "US", "--endpoint", e.Srv.URL, "--no-browser"}, strings.NewReader(""), &out, pw)
		pw.Close()
	}()
	var stderr strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		stderr.WriteString(line + "\n")
		if l := strings.TrimSpace(line); strings.HasPrefix(l, e.Srv.ConsentURL()) {
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
	if strings.Contains(all, rt.Reveal()) || strings.Contains(all, e.App.ClientSecret) {
		t.Fatal("a secret in the output")
	}
	if !strings.Contains(out.String(), "authorized app main") {
		t.Errorf("stdout: %s", out.String())
	}
}
