package spapi

import (
	"testing"

	"github.com/spgate/spgate/operations"
)

// TestPreferredOperation: an operationId found in several APIs resolves to
// the one a seller's app calls, the newest version of it, or stays a choice.
func TestPreferredOperation(t *testing.T) {
	tests := []struct{ id, want string }{
		{"getOrders", "orders/v0"},                       // the others are vendor APIs
		{"putListingsItem", "listings-items/2021-08-01"}, // 2020-09-01 was retired
		{"searchCatalogItems", "catalog-items/2022-04-01"},
		{"getCustomerInvoice", "vendor-direct-fulfillment-shipping/2021-12-28"}, // only vendor APIs: the newest
		{"getOrder", ""},           // Orders or Fulfillment Outbound: the caller decides
		{"linkCarrierAccount", ""}, // twice in shipping/v2
	}
	for _, tc := range tests {
		found := operations.Find(tc.id)
		if len(found) < 2 {
			t.Fatalf("%s is in %d APIs; the test needs an ambiguous id", tc.id, len(found))
		}
		got := ""
		if op := PreferredOperation(found); op != nil {
			got = op.API + "/" + op.Version
		}
		if got != tc.want {
			t.Errorf("%s: preferred %q, want %q", tc.id, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b  string
		newer bool
	}{{"v1", "v0", true}, {"v0", "v1", false}, {"2021-08-01", "2020-09-01", true}, {"2021-08-01", "v1", true}, {"v2", "2021-08-01", false}, {"v10", "v9", true}} {
		if got := versionNewer(tc.a, tc.b); got != tc.newer {
			t.Errorf("versionNewer(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}
