package appvault_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

var pad = strings.Repeat("x", 120)

func TestSellersFollowTheVaultOnClear(t *testing.T) {
	ctx := context.Background()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, filepath.Join(t.TempDir(), "vault.db"), key, vault.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	const seller, other = "A2VYDBAL8BMVQK", "A1PA6795UKMFR9X"
	if err := v.AddApp(ctx, vault.App{Name: "main", AppID: "amzn1.sp.solution.11111111-2222-3333-4444-555555555555",
		ClientID: "amzn1.application-oa2-client." + strings.Repeat("a", 32), Region: vault.RegionEU,
		ClientSecrets: []vault.Secret{{Value: secret.New("amzn1.oa2-cs.v1." + strings.Repeat("1f", 32))}}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{seller, other} {
		if err := v.AddSeller(ctx, vault.Seller{ID: id, Region: vault.RegionEU, Marketplaces: []string{"A1PA6795UKMFR9"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.SetRefreshToken(ctx, seller, "main", secret.New("Atzr|first"+pad), time.Time{}); err != nil {
		t.Fatal(err)
	}
	s := appvault.NewSellers(v, "main", time.Hour, nil)
	got, err := s.Seller(ctx, seller)
	if err != nil || got.RefreshToken.Reveal() != "Atzr|first"+pad || got.Region != spapi.EU {
		t.Fatalf("Seller = %+v, %v", got, err)
	}
	if err := v.SetRefreshToken(ctx, seller, "main", secret.New("Atzr|second"+pad), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Seller(ctx, seller); got.RefreshToken.Reveal() != "Atzr|first"+pad {
		t.Error("the cache did not hold the seller for its TTL")
	}
	s.Clear()
	if got, _ := s.Seller(ctx, seller); got.RefreshToken.Reveal() != "Atzr|second"+pad {
		t.Error("after Clear the old refresh token is still used")
	}
	for _, id := range []string{other, "A3NOSUCHSELLER"} {
		if _, err := s.Seller(ctx, id); !errors.Is(err, spapi.ErrUnknownSeller) {
			t.Errorf("%s: %v, want ErrUnknownSeller", id, err)
		}
	}
}
