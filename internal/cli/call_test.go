package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// emuEnv is an offline Amazon on loopback and a vault holding its demo app
// and sellers, with SPGATE_VAULT, SPGATE_MASTER_KEY and SPGATE_ENDPOINT set
// for Main and for a built spgate binary.
type emuEnv struct {
	srv      *amazontest.Server
	demo     amazontest.Demo
	vault    string
	endpoint string
	app      vault.App
}

func newEmuEnv(t *testing.T, opts ...amazontest.Option) *emuEnv {
	t.Helper()
	dir := cliEnv(t)
	opts = append([]amazontest.Option{amazontest.WithSeed(7), amazontest.WithTimeScale(600), amazontest.WithTokenLifetime(12 * time.Hour)}, opts...)
	srv := amazontest.NewServer(opts...)
	t.Cleanup(srv.Close)
	e := &emuEnv{srv: srv, demo: srv.Demo(), vault: filepath.Join(dir, "vault.db")}
	e.endpoint = fmt.Sprintf("na=%s,eu=%s,fe=%s", srv.RegionURL(amazontest.RegionNA), srv.RegionURL(amazontest.RegionEU), srv.RegionURL(amazontest.RegionFE))
	t.Setenv("SPGATE_VAULT", e.vault)
	t.Setenv(EnvEndpoint, e.endpoint)
	e.app = vault.App{Name: "main", AppID: e.demo.AppID, ClientID: e.demo.ClientID,
		Roles:         []string{amazontest.RoleShipping, amazontest.RoleTaxInvoicing},
		ClientSecrets: []vault.Secret{{Value: secret.New(e.demo.ClientSecret)}}}
	v := e.open(t, true)
	defer v.Close()
	ctx := context.Background()
	if err := v.AddApp(ctx, e.app); err != nil {
		t.Fatal(err)
	}
	for _, s := range e.demo.Sellers {
		if err := v.AddSeller(ctx, vault.Seller{ID: s.ID, Region: string(s.Region), Marketplaces: s.Marketplaces,
			Authorizations: []vault.Authorization{{AppName: "main", RefreshToken: vault.Secret{Value: secret.New(s.RefreshToken)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *emuEnv) open(t *testing.T, create bool) *vault.Vault {
	t.Helper()
	key, err := vault.ParseKey(testMasterKey, "test")
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(context.Background(), e.vault, key, vault.Options{Create: create})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// run runs spgate, fails the test unless it exits with want or if its
// output holds a credential, and returns stdout and stderr.
func (e *emuEnv) run(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := run(t, "", args...)
	if code != want {
		t.Fatalf("spgate %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	assertNoSecrets(t, e, stdout, stderr)
	return stdout, stderr
}

// secrets lists every credential value the emulator handed out.
func (e *emuEnv) secrets() []string {
	out := []string{e.demo.ClientSecret, "Atza|", "Atz.sprdt|"}
	for _, s := range e.demo.Sellers {
		out = append(out, s.RefreshToken)
	}
	return out
}

func assertNoSecrets(t *testing.T, e *emuEnv, texts ...string) {
	t.Helper()
	for _, txt := range texts {
		for _, s := range e.secrets() {
			if strings.Contains(txt, s) {
				t.Errorf("output contains a credential (%.12s…)", s)
			}
		}
	}
}

func TestCall(t *testing.T) {
	e := newEmuEnv(t)
	seller := e.demo.Sellers[0]
	mkt := seller.Marketplaces[0]
	after := time.Now().Add(-100 * 24 * time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings
		stderr   []string
		jsonPath string // top-level key that must be present in stdout's JSON
	}{
		{name: "operationId", args: []string{"call", "getMarketplaceParticipations", "--seller", seller.ID},
			stdout: []string{mkt}, jsonPath: "payload"},
		{name: "method and path", args: []string{"call", "GET", "/sellers/v1/marketplaceParticipations", "--seller", seller.ID},
			stdout: []string{mkt}, jsonPath: "payload"},
		{name: "query from key=value", args: []string{"call", "getOrders", "--api", "orders/v0", "MarketplaceIds=" + mkt, "CreatedAfter=" + after, "MaxResultsPerPage=3", "--seller", seller.ID},
			stdout: []string{"AmazonOrderId", "NextToken"}, jsonPath: "payload"},
		{name: "path with query and pii", args: []string{"call", "GET", "/orders/v0/orders?MarketplaceIds=" + mkt + "&MaxResultsPerPage=2", "CreatedAfter=" + after, "--pii", "shippingAddress", "--seller", seller.ID},
			stdout: []string{"AddressLine1"}, jsonPath: "payload"},
		{name: "operationId in a vendor API too", args: []string{"call", "getOrders", "MarketplaceIds=" + mkt, "CreatedAfter=" + after, "MaxResultsPerPage=1", "--seller", seller.ID},
			stdout: []string{"AmazonOrderId"}, stderr: []string{"calling orders/v0 (GET /orders/v0/orders)", "vendor"}, jsonPath: "payload"},
		{name: "ambiguous operationId", args: []string{"call", "getOrder", "orderId=123-1234567-1234567", "--seller", seller.ID},
			code: ExitUsage, stderr: []string{"--api orders/v0", "--api orders/2026-01-01"}},
		{name: "unknown operationId", args: []string{"call", "getOrdersPlease", "--seller", seller.ID}, code: ExitUsage, stderr: []string{"no SP-API operation"}},
		{name: "missing path parameter", args: []string{"call", "getOrderAddress", "--seller", seller.ID}, code: ExitUsage, stderr: []string{"orderId="}},
		{name: "amazon refuses with diagnosis", args: []string{"call", "getOrder", "--api", "orders/v0", "orderId=999-9999999-9999999", "--seller", seller.ID},
			code: ExitFailure, stderr: []string{"404", "likely cause", "setup step: request"}},
		{name: "seller required", args: []string{"call", "getMarketplaceParticipations"}, code: ExitUsage, stderr: []string{"--seller"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, "", append(tc.args, "--log-level", "debug")...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %.400s\nstderr: %.800s", code, tc.code, out, errOut)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q: %.400s", s, out)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q: %.800s", s, errOut)
				}
			}
			if tc.jsonPath != "" {
				var m map[string]json.RawMessage
				if err := json.Unmarshal([]byte(out), &m); err != nil {
					t.Fatalf("stdout is not JSON: %v", err)
				}
				if _, ok := m[tc.jsonPath]; !ok {
					t.Errorf("JSON lacks %q", tc.jsonPath)
				}
			}
			assertNoSecrets(t, e, out, errOut)
		})
	}
}

// TestSetSecretVerifiesWithLWA: a secret LWA accepts replaces the current
// one (which stays as the previous secret); one LWA refuses changes nothing.
func TestSetSecretVerifiesWithLWA(t *testing.T) {
	e := newEmuEnv(t)
	t.Setenv("SPGATE_LWA_URL", "") // the emulator's, through SPGATE_ENDPOINT
	dir := t.TempDir()
	// Amazon makes a new secret: rotate through the emulator's API and take
	// the secret from its notification, as rotation would.
	e.run(t, ExitOK, "call", "rotateApplicationClientSecret")
	var n struct {
		Payload struct {
			New struct {
				ClientSecret string `json:"newClientSecret"`
			} `json:"applicationOAuthClientNewSecret"`
		} `json:"payload"`
	}
	select {
	case msg := <-e.srv.Notifications():
		if err := json.Unmarshal(msg, &n); err != nil || n.Payload.New.ClientSecret == "" {
			t.Fatalf("notification: %v", err)
		}
	case <-time.After(testenv.Patience):
		t.Fatal("no new-secret notification")
	}
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	_ = os.WriteFile(good, []byte(n.Payload.New.ClientSecret+"\n"), 0o600)
	_ = os.WriteFile(bad, []byte("amzn1.oa2-cs.v1."+strings.Repeat("ab", 32)+"\n"), 0o600)

	if _, out := e.run(t, ExitFailure, "app", "set-secret", "main", "--client-secret-file", bad); !strings.Contains(out, "invalid_client") {
		t.Fatalf("refusal does not come from LWA: %s", out)
	}
	v := e.open(t, false)
	a, err := v.GetApp(context.Background(), "main")
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := a.CurrentSecret(); cur.Value.Reveal() != e.demo.ClientSecret {
		t.Fatal("a secret LWA refused replaced the working one")
	}

	e.run(t, ExitOK, "app", "set-secret", "main", "--client-secret-file", good)
	v = e.open(t, false)
	a, err = v.GetApp(context.Background(), "main")
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := a.CurrentSecret()
	prev, ok := a.PreviousSecret()
	if cur.Value.Reveal() != n.Payload.New.ClientSecret || !ok || prev.Value.Reveal() != e.demo.ClientSecret {
		t.Fatal("the verified secret is not current with the old one kept as previous")
	}
	// And calls work with it.
	e.run(t, ExitOK, "call", "getMarketplaceParticipations", "--seller", e.demo.SellerID)
}
