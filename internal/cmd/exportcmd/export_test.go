package exportcmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/credfile"
	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

const (
	leakClientSecret = "amzn1.oa2-cs.v1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	leakRefreshToken = "Atzr|IwEBIleakcheckleakcheckleakcheckleakcheck9876"
	testAppID        = "amzn1.sp.solution.1a2b3c4d-0000-4000-8000-1234567890ab"
	testClientID     = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
)

// TestRunExport drives export's run function: each format reads back as
// its source, and every written export is in the access log first.
func TestRunExport(t *testing.T) {
	const seller = "A2VYDBAL8BMVQK"
	e := cmdtest.New(t)
	ctx := context.Background()
	v := e.Vault(t)
	if err := v.AddApp(ctx, vault.App{Name: "main", AppID: testAppID, ClientID: testClientID, ClientSecrets: []vault.Secret{{Value: secret.New(leakClientSecret)}}}); err != nil {
		t.Fatal(err)
	}
	if err := v.AddSeller(ctx, vault.Seller{ID: seller, Region: "na", Marketplaces: []string{"ATVPDKIKX0DER"}}); err != nil {
		t.Fatal(err)
	}
	if err := v.SetRefreshToken(ctx, seller, "main", secret.New(leakRefreshToken), time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	v.Close()
	dir := t.TempDir()
	export := func(o exportOptions) (string, error) {
		e.Out.Reset()
		o.Factory = e.Factory
		err := runExport(ctx, &o)
		return e.Out.String(), err
	}
	events := func() int {
		v := e.Vault(t)
		defer v.Close()
		ev, err := v.AccessLog(ctx, vault.AccessFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(ev)
	}
	for i, tc := range []struct {
		format string
		src    credfile.Source
	}{{"env", credfile.PythonEnv}, {"env", credfile.NodeFile}, {"yaml", credfile.PythonYAML}, {"json", credfile.PythonJSON}} {
		path := filepath.Join(dir, tc.format+string(tc.src))
		if _, err := export(exportOptions{Format: tc.format, App: "main", Seller: seller, OutFile: path}); err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		c, err := credfile.ReadFile(tc.src, path, "default")
		if err != nil {
			t.Fatalf("%s read back as %s: %v", tc.format, tc.src, err)
		}
		wantRT := tc.src != credfile.NodeFile
		if c.ClientID != testClientID || c.ClientSecret.Reveal() != leakClientSecret || (c.RefreshToken.Reveal() == leakRefreshToken) != wantRT {
			t.Errorf("%s read back as %s: %+v", tc.format, tc.src, c)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", tc.format, fi.Mode().Perm())
		}
		if n := events(); n != i+1 {
			t.Errorf("after export %d: %d access events", i+1, n)
		}
	}
	// Refusals: nothing written, nothing recorded.
	before := events()
	existing := filepath.Join(dir, "json"+string(credfile.PythonJSON))
	for _, tc := range []struct {
		name string
		o    exportOptions
		code int
		want string
	}{
		{"file exists", exportOptions{Format: "json", App: "main", OutFile: existing}, problem.ExitFailure, "choose another --out or pass --force"},
		{"no such directory", exportOptions{Format: "json", App: "main", OutFile: filepath.Join(dir, "none", "x.json")}, problem.ExitFailure, "create"},
		{"seller without the app", exportOptions{Format: "env", App: "main", Seller: "A3ABCDEFGHIJK1", OutFile: filepath.Join(dir, "x.env")}, problem.ExitUsage, "no seller"},
		{"unknown format", exportOptions{Format: "xml", App: "main", OutFile: filepath.Join(dir, "x.xml")}, problem.ExitUsage, "--format must be env or yaml"},
	} {
		_, err := export(tc.o)
		if _, code := problem.Of(err); err == nil || code != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: exit %d (%v), want %d with %q", tc.name, code, err, tc.code, tc.want)
		}
	}
	if n := events(); n != before {
		t.Errorf("%d access events after refused exports, want %d", n, before)
	}
	// --force replaces the file whole.
	if _, err := export(exportOptions{Format: "yaml", App: "main", OutFile: existing, Force: true}); err != nil {
		t.Fatal(err)
	}
	if c, err := credfile.ReadFile(credfile.PythonYAML, existing, "default"); err != nil || !c.RefreshToken.IsZero() {
		t.Errorf("after --force: %+v %v", c, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a temporary file was left: %s", e.Name())
		}
	}
}
