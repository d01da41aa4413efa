package appvault_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

const testSeller = "A2VYDBAL8BMVQK"

// newVault is a vault in a temporary directory holding n apps, named
// app1, app2…
func newVault(t *testing.T, n int) *vault.Vault {
	t.Helper()
	ctx := context.Background()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, filepath.Join(t.TempDir(), "vault.db"), key, vault.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	for i := 1; i <= n; i++ {
		d := strings.Repeat(string(rune('0'+i)), 1)
		if err := v.AddApp(ctx, vault.App{Name: "app" + d, AppID: "amzn1.sp.solution.1a2b3c4d-0000-4000-8000-12345678900" + d,
			ClientID: "amzn1.application-oa2-client." + strings.Repeat(d, 32), ClientSecrets: []vault.Secret{{Value: secret.New("amzn1.oa2-cs.v1." + strings.Repeat(d, 64))}}}); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

func token(s string) secret.String { return secret.New("Atzr|IwEBI" + s + pad) }

func TestAddSeller(t *testing.T) {
	ctx := context.Background()
	v := newVault(t, 2)
	eu := vault.Seller{ID: testSeller, Name: "shop", Region: "eu", Marketplaces: []string{"A1PA6795UKMFR9"}}
	r, err := appvault.AddSeller(ctx, v, eu, "app1", token("one"))
	if err != nil || r.Existed || r.Seller.Marketplaces[0] != "A1PA6795UKMFR9" {
		t.Fatalf("new seller: %+v %v", r, err)
	}
	tests := []struct {
		name           string
		s              vault.Seller
		app            string
		conflict       bool
		keptMP, keptNm bool
	}{
		{"same fields, other app", eu, "app2", false, false, false},
		{"other marketplaces and name", vault.Seller{ID: testSeller, Name: "other", Region: "eu", Marketplaces: []string{"A13V1IB3VIYZZH"}}, "app1", false, true, true},
		{"no name given keeps the name quietly", vault.Seller{ID: testSeller, Region: "eu", Marketplaces: []string{"A1PA6795UKMFR9"}}, "app1", false, false, false},
		{"other region", vault.Seller{ID: testSeller, Region: "na", Marketplaces: []string{"ATVPDKIKX0DER"}}, "app1", true, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := appvault.AddSeller(ctx, v, tc.s, tc.app, token(strings.ReplaceAll(tc.name, " ", "-")))
			var rc *appvault.RegionConflictError
			if tc.conflict {
				if !errors.As(err, &rc) || rc.Stored != "eu" || rc.Given != "na" {
					t.Fatalf("got %+v %v, want a region conflict", r, err)
				}
				return
			}
			if err != nil || !r.Existed || r.KeptMarketplaces != tc.keptMP || r.KeptName != tc.keptNm || r.Seller.Name != "shop" {
				t.Fatalf("got %+v %v", r, err)
			}
			if note := r.Note(); (note != "") != (tc.keptMP || tc.keptNm) || tc.keptMP && !strings.Contains(note, "--marketplace A13V1IB3VIYZZH`") || tc.keptNm && !strings.Contains(note, "--name other`") {
				t.Errorf("note %q", note)
			}
			if rt, err := v.RefreshToken(ctx, testSeller, tc.app); err != nil || !rt.Equal(token(strings.ReplaceAll(tc.name, " ", "-"))) {
				t.Errorf("the token for %s was not stored: %v", tc.app, err)
			}
		})
	}
	s, _ := v.GetSeller(ctx, testSeller)
	if s.Region != "eu" || s.Name != "shop" || len(s.Authorizations) != 2 {
		t.Errorf("the stored seller changed: %+v", s)
	}
	// Another seller under a name already taken: the vault's refusal.
	if _, err := appvault.AddSeller(ctx, v, vault.Seller{ID: "A3ABCDEFGHIJK1", Name: "shop", Region: "eu", Marketplaces: []string{"A1PA6795UKMFR9"}}, "app1", token("x")); !errors.Is(err, vault.ErrExists) {
		t.Errorf("taken name: %v", err)
	}
}

func TestCreateClient(t *testing.T) {
	ctx := context.Background()
	v := newVault(t, 1)
	if err := v.AddSeller(ctx, vault.Seller{ID: testSeller, Name: "shop", Region: "eu", Marketplaces: []string{"A1PA6795UKMFR9"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		sellers []string
		want    error
	}{
		{"erp", []string{"shop"}, nil},
		{"all", []string{"*"}, nil},
		{"stranger", []string{testSeller, "A3NOSUCHSELLER"}, vault.ErrNotFound},
		{"erp", []string{testSeller}, vault.ErrExists},
	} {
		key, err := appvault.CreateClient(ctx, v, vault.Client{Name: tc.name, Sellers: tc.sellers, Operations: []string{"getOrders"}})
		if tc.want != nil {
			if !errors.Is(err, tc.want) {
				t.Errorf("%s %v: %v, want %v", tc.name, tc.sellers, err, tc.want)
			}
			continue
		}
		if err != nil || !strings.HasPrefix(key.Reveal(), vault.ClientKeyPrefix) {
			t.Errorf("%s %v: %v", tc.name, tc.sellers, err)
		}
	}
	if _, err := v.GetClient(ctx, "stranger"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("a client with an unknown seller was created: %v", err)
	}
}

func TestResolveApp(t *testing.T) {
	ctx := context.Background()
	if _, err := appvault.ResolveApp(ctx, newVault(t, 0), ""); !errors.Is(err, appvault.ErrNoApp) {
		t.Errorf("empty vault: %v", err)
	}
	one := newVault(t, 1)
	if a, err := appvault.ResolveApp(ctx, one, ""); err != nil || a.Name != "app1" || a.ClientSecrets[0].Value.IsZero() {
		t.Errorf("the only app: %+v %v", a, err)
	}
	two := newVault(t, 2)
	var many *appvault.ManyAppsError
	if _, err := appvault.ResolveApp(ctx, two, ""); !errors.As(err, &many) || strings.Join(many.Names, ",") != "app1,app2" {
		t.Errorf("two apps: %v", err)
	}
	if a, err := appvault.ResolveApp(ctx, two, "amzn1.application-oa2-client."+strings.Repeat("2", 32)); err != nil || a.Name != "app2" {
		t.Errorf("by client id: %+v %v", a, err)
	}
	if _, err := appvault.ResolveApp(ctx, two, "nosuch"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("unknown app: %v", err)
	}
	c, err := appvault.NewClient(two, vault.App{Name: "app2", AppID: "amzn1.sp.solution.1a2b3c4d-0000-4000-8000-123456789002"}, appvault.ClientConfig{Endpoints: spapi.Sandbox()})
	if err != nil || c == nil {
		t.Errorf("NewClient: %v", err)
	}
}
