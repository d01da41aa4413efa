package cli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/credfile"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// verbVault is a vault in a temporary directory for running import and
// export without cobra.
type verbVault struct {
	path string
	key  vault.Key
}

func newVerbVault(t *testing.T) *verbVault {
	t.Helper()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	return &verbVault{path: filepath.Join(t.TempDir(), "vault.db"), key: key}
}

func (vv *verbVault) open(ctx context.Context, _ bool) (*vault.Vault, error) {
	return vault.Open(ctx, vv.path, vv.key, vault.Options{Create: true})
}

func (vv *verbVault) must(t *testing.T) *vault.Vault {
	t.Helper()
	v, err := vv.open(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func exitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if err != nil {
		return -1
	}
	return ExitOK
}

// TestRunImport drives import's run function with injected streams, vault
// and environment.
func TestRunImport(t *testing.T) {
	const seller = "A2VYDBAL8BMVQK"
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jsonFile := write("secret.json", `{"LWA_APP_ID": "`+testClientID+`", "LWA_CLIENT_SECRET": "`+leakClientSecret+`", "SP_API_REFRESH_TOKEN": "`+leakRefreshToken+`"}`)
	badYAML := write("bad.yml", "version: '1.0'\ndefault:\n  lwa_app_id: "+testClientID+"\n  lwa_client_secret: ["+leakClientSecret+"]\n")
	badEnv := write("bad.env", "LWA_APP_ID="+testClientID+"\n"+leakClientSecret+"\n")
	swapped := write("swapped.env", "LWA_APP_ID="+leakClientSecret+"\nLWA_CLIENT_SECRET="+testClientID+"\n")
	tests := []struct {
		name     string
		o        importOptions
		env      map[string]string
		wantCode int
		want     string // in stdout on success, in the error otherwise
		sellers  int
	}{
		{"python-json with a seller", importOptions{From: "python-json", File: jsonFile, Seller: seller, Region: "na", Marketplaces: []string{"US"}}, nil, ExitOK, "from " + jsonFile, 1},
		{"python-json app alone", importOptions{From: "python-json", File: jsonFile}, nil, ExitOK, "imported app main", 0},
		{"node-env with the token from the environment", importOptions{From: "node-env", Seller: seller, Region: "na", Marketplaces: []string{"US"}},
			map[string]string{"SELLING_PARTNER_APP_CLIENT_ID": testClientID, "SELLING_PARTNER_APP_CLIENT_SECRET": leakClientSecret, cmdutil.EnvRefreshToken: leakRefreshToken}, ExitOK, "the environment", 1},
		{"node-env seller without a token", importOptions{From: "node-env", Seller: seller, Region: "na", Marketplaces: []string{"US"}},
			map[string]string{"SELLING_PARTNER_APP_CLIENT_ID": testClientID, "SELLING_PARTNER_APP_CLIENT_SECRET": leakClientSecret}, ExitUsage, "($SPGATE_REFRESH_TOKEN)", 0},
		{"python-json needs a file", importOptions{From: "python-json"}, nil, ExitUsage, "pass --file", 0},
		{"malformed yaml", importOptions{From: "python-yaml", File: badYAML}, nil, ExitUsage, "bad.yml line 4: lwa_client_secret is not a string", 0},
		{"malformed env", importOptions{From: "python-env", File: badEnv}, nil, ExitUsage, "bad.env line 2 is not KEY=value", 0},
		{"swapped values", importOptions{From: "python-env", File: swapped}, nil, ExitUsage, "looks like a secret in LWA_APP_ID", 0},
		{"missing file", importOptions{From: "python-yaml", File: filepath.Join(dir, "none.yml")}, nil, ExitUsage, "pass --file with the right path", 0},
		{"unknown source", importOptions{From: "perl-env"}, nil, ExitUsage, `--from "perl-env" is not a source`, 0},
		{"region without seller", importOptions{From: "python-json", File: jsonFile, Region: "na"}, nil, ExitUsage, "pass --seller", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vv := newVerbVault(t)
			var out, errOut strings.Builder
			o := tc.o
			o.Factory = &cmdutil.Factory{IO: cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, Err: &errOut},
				OpenVault: vv.open, Log: slog.New(slog.DiscardHandler)}
			o.Getenv = func(k string) string { return tc.env[k] }
			o.App, o.AppID = "main", testAppID
			if o.Account == "" {
				o.Account = "default"
			}
			err := runImport(context.Background(), &o)
			if code := exitCode(err); code != tc.wantCode {
				t.Fatalf("exit %d (%v), want %d", code, err, tc.wantCode)
			}
			text := out.String()
			if err != nil {
				text = err.Error()
			}
			if !strings.Contains(text, tc.want) {
				t.Errorf("%q lacks %q", text, tc.want)
			}
			for _, s := range []string{leakClientSecret, leakRefreshToken} {
				if strings.Contains(text+errOut.String(), s) {
					t.Errorf("a secret in the output (%d bytes)", len(s))
				}
			}
			if tc.wantCode != ExitOK {
				if _, err := os.Stat(vv.path); err == nil {
					t.Error("a refused import opened (or created) the vault")
				}
				return
			}
			v := vv.must(t)
			defer v.Close()
			sellers, _ := v.ListSellers(context.Background())
			if len(sellers) != tc.sellers {
				t.Errorf("%d sellers, want %d", len(sellers), tc.sellers)
			}
			if a, err := v.GetApp(context.Background(), "main"); err != nil || a.ClientID != testClientID {
				t.Errorf("app: %+v %v", a, err)
			}
		})
	}
}

// TestRunExport drives export's run function: each format reads back as
// its source, and every written export is in the access log first.
func TestRunExport(t *testing.T) {
	const seller = "A2VYDBAL8BMVQK"
	vv := newVerbVault(t)
	ctx := context.Background()
	v := vv.must(t)
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
		var out, errOut strings.Builder
		o.Factory = &cmdutil.Factory{IO: cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, Err: &errOut}, OpenVault: vv.open}
		err := runExport(ctx, &o)
		return out.String(), err
	}
	events := func() int {
		v := vv.must(t)
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
		{"file exists", exportOptions{Format: "json", App: "main", OutFile: existing}, ExitFailure, "choose another --out or pass --force"},
		{"no such directory", exportOptions{Format: "json", App: "main", OutFile: filepath.Join(dir, "none", "x.json")}, ExitFailure, "create"},
		{"seller without the app", exportOptions{Format: "env", App: "main", Seller: "A3ABCDEFGHIJK1", OutFile: filepath.Join(dir, "x.env")}, ExitUsage, "no seller"},
		{"unknown format", exportOptions{Format: "xml", App: "main", OutFile: filepath.Join(dir, "x.xml")}, ExitUsage, "--format must be env or yaml"},
	} {
		_, err := export(tc.o)
		if code := exitCode(err); code != tc.code || !strings.Contains(err.Error(), tc.want) {
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
