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
	"github.com/spgate/spgate/spapi"
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

// TestCallRecordsWhatItReleases: a call whose answer holds personal data
// (an order's address) or an Amazon credential (a Restricted Data Token) is
// in the access log before it is returned; a plain call is not.
func TestCallRecordsWhatItReleases(t *testing.T) {
	ctx := context.Background()
	e := newDemoVault(t, 3)
	count := func() int {
		ev, err := e.v.AccessLog(ctx, vault.AccessFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(ev)
	}
	for _, tc := range []struct {
		args     []string
		recorded bool
	}{
		{[]string{"getMarketplaceParticipations"}, false},
		{[]string{"POST", "/tokens/2021-03-01/restrictedDataToken"}, true},
	} {
		call, _, err := spapi.ParseCall(tc.args, "")
		if err != nil {
			t.Fatal(err)
		}
		call.Seller = e.d.SellerID
		if tc.args[0] == "POST" {
			call.Body = map[string]any{"restrictedResources": []map[string]any{{"method": "GET", "path": "/orders/v0/orders", "dataElements": []string{"shippingAddress"}}}}
		}
		before := count()
		if _, err := appvault.Call(ctx, e.v, e.c, call, "test:caller"); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := count() - before; got != map[bool]int{true: 1, false: 0}[tc.recorded] {
			t.Errorf("%v: %d access events, want recorded=%v", tc.args, got, tc.recorded)
		}
	}
}
