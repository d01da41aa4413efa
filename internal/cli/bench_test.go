package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBench runs both workloads small through Main and checks the JSON
// report holds sane numbers. It asserts no timing beyond sanity: the
// limits are reported, not enforced.
func TestBench(t *testing.T) {
	cliEnv(t)
	t.Setenv(EnvEndpoint, "http://127.0.0.1:1") // bench must not use it

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
		if p.Throttled != 0 {
			t.Errorf("429s = %d, want 0", p.Throttled)
		}
		if p.AchievedToAllowed <= 0 || p.AchievedToAllowed > 1.5 || p.AllowedPages < float64(p.Burst) || p.ElapsedSeconds <= 0 {
			t.Errorf("achieved/allowed %.3f, allowed %.1f, elapsed %.3f s", p.AchievedToAllowed, p.AllowedPages, p.ElapsedSeconds)
		}
		if p.RDTRequests < 1 || p.LWATokenRequests < 1 || p.RDTsPer1000 <= 0 {
			t.Errorf("RDTs %d (%.2f per 1,000), LWA tokens %d: the pull must have used both", p.RDTRequests, p.RDTsPer1000, p.LWATokenRequests)
		}
		checkLimits(t, p.Limits, "achieved/allowed pages", "429s")
		for _, l := range p.Limits {
			if l.Name == "429s" && !l.OK {
				t.Errorf("429 limit not met: %+v", l)
			}
		}
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
		if g.AddedP50us != g.GatewayP50us-g.DirectP50us {
			t.Errorf("added p50 %v ≠ %v − %v", g.AddedP50us, g.GatewayP50us, g.DirectP50us)
		}
		if g.Requests <= 0 || g.ReqPerSec <= 0 || g.Errors != 0 || g.Concurrency != 16 || g.DurationSec < 0.9 {
			t.Errorf("throughput: %d calls, %.0f req/s, %d errors, %d callers, %.2f s", g.Requests, g.ReqPerSec, g.Errors, g.Concurrency, g.DurationSec)
		}
		if g.HeapInuseBytes == 0 || g.SysBytes < g.HeapInuseBytes {
			t.Errorf("memory: heap in use %d, sys %d", g.HeapInuseBytes, g.SysBytes)
		}
		checkLimits(t, g.Limits, "added p50", "added p99", "throughput")
	})

	t.Run("human", func(t *testing.T) {
		code, out, errOut := run(t, "", "bench", "pull", "--orders", "300", "--time-scale", "2000")
		if code != ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for _, want := range []string{"pull: 300 orders", "achieved/allowed pages", "429s 0 (limit 0)", "✓"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
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

// checkLimits asserts the limits are the named ones, each with a ratio
// that matches its value where the limit is not zero.
func checkLimits(t *testing.T, ls []benchLimit, names ...string) {
	t.Helper()
	if len(ls) != len(names) {
		t.Fatalf("limits %+v, want %v", ls, names)
	}
	for i, l := range ls {
		if l.Name != names[i] {
			t.Errorf("limit %d is %q, want %q", i, l.Name, names[i])
		}
		if l.Limit != 0 && (l.Ratio == nil || *l.Ratio != l.Value/l.Limit) {
			t.Errorf("limit %q: ratio %v for %v of %v", l.Name, l.Ratio, l.Value, l.Limit)
		}
	}
}
