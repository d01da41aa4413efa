package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	leakClientSecret = "amzn1.oa2-cs.v1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	leakRefreshToken = "Atzr|IwEBIleakcheckleakcheckleakcheckleakcheck9876"
	testAppID        = "amzn1.sp.solution.1a2b3c4d-0000-4000-8000-1234567890ab"
	testClientID     = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
)

// cliEnv gives the test its own HOME, XDG dirs and master key.
func cliEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "cfg"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("SPGATE_VAULT", "")
	t.Setenv("SPGATE_MASTER_KEY", testMasterKey)
	t.Setenv("SPGATE_CLIENT_SECRET", "")
	t.Setenv("SPGATE_REFRESH_TOKEN", "")
	t.Setenv("SPGATE_LWA_URL", "http://127.0.0.1:1/auth/o2/token")
	return dir
}

func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestMainExitCodes(t *testing.T) {
	dir := cliEnv(t)
	secretFile := filepath.Join(dir, "cs")
	if err := os.WriteFile(secretFile, []byte(leakClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	add := []string{"app", "add", "main", "--app-id", testAppID, "--client-id", testClientID, "--client-secret-file", secretFile}
	steps := []struct {
		name    string
		stdin   string
		args    []string
		code    int
		errWant string
	}{
		{"list before vault", "", []string{"app", "list"}, ExitConfig, "no vault at"},
		{"bad client id", "", []string{"app", "add", "main", "--app-id", testAppID, "--client-id", "amzn1.application-oa2-client.zz", "--client-secret-file", secretFile}, ExitUsage, "--client-id"},
		{"no secret", "", []string{"app", "add", "main", "--app-id", testAppID, "--client-id", testClientID}, ExitUsage, "no client secret given"},
		{"add", "", add, ExitOK, ""},
		{"add again", "", add, ExitFailure, "already"},
		{"show", "", []string{"app", "show", "main"}, ExitOK, ""},
		{"show missing", "", []string{"app", "show", "nope"}, ExitUsage, `no app "nope"`},
		{"seller bad id", leakRefreshToken, []string{"seller", "add", "X1", "--app", "main", "--region", "na", "--marketplace", "US", "--refresh-token-file", "-"}, ExitUsage, "selling partner id"},
		{"seller", leakRefreshToken, []string{"seller", "add", "A2VYDBAL8BMVQK", "--app", "main", "--region", "na", "--marketplace", "US", "--refresh-token-file", "-"}, ExitOK, ""},
		{"unknown verb", "", []string{"frobnicate"}, ExitUsage, "unknown command"},
		{"bad log level", "", []string{"--log-level", "x", "app", "list"}, ExitUsage, "--log-level"},
		{"export refuses stdout by default", "", []string{"export", "--format", "env", "--app", "main"}, ExitUsage, "--out is required"},
	}
	for _, s := range steps {
		code, _, stderr := run(t, s.stdin, s.args...)
		if code != s.code {
			t.Errorf("%s: exit %d, want %d; stderr: %s", s.name, code, s.code, stderr)
		}
		if s.errWant != "" && !strings.Contains(stderr, s.errWant) {
			t.Errorf("%s: stderr %q does not contain %q", s.name, stderr, s.errWant)
		}
	}
	// --out - prints the secrets only when asked explicitly.
	code, out, stderr := run(t, "", "export", "--format", "yaml", "--app", "main", "--seller", "A2VYDBAL8BMVQK", "--out", "-")
	if code != 0 || !strings.Contains(out, "lwa_client_secret: "+leakClientSecret) || !strings.Contains(out, "refresh_token: "+leakRefreshToken) {
		t.Errorf("export --out -: exit %d, output lacks the credentials (len %d)", code, len(out))
	}
	if !strings.Contains(stderr, "warning") {
		t.Errorf("export --out - gave no warning on stderr")
	}
}

// TestNoSecretLeaks runs every flow with known secrets at --log-level debug
// (text and JSON) and checks that no output ever contains them.
func TestNoSecretLeaks(t *testing.T) {
	dir := cliEnv(t)
	secretFile := filepath.Join(dir, "cs")
	if err := os.WriteFile(secretFile, []byte(leakClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	newSecret := "amzn1.oa2-cs.v1.fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	yml := filepath.Join(dir, "creds.yml")
	if err := os.WriteFile(yml, []byte("version: '1.0'\ndefault:\n  lwa_app_id: "+testClientID+"\n  lwa_client_secret: "+leakClientSecret+"\n  refresh_token: '"+leakRefreshToken+"'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flows := []struct {
		stdin string
		args  []string
	}{
		{"", []string{"app", "add", "main", "--app-id", testAppID, "--client-id", testClientID, "--client-secret-file", secretFile}},
		{leakRefreshToken, []string{"seller", "add", "A2VYDBAL8BMVQK", "--app", "main", "--region", "na", "--marketplace", "US", "--refresh-token-file", "-"}},
		{"", []string{"app", "list"}},
		{"", []string{"app", "show", "main"}},
		{"", []string{"seller", "list"}},
		{"", []string{"seller", "show", "A2VYDBAL8BMVQK"}},
		{newSecret, []string{"app", "set-secret", "main", "--client-secret-file", "-"}}, // LWA unreachable: fails
		{newSecret, []string{"app", "set-secret", "main", "--client-secret-file", "-", "--no-verify"}},
		{"", []string{"app", "show", "main"}},
		{"", []string{"export", "--format", "env", "--app", "main", "--seller", "A2VYDBAL8BMVQK", "--out", filepath.Join(dir, "out.env")}},
		{"", []string{"--vault", filepath.Join(dir, "b.db"), "import", "--from", "python-yaml", "--file", yml, "--app", "m", "--app-id", testAppID, "--seller", "A2VYDBAL8BMVQK", "--region", "na", "--marketplace", "US"}},
		{"", []string{"--vault", filepath.Join(dir, "b.db"), "import", "--from", "python-yaml", "--file", yml, "--app", "m", "--app-id", testAppID}}, // exists
		{"Atza|" + strings.Repeat("q", 60), []string{"seller", "add", "A2VYDBAL8BMVQK", "--app", "main", "--region", "na", "--marketplace", "US", "--refresh-token-file", "-"}},
	}
	for _, mode := range [][]string{{"--log-level", "debug"}, {"--log-level", "debug", "--json"}} {
		for i, f := range flows {
			_, out, errOut := run(t, f.stdin, append(append([]string{}, mode...), f.args...)...)
			for _, s := range []string{leakClientSecret, newSecret, leakRefreshToken, "Atza|" + strings.Repeat("q", 60), testMasterKey} {
				if strings.Contains(out, s) || strings.Contains(errOut, s) {
					t.Errorf("flow %d (%s %v) printed a secret (len %d)", i, strings.Join(mode, " "), f.args[:2], len(s))
				}
			}
		}
		// start over for the JSON pass
		os.RemoveAll(filepath.Join(dir, "data"))
		os.Remove(filepath.Join(dir, "b.db"))
		os.Remove(filepath.Join(dir, "out.env"))
	}
	if fi, err := os.Stat(filepath.Join(dir, "out.env")); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestExportFileMode(t *testing.T) {
	dir := cliEnv(t)
	sf := filepath.Join(dir, "cs")
	os.WriteFile(sf, []byte(leakClientSecret), 0o600)
	if code, _, e := run(t, "", "app", "add", "main", "--app-id", testAppID, "--client-id", testClientID, "--client-secret-file", sf); code != 0 {
		t.Fatalf("app add: %d %s", code, e)
	}
	out := filepath.Join(dir, "x.env")
	if code, _, e := run(t, "", "export", "--format", "env", "--app", "main", "--out", out); code != 0 {
		t.Fatalf("export: %d %s", code, e)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}
