package spapi

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/spgate/spgate/operations"
)

// TestPathValuesKeepTheirEscapes: a SKU holding reserved characters reaches
// Amazon escaped, in one path segment, and resolves to its operation
// (it used to fail with UnknownOperationError before anything was sent).
func TestPathValuesKeepTheirEscapes(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	f := newEmuFront(t, nil, func(_ int64, w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		seen = append(seen, r.RequestURI)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"sku":"x"}`))
		return true
	})
	c := f.client(t, nil, nil)
	get, _, ok := operations.Lookup("GET", "/listings/2021-08-01/items/{sellerId}/{sku}")
	if !ok {
		t.Fatal("getListingsItem is not in the table")
	}
	tests := []struct{ sku, want string }{
		{"AB/12", "AB%2F12"},
		{"A B", "A%20B"},
		{"A#1", "A%231"},
		{"50%", "50%25"},
		{"A+B", "A+B"},
		{"Größe", "Gr%C3%B6%C3%9Fe"},
		{"商品", "%E5%95%86%E5%93%81"},
	}
	for _, tt := range tests {
		mu.Lock()
		seen = nil
		mu.Unlock()
		_, err := c.Do(context.Background(), Call{Operation: get, Seller: f.demo.SellerID,
			PathParams: map[string]string{"sellerId": f.demo.SellerID, "sku": tt.sku}})
		if err != nil {
			t.Errorf("SKU %q: %v", tt.sku, err)
			continue
		}
		mu.Lock()
		got := seen
		mu.Unlock()
		want := "/listings/2021-08-01/items/" + f.demo.SellerID + "/" + tt.want
		if len(got) != 1 || got[0] != want {
			t.Errorf("SKU %q reached Amazon as %v, want %s", tt.sku, got, want)
		}
	}
}

// TestWithOperationOnlyForItsOwnPath: an operation handed in by the caller
// is used only for a request that fits it; another path is resolved as
// usual (here: no Restricted Data Token for a sellers call labelled as
// getOrderAddress).
func TestWithOperationOnlyForItsOwnPath(t *testing.T) {
	f := newEmuFront(t, nil, nil)
	c := f.client(t, nil, nil)
	addr, _, _ := operations.Lookup("GET", "/orders/v0/orders/1/address")
	ctx := WithOperation(WithSeller(context.Background(), f.demo.SellerID), addr)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/sellers/v1/marketplaceParticipations", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d", resp.StatusCode)
	}
	if n := f.emu.Counters().RDTsIssued; n != 0 {
		t.Errorf("%d RDTs issued for a call that needs none", n)
	}
}
