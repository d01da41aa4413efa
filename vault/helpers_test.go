package vault

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/secret"
)

// Fixture values in Amazon's formats. The secrets are unique strings so a
// test can search for them in files and messages.
var (
	t0           = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	appID1       = "amzn1.sp.solution.0a1b2c3d-1111-2222-3333-444455556666"
	appID2       = "amzn1.sp.solution.9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff"
	clientID1    = "amzn1.application-oa2-client." + strings.Repeat("ab", 16)
	clientID2    = "amzn1.application-oa2-client." + strings.Repeat("cd", 16)
	secret1      = "amzn1.oa2-cs.v1." + strings.Repeat("1f", 32)
	secret2      = "amzn1.oa2-cs.v1." + strings.Repeat("2e", 32)
	secret3      = "amzn1.oa2-cs.v1." + strings.Repeat("3d", 32)
	token1       = "Atzr|IwEBIKtoken1SECRETVALUE" + strings.Repeat("x", 40)
	token2       = "Atzr|IwEBIKtoken2SECRETVALUE" + strings.Repeat("y", 40)
	awsSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	seller1      = "A2VYDBAL8BMVQK"
	seller2      = "A3ABCDEFGHIJK1"
	allSecrets   = []string{secret1, secret2, secret3, token1, token2, awsSecret}
	testKDFIters = 1000
)

func rawKey(t testing.TB) Key {
	t.Helper()
	k, err := NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type fixture struct {
	path string
	key  Key
	clk  *clock.Fake
	v    *Vault
}

// testOpts waits up to testenv.Patience for another handle's write lock: a
// writer descheduled on a loaded machine holds it for seconds, and a test
// that means to meet a held lock sets a short BusyTimeout itself.
func testOpts(clk clock.Clock) Options {
	return Options{Create: true, Clock: clk, kdfIter: testKDFIters, BusyTimeout: testenv.Patience}
}

// newVault creates a vault in a temp dir (in the PostgreSQL run: in a fresh
// schema); it is closed at cleanup.
func newVault(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{path: emptyVaultPath(t), key: rawKey(t), clk: clock.NewFake(t0)}
	v, err := Open(context.Background(), f.path, f.key, testOpts(f.clk))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	f.v = v
	t.Cleanup(func() { f.v.Close() })
	return f
}

func (f *fixture) reopen(t testing.TB) {
	t.Helper()
	f.v.Close()
	v, err := Open(context.Background(), f.path, f.key, testOpts(f.clk))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	f.v = v
}

func sampleApp(name, appID, clientID, sec string) App {
	return App{
		Name: name, AppID: appID, ClientID: clientID,
		Roles:         []string{"Direct-to-Consumer Shipping"},
		Region:        RegionEU,
		ClientSecrets: []Secret{{Value: secret.New(sec)}},
	}
}

// seed adds two apps and a seller authorized for the first.
func (f *fixture) seed(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	a := sampleApp("main", appID1, clientID1, secret1)
	a.AWSAccessKeyID = "AKIAIOSFODNN7EXAMPLE"
	a.AWSSecretKey = Secret{Value: secret.New(awsSecret)}
	must(t, f.v.AddApp(ctx, a))
	must(t, f.v.AddApp(ctx, sampleApp("second", appID2, clientID2, secret2)))
	must(t, f.v.AddSeller(ctx, Seller{ID: seller1, Name: "acme", Region: RegionEU, Marketplaces: []string{"A1PA6795UKMFR9", "A1F83G8C2ARO7P"}}))
	must(t, f.v.SetRefreshToken(ctx, seller1, "main", secret.New(token1), time.Time{}))
	must(t, f.v.SetCheckpoint(ctx, seller1, "orders", []byte(`{"after":"2026-01-01"}`)))
	must(t, f.v.SetState(ctx, "rotation/main", []byte(`{"step":1}`)))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// assertNoSecrets fails if s contains any fixture secret or a long piece of one.
func assertNoSecrets(t testing.TB, s string) {
	t.Helper()
	for _, sec := range allSecrets {
		if strings.Contains(s, sec) || strings.Contains(s, sec[len(sec)-20:]) {
			t.Errorf("text contains a secret: %q", s)
		}
	}
}
