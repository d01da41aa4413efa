package operations

import "testing"

func TestLookup(t *testing.T) {
	tests := []struct {
		method, path string
		wantKey      string
		wantParams   map[string]string
	}{
		{"GET", "/orders/v0/orders", "orders/v0/getOrders", nil},
		{"GET", "/orders/v0/orders/123-1234567-1234567", "orders/v0/getOrder", map[string]string{"orderId": "123-1234567-1234567"}},
		{"GET", "/orders/v0/orders/123-1234567-1234567/address", "orders/v0/getOrderAddress", map[string]string{"orderId": "123-1234567-1234567"}},
		{"GET", "/orders/v0/orders/{orderId}/address", "orders/v0/getOrderAddress", map[string]string{"orderId": "{orderId}"}},
		{"GET", "/orders/v0/orders/1/orderItems/buyerInfo", "orders/v0/getOrderItemsBuyerInfo", map[string]string{"orderId": "1"}},
		{"get", "/orders/2026-01-01/orders", "orders/2026-01-01/searchOrders", nil},
		{"POST", "/tokens/2021-03-01/restrictedDataToken", "tokens/2021-03-01/createRestrictedDataToken", nil},
		{"POST", "/applications/2023-11-30/clientSecret", "application-management/2023-11-30/rotateApplicationClientSecret", nil},
	}
	for _, tt := range tests {
		op, params, ok := Lookup(tt.method, tt.path)
		if !ok {
			t.Fatalf("%s %s: not found", tt.method, tt.path)
		}
		if op.Key() != tt.wantKey {
			t.Errorf("%s %s: got %s, want %s", tt.method, tt.path, op.Key(), tt.wantKey)
		}
		for k, v := range tt.wantParams {
			if params[k] != v {
				t.Errorf("%s %s: param %s=%q, want %q", tt.method, tt.path, k, params[k], v)
			}
		}
	}
	for _, bad := range []struct{ m, p string }{
		{"GET", "/orders/v0/orderz"}, {"DELETE", "/orders/v0/orders"}, {"GET", "/orders/v0/orders/"}, {"GET", ""}, {"GET", "/"},
	} {
		if op, _, ok := Lookup(bad.m, bad.p); ok {
			t.Errorf("%s %q resolved to %s", bad.m, bad.p, op.Key())
		}
	}
}

func TestFacts(t *testing.T) {
	tests := []struct {
		api, version, id string
		rate             float64
		burst            int
		restricted       bool
		grantless        bool
	}{
		{"orders", "v0", "getOrders", 0.0167, 20, true, false},
		{"orders", "v0", "getOrder", 0.5, 30, true, false},
		{"tokens", "2021-03-01", "createRestrictedDataToken", 1, 10, false, false},
		{"sellers", "v1", "getMarketplaceParticipations", 0.016, 15, false, false},
		{"application-management", "2023-11-30", "rotateApplicationClientSecret", 0.0167, 1, false, true},
	}
	for _, tt := range tests {
		op, ok := ByID(tt.api, tt.version, tt.id)
		if !ok {
			t.Fatalf("%s missing", tt.id)
		}
		if op.Rate != tt.rate || op.Burst != tt.burst || op.Restricted != tt.restricted || op.Grantless != tt.grantless {
			t.Errorf("%s: got %+v", tt.id, *op)
		}
	}
	for _, op := range All {
		if op.Rate <= 0 || op.Burst <= 0 {
			t.Errorf("%s has no usable rate", op.Key())
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	for b.Loop() {
		Lookup("GET", "/orders/v0/orders/123-1234567-1234567/address")
	}
}

func TestLookupEscaped(t *testing.T) {
	tests := []struct {
		method, path string
		wantKey      string
		wantSKU      string
	}{
		{"GET", "/listings/2021-08-01/items/A2SELLER/AB%2F12", "listings-items/2021-08-01/getListingsItem", "AB/12"},
		{"PUT", "/listings/2021-08-01/items/A2SELLER/A%20B", "listings-items/2021-08-01/putListingsItem", "A B"},
		{"PATCH", "/listings/2021-08-01/items/A2SELLER/50%25", "listings-items/2021-08-01/patchListingsItem", "50%"},
		{"DELETE", "/listings/2021-08-01/items/A2SELLER/A%23%2B1", "listings-items/2021-08-01/deleteListingsItem", "A#+1"},
		{"GET", "/listings/2021-08-01/items/A2SELLER/Gr%C3%B6%C3%9Fe", "listings-items/2021-08-01/getListingsItem", "Größe"},
		{"GET", "/orders/v0/%6Frders", "orders/v0/getOrders", ""},
	}
	for _, tt := range tests {
		op, params, ok := LookupEscaped(tt.method, tt.path)
		if !ok {
			t.Errorf("%s %s: not found", tt.method, tt.path)
			continue
		}
		if op.Key() != tt.wantKey || params["sku"] != tt.wantSKU {
			t.Errorf("%s %s: %s sku %q, want %s %q", tt.method, tt.path, op.Key(), params["sku"], tt.wantKey, tt.wantSKU)
		}
	}
	for _, bad := range []string{"/orders/v0/orders/%zz", "orders/v0/orders", "/orders%2Fv0/orders", "/listings/2021-08-01/items/A2SELLER/AB/12"} {
		if op, _, ok := LookupEscaped("GET", bad); ok {
			t.Errorf("%q resolved to %s", bad, op.Key())
		}
	}
}
