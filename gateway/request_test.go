package gateway

import (
	"net/url"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		method, target string
		wantOp         string // operation key; "" for no operation
		wantSend       string // what is forwarded
		wantErr        bool
	}{
		{"GET", "/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER&CreatedAfter=2026-01-01T00%3A00%3A00Z", "orders/v0/getOrders",
			"/orders/v0/orders?CreatedAfter=2026-01-01T00%3A00%3A00Z&MarketplaceIds=ATVPDKIKX0DER", false},
		{"GET", "/orders/v0/%6Frders", "orders/v0/getOrders", "/orders/v0/orders", false},
		{"GET", "/orders/2026-01-01/orders?%69ncludedData=%42UYER", "orders/2026-01-01/searchOrders", "/orders/2026-01-01/orders?includedData=BUYER", false},
		{"GET", "/listings/2021-08-01/items/A2SELLER/AB%2F12?marketplaceIds=X", "listings-items/2021-08-01/getListingsItem",
			"/listings/2021-08-01/items/A2SELLER/AB%2F12?marketplaceIds=X", false},
		{"DELETE", "/listings/2021-08-01/items/A2SELLER/50%25%20off%23", "listings-items/2021-08-01/deleteListingsItem",
			"/listings/2021-08-01/items/A2SELLER/50%25%20off%23", false},
		{"GET", "/listings/2021-08-01/items/A2SELLER/%E5%95%86%E5%93%81", "listings-items/2021-08-01/getListingsItem",
			"/listings/2021-08-01/items/A2SELLER/%E5%95%86%E5%93%81", false},
		{"GET", "/nothing/here", "", "/nothing/here", false},
		{"GET", "/orders/v0//orders", "", "", true},
		{"GET", "/orders/v0/orders/../../applications", "", "", true},
		{"GET", "/orders/v0/orders/%2e%2e/x", "", "", true},
		{"GET", "/orders/v0/orders/a%00b", "", "", true},
		{"GET", "/orders/v0/orders?a=%zz", "", "", true},
		{"GET", "/orders/v0/orders?a=1;b=2", "", "", true},
		{"GET", "/orders/v0/orders?a=%ff", "", "", true},
	}
	for _, tt := range tests {
		u, err := url.ParseRequestURI(tt.target)
		if err != nil {
			t.Fatalf("%s: %v", tt.target, err)
		}
		got, err := parseTarget(tt.method, u)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s %s: err %v, want error %v", tt.method, tt.target, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		op := ""
		if got.op != nil {
			op = got.op.Key()
		}
		if op != tt.wantOp || got.encode() != tt.wantSend {
			t.Errorf("%s %s: op %q sends %s, want %q and %s", tt.method, tt.target, op, got.encode(), tt.wantOp, tt.wantSend)
		}
	}
}
