package vault

import "testing"

// TestIsSellerIDMatchesTheRegexp: the fast check used per gateway request
// accepts exactly what the documented pattern accepts.
func TestIsSellerIDMatchesTheRegexp(t *testing.T) {
	for _, s := range []string{"", "A", "A2VYDBAL8BMVQK", "A123456789", "A12345678", "A1234567890123456789", "A12345678901234567890",
		"a2VYDBAL8BMVQK", "B2VYDBAL8BMVQK", "A2VYDBAL8BMVQk", "A2VYDBAL8BMVQ-", "A2VYDBAL8BMVQ\n", "AÄVYDBAL8BMVQK", "main-shop"} {
		if got, want := isSellerID(s), reSellerID.MatchString(s); got != want {
			t.Errorf("isSellerID(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}
