package cli

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/benchmark"
	"github.com/spgate/spgate/internal/pgtest"
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
		// 110 pages: the burst, then 91 paced a minute apart, so the pull
		// spans over an hour and a half of emulated time, more on a slow
		// machine (each real millisecond is four emulated seconds).
		code, out, errOut := run(t, "", "bench", "pull", "--orders", "11000", "--time-scale", "4000", "--json")
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
		if p.Orders < 10900 || p.Orders > 11000 || p.OrdersWithAddress != p.Orders {
			t.Errorf("orders %d with address %d, want about 11,000 all with address", p.Orders, p.OrdersWithAddress)
		}
		if want := (p.Orders + 99) / 100; p.Pages != want {
			t.Errorf("pages %d, want %d", p.Pages, want)
		}
		if p.Burst != getOrders.Burst || p.Rate != getOrders.Rate || p.TimeScale != 4000 || p.Sellers != 1 {
			t.Errorf("burst %d, rate %g/s, time scale %g, %d sellers; want getOrders' %d and %g/s at the asked 4000, one seller",
				p.Burst, p.Rate, p.TimeScale, p.Sellers, getOrders.Burst, getOrders.Rate)
		}
		// Amazon's bucket grants no more pages than it allows, so the
		// ratio cannot exceed 1 (by more than rounding); a report that
		// left out the time scale, or counted 429s as pages, would.
		if p.AchievedToAllowed <= 0 || p.AchievedToAllowed > 1+1e-9 || p.AllowedPages < float64(p.Burst) || p.ElapsedSeconds <= 0 {
			t.Errorf("achieved/allowed %.3f, allowed %.1f, elapsed %.3f s", p.AchievedToAllowed, p.AllowedPages, p.ElapsedSeconds)
		}
		// Paced pages a minute apart after the burst take at least this long.
		paced := float64(p.Pages-int64(p.Burst)) / (getOrders.Rate * 3600)
		if p.EmulatedHours < paced || p.EmulatedHours > p.ElapsedSeconds*4000/3600*1.01 {
			t.Errorf("%.2f emulated hours in %.2f s at time scale 4000; the pages alone take %.2f h", p.EmulatedHours, p.ElapsedSeconds, paced)
		}
		// Access tokens and RDTs live an hour and are replaced 5 minutes
		// before they expire, or at once when one expired on the way (a
		// machine slow for the time scale). The paced pages alone span
		// paced hours, so at least that many hour-long tokens; and no more
		// than one per 55 emulated minutes of the pull, the first and the
		// retries. Where between depends on the machine: emulated hours in
		// which it stalled and made no call need no token.
		for _, tk := range []struct {
			name string
			n    int64
		}{{"LWA tokens", p.LWATokenRequests}, {"RDTs", p.RDTRequests}} {
			lo, hi := int64(math.Ceil(paced)), int64(math.Ceil(p.EmulatedHours*60/55))+1+p.TokenRetries
			if tk.n < lo || tk.n > hi {
				t.Errorf("%d %s over %.2f emulated hours (%.2f of paced pages, %d token retries); want %d to %d", tk.n, tk.name, p.EmulatedHours, paced, p.TokenRetries, lo, hi)
			}
		}
		// Each page and each RDT is one call through the limiter (a 429 or
		// an expired token is retried within its call); it can have made
		// no more of them wait.
		if p.Calls != p.Pages+p.RDTRequests || p.LimiterWaits > p.Calls || p.LimiterWaits < 0 {
			t.Errorf("%d calls, %d waited; want one for each of the %d pages and %d RDTs, at most all of them waiting",
				p.Calls, p.LimiterWaits, p.Pages, p.RDTRequests)
		}
		checkLimits(t, p.Limits, []statedLimit{
			{"achieved/allowed pages", "", 0.95, true, p.AchievedToAllowed},
			{"429s", "", 0, false, float64(p.Throttled)},
		})
	})

	t.Run("gateway", func(t *testing.T) {
		// spgate serve runs as its own process: this test binary under
		// the name spgate (see TestMain).
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(t.TempDir(), "spgate")
		if err := os.Symlink(exe, bin); err != nil {
			t.Skipf("cannot link the test binary as spgate: %v", err)
		}
		defer func(f func() (string, error)) { benchExecutable = f }(benchExecutable)
		benchExecutable = func() (string, error) { return bin, nil }

		// With a PostgreSQL server, a row of serve with its vault there.
		pgArg, pgWhy := "off", ""
		if pg, err := pgtest.Shared(); err == nil {
			t.Cleanup(pgtest.Stop)
			pgArg = pg.DSN
		} else {
			pgWhy = err.Error()
		}
		const samples = 200
		code, out, errOut := run(t, "", "bench", "gateway", "--duration", "500ms", "--samples", fmt.Sprint(samples), "--postgres", pgArg, "--json")
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
		if g.Operation != "sellers/v1/getMarketplaceParticipations" || g.Sellers != benchmark.GatewaySellers || g.Samples != samples ||
			g.Concurrency != 16 || g.DurationSec < 0.5 {
			t.Errorf("workload: %s over %d sellers, %d samples, %d connections for %.2f s; want getMarketplaceParticipations, %d, %d, 16, 0.5 s",
				g.Operation, g.Sellers, g.Samples, g.Concurrency, g.DurationSec, benchmark.GatewaySellers, samples)
		}
		// The direct path, then serve with the vault store (the default),
		// with the memory store, with the vault in PostgreSQL where there
		// is a server, then nginx where it is installed.
		type wantRow struct {
			name, store string
			def         bool
		}
		want := []wantRow{{"spgate serve", "vault", true}, {"spgate serve --shared-limits=false", "memory", false}}
		if pgArg != "off" {
			want = append(want, wantRow{"spgate serve (vault in PostgreSQL)", "postgres", false})
		}
		if len(g.Rows) == len(want)+1 {
			want = append(want, wantRow{"nginx", "", false})
		}
		if len(g.Rows) != len(want) {
			t.Fatalf("rows %+v (PostgreSQL: %s), want %v", g.Rows, g.Postgres, want)
		}
		calls := g.Direct.Warmup + g.Direct.Sequential + g.Direct.Requests
		for i, row := range append([]benchmark.GatewayRow{g.Direct}, g.Rows...) {
			if i > 0 {
				w := want[i-1]
				if row.Name != w.name || row.Store != w.store || row.Default != w.def {
					t.Errorf("row %d: %q, store %q, default %v; want %q, %q, %v", i, row.Name, row.Store, row.Default, w.name, w.store, w.def)
				}
				calls += row.Warmup + row.Sequential + row.Requests
				// A server process takes megabytes, not the bench's own
				// memory nor a stray reading.
				if row.RSSBytes < 1<<20 || row.RSSBytes > 1<<30 || row.PeakRSSBytes < row.RSSBytes || row.CPUPerCallMicros <= 0 {
					t.Errorf("%s: RSS %d, peak %d, CPU per call %.1f µs", row.Name, row.RSSBytes, row.PeakRSSBytes, row.CPUPerCallMicros)
				}
			}
			if row.Warmup != benchmark.GatewayWarmup || row.Sequential != samples || row.Requests <= 0 || row.Errors != 0 ||
				row.P50us <= 0 || row.P99us < row.P50us || row.ReqPerSec <= 0 {
				t.Errorf("%s: %+v", row.Name, row)
			}
		}
		// The emulator counted every call the load generator made, through
		// whichever path: the report's counts are the calls sent.
		if g.EmulatorCalls != calls {
			t.Errorf("the emulator answered %d calls; the report counts %d", g.EmulatorCalls, calls)
		}
		var nginx *benchmark.GatewayRow
		if w := want[len(want)-1]; w.name == "nginx" {
			nginx = &g.Rows[len(g.Rows)-1]
			if len(nginx.Limits) != 0 || nginx.ToNginx != nil || nginx.ToDefault != nil || !strings.HasPrefix(g.Nginx, "/") {
				t.Errorf("nginx row %+v from %q", nginx, g.Nginx)
			}
		}
		for _, row := range g.Rows[:2] {
			stated := []statedLimit{
				{"added p50", "µs", 200, false, row.AddedP50us},
				{"added p99", "µs", 2000, false, row.AddedP99us},
				{"throughput", "req/s", 10000, true, math.Round(row.ReqPerSec)},
			}
			if nginx != nil {
				if row.ToNginx == nil {
					t.Fatalf("%s: no ratios to nginx", row.Name)
				}
				stated = append(stated, statedLimit{"added p50 ÷ nginx's", "", 2, false, row.ToNginx.AddedP50})
			}
			checkLimits(t, row.Limits, stated)
		}

		t.Run("postgres", func(t *testing.T) {
			if pgArg == "off" {
				msg := "no PostgreSQL server (" + pgWhy + "): bench gateway's PostgreSQL row is untested"
				if pgtest.Required() {
					t.Fatal(msg)
				}
				t.Skip(msg)
			}
			row, def := g.Rows[2], g.Rows[0]
			u, err := url.Parse(g.Postgres)
			schema := ""
			if err == nil {
				schema = u.Query().Get("search_path")
			}
			if !strings.HasPrefix(g.Postgres, "postgres://") || !strings.HasPrefix(schema, "spgate_bench_") {
				t.Errorf("the report names the PostgreSQL vault %q", g.Postgres)
			}
			checkLimits(t, row.Limits, []statedLimit{
				{"added p50", "µs", 1000, false, row.AddedP50us},
				{"added p99", "µs", 5000, false, row.AddedP99us},
				{"throughput", "req/s", 2000, true, math.Round(row.ReqPerSec)},
			})
			d := row.ToDefault
			if d == nil || row.ToNginx != nil {
				t.Fatalf("PostgreSQL row: ratios to the default %+v, to nginx %+v; want the first only", d, row.ToNginx)
			}
			for _, r := range []struct {
				name      string
				got, a, b float64
			}{
				{"added p50", d.AddedP50, row.AddedP50us, def.AddedP50us},
				{"added p99", d.AddedP99, row.AddedP99us, def.AddedP99us},
				{"req/s", d.ReqPerSec, row.ReqPerSec, def.ReqPerSec},
			} {
				if want := r.a / max(r.b, 1); math.Abs(r.got-want) > 1e-9*math.Abs(want) {
					t.Errorf("%s ÷ the default's: %v, want %v ÷ %v = %v", r.name, r.got, r.a, r.b, want)
				}
			}
			// The vault was copied into a schema of its own, dropped at
			// the end.
			db, err := sql.Open("pgx", pgArg)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var left int
			if err := db.QueryRow(`SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left != 0 {
				t.Errorf("the benchmark's schema %s was left on the server", schema)
			}
		})

		t.Run("nginx", func(t *testing.T) {
			if nginx != nil {
				return
			}
			msg := "no nginx row (" + g.Nginx + "): bench gateway's comparison with nginx is untested"
			if os.Getenv("SPGATE_REQUIRE_NGINX") == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg + "; install nginx (Debian: apt-get install nginx-light), CI sets SPGATE_REQUIRE_NGINX=1")
		})
	})

	t.Run("human", func(t *testing.T) {
		code, out, errOut := run(t, "", "bench", "pull", "--orders", "300", "--time-scale", "2000")
		if code != ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^pull: 300 orders \(300 with address\) in 3 pages, [0-9.]+ s at time scale 2000 \([0-9.]+ emulated hours\)$`),
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
			{"bench", "gateway", "--samples", "0"},
			{"bench", "gateway", "--postgres", "mysql://x"},
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
func checkLimits(t *testing.T, ls []benchmark.Limit, want []statedLimit) {
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
