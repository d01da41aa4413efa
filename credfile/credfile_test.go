package credfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spgate/spgate/credfile"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// Fixture values in Amazon's formats. The secrets hold Sekr1t so a test can
// look for them in every error.
var (
	clientID     = "amzn1.application-oa2-client." + strings.Repeat("ab", 16)
	clientSecret = "amzn1.oa2-cs.v1." + strings.Repeat("5e", 32)
	refreshToken = "Atzr|IwEBIrefreshSekr1ttoken" + strings.Repeat("x", 40)
	awsKeyID     = "AKIAIOSFODNN7EXAMPLE"
	awsSecret    = "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"
	roleARN      = "arn:aws:iam::123456789012:role/sp-api"
	secrets      = []string{clientSecret, refreshToken, awsSecret, "Sekr1t"}
)

func full() credfile.Credentials {
	return credfile.Credentials{ClientID: clientID, ClientSecret: secret.New(clientSecret), RefreshToken: secret.New(refreshToken),
		AWSAccessKeyID: awsKeyID, AWSSecretKey: secret.New(awsSecret), RoleARN: roleARN}
}

func same(a, b credfile.Credentials) bool {
	return a.ClientID == b.ClientID && a.ClientSecret.Equal(b.ClientSecret) && a.RefreshToken.Equal(b.RefreshToken) &&
		a.AWSAccessKeyID == b.AWSAccessKeyID && a.AWSSecretKey.Equal(b.AWSSecretKey) && a.RoleARN == b.RoleARN
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error holds a secret (%d bytes): %v", len(s), strings.ReplaceAll(err.Error(), s, "‹secret›"))
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		src     credfile.Source
		account string
		data    string
		want    credfile.Credentials
	}{
		{"python env", credfile.PythonEnv, "", "LWA_APP_ID=" + clientID + "\nLWA_CLIENT_SECRET=" + clientSecret + "\nSP_API_REFRESH_TOKEN='" + refreshToken + "'\n",
			credfile.Credentials{ClientID: clientID, ClientSecret: secret.New(clientSecret), RefreshToken: secret.New(refreshToken)}},
		{"python env, every form", credfile.PythonEnv, "",
			"\xef\xbb\xbf# comment\r\n\r\nexport LWA_APP_ID=" + clientID + "   # inline note\r\n" +
				"LWA_CLIENT_SECRET = \"" + clientSecret + "\"\n" +
				"SP_API_REFRESH_TOKEN=" + refreshToken + "\n" +
				"SP_API_ACCESS_KEY=" + awsKeyID + "\nSP_API_SECRET_KEY='" + awsSecret + "' # note\nSP_API_ROLE_ARN=" + roleARN + "\n" +
				"OTHER=1\nOTHER=2\n[section]\n",
			full()},
		{"node file", credfile.NodeFile, "",
			"[default]\nSELLING_PARTNER_APP_CLIENT_ID=" + clientID + "\nSELLING_PARTNER_APP_CLIENT_SECRET=" + clientSecret + "\nAWS_SELLING_PARTNER_ROLE=" + roleARN + "\nLWA_APP_ID=ignored\n",
			credfile.Credentials{ClientID: clientID, ClientSecret: secret.New(clientSecret), RoleARN: roleARN}},
		{"yaml", credfile.PythonYAML, "",
			"version: '1.0'\ndefault:\n  refresh_token: '" + refreshToken + "'\n  lwa_app_id: '" + clientID + "'\n  lwa_client_secret: '" + clientSecret + "'\n  aws_secret_key: ''\n  aws_access_key:\n  extra: [1, 2]\n",
			credfile.Credentials{ClientID: clientID, ClientSecret: secret.New(clientSecret), RefreshToken: secret.New(refreshToken)}},
		{"yaml, another account through an anchor", credfile.PythonYAML, "shop",
			"version: '1.0'\ndefault: &d\n  lwa_app_id: " + clientID + "\n  lwa_client_secret: " + clientSecret + "\nshop: *d\n",
			credfile.Credentials{ClientID: clientID, ClientSecret: secret.New(clientSecret)}},
		{"json", credfile.PythonJSON, "",
			`{"SP_API_REFRESH_TOKEN": "` + refreshToken + `", "LWA_APP_ID": "` + clientID + `", "LWA_CLIENT_SECRET": "` + clientSecret + `", "SP_API_ROLE_ARN": null, "other": {"x": 1}}`,
			credfile.Credentials{ClientID: clientID, ClientSecret: secret.New(clientSecret), RefreshToken: secret.New(refreshToken)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := credfile.Parse(tc.src, []byte(tc.data), tc.account)
			if err != nil {
				t.Fatal(err)
			}
			if !same(got, tc.want) {
				t.Errorf("got %+v (client id %s), want %+v", got, got.ClientID, tc.want)
			}
		})
	}
}

// TestParseMalformed: each malformed file is refused with the line and key
// at fault, and never with a value from the file.
func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name     string
		src      credfile.Source
		account  string
		data     string
		wantLine int
		wantKey  string
		want     string // in the message
		kind     error
	}{
		{"env: no =", credfile.PythonEnv, "", "LWA_APP_ID=" + clientID + "\n" + clientSecret + "\n", 2, "", "line 2 is not KEY=value", credfile.ErrSyntax},
		{"env: a secret as the name", credfile.PythonEnv, "", "\n\n" + refreshToken + "=x\n", 3, "", "line 3 is not KEY=value: the name", credfile.ErrSyntax},
		{"env: unclosed quote", credfile.PythonEnv, "", "LWA_CLIENT_SECRET='" + clientSecret + "\n", 1, "LWA_CLIENT_SECRET", "line 1: LWA_CLIENT_SECRET has a quote that is not closed", credfile.ErrSyntax},
		{"env: unclosed double quote", credfile.NodeFile, "", "SELLING_PARTNER_APP_CLIENT_SECRET=\"" + clientSecret + "\\\"\n", 1, "SELLING_PARTNER_APP_CLIENT_SECRET", "not closed", credfile.ErrSyntax},
		{"env: text after the quote", credfile.PythonEnv, "", "LWA_CLIENT_SECRET='" + clientSecret + "' Sekr1t\n", 1, "LWA_CLIENT_SECRET", "text after its closing quote", credfile.ErrSyntax},
		{"env: set twice", credfile.PythonEnv, "", "LWA_CLIENT_SECRET=" + clientSecret + "\n#\nLWA_CLIENT_SECRET=Sekr1t\n", 3, "LWA_CLIENT_SECRET", "line 3: LWA_CLIENT_SECRET is set again (first on line 1)", credfile.ErrSyntax},
		{"yaml: syntax", credfile.PythonYAML, "", "version: '1.0'\ndefault:\n  lwa_client_secret: '" + clientSecret + "\n", 3, "", "is not valid YAML (line 3)", credfile.ErrSyntax},
		{"yaml: tab indentation", credfile.PythonYAML, "", "default:\n\tlwa_client_secret: " + clientSecret + "\n", 2, "", "is not valid YAML (line 2)", credfile.ErrSyntax},
		{"yaml: empty", credfile.PythonYAML, "", "# nothing\n", 0, "", "is empty", credfile.ErrSyntax},
		{"yaml: a list", credfile.PythonYAML, "", "- " + clientSecret + "\n", 1, "", "not a mapping of accounts", credfile.ErrSyntax},
		{"yaml: no such account", credfile.PythonYAML, "other", "version: '1.0'\ndefault:\n  lwa_app_id: x\nshop:\n  lwa_app_id: y\n", 0, "other", `has no account "other" (accounts: default, shop)`, credfile.ErrNoAccount},
		{"yaml: account not a mapping", credfile.PythonYAML, "", "version: '1.0'\ndefault: " + clientSecret + "\n", 2, "default", "line 2: account default is not a mapping", credfile.ErrSyntax},
		{"yaml: value not a string", credfile.PythonYAML, "", "default:\n  lwa_app_id: " + clientID + "\n  lwa_client_secret: [" + clientSecret + "]\n", 3, "lwa_client_secret", "line 3: lwa_client_secret is not a string", credfile.ErrSyntax},
		{"yaml: key twice", credfile.PythonYAML, "", "default:\n  refresh_token: " + refreshToken + "\n  refresh_token: Sekr1t\n", 0, "", "", credfile.ErrSyntax},
		{"yaml: account twice", credfile.PythonYAML, "", "default:\n  lwa_app_id: a\ndefault:\n  lwa_app_id: b\n", 0, "", "", credfile.ErrSyntax},
		{"json: syntax", credfile.PythonJSON, "", "{\n  \"LWA_CLIENT_SECRET\": \"" + clientSecret + "\",\n  \"LWA_APP_ID\" \"" + clientID + "\"\n}", 3, "", "is not valid JSON (line 3)", credfile.ErrSyntax},
		{"json: cut short", credfile.PythonJSON, "", "{\"LWA_CLIENT_SECRET\": \"" + clientSecret + "\"", 0, "", "is not valid JSON", credfile.ErrSyntax},
		{"json: not an object", credfile.PythonJSON, "", "[\"" + clientSecret + "\"]", 0, "", "is not a JSON object", credfile.ErrSyntax},
		{"json: value not a string", credfile.PythonJSON, "", "{\n\"LWA_APP_ID\": \"" + clientID + "\",\n\"SP_API_REFRESH_TOKEN\": [\"" + refreshToken + "\"]}", 3, "SP_API_REFRESH_TOKEN", "line 3: SP_API_REFRESH_TOKEN is not a string", credfile.ErrSyntax},
		{"json: key twice", credfile.PythonJSON, "", "{\"LWA_CLIENT_SECRET\": \"" + clientSecret + "\",\n\"LWA_CLIENT_SECRET\": \"Sekr1t\"}", 2, "LWA_CLIENT_SECRET", "line 2: LWA_CLIENT_SECRET appears twice (first on line 1)", credfile.ErrSyntax},
		{"json: two objects", credfile.PythonJSON, "", "{}\n{\"LWA_CLIENT_SECRET\": \"" + clientSecret + "\"}", 0, "", "has more after its JSON object", credfile.ErrSyntax},
		{"too large", credfile.NodeFile, "", strings.Repeat("#", credfile.MaxFileSize+1), 0, "", "larger than", credfile.ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := credfile.Parse(tc.src, []byte(tc.data), tc.account)
			if err == nil {
				t.Fatal("no error")
			}
			assertNoSecret(t, err)
			if !errors.Is(err, tc.kind) {
				t.Errorf("%v: not %v", err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			var fe *credfile.Error
			if !errors.As(err, &fe) {
				t.Fatalf("%T is not *credfile.Error", err)
			}
			if tc.wantLine != 0 && fe.Line != tc.wantLine || tc.wantKey != "" && fe.Key != tc.wantKey {
				t.Errorf("line %d key %q, want line %d key %q", fe.Line, fe.Key, tc.wantLine, tc.wantKey)
			}
		})
	}
}

// TestRoundTrip: what Encode writes, the matching source reads back.
func TestRoundTrip(t *testing.T) {
	quoted := full()
	quoted.RefreshToken = secret.New("Atzr|it's \"quoted\" $HOME `x` \\ #" + strings.Repeat("q", 30))
	minimal := credfile.Credentials{ClientID: clientID, ClientSecret: secret.New(clientSecret)}
	for _, c := range []credfile.Credentials{full(), quoted, minimal} {
		for _, tc := range []struct {
			format credfile.Format
			src    credfile.Source
			opts   credfile.EncodeOptions
		}{
			{credfile.Env, credfile.PythonEnv, credfile.EncodeOptions{Header: "spgate export of app main\nsecond line"}},
			{credfile.YAML, credfile.PythonYAML, credfile.EncodeOptions{Header: "spgate export"}},
			{credfile.YAML, credfile.PythonYAML, credfile.EncodeOptions{Account: "shop"}},
			{credfile.JSON, credfile.PythonJSON, credfile.EncodeOptions{}},
		} {
			data, err := credfile.Encode(tc.format, c, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := credfile.Parse(tc.src, data, tc.opts.Account)
			if err != nil {
				t.Fatalf("%s: %v\n%s", tc.format, err, data)
			}
			if !same(got, c) {
				t.Errorf("%s → %s: got %+v, want %+v\n%s", tc.format, tc.src, got, c, data)
			}
		}
		// The env file is also the Node library's credentials file: the
		// same app, without the refresh token it keeps in code.
		data, _ := credfile.Encode(credfile.Env, c, credfile.EncodeOptions{})
		got, err := credfile.Parse(credfile.NodeFile, data, "")
		want := c
		want.RefreshToken = secret.String{}
		if err != nil || !same(got, want) {
			t.Errorf("env → node-file: %+v, %v", got, err)
		}
	}
}

func TestEncodeShapes(t *testing.T) {
	c := credfile.Credentials{ClientID: clientID, ClientSecret: secret.New(clientSecret), RefreshToken: secret.New(refreshToken)}
	env, _ := credfile.Encode(credfile.Env, c, credfile.EncodeOptions{Header: "spgate export of app main"})
	yml, _ := credfile.Encode(credfile.YAML, c, credfile.EncodeOptions{})
	js, _ := credfile.Encode(credfile.JSON, c, credfile.EncodeOptions{})
	for _, tc := range []struct {
		name string
		data []byte
		want []string
	}{
		{"env", env, []string{"# spgate export of app main\n# python-amazon-sp-api\n", "\nLWA_APP_ID=" + clientID + "\n",
			"\nSP_API_REFRESH_TOKEN='" + refreshToken + "'\n", "\nSELLING_PARTNER_APP_CLIENT_SECRET=" + clientSecret + "\n"}},
		{"yaml", yml, []string{"version: \"1.0\"\ndefault:\n    lwa_app_id: " + clientID + "\n    lwa_client_secret: " + clientSecret + "\n"}},
		{"json", js, []string{"{\n  \"LWA_APP_ID\": \"" + clientID + "\",\n  \"LWA_CLIENT_SECRET\": \"" + clientSecret + "\","}},
	} {
		for _, w := range tc.want {
			if !strings.Contains(string(tc.data), w) {
				t.Errorf("%s lacks %q:\n%s", tc.name, w, tc.data)
			}
		}
	}
	if strings.Contains(string(env), "AWS_") || strings.Contains(string(env), "SP_API_ACCESS_KEY") {
		t.Errorf("env has AWS keys it was not given:\n%s", env)
	}
	bad := c
	bad.RefreshToken = secret.New("Atzr|two\nlines Sekr1t")
	if _, err := credfile.Encode(credfile.Env, bad, credfile.EncodeOptions{}); err == nil || !strings.Contains(err.Error(), "SP_API_REFRESH_TOKEN") {
		t.Errorf("a value with a line break: %v", err)
	} else {
		assertNoSecret(t, err)
	}
}

func TestCheck(t *testing.T) {
	with := func(f func(c *credfile.Credentials)) credfile.Credentials {
		c := full()
		f(&c)
		return c
	}
	tests := []struct {
		name  string
		c     credfile.Credentials
		src   credfile.Source
		needT bool
		want  string // "" for no error
		kind  error
	}{
		{"complete", full(), credfile.PythonEnv, true, "", nil},
		{"no client id", with(func(c *credfile.Credentials) { c.ClientID = "" }), credfile.PythonEnv, false, "has no LWA client id (LWA_APP_ID)", credfile.ErrMissing},
		{"no client secret", with(func(c *credfile.Credentials) { c.ClientSecret = secret.String{} }), credfile.PythonEnv, false, "has no LWA client secret (LWA_CLIENT_SECRET)", credfile.ErrMissing},
		{"yaml names", with(func(c *credfile.Credentials) { c.ClientSecret = secret.String{} }), credfile.PythonYAML, false, "(lwa_client_secret)", credfile.ErrMissing},
		{"node names", with(func(c *credfile.Credentials) { c.ClientID = "" }), credfile.NodeFile, false, "(SELLING_PARTNER_APP_CLIENT_ID)", credfile.ErrMissing},
		{"malformed client id", with(func(c *credfile.Credentials) { c.ClientID = "amzn1.application-oa2-client.xyz" }), credfile.PythonEnv, false, "has an invalid LWA_APP_ID", credfile.ErrInvalid},
		{"a secret as the client id", with(func(c *credfile.Credentials) { c.ClientID = clientSecret }), credfile.PythonEnv, false, "looks like a secret in LWA_APP_ID", credfile.ErrInvalid},
		{"malformed client secret", with(func(c *credfile.Credentials) { c.ClientSecret = secret.New("Sekr1t-not-a-client-secret") }), credfile.PythonEnv, false, "has an invalid LWA_CLIENT_SECRET", vault.ErrInvalid},
		{"refresh token not needed", with(func(c *credfile.Credentials) { c.RefreshToken = secret.New("Sekr1t") }), credfile.PythonEnv, false, "", nil},
		{"refresh token needed", with(func(c *credfile.Credentials) { c.RefreshToken = secret.String{} }), credfile.PythonJSON, true, "has no refresh token (SP_API_REFRESH_TOKEN)", credfile.ErrMissing},
		{"access token for a refresh token", with(func(c *credfile.Credentials) { c.RefreshToken = secret.New("Atza|Sekr1t" + strings.Repeat("a", 50)) }), credfile.PythonEnv, true, "has an invalid SP_API_REFRESH_TOKEN", credfile.ErrInvalid},
		{"node has no refresh token", with(func(c *credfile.Credentials) { c.RefreshToken = secret.String{} }), credfile.NodeEnv, true, "has no refresh token", credfile.ErrMissing},
		{"AWS key alone", with(func(c *credfile.Credentials) { c.AWSSecretKey = secret.String{} }), credfile.PythonEnv, false, "has SP_API_ACCESS_KEY but no SP_API_SECRET_KEY", credfile.ErrMissing},
		{"AWS secret alone", with(func(c *credfile.Credentials) { c.AWSAccessKeyID = "" }), credfile.NodeFile, false, "has AWS_SECRET_ACCESS_KEY but no AWS_ACCESS_KEY_ID", credfile.ErrMissing},
		{"malformed AWS secret", with(func(c *credfile.Credentials) { c.AWSSecretKey = secret.New("Sekr1t") }), credfile.PythonEnv, false, "has an invalid SP_API_SECRET_KEY", credfile.ErrInvalid},
		{"an AWS secret as the key id", with(func(c *credfile.Credentials) { c.AWSAccessKeyID = awsSecret }), credfile.PythonEnv, false, "looks like a secret in SP_API_ACCESS_KEY", credfile.ErrInvalid},
		{"malformed role", with(func(c *credfile.Credentials) { c.RoleARN = "role/sp-api" }), credfile.PythonYAML, false, "has an invalid role_arn", credfile.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Check(tc.src, tc.needT)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want %q (%v)", err, tc.want, tc.kind)
			}
			assertNoSecret(t, err)
		})
	}
}

func TestSnapshot(t *testing.T) {
	target := credfile.Target{App: "main", AppID: "amzn1.sp.solution.1a2b3c4d-0000-4000-8000-1234567890ab", Region: "na", Seller: "A2VYDBAL8BMVQK", Marketplaces: []string{"ATVPDKIKX0DER"}}
	snap, err := full().Snapshot(credfile.PythonEnv, target)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Apps) != 1 || len(snap.Sellers) != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	a, s := snap.Apps[0], snap.Sellers[0]
	if a.Name != "main" || a.ClientID != clientID || a.ClientSecrets[0].Value.Reveal() != clientSecret || a.AWSAccessKeyID != awsKeyID || a.RoleARN != roleARN || a.Region != "na" {
		t.Errorf("app %+v", a)
	}
	if s.ID != target.Seller || s.Region != "na" || s.Authorizations[0].AppName != "main" || s.Authorizations[0].RefreshToken.Value.Reveal() != refreshToken {
		t.Errorf("seller %+v", s)
	}
	target.Seller, target.Marketplaces = "", nil
	snap, err = credfile.Credentials{ClientID: clientID, ClientSecret: secret.New(clientSecret)}.Snapshot(credfile.PythonYAML, target)
	if err != nil || len(snap.Sellers) != 0 || snap.Apps[0].AWSAccessKeyID != "" {
		t.Fatalf("app alone: %+v %v", snap, err)
	}
	target.Seller = "A2VYDBAL8BMVQK"
	if _, err := (credfile.Credentials{ClientID: clientID, ClientSecret: secret.New(clientSecret)}).Snapshot(credfile.PythonYAML, target); !errors.Is(err, credfile.ErrMissing) {
		t.Fatalf("seller without a refresh token: %v", err)
	}
}

func TestFromVault(t *testing.T) {
	app := vault.App{Name: "main", ClientID: clientID, ClientSecrets: []vault.Secret{{Value: secret.New(clientSecret), Status: vault.StatusCurrent}}, AWSAccessKeyID: awsKeyID, AWSSecretKey: vault.Secret{Value: secret.New(awsSecret)}}
	seller := &vault.Seller{ID: "A2VYDBAL8BMVQK", Authorizations: []vault.Authorization{{AppName: "main", RefreshToken: vault.Secret{Value: secret.New(refreshToken)}}}}
	c, err := credfile.FromVault(app, seller)
	if err != nil {
		t.Fatal(err)
	}
	if !same(c, credfile.Credentials{ClientID: clientID, ClientSecret: secret.New(clientSecret), RefreshToken: secret.New(refreshToken)}) {
		t.Errorf("credentials %+v: want the LWA values and nothing else", c)
	}
	if c, err := credfile.FromVault(app, nil); err != nil || !c.RefreshToken.IsZero() {
		t.Errorf("no seller: %+v %v", c, err)
	}
	other := &vault.Seller{ID: "A3ABCDEFGHIJK1"}
	if _, err := credfile.FromVault(app, other); !errors.Is(err, credfile.ErrNotAuthorized) || !strings.Contains(err.Error(), "A3ABCDEFGHIJK1") {
		t.Errorf("seller without the app: %v", err)
	}
	app.ClientSecrets = nil
	if _, err := credfile.FromVault(app, nil); !errors.Is(err, credfile.ErrNoSecret) {
		t.Errorf("app without a secret: %v", err)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "creds.yml")
	if err := os.WriteFile(path, []byte("default:\n  lwa_app_id: "+clientID+"\n  lwa_client_secret: ["+clientSecret+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := credfile.ReadFile(credfile.PythonYAML, path, "")
	if err == nil || !strings.HasPrefix(err.Error(), path+" line 3: lwa_client_secret") {
		t.Fatalf("err = %v, want it to start with the path and line", err)
	}
	assertNoSecret(t, err)
	if _, err := credfile.ReadFile(credfile.PythonYAML, filepath.Join(dir, "missing.yml"), ""); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSourcesAndDefaults(t *testing.T) {
	for _, s := range credfile.Sources() {
		if got, err := credfile.ParseSource(string(s)); err != nil || got != s {
			t.Errorf("ParseSource(%s) = %s, %v", s, got, err)
		}
	}
	if _, err := credfile.ParseSource("perl-env"); err == nil || !strings.Contains(err.Error(), "python-json") {
		t.Errorf("unknown source: %v", err)
	}
	if _, err := credfile.ParseFormat("xml"); err == nil {
		t.Error("xml is a format")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	if runtime.GOOS == "windows" {
		t.Setenv("USERPROFILE", home)
	}
	for src, want := range map[credfile.Source]string{
		credfile.PythonYAML: filepath.Join(home, ".config", "python-sp-api", "credentials.yml"),
		credfile.NodeFile:   filepath.Join(home, ".amzspapi", "credentials"),
		credfile.PythonEnv:  "",
		credfile.PythonJSON: "",
	} {
		if got, err := src.DefaultPath(); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", src, got, err, want)
		}
	}
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "cfg"))
	if got, _ := credfile.PythonYAML.DefaultPath(); got != filepath.Join(home, "cfg", "python-sp-api", "credentials.yml") {
		t.Errorf("with $XDG_CONFIG_HOME: %s", got)
	}
	env := map[string]string{"SELLING_PARTNER_APP_CLIENT_ID": " " + clientID + " ", "SELLING_PARTNER_APP_CLIENT_SECRET": clientSecret, "SP_API_REFRESH_TOKEN": refreshToken}
	c, err := credfile.FromEnviron(credfile.NodeEnv, func(k string) string { return env[k] })
	if err != nil || c.ClientID != clientID || !c.RefreshToken.IsZero() {
		t.Errorf("node env: %+v %v", c, err)
	}
	if _, err := credfile.FromEnviron(credfile.PythonYAML, os.Getenv); err == nil {
		t.Error("python-yaml read from the environment")
	}
}

// TestWriteFile: a new file of mode 0600, written whole; an existing one is
// kept unless replace; a refused or aborted write leaves nothing behind.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.env")
	if err := credfile.WriteFile(path, []byte("A=1\n"), false); err != nil {
		t.Fatal(err)
	}
	if err := credfile.WriteFile(path, []byte("A=2\n"), false); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "A=1\n" {
		t.Fatalf("the existing file changed: %q", b)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := credfile.WriteFile(path, []byte("A=3\n"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "A=3\n" {
		t.Fatalf("replace: %q", b)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v after replacing a 0644 file, want 0600", fi.Mode().Perm())
		}
	}

	// Create reserves; the file appears only at Commit.
	late := filepath.Join(dir, "late.env")
	f, err := credfile.Create(late, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(late); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file exists before Commit: %v", err)
	}
	// Another writer takes the path meanwhile: Commit does not overwrite.
	if err := os.WriteFile(late, []byte("theirs"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit([]byte("ours")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Commit over a file created meanwhile: %v", err)
	}
	if b, _ := os.ReadFile(late); string(b) != "theirs" {
		t.Fatalf("the other writer's file changed: %q", b)
	}
	aborted := filepath.Join(dir, "aborted.env")
	f, err = credfile.Create(aborted, false)
	if err != nil {
		t.Fatal(err)
	}
	f.Abort()
	f.Abort()
	if err := f.Commit([]byte("x")); err == nil {
		t.Error("Commit after Abort")
	}
	if _, err := credfile.Create(filepath.Join(dir, "no", "such", "dir.env"), false); err == nil {
		t.Error("Create in a missing directory")
	}
	if _, err := credfile.Create(dir, true); err == nil {
		t.Error("Create over a directory")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "late.env out.env" {
		t.Errorf("directory holds %v, want late.env and out.env only (no temporary files)", names)
	}
}
