package lwa

import "testing"

// A Client without an HTTPClient must not wait on a stalled token endpoint
// forever: http.DefaultClient has no timeout.
func TestDefaultHTTPClientIsBounded(t *testing.T) {
	hc := (&Client{}).httpClient()
	if hc.Timeout <= 0 || hc.Timeout > DefaultFetchTimeout {
		t.Fatalf("default HTTP client timeout %v, want 0 < timeout ≤ %v", hc.Timeout, DefaultFetchTimeout)
	}
}
