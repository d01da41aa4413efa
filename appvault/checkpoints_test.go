package appvault_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/orderpull"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

var _ orderpull.CheckpointStore = appvault.Checkpoints{}

// TestPullWithTheVault runs an orders pull the way a Go program with a
// vault does: credentials, seller and checkpoints from the vault. Stopped
// after its first page, it resumes from the checkpoint kept in the vault.
func TestPullWithTheVault(t *testing.T) {
	ctx := context.Background()
	e := newDemoVault(t, 30)
	v, c, d := e.v, e.c, e.d
	path := filepath.Join(t.TempDir(), "orders.jsonl")
	o := orderpull.Options{Seller: d.SellerID, Marketplaces: d.Marketplaces, Since: time.Now().AddDate(0, 0, -100),
		Until: time.Now().Add(-time.Hour), PageSize: 10, Checkpoints: appvault.NewCheckpoints(v), Job: "orders"}
	f := orderpull.NewFile(path)
	_, err := orderpull.Run(ctx, c, o, stopAt{f, 2})
	f.Close()
	if !errors.Is(err, errStop) {
		t.Fatalf("first run: %v", err)
	}
	if _, err := v.GetCheckpoint(ctx, d.SellerID, "orders"); err != nil {
		t.Fatalf("no checkpoint in the vault after a page: %v", err)
	}
	f = orderpull.NewFile(path)
	defer f.Close()
	res, err := orderpull.Run(ctx, c, o, f)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.Pages < 2 {
		t.Fatalf("second run: %+v, want it resumed from the vault's checkpoint", res)
	}
	b, _ := os.ReadFile(path)
	if n := int64(bytes.Count(b, []byte("\n"))); n != res.Orders || n < 20 {
		t.Fatalf("the file has %d orders, the run counts %d", n, res.Orders)
	}
}

// stopAt is a File that fails to write page n.
type stopAt struct {
	*orderpull.File
	n int64
}

var errStop = errors.New("stop")

func (s stopAt) WritePage(ctx context.Context, p *orderpull.Page) error {
	if p.Number == s.n {
		return errStop
	}
	return s.File.WritePage(ctx, p)
}

// demoVault is an offline Amazon and a vault holding its demo app and first
// seller, with a client of that app reading its credentials and sellers
// from the vault.
type demoVault struct {
	v *vault.Vault
	c *spapi.Client
	d amazontest.Demo
}

func newDemoVault(t *testing.T, orders int) demoVault {
	t.Helper()
	ctx := context.Background()
	srv := amazontest.NewServer(amazontest.WithOrdersPerSeller(orders), amazontest.WithoutRateLimits())
	t.Cleanup(srv.Close)
	d := srv.Demo()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, filepath.Join(t.TempDir(), "vault.db"), key, vault.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	if err := v.AddApp(ctx, vault.App{Name: "main", AppID: d.AppID, ClientID: d.ClientID, Region: vault.RegionNA,
		ClientSecrets: []vault.Secret{{Value: secret.New(d.ClientSecret)}}}); err != nil {
		t.Fatal(err)
	}
	if err := v.AddSeller(ctx, vault.Seller{ID: d.SellerID, Region: vault.RegionNA, Marketplaces: d.Marketplaces}); err != nil {
		t.Fatal(err)
	}
	if err := v.SetRefreshToken(ctx, d.SellerID, "main", secret.New(d.RefreshToken), time.Time{}); err != nil {
		t.Fatal(err)
	}
	ep, err := spapi.Custom(srv.URL, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := spapi.New(spapi.Config{AppID: d.AppID, Endpoints: ep, Credentials: rotation.VaultCredentials{Vault: v, App: "main"},
		Sellers: appvault.NewSellers(v, "main", time.Minute, nil), Limiter: ratelimit.New(ratelimit.Options{Store: ratelimit.Unlimited{}})})
	if err != nil {
		t.Fatal(err)
	}
	return demoVault{v: v, c: c, d: d}
}
