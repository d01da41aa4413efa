package demo

import (
	"context"
	"os"
	"testing"

	"github.com/spgate/spgate/amazontest"
)

// TestStart builds the offline environment with an extra fixture and
// checks the vault holds its app and every seller's authorization, the
// endpoints address the emulator, and Close removes the temporary vault.
func TestStart(t *testing.T) {
	ctx := context.Background()
	e, err := Start(ctx, Options{Actor: "test", Amazon: amazontest.Config{Seed: 1, OrdersPerSeller: 1, Sellers: 1},
		Fixture: func(srv *amazontest.Server) (amazontest.Demo, error) { return NewFixture(srv, "Test", 2) }})
	if err != nil {
		t.Fatal(err)
	}
	dir := e.Dir
	if e.App.Name != AppName || e.App.AppID != e.Fixture.AppID || e.App.AppID == e.Amazon.Demo().AppID {
		t.Errorf("app %+v, fixture app %s", e.App, e.Fixture.AppID)
	}
	if len(e.Fixture.Sellers) != 2 || e.Fixture.SellerID != e.Fixture.Sellers[0].ID {
		t.Fatalf("fixture sellers %+v", e.Fixture.Sellers)
	}
	for _, s := range e.Fixture.Sellers {
		sl, err := e.Vault.GetSeller(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		au, ok := sl.Authorization(AppName)
		if !ok || au.RefreshToken.Value.Reveal() != s.RefreshToken {
			t.Errorf("seller %s: authorization of %s missing or wrong", s.ID, AppName)
		}
	}
	if e.Endpoints.TokenURL != e.Amazon.TokenURL() {
		t.Errorf("token URL %s, emulator's %s", e.Endpoints.TokenURL, e.Amazon.TokenURL())
	}
	e.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left behind: %v", dir, err)
	}
}

func TestFullAddress(t *testing.T) {
	for line, want := range map[string]bool{
		`{"ShippingAddress":{"Name":"A","AddressLine1":"1 St","City":"C","PostalCode":"1","CountryCode":"US"}}`: true,
		`{"ShippingAddress":{"Name":"A","AddressLine1":"1 St","City":"C","PostalCode":"1"}}`:                    false,
		`{"AmazonOrderId":"1"}`: false,
		`not json`:              false,
	} {
		if got := FullAddress([]byte(line)); got != want {
			t.Errorf("%s: %v, want %v", line, got, want)
		}
	}
}
