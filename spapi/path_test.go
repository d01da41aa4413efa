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

// TestNewRequestPathSendsItsPathAndQuery: a request built from a path and
// query apart carries exactly them (an escaped '/' in one segment, the
// query as given), like NewRequest of the same string; a query that cannot
// go on the request line as it is, or a path that is no absolute path, is
// refused before anything is sent.
func TestNewRequestPathSendsItsPathAndQuery(t *testing.T) {
	f := newEmuFront(t, nil, nil)
	c := f.client(t, nil, nil)
	ctx := context.Background()
	const path, query = "/listings/2021-08-01/items/A2SELLER/AB%2F12", "marketplaceIds=ATVPDKIKX0DER&includedData=summaries"
	a, err := c.NewRequestPath(ctx, f.demo.SellerID, http.MethodGet, path, query, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.NewRequest(ctx, f.demo.SellerID, http.MethodGet, path+"?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*http.Request{a, b} {
		if got := r.URL.RequestURI(); got != path+"?"+query || r.URL.EscapedPath() != path || r.Host != r.URL.Host || sellerFrom(r.Context()) != f.demo.SellerID {
			t.Errorf("request for %s, host %q (URL host %q), seller %q", got, r.Host, r.URL.Host, sellerFrom(r.Context()))
		}
	}
	if a.URL.String() != b.URL.String() {
		t.Errorf("NewRequestPath built %s, NewRequest %s", a.URL, b.URL)
	}
	for _, bad := range []struct{ path, query string }{
		{"orders/v0/orders", ""},
		{"/orders/v0/orders", "a=1 2"},
		{"/orders/v0/orders", "a=1\r\nX-Evil: 1"},
		{"/orders/v0/orders", "a=1#frag"},
		{"/orders/v0/%zz", ""},
	} {
		if _, err := c.NewRequestPath(ctx, f.demo.SellerID, http.MethodGet, bad.path, bad.query, nil); err == nil {
			t.Errorf("path %q query %q: no error", bad.path, bad.query)
		}
	}
}
