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
	"github.com/spgate/spgate/internal/testenv"
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

	// Each reserve gives up on the vault after the 50 ms busy timeout and
	// paces on the fallback. They must return while the lock is held: the
	// lock is released only after them, so a reserve that waited for it
	// would never return.
	reserved := make(chan error, 1)
	go func() {
		for range 3 {
			// The local fallback starts empty-handed: its own full bucket.
			if wait, ok := s.Reserve(rlKey, plan, t0, time.Hour); !ok {
				reserved <- fmt.Errorf("reserve under a foreign lock refused (wait %v)", wait)
				return
			}
		}
		reserved <- nil
	}()
	select {
	case err := <-reserved:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testenv.Patience):
		t.Fatal("reserves under a foreign lock wait for the lock instead of giving up after the busy timeout")
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
// then reserves rlEach slots and prints their waits.
func TestRateLimitHelperProcess(t *testing.T) {
	path := os.Getenv("SPGATE_VAULT_RL_CHILD")
	if path == "" {
		t.Skip("helper for TestRateLimitStoreTwoProcesses")
	}
	k, err := ParseKey(os.Getenv("SPGATE_VAULT_TEST_KEY"), "test")
	must(t, err)
	v, err := Open(context.Background(), path, k, Options{BusyTimeout: testenv.Patience})
	must(t, err)
	defer v.Close()
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	for _, wait := range takeSlots(t, v) {
		fmt.Printf("slot %d\n", wait)
	}
}

// Each process takes rlEach slots of one bucket at rlRate/s with a burst of
// rlBurst.
const (
	rlEach  = 12
	rlRate  = 20.0
	rlBurst = 3
)

// takeSlots reserves rlEach slots, all asked for at t0 as if the two
// processes ran at the same instant, and returns how long each would wait.
// The bucket's arithmetic decides the waits, not the machine's speed: a
// process that is descheduled between two reserves gets the same slots.
func takeSlots(t *testing.T, v *Vault) []int64 {
	var log bytes.Buffer
	s := v.RateLimitStore(slog.New(slog.NewTextHandler(&log, nil)))
	plan := ratelimit.Plan{Rate: rlRate, Burst: rlBurst}
	var out []int64
	for range rlEach {
		wait, ok := s.Reserve(rlKey, plan, t0, time.Hour)
		if !ok {
			t.Fatalf("reserve refused (wait %v)", wait)
		}
		out = append(out, int64(wait))
	}
	if log.Len() > 0 {
		t.Fatalf("the shared bucket was not used:\n%s", log.String())
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
	waits := takeSlots(t, f.v)
	mine := len(waits)
	rest, _ := io.ReadAll(out)
	transcript.Write(rest)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s%s", err, transcript.String(), stderr.String())
	}
	for _, line := range strings.Split(transcript.String(), "\n") {
		if n, ok := strings.CutPrefix(line, "slot "); ok {
			w, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
			must(t, err)
			waits = append(waits, w)
		}
	}
	if len(waits) != 2*rlEach {
		t.Fatalf("parent took %d slots, child %d; want %d each\n%s", mine, len(waits)-mine, rlEach, transcript.String())
	}
	// One bucket shared by both processes hands out its burst once and
	// then one slot per interval, each slot to exactly one reserve. Two
	// private buckets would each have handed out the burst at once.
	slices.Sort(waits)
	var want []int64
	for i := range 2 * rlEach {
		want = append(want, int64(max(0, i-rlBurst+1))*int64(time.Second/rlRate))
	}
	if !slices.Equal(waits, want) {
		got := make([]time.Duration, len(waits))
		for i, w := range waits {
			got[i] = time.Duration(w)
		}
		t.Fatalf("the two processes got the slots %v; one shared bucket gives the burst of %d at once, then one every %v", got, rlBurst, time.Second/rlRate)
	}
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
