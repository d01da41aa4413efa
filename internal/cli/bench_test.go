package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"testing"
	"time"

	"github.com/spgate/spgate/operations"
)

// TestBench runs both workloads small through Main and checks the report
// against what is known without the measurement: the sizes asked for, the
// operation table, Amazon's bucket (no workload gets more pages than it
// allows) and the stated limits. Whether the machine meets the limits is
// reported, not asserted: the workloads run on real time, and a loaded
// machine misses them. Pacing itself is tested on virtual time in spapi.
func TestBench(t *testing.T) {
	cliEnv(t)
	t.Setenv(EnvEndpoint, "http://127.0.0.1:1") // bench must not use it

	getOrders, ok := operations.ByID("orders", "v0", "getOrders")
	if !ok {
		t.Fatal("getOrders is not in the operations table")
	}
	t.Run("pull", func(t *testing.T) {
		code, out, errOut := run(t, "", "bench", "pull", "--orders", "2000", "--time-scale", "2000", "--json")
		if code != ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		var rep benchReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("bench pull --json: %v\n%s", err, out)
		}
		if rep.Gateway != nil || rep.Pull == nil {
			t.Fatalf("bench pull reported pull=%v gateway=%v", rep.Pull != nil, rep.Gateway != nil)
		}
		p := rep.Pull
		if p.Orders < 1900 || p.Orders > 2000 || p.OrdersWithAddress != p.Orders {
			t.Errorf("orders %d with address %d, want about 2,000 all with address", p.Orders, p.OrdersWithAddress)
		}
		if want := (p.Orders + 99) / 100; p.Pages != want {
			t.Errorf("pages %d, want %d", p.Pages, want)
		}
		if p.Burst != getOrders.Burst || p.Rate != getOrders.Rate || p.TimeScale != 2000 {
			t.Errorf("burst %d, rate %g/s, time scale %g; want getOrders' %d and %g/s at the asked 2000", p.Burst, p.Rate, p.TimeScale, getOrders.Burst, getOrders.Rate)
		}
		// Amazon's bucket grants no more pages than it allows, so the
		// ratio cannot exceed 1 (by more than rounding); a report that
		// left out the time scale, or counted 429s as pages, would.
		if p.AchievedToAllowed <= 0 || p.AchievedToAllowed > 1+1e-9 || p.AllowedPages < float64(p.Burst) || p.ElapsedSeconds <= 0 {
			t.Errorf("achieved/allowed %.3f, allowed %.1f, elapsed %.3f s", p.AchievedToAllowed, p.AllowedPages, p.ElapsedSeconds)
		}
		if p.RDTRequests < 1 || p.LWATokenRequests < 1 || p.RDTsPer1000 <= 0 {
			t.Errorf("RDTs %d (%.2f per 1,000), LWA tokens %d: the pull must have used both", p.RDTRequests, p.RDTsPer1000, p.LWATokenRequests)
		}
		checkLimits(t, p.Limits, []statedLimit{
			{"achieved/allowed pages", "", 0.95, true, p.AchievedToAllowed},
			{"429s", "", 0, false, float64(p.Throttled)},
		})
	})

	t.Run("gateway", func(t *testing.T) {
		code, out, errOut := run(t, "", "bench", "gateway", "--duration", "1s", "--json")
		if code != ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		var rep benchReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("bench gateway --json: %v\n%s", err, out)
		}
		if rep.Pull != nil || rep.Gateway == nil {
			t.Fatalf("bench gateway reported pull=%v gateway=%v", rep.Pull != nil, rep.Gateway != nil)
		}
		g := rep.Gateway
		if g.Samples != gatewaySamples || g.DirectP50us <= 0 || g.GatewayP50us <= 0 || g.DirectP99us < g.DirectP50us || g.GatewayP99us < g.GatewayP50us {
			t.Errorf("latencies: %+v", g)
		}
		if g.Requests <= 0 || g.ReqPerSec <= 0 || g.Errors != 0 || g.Concurrency != 16 || g.DurationSec < 0.9 {
			t.Errorf("throughput: %d calls, %.0f req/s, %d errors, %d callers, %.2f s", g.Requests, g.ReqPerSec, g.Errors, g.Concurrency, g.DurationSec)
		}
		if g.HeapInuseBytes == 0 || g.SysBytes < g.HeapInuseBytes {
			t.Errorf("memory: heap in use %d, sys %d", g.HeapInuseBytes, g.SysBytes)
		}
		checkLimits(t, g.Limits, []statedLimit{
			{"added p50", "µs", 200, false, g.AddedP50us},
			{"added p99", "µs", 2000, false, g.AddedP99us},
			{"throughput", "req/s", 10000, true, math.Round(g.ReqPerSec)},
		})
	})

	t.Run("human", func(t *testing.T) {
		code, out, errOut := run(t, "", "bench", "pull", "--orders", "300", "--time-scale", "2000")
		if code != ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^pull: 300 orders \(300 with address\) in 3 pages, [0-9.]+ s at time scale 2000$`),
			regexp.MustCompile(`(?m)^  [✓✗] achieved/allowed pages [0-9.]+ \(floor 0\.950\)$`),
			regexp.MustCompile(`(?m)^  [✓✗] 429s [0-9,]+ \(limit 0\)$`),
		} {
			if !want.MatchString(out) {
				t.Errorf("output lacks a line matching %s:\n%s", want, out)
			}
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{
			{"bench", "pull", "--orders", "0"},
			{"bench", "pull", "--pii", "passport"},
			{"bench", "gateway", "--concurrency", "0"},
			{"bench", "pul"},
		} {
			if code, _, errOut := run(t, "", args...); code != ExitUsage {
				t.Errorf("%v: exit %d, want %d\n%s", args, code, ExitUsage, errOut)
			}
		}
	})
}

// statedLimit is a limit as the help text states it, with the figure of
// the report it must be compared with.
type statedLimit struct {
	name, unit string
	limit      float64
	atLeast    bool
	value      float64
}

// checkLimits asserts the limits are the stated ones, in order, each
// carrying its figure.
func checkLimits(t *testing.T, ls []benchLimit, want []statedLimit) {
	t.Helper()
	if len(ls) != len(want) {
		t.Fatalf("limits %+v, want %+v", ls, want)
	}
	for i, l := range ls {
		w := want[i]
		if l.Name != w.name || l.Unit != w.unit || l.Limit != w.limit || l.AtLeast != w.atLeast || l.Value != w.value {
			t.Errorf("limit %d is %q %v %s (at least: %v) for %v; want %q %v %s (at least: %v) for %v",
				i, l.Name, l.Limit, l.Unit, l.AtLeast, l.Value, w.name, w.limit, w.unit, w.atLeast, w.value)
		}
		if (l.Ratio == nil) != (w.limit == 0) {
			t.Errorf("limit %q: ratio %v against a limit of %v", l.Name, l.Ratio, l.Limit)
		}
	}
}

// TestBenchLimit checks a limit's ratio, verdict and line on figures worked
// out by hand.
func TestBenchLimit(t *testing.T) {
	ratio := func(r float64) *float64 { return &r }
	for _, tt := range []struct {
		l       benchLimit
		ratio   *float64
		ok      bool
		printed string
	}{
		{newLimit("added p50", "µs", 150, 200, false), ratio(0.75), true, "✓ added p50 150 µs = 0.75 of the 200 µs limit"},
		{newLimit("added p99", "µs", 2500, 2000, false), ratio(1.25), false, "✗ added p99 2,500 µs = 1.25 of the 2,000 µs limit"},
		{newLimit("added p50", "µs", 200, 200, false), ratio(1), false, "✗ added p50 200 µs = 1.00 of the 200 µs limit"},
		{newLimit("throughput", "req/s", 12500, 10000, true), ratio(1.25), true, "✓ throughput 12,500 req/s = 1.25 of the 10,000 req/s floor"},
		{newLimit("throughput", "req/s", 5000, 10000, true), ratio(0.5), false, "✗ throughput 5,000 req/s = 0.50 of the 10,000 req/s floor"},
		{newLimit("achieved/allowed pages", "", 0.5, 0.25, true), ratio(2), true, "✓ achieved/allowed pages 0.500 (floor 0.250)"},
		{newLimit("achieved/allowed pages", "", 0.125, 0.25, true), ratio(0.5), false, "✗ achieved/allowed pages 0.125 (floor 0.250)"},
		{newLimit("429s", "", 0, 0, false), nil, true, "✓ 429s 0 (limit 0)"},
		{newLimit("429s", "", 1234, 0, false), nil, false, "✗ 429s 1,234 (limit 0)"},
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
	if p50, p99 := pct(d, 0.5), pct(d, 0.99); p50 != 50*time.Millisecond || p99 != 99*time.Millisecond {
		t.Errorf("p50 %v, p99 %v of 1…100 ms; want 50 ms and 99 ms", p50, p99)
	}
	if p := pct(d[:1], 0.99); p != time.Millisecond {
		t.Errorf("p99 of one sample: %v", p)
	}
}
