package benchmark

import (
	"fmt"
	"testing"
	"time"
)

// TestBenchLimit checks a limit's ratio, verdict and line on figures worked
// out by hand.
func TestBenchLimit(t *testing.T) {
	ratio := func(r float64) *float64 { return &r }
	for _, tt := range []struct {
		l       Limit
		ratio   *float64
		ok      bool
		printed string
	}{
		{NewLimit("added p50", "µs", 150, 200, false), ratio(0.75), true, "✓ added p50 150 µs = 0.75 of the 200 µs limit"},
		{NewLimit("added p99", "µs", 2500, 2000, false), ratio(1.25), false, "✗ added p99 2,500 µs = 1.25 of the 2,000 µs limit"},
		{NewLimit("added p50", "µs", 200, 200, false), ratio(1), false, "✗ added p50 200 µs = 1.00 of the 200 µs limit"},
		{NewLimit("throughput", "req/s", 12500, 10000, true), ratio(1.25), true, "✓ throughput 12,500 req/s = 1.25 of the 10,000 req/s floor"},
		{NewLimit("throughput", "req/s", 5000, 10000, true), ratio(0.5), false, "✗ throughput 5,000 req/s = 0.50 of the 10,000 req/s floor"},
		{NewLimit("achieved/allowed pages", "", 0.5, 0.25, true), ratio(2), true, "✓ achieved/allowed pages 0.500 (floor 0.250)"},
		{NewLimit("achieved/allowed pages", "", 0.125, 0.25, true), ratio(0.5), false, "✗ achieved/allowed pages 0.125 (floor 0.250)"},
		{NewLimit("429s", "", 0, 0, false), nil, true, "✓ 429s 0 (limit 0)"},
		{NewLimit("429s", "", 1234, 0, false), nil, false, "✗ 429s 1,234 (limit 0)"},
	} {
		if (tt.l.Ratio == nil) != (tt.ratio == nil) || tt.l.Ratio != nil && *tt.l.Ratio != *tt.ratio || tt.l.OK != tt.ok || tt.l.String() != tt.printed {
			got := "none"
			if tt.l.Ratio != nil {
				got = fmt.Sprint(*tt.l.Ratio)
			}
			t.Errorf("%s %v of %v: ratio %s, ok %v, %q; want ok %v, %q", tt.l.Name, tt.l.Value, tt.l.Limit, got, tt.l.OK, tt.l.String(), tt.ok, tt.printed)
		}
	}
}

// TestBenchPercentile checks the percentiles the gateway workload reports
// on samples whose percentiles are known: 1 ms … 100 ms.
func TestBenchPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p50, p99 := Percentile(d, 0.5), Percentile(d, 0.99); p50 != 50*time.Millisecond || p99 != 99*time.Millisecond {
		t.Errorf("p50 %v, p99 %v of 1…100 ms; want 50 ms and 99 ms", p50, p99)
	}
	if p := Percentile(d[:1], 0.99); p != time.Millisecond {
		t.Errorf("p99 of one sample: %v", p)
	}
}
