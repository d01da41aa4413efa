package vault

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/ratelimittest"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
)

var rlKey = ratelimit.Key{Seller: seller1, App: appID1, Operation: "orders/v0/getOrder"}

func TestRateLimitStoreConformance(t *testing.T) {
	ratelimittest.Conformance(t, func(t *testing.T) ratelimit.Store { return newVault(t).v.RateLimitStore(nil) })
}

func TestRateLimitStorePersists(t *testing.T) {
	f := newVault(t)
	s := f.v.RateLimitStore(nil)
	plan := ratelimit.Plan{Rate: 1, Burst: 2}
	for range 2 {
		s.Reserve(rlKey, plan, t0, time.Hour)
	}
	f.reopen(t)
	s = f.v.RateLimitStore(nil)
	if wait, ok := s.Reserve(rlKey, plan, t0, time.Hour); !ok || wait != time.Second {
		t.Fatalf("after reopening: wait %v ok %v, want 1s (the burst was spent before)", wait, ok)
	}
	if p, ok := s.Plan(rlKey); !ok || p != plan {
		t.Fatalf("plan %+v %v", p, ok)
	}
}

// Two handles on one file (as two processes would have) share one bucket:
// greedy callers on both never get more than burst + rate×t in all.
func TestRateLimitStoreTwoHandlesShareBucket(t *testing.T) {
	f := newVault(t)
	other, err := Open(context.Background(), f.path, f.key, testOpts(f.clk))
	must(t, err)
	defer other.Close()
	stores := []ratelimit.Store{f.v.RateLimitStore(nil), other.RateLimitStore(nil)}
	plan := ratelimit.Plan{Rate: 2, Burst: 5}

	// At one instant, 2 handles × 8 goroutines × 5 tries: exactly the burst.
	var granted atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if _, ok := stores[i%2].Reserve(rlKey, plan, f.clk.Now(), 0); ok {
					granted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if g := granted.Load(); g != int64(plan.Burst) {
		t.Fatalf("%d slots granted at once across two handles, want the burst %d", g, plan.Burst)
	}

	// Then over 20 s of simulated time, both handles asking every 50 ms.
	total := int(granted.Load())
	start := f.clk.Now()
	for range 400 {
		f.clk.Advance(50 * time.Millisecond)
		for _, s := range stores {
			if _, ok := s.Reserve(rlKey, plan, f.clk.Now(), 0); ok {
				total++
			}
		}
		elapsed := f.clk.Now().Sub(start).Seconds()
		if limit := float64(plan.Burst) + plan.Rate*elapsed; float64(total) > limit+1e-9 {
			t.Fatalf("%d slots granted in %.2fs, the bucket allows %.0f", total, elapsed, limit)
		}
	}
	if want := plan.Burst + int(plan.Rate*20); total != want {
		t.Fatalf("%d slots granted in 20s, want the full %d (the pacing should not be slower than the rate)", total, want)
	}
}

func TestRateLimitStoreFallsBackWhenLocked(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	f.reopenWith(t, func(o *Options) { o.BusyTimeout = 50 * time.Millisecond })
	var logs bytes.Buffer
	s := f.v.RateLimitStore(slog.New(slog.NewTextHandler(&logs, nil)))
	plan := ratelimit.Plan{Rate: 1, Burst: 1}
	if _, ok := s.Reserve(rlKey, plan, t0, 0); !ok {
		t.Fatal("first reserve refused")
	}

	db := rawDB(t, f.path)
	defer db.Close()
	conn, err := db.Conn(ctx)
	must(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `BEGIN IMMEDIATE`)
	must(t, err)
	_, err = conn.ExecContext(ctx, `INSERT INTO state(key, ct, updated_at) VALUES ('x', X'00', 'now')`)
	must(t, err)

	begin := time.Now()
	for range 3 {
		// The local fallback starts empty-handed: its own full bucket.
		if wait, ok := s.Reserve(rlKey, plan, t0, time.Hour); !ok {
			t.Fatalf("reserve under a foreign lock refused (wait %v)", wait)
		}
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("three reserves under a foreign lock took %v; each should give up after the 50ms busy timeout", d)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "paces on its own") || !strings.Contains(logs.String(), "locked") {
		t.Errorf("warning does not say what happened:\n%s", logs.String())
	}
	_, err = conn.ExecContext(ctx, `ROLLBACK`)
	must(t, err)
	// The vault answers again: the shared bucket (spent at t0) is used.
	if wait, ok := s.Reserve(rlKey, plan, t0, time.Hour); !ok || wait != time.Second {
		t.Errorf("after the lock: wait %v ok %v, want the shared bucket's 1s", wait, ok)
	}
	if !strings.Contains(logs.String(), "answers again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

func TestRateLimitStoreClosedVault(t *testing.T) {
	f := newVault(t)
	var logs bytes.Buffer
	s := f.v.RateLimitStore(slog.New(slog.NewTextHandler(&logs, nil)))
	f.v.Close()
	plan := ratelimit.Plan{Rate: 1, Burst: 1}
	if wait, ok := s.Reserve(rlKey, plan, t0, time.Hour); !ok || wait != 0 {
		t.Fatalf("wait %v ok %v", wait, ok)
	}
	if wait, ok := s.Reserve(rlKey, plan, t0, time.Hour); !ok || wait != time.Second {
		t.Fatalf("the fallback does not pace: wait %v ok %v", wait, ok)
	}
	s.Drain(rlKey, t0)
	s.Cancel(rlKey, t0)
	s.SetRate(rlKey, 2, t0)
	if p, ok := s.Plan(rlKey); !ok || p.Rate != 2 {
		t.Fatalf("plan %+v %v", p, ok)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
}

// Child side of TestRateLimitStoreTwoProcesses: waits for "go" on stdin,
// then takes rlEach slots through a Limiter on the real clock and prints
// their times.
func TestRateLimitHelperProcess(t *testing.T) {
	path := os.Getenv("SPGATE_VAULT_RL_CHILD")
	if path == "" {
		t.Skip("helper for TestRateLimitStoreTwoProcesses")
	}
	k, err := ParseKey(os.Getenv("SPGATE_VAULT_TEST_KEY"), "test")
	must(t, err)
	v, err := Open(context.Background(), path, k, Options{BusyTimeout: 10 * time.Second})
	must(t, err)
	defer v.Close()
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	for _, at := range takeSlots(t, v.RateLimitStore(nil)) {
		fmt.Printf("sent %d\n", at)
	}
}

// Each process takes rlEach slots of one bucket at rlRate/s with a burst of
// rlBurst, on the real clock.
const (
	rlEach  = 12
	rlRate  = 20.0
	rlBurst = 3
	// rlJitter is how late a waiter may wake after its slot.
	rlJitter = 50 * time.Millisecond
)

func takeSlots(t *testing.T, s ratelimit.Store) []int64 {
	l := ratelimit.New(ratelimit.Options{Store: s})
	o := &operations.Operation{API: "orders", Version: "v0", ID: "getOrder", Rate: rlRate, Burst: rlBurst}
	var out []int64
	for range rlEach {
		if err := l.Wait(context.Background(), rlKey, o); err != nil {
			t.Fatal(err)
		}
		out = append(out, time.Now().UnixNano())
	}
	return out
}

func TestRateLimitStoreTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	f := newVault(t)
	enc, _ := f.key.Encode()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRateLimitHelperProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "SPGATE_VAULT_RL_CHILD="+f.path, "SPGATE_VAULT_TEST_KEY="+enc)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	out := bufio.NewReader(stdout)
	var transcript strings.Builder
	for !strings.Contains(transcript.String(), "ready") {
		line, err := out.ReadString('\n')
		transcript.WriteString(line)
		if err != nil {
			cmd.Wait()
			t.Fatalf("child did not start: %v\n%s%s", err, transcript.String(), stderr.String())
		}
	}
	io.WriteString(stdin, "go\n")
	sends := takeSlots(t, f.v.RateLimitStore(nil))
	mine := len(sends)
	rest, _ := io.ReadAll(out)
	transcript.Write(rest)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s%s", err, transcript.String(), stderr.String())
	}
	for _, line := range strings.Split(transcript.String(), "\n") {
		if n, ok := strings.CutPrefix(line, "sent "); ok {
			at, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
			must(t, err)
			sends = append(sends, at)
		}
	}
	if len(sends) != 2*rlEach {
		t.Fatalf("parent sent %d, child %d; want %d each\n%s", mine, len(sends)-mine, rlEach, transcript.String())
	}
	slices.Sort(sends)
	// No window holds more sends than the one bucket allows (a send may be
	// recorded up to rlJitter after its slot).
	for i := range sends {
		for j := i; j < len(sends); j++ {
			window := time.Duration(sends[j]-sends[i]) + rlJitter
			if n, limit := j-i+1, rlBurst+int(rlRate*window.Seconds()); n > limit {
				t.Fatalf("%d sends within %v across both processes; one bucket allows %d", n, time.Duration(sends[j]-sends[i]), limit)
			}
		}
	}
	// And they did share it: two private buckets would have finished in
	// (rlEach−rlBurst)/rlRate.
	span := time.Duration(sends[len(sends)-1] - sends[0])
	if want := time.Duration(float64(2*rlEach-rlBurst) / rlRate * float64(time.Second)); span < want-rlJitter {
		t.Fatalf("%d sends in %v; a shared bucket needs %v", len(sends), span, want)
	}
	t.Logf("%d sends over %v from two processes", len(sends), span)
}

func benchReserve(b *testing.B, parallel bool) {
	f := newVault(b)
	s := f.v.RateLimitStore(nil)
	plan := ratelimit.Plan{Rate: 1, Burst: math.MaxInt32}
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for b.Loop() {
			if _, ok := s.Reserve(rlKey, plan, t0, 0); !ok {
				b.Fatal("refused")
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := s.Reserve(rlKey, plan, t0, 0); !ok {
				b.Fatal("refused")
			}
		}
	})
}

// BenchmarkRateLimitReserve is one shared-bucket reservation: a BEGIN
// IMMEDIATE transaction reading and writing one row.
func BenchmarkRateLimitReserve(b *testing.B) { benchReserve(b, false) }

// BenchmarkRateLimitReserveParallel is the same from many goroutines of one
// process (the gateway under load).
func BenchmarkRateLimitReserveParallel(b *testing.B) { benchReserve(b, true) }

// A reservation commits without fsync, but the connection goes back to the
// pool with full durability for the secrets written on it next.
func TestRateLimitStoreRestoresSynchronous(t *testing.T) {
	f := newVault(t)
	f.v.db.SetMaxOpenConns(1)
	s := f.v.RateLimitStore(nil)
	s.Reserve(rlKey, ratelimit.Plan{Rate: 1, Burst: 1}, t0, 0)
	var sync int
	must(t, f.v.db.QueryRow(`PRAGMA synchronous`).Scan(&sync))
	if sync != 2 {
		t.Fatalf("PRAGMA synchronous = %d after a reservation, want 2 (FULL)", sync)
	}
}
