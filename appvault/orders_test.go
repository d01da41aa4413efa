package appvault_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/orderpull"
	"github.com/spgate/spgate/vault"
)

// TestPullOrdersRecordsEachPage: a pull with personal data records one
// access event per page, for the reader, before the page is written; one
// without records nothing; a seller without marketplaces is refused.
func TestPullOrdersRecordsEachPage(t *testing.T) {
	ctx := context.Background()
	e := newDemoVault(t, 25)
	s, err := e.v.GetSeller(ctx, e.d.SellerID)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pull := func(name string, pii []string) (orderpull.Result, []vault.AccessEvent) {
		t.Helper()
		before, err := e.v.AccessLog(ctx, vault.AccessFilter{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := appvault.PullOrders(ctx, e.v, e.c, appvault.OrdersJob{Seller: s, Out: filepath.Join(dir, name), Reader: "test:reader",
			Options: orderpull.Options{Since: time.Now().AddDate(0, 0, -100), PageSize: 10, PII: pii, Job: name}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		after, err := e.v.AccessLog(ctx, vault.AccessFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return res, after[len(before):]
	}
	res, ev := pull("pii.jsonl", []string{orderpull.Address})
	if res.Orders == 0 || int64(len(ev)) != res.Pages {
		t.Fatalf("%d access events for %d pages (%d orders), want one per page", len(ev), res.Pages, res.Orders)
	}
	for _, got := range ev {
		if got.Client != "test:reader" || got.Seller != s.ID || !got.PII || got.Operation != "getOrders" {
			t.Errorf("access event %+v", got)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "pii.jsonl"))
	if err != nil || int64(strings.Count(string(b), "\n")) != res.Orders {
		t.Fatalf("the file holds %d lines for %d orders (%v)", strings.Count(string(b), "\n"), res.Orders, err)
	}
	if _, ev := pull("plain.jsonl", nil); len(ev) != 0 {
		t.Errorf("%d access events for a pull without personal data", len(ev))
	}

	s.Marketplaces = nil
	_, err = appvault.PullOrders(ctx, e.v, e.c, appvault.OrdersJob{Seller: s, Out: filepath.Join(dir, "none.jsonl"),
		Options: orderpull.Options{Since: time.Now().AddDate(0, 0, -1), Job: "none"}})
	if !errors.Is(err, appvault.ErrNoMarketplaces) || !strings.Contains(err.Error(), "spgate seller update "+s.ID) {
		t.Fatalf("a seller without marketplaces: %v", err)
	}
}
