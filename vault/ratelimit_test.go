package vault

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
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

// A reservation commits without fsync, on the store's own handle; the
// vault's connections keep full durability for the secrets written on
// them.
func TestRateLimitStoreRestoresSynchronous(t *testing.T) {
	f := newVault(t)
	f.v.db.SetMaxOpenConns(1)
	s := sqliteStore(t, f.v)
	s.Reserve(rlKey, ratelimit.Plan{Rate: 1, Burst: 1}, t0, 0)
	var sync, own int
	must(t, f.v.db.QueryRow(`PRAGMA synchronous`).Scan(&sync))
	h, err := f.v.rl.handle(f.v)
	must(t, err)
	must(t, h.db.QueryRow(`PRAGMA synchronous`).Scan(&own))
	if sync != 2 || own != 1 {
		t.Fatalf("PRAGMA synchronous = %d on the vault and %d on the store's handle after a reservation, want 2 (FULL) and 1 (NORMAL)", sync, own)
	}
}

// sqliteStore is v's rate-limit store with its transaction counter.
func sqliteStore(t *testing.T, v *Vault) *rateLimitStore {
	t.Helper()
	s, ok := v.RateLimitStore(nil).(*rateLimitStore)
	if !ok {
		t.Skip("leases belong to the SQLite store")
	}
	return s
}

// A process calling one busy bucket alone gets exactly MemoryStore's
// answers while its leases answer most calls without a transaction:
// reserves with and without waits, the repeated rate of every response,
// and now and then a new rate, a drain, a cancel and a probe.
func TestRateLimitStoreLeaseAnswersLikeMemoryStore(t *testing.T) {
	f := newVault(t)
	s := sqliteStore(t, f.v)
	ref := &ratelimit.MemoryStore{}
	plan := ratelimit.Plan{Rate: 2000, Burst: 14}
	rng := rand.New(rand.NewPCG(3, 4))
	now := t0
	const calls = 6000
	for i := range calls {
		now = now.Add(time.Duration(rng.IntN(1000)) * time.Microsecond)
		switch r := rng.IntN(100); {
		case r < 50:
			maxWait := time.Duration(rng.IntN(3000)) * time.Microsecond
			w1, ok1 := ref.Reserve(rlKey, plan, now, maxWait)
			w2, ok2 := s.Reserve(rlKey, plan, now, maxWait)
			if w1 != w2 || ok1 != ok2 {
				t.Fatalf("call %d Reserve: %v %v, MemoryStore %v %v", i, w2, ok2, w1, ok1)
			}
		case r < 95:
			rate := 2000.0
			if r == 94 {
				rate = []float64{1000, 2000, 4000}[rng.IntN(3)]
			}
			p1, c1 := ref.SetRate(rlKey, rate, now)
			p2, c2 := s.SetRate(rlKey, rate, now)
			if p1 != p2 || c1 != c2 {
				t.Fatalf("call %d SetRate(%v): %v %v, MemoryStore %v %v", i, rate, p2, c2, p1, c1)
			}
		case r < 97:
			ref.Cancel(rlKey, now)
			s.Cancel(rlKey, now)
		case r < 98:
			ref.Drain(rlKey, now)
			s.Drain(rlKey, now)
		default:
			w1, ok1 := ref.Reserve(rlKey, plan, now, -1)
			w2, ok2 := s.Reserve(rlKey, plan, now, -1)
			if w1 != w2 || ok1 != ok2 {
				t.Fatalf("call %d probe: %v %v, MemoryStore %v %v", i, w2, ok2, w1, ok1)
			}
		}
		if i%100 == 0 {
			p1, ok1 := ref.Plan(rlKey)
			p2, ok2 := s.Plan(rlKey)
			if p1 != p2 || ok1 != ok2 {
				t.Fatalf("call %d Plan: %+v %v, MemoryStore %+v %v", i, p2, ok2, p1, ok1)
			}
		}
	}
	// Cancels, drains, probes and new rates (5 % of the calls) take a
	// transaction each and end the lease, the next reserve takes another,
	// and a lease lasts 20 ms of the bucket's time (40 calls here);
	// everything else is answered from the lease.
	if n := s.txs.Load(); n > calls/5 {
		t.Errorf("%d transactions for %d calls; a leased bucket should need a fraction", n, calls)
	}
	t.Logf("%d calls, %d transactions", calls, s.txs.Load())
}

// Two processes hammering one fast bucket through leases never send more
// than the bucket allows in any window, and between them use nearly all of
// it. Four goroutines, two per handle, share one fake clock that each
// moves on after every call.
func TestRateLimitStoreLeasesShareBucket(t *testing.T) {
	f := newVault(t)
	other, err := Open(context.Background(), f.path, f.key, testOpts(f.clk))
	must(t, err)
	defer other.Close()
	stores := []*rateLimitStore{sqliteStore(t, f.v), sqliteStore(t, other)}
	plan := ratelimit.Plan{Rate: 1000, Burst: 5}
	const maxWait = 5 * time.Millisecond
	end := t0.Add(300 * time.Millisecond)
	var mu sync.Mutex
	var sends []time.Time
	var wg sync.WaitGroup
	for i := range 4 {
		s := stores[i%2]
		wg.Go(func() {
			for {
				now := f.clk.Now()
				if !now.Before(end) {
					return
				}
				if wait, ok := s.Reserve(rlKey, plan, now, maxWait); ok {
					mu.Lock()
					sends = append(sends, now.Add(wait))
					mu.Unlock()
				}
				f.clk.Advance(20 * time.Microsecond)
			}
		})
	}
	wg.Wait()
	slices.SortFunc(sends, func(a, b time.Time) int { return a.Compare(b) })
	interval := time.Second / time.Duration(plan.Rate)
	for i := range sends {
		for j := i; j < len(sends); j++ {
			if n, allowed := j-i+1, plan.Burst+int(sends[j].Sub(sends[i])/interval); n > allowed {
				t.Fatalf("%d sends within %v across both processes; the bucket allows %d", n, sends[j].Sub(sends[i]), allowed)
			}
		}
	}
	// Slots claimed by a lease that another process overtook are lost;
	// they must stay few.
	elapsed := sends[len(sends)-1].Sub(t0)
	if capacity := plan.Burst + int(elapsed/interval); len(sends) < capacity*9/10 {
		t.Errorf("%d sends over %v; the bucket allows %d", len(sends), elapsed, capacity)
	}
	t.Logf("%d sends over %v, %d+%d transactions", len(sends), elapsed, stores[0].txs.Load(), stores[1].txs.Load())
}

// A process that dies holding a lease strands no slot beyond the maxWait
// its callers asked with: the next process waits at most that plus one
// interval.
func TestRateLimitStoreLeaseCrashStrandsAtMostMaxWait(t *testing.T) {
	f := newVault(t)
	next, err := Open(context.Background(), f.path, f.key, testOpts(f.clk))
	must(t, err)
	defer next.Close()
	crashed := sqliteStore(t, f.v)
	plan := ratelimit.Plan{Rate: 1000, Burst: 1}
	const maxWait = 10 * time.Millisecond
	now := t0
	for range 500 {
		crashed.Reserve(rlKey, plan, now, maxWait)
		now = now.Add(100 * time.Microsecond)
	}
	if crashed.txs.Load() >= 500 {
		t.Fatalf("%d transactions for 500 reserves: no lease was taken", crashed.txs.Load())
	}
	f.v.Close() // its leases can no longer give anything back
	wait, ok := next.RateLimitStore(nil).Reserve(rlKey, plan, now, time.Hour)
	if limit := maxWait + time.Millisecond; !ok || wait > limit {
		t.Fatalf("after the crash the next process waits %v (ok %v); at most %v (maxWait plus one interval)", wait, ok, limit)
	}
}

// A lease left idle gives back the slots it claimed and did not use, so
// another process finds the bucket as full as the calls made leave it.
func TestRateLimitStoreIdleLeaseGivesSlotsBack(t *testing.T) {
	f := newVault(t)
	other, err := Open(context.Background(), f.path, f.key, testOpts(f.clk))
	must(t, err)
	defer other.Close()
	s := sqliteStore(t, f.v)
	plan := ratelimit.Plan{Rate: 1000, Burst: 50}
	for range 2 { // the second call, soon after the first, claims slots
		if wait, ok := s.Reserve(rlKey, plan, t0, time.Hour); !ok || wait != 0 {
			t.Fatalf("wait %v ok %v", wait, ok)
		}
	}
	l := s.lease(rlKey)
	l.mu.Lock()
	claimed := l.row.TAT.Sub(l.b.TAT) / time.Millisecond
	l.mu.Unlock()
	if claimed < 10 {
		t.Fatalf("the lease claimed %d slots; want the bucket's next 20 ms", claimed)
	}
	deadline := time.Now().Add(testenv.Patience)
	for {
		l.mu.Lock()
		back := l.row.TAT.Equal(l.b.TAT)
		l.mu.Unlock()
		if back {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the idle lease kept its %d claimed slots", claimed)
		}
		time.Sleep(time.Millisecond) // polling for the expiry, which runs on its own timer
	}
	got := 0
	for {
		if _, ok := other.RateLimitStore(nil).Reserve(rlKey, plan, t0, 0); !ok {
			break
		}
		got++
	}
	if got != plan.Burst-2 {
		t.Fatalf("the other process got %d slots at once; the bucket had %d left after 2 calls", got, plan.Burst-2)
	}
}

// A busy bucket's lease is renewed in the background before it runs out,
// so its calls, a reservation and the response's repeated rate each,
// wait for no transaction after the first two (the first call, and the
// one soon after it that claims the slots of a lease), and still get
// exactly MemoryStore's answers. Between calls the test waits for a
// renewal under way, as the 250 µs between the calls would on a real
// clock.
func TestRateLimitStoreBusyLeaseRenewsAhead(t *testing.T) {
	f := newVault(t)
	s := sqliteStore(t, f.v)
	ref := &ratelimit.MemoryStore{}
	plan := ratelimit.Plan{Rate: 10000, Burst: 14}
	now := t0
	const calls = 2000 // 0.5 s of the bucket's time: 25 leases of 20 ms
	for i := range calls {
		now = now.Add(250 * time.Microsecond)
		w1, ok1 := ref.Reserve(rlKey, plan, now, 30*time.Second)
		w2, ok2 := s.Reserve(rlKey, plan, now, 30*time.Second)
		if w1 != w2 || ok1 != ok2 {
			t.Fatalf("call %d Reserve: %v %v, MemoryStore %v %v", i, w2, ok2, w1, ok1)
		}
		p1, c1 := ref.SetRate(rlKey, plan.Rate, now)
		p2, c2 := s.SetRate(rlKey, plan.Rate, now)
		if p1 != p2 || c1 != c2 {
			t.Fatalf("call %d SetRate: %v %v, MemoryStore %v %v", i, p2, c2, p1, c1)
		}
		s.renewals.Wait()
	}
	// Without renewals every lease would end in a call's transaction (25
	// of them); an expiry timer firing on the wall clock while this test
	// runs slowly may cost one now and then.
	if n := s.inCall.Load(); n > 10 {
		t.Errorf("%d calls waited for a transaction; a busy lease renewed ahead needs about 2", n)
	}
	t.Logf("%d calls, %d transactions, %d of them in a call", calls, s.txs.Load(), s.inCall.Load())
}
