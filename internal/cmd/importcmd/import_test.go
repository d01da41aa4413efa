package importcmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/problem"
)

const (
	leakClientSecret = "amzn1.oa2-cs.v1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	leakRefreshToken = "Atzr|IwEBIleakcheckleakcheckleakcheckleakcheck9876"
	testAppID        = "amzn1.sp.solution.1a2b3c4d-0000-4000-8000-1234567890ab"
	testClientID     = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
)

// exitCode is err's exit code (problem.Of), 0 for no error.
func exitCode(err error) int {
	if err == nil {
		return problem.ExitOK
	}
	_, code := problem.Of(err)
	return code
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
		{"python-json with a seller", importOptions{From: "python-json", File: jsonFile, Seller: seller, Region: "na", Marketplaces: []string{"US"}}, nil, problem.ExitOK, "from " + jsonFile, 1},
		{"python-json app alone", importOptions{From: "python-json", File: jsonFile}, nil, problem.ExitOK, "imported app main", 0},
		{"node-env with the token from the environment", importOptions{From: "node-env", Seller: seller, Region: "na", Marketplaces: []string{"US"}},
			map[string]string{"SELLING_PARTNER_APP_CLIENT_ID": testClientID, "SELLING_PARTNER_APP_CLIENT_SECRET": leakClientSecret, cmdutil.EnvRefreshToken: leakRefreshToken}, problem.ExitOK, "the environment", 1},
		{"node-env seller without a token", importOptions{From: "node-env", Seller: seller, Region: "na", Marketplaces: []string{"US"}},
			map[string]string{"SELLING_PARTNER_APP_CLIENT_ID": testClientID, "SELLING_PARTNER_APP_CLIENT_SECRET": leakClientSecret}, problem.ExitUsage, "($SPGATE_REFRESH_TOKEN)", 0},
		{"python-json needs a file", importOptions{From: "python-json"}, nil, problem.ExitUsage, "pass --file", 0},
		{"malformed yaml", importOptions{From: "python-yaml", File: badYAML}, nil, problem.ExitUsage, "bad.yml line 4: lwa_client_secret is not a string", 0},
		{"malformed env", importOptions{From: "python-env", File: badEnv}, nil, problem.ExitUsage, "bad.env line 2 is not KEY=value", 0},
		{"swapped values", importOptions{From: "python-env", File: swapped}, nil, problem.ExitUsage, "looks like a secret in LWA_APP_ID", 0},
		{"missing file", importOptions{From: "python-yaml", File: filepath.Join(dir, "none.yml")}, nil, problem.ExitUsage, "pass --file with the right path", 0},
		{"unknown source", importOptions{From: "perl-env"}, nil, problem.ExitUsage, `--from "perl-env" is not a source`, 0},
		{"region without seller", importOptions{From: "python-json", File: jsonFile, Region: "na"}, nil, problem.ExitUsage, "pass --seller", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := cmdtest.New(t)
			o := tc.o
			o.Factory = e.Factory
			o.Getenv = func(k string) string { return tc.env[k] }
			o.App, o.AppID = "main", testAppID
			if o.Account == "" {
				o.Account = "default"
			}
			err := runImport(context.Background(), &o)
			if code := exitCode(err); code != tc.wantCode {
				t.Fatalf("exit %d (%v), want %d", code, err, tc.wantCode)
			}
			text := e.Out.String()
			if err != nil {
				text = err.Error()
			}
			if !strings.Contains(text, tc.want) {
				t.Errorf("%q lacks %q", text, tc.want)
			}
			for _, s := range []string{leakClientSecret, leakRefreshToken} {
				if strings.Contains(text+e.Err.String(), s) {
					t.Errorf("a secret in the output (%d bytes)", len(s))
				}
			}
			if tc.wantCode != problem.ExitOK {
				if _, err := os.Stat(e.Path); err == nil {
					t.Error("a refused import opened (or created) the vault")
				}
				return
			}
			v := e.Vault(t)
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
