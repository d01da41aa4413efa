package operations

import (
	"strings"
	"testing"
)

func TestCheckScope(t *testing.T) {
	for _, tc := range []struct {
		scope string
		ok    bool
	}{
		{"*", true},
		{"getOrders", true},
		{"orders/v0", true},
		{"orders/v0/getOrders", true},
		{"orders", true},
		{"orders/v9", false},
		{"getorders", false},
		{"", false},
		{"**", false},
	} {
		err := CheckScope(tc.scope)
		if (err == nil) != tc.ok {
			t.Errorf("CheckScope(%q) = %v, want ok %v", tc.scope, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "names no SP-API operation") {
			t.Errorf("CheckScope(%q): %q does not say what is wrong", tc.scope, err)
		}
	}
}
