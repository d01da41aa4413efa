package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/operations"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

var key = Key{Seller: "A2SELLER", App: "amzn1.sp.solution.app", Operation: "orders/v0/getOrder"}

func op(rate float64, burst int) *operations.Operation {
	return &operations.Operation{API: "orders", Version: "v0", ID: "getOrder", Rate: rate, Burst: burst}
}

// The bucket scenarios (burst, pacing, header corrections, drains) run
// against MemoryStore in conformance_test.go, from the table every Store
// must pass (internal/ratelimittest).

func TestObserveStats(t *testing.T) {
	l := New(Options{Clock: clock.NewFake(t0)})
	for _, h := range []string{"", "  ", "0.5", "0.5", " 0.5 ", "NaN", "-1", "2"} {
		l.Observe(key, h)
	}
	st := l.Stats()
	if st.RateChanges != 2 || st.IgnoredHeaders != 2 {
		t.Fatalf("stats %+v, want 2 changes and 2 ignored", st)
	}
	if p, _ := l.Plan(key); p.Rate != 2 {
		t.Fatalf("rate %v, want 2", p.Rate)
	}
}

// waitAsync starts Wait and returns its result channel once Wait has
// either returned or parked on a timer.
func waitAsync(t *testing.T, l *Limiter, clk *clock.Fake, ctx context.Context, timers int) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- l.Wait(ctx, key, op(1, 1)) }()
	bctx, cancel := testenv.PatienceContext(t)
	defer cancel()
	if err := clk.BlockUntil(bctx, timers); err != nil {
		t.Fatalf("waiter did not park: %v", err)
	}
	return done
}

func TestWaitPacesWithFakeClock(t *testing.T) {
	clk := clock.NewFake(t0)
	l := New(Options{Clock: clk})
	ctx := context.Background()
	if err := l.Wait(ctx, key, op(1, 1)); err != nil {
		t.Fatal(err)
	}
	done := waitAsync(t, l, clk, ctx, 1)
	clk.Advance(time.Second - time.Nanosecond)
	if clk.Waiters() != 1 {
		t.Fatal("released before a full interval")
	}
	clk.Advance(time.Nanosecond)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Waits != 1 || st.WaitTime != time.Second {
		t.Fatalf("stats %+v", st)
	}
}

func TestWaitErrorBeyondDeadlineTakesNothing(t *testing.T) {
	clk := clock.NewFake(t0)
	l := New(Options{Clock: clk})
	// One every 256 s: longer than the caller's deadline, however long
	// the machine takes to get from setting the deadline to the Wait.
	const every = 256 * time.Second
	slow := op(1.0/256, 1)
	if err := l.Wait(context.Background(), key, slow); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := testenv.PatienceContext(t)
	defer cancel()
	err := l.Wait(ctx, key, slow)
	var we *WaitError
	if !errors.As(err, &we) || we.Delay != every || !errors.Is(err, ErrDeadline) || we.RetryAfter() != every {
		t.Fatalf("err = %v, want *WaitError{Delay: %v}", err, every)
	}
	if clk.Waiters() != 0 {
		t.Fatal("a WaitError left a timer behind")
	}
	// Nothing was taken: after one interval the next call goes at once.
	clk.Advance(every)
	if err := l.Wait(context.Background(), key, slow); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Waits != 0 || st.Rejected != 1 {
		t.Fatalf("stats %+v: the WaitError consumed a slot", st)
	}
}

// A caller whose turn lies beyond MaxWait is not refused: it waits in line
// without holding a slot, and reserves once the slot comes within MaxWait.
func TestMaxWaitQueuesWithoutReserving(t *testing.T) {
	clk := clock.NewFake(t0)
	l := New(Options{Clock: clk, MaxWait: 500 * time.Millisecond})
	slow := op(0.5, 1) // one every 2 s
	if err := l.Wait(context.Background(), key, slow); err != nil {
		t.Fatal(err)
	}
	done := waitAsync(t, l, clk, context.Background(), 1)
	if st := l.Stats(); st.Queued != 1 || st.Waits != 0 {
		t.Fatalf("stats %+v, want one queued caller and no reservation", st)
	}
	// Nothing is reserved yet: the next slot is still 2 s away.
	if wait, _ := l.store.Reserve(key, PlanFor(slow), clk.Now(), -1); wait != 2*time.Second {
		t.Fatalf("next slot %v away, want 2s: the queued caller reserved beyond MaxWait", wait)
	}
	// At 1.5 s the slot is 500 ms away: reserved and waited for.
	clk.Advance(1500 * time.Millisecond)
	if err := clk.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return l.Stats().Waits == 1 })
	clk.Advance(500*time.Millisecond - 1)
	select {
	case err := <-done:
		t.Fatalf("released early: %v", err)
	default:
	}
	clk.Advance(1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestMaxWaitDefault(t *testing.T) {
	for _, mw := range []time.Duration{0, -time.Second} {
		if l := New(Options{MaxWait: mw}); l.maxWait != DefaultMaxWait {
			t.Errorf("MaxWait %v: horizon %v, want %v", mw, l.maxWait, DefaultMaxWait)
		}
	}
}

// Callers queued behind the horizon keep their arrival order, and the store
// never holds a slot further than MaxWait ahead.
func TestQueuedCallersServedInOrderWithinHorizon(t *testing.T) {
	clk := clock.NewFake(t0)
	const horizon = 2 * time.Second
	l := New(Options{Clock: clk, MaxWait: horizon})
	o := op(1, 1)
	if err := l.Wait(context.Background(), key, o); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Wait(context.Background(), key, o); err != nil {
				t.Error(err)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}()
		// Caller i has arrived once it holds a slot (the first two) or
		// its place in line.
		waitFor(t, func() bool { st := l.Stats(); return st.Waits+st.Queued >= int64(i+1) })
	}
	for i := range n {
		// The furthest reservation is never beyond the horizon (plus the
		// interval the next caller would wait on top of it).
		if wait, _ := l.store.Reserve(key, PlanFor(o), clk.Now(), -1); wait > horizon+time.Second {
			t.Fatalf("after %d releases the next slot is %v away: reserved beyond MaxWait %v", i, wait, horizon)
		}
		if err := clk.BlockUntil(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		waitForLen(t, &mu, &order, i+1)
	}
	wg.Wait()
	for i, v := range order {
		if v != i {
			t.Fatalf("served in order %v, want 0..%d", order, n-1)
		}
	}
}

// A caller with a deadline behind a line is refused at once when its turn
// cannot come in time, and takes nobody's place.
func TestQueuedCallerWithShortDeadlineRefused(t *testing.T) {
	clk := clock.NewFake(t0)
	l := New(Options{Clock: clk, MaxWait: time.Second})
	// One every 256 s: every caller after the first queues, and a turn
	// behind the one queued caller is at least two intervals away, beyond
	// a deadline of testenv.Patience however much of it has passed.
	const every = 256 * time.Second
	o := op(1.0/256, 1)
	if err := l.Wait(context.Background(), key, o); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := waitAsync(t, l, clk, ctx, 1) // front of the line, sleeping
	short, cancelShort := testenv.PatienceContext(t)
	defer cancelShort()
	err := l.Wait(short, key, o)
	var we *WaitError
	if !errors.As(err, &we) || we.Delay < 2*every {
		t.Fatalf("err = %v, want a *WaitError estimating at least %v", err, 2*every)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first = %v", err)
	}
	l.mu.Lock()
	left := len(l.lines)
	l.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d lines left behind", left)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testenv.Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond) // polling goroutines, not waiting for expiry
	}
}

func TestCancelledWaiterGivesSlotBack(t *testing.T) {
	clk := clock.NewFake(t0)
	l := New(Options{Clock: clk})
	l.Wait(context.Background(), key, op(1, 1))
	ctx, cancel := context.WithCancel(context.Background())
	done := waitAsync(t, l, clk, ctx, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// The next waiter gets the freed slot (1 s), not the one after it.
	if wait, _ := l.store.Reserve(key, PlanFor(op(1, 1)), clk.Now(), time.Hour); wait != time.Second {
		t.Fatalf("next wait %v, want 1s", wait)
	}
}

func TestWaitersServedInOrder(t *testing.T) {
	clk := clock.NewFake(t0)
	l := New(Options{Clock: clk})
	l.Wait(context.Background(), key, op(1, 1))
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Wait(context.Background(), key, op(1, 1))
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}()
		// Park waiter i before starting i+1, so arrival order is known.
		bctx, cancel := testenv.PatienceContext(t)
		if err := clk.BlockUntil(bctx, i+1); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	for i := range 5 {
		clk.Advance(time.Second)
		waitForLen(t, &mu, &order, i+1)
	}
	wg.Wait()
	for i, v := range order {
		if v != i {
			t.Fatalf("served in order %v, want 0..4", order)
		}
	}
}

func waitForLen(t *testing.T, mu *sync.Mutex, s *[]int, n int) {
	t.Helper()
	deadline := time.Now().Add(testenv.Patience)
	for {
		mu.Lock()
		got := len(*s)
		mu.Unlock()
		if got > n {
			t.Fatalf("%d waiters released after %d intervals", got, n)
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d waiters released", got, n)
		}
		time.Sleep(time.Millisecond) // polling goroutines, not waiting for expiry
	}
}

// TestConcurrentNeverExceedsRate drives many goroutines through one bucket
// over simulated minutes and replays their send times against an
// independent model of Amazon's bucket: it must never run dry, and the
// total must stay within rate×time+burst while actually using the rate.
func TestConcurrentNeverExceedsRate(t *testing.T) {
	tests := []struct {
		rate    float64
		burst   int
		maxWait time.Duration
	}{{0.5, 30, 0}, {2, 5, 0}, {10, 1, 0}, {0.5, 30, time.Hour}, {2, 5, 3 * time.Second}, {10, 1, time.Second}}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			const goroutines, each = 50, 4
			clk := clock.NewFake(t0)
			l := New(Options{Clock: clk, MaxWait: tt.maxWait})
			o := op(tt.rate, tt.burst)
			var mu sync.Mutex
			var sends []time.Time
			var finished atomic.Int64
			for range goroutines {
				go func() {
					defer finished.Add(1)
					for range each {
						if err := l.Wait(context.Background(), key, o); err != nil {
							t.Error(err)
							return
						}
						now := clk.Now()
						mu.Lock()
						sends = append(sends, now)
						mu.Unlock()
					}
				}()
			}
			// A step that divides the interval, so timers fire exactly on
			// their slots and the recorded times are the send times the
			// limiter planned. (A send later than its slot while the bucket
			// is full wastes refill on Amazon's side; that is inherent to
			// client-side pacing, and Drain after a 429 corrects it.)
			step := interval(tt.rate) / 4
			deadline := time.Now().Add(testenv.Patience)
			for finished.Load() < goroutines {
				// Advance only once every live goroutine is parked on a
				// timer (holding a slot, or waiting in line).
				for clk.Waiters() < goroutines-int(finished.Load()) {
					if time.Now().After(deadline) {
						t.Fatal("goroutines did not park")
					}
					time.Sleep(50 * time.Microsecond) // polling goroutines
				}
				if finished.Load() == goroutines {
					break
				}
				clk.Advance(step)
			}
			sort.Slice(sends, func(i, j int) bool { return sends[i].Before(sends[j]) })
			if len(sends) != goroutines*each {
				t.Fatalf("%d sends, want %d", len(sends), goroutines*each)
			}
			// Amazon's bucket, modelled independently with float tokens.
			tokens, last := float64(tt.burst), t0
			for i, s := range sends {
				tokens = math.Min(float64(tt.burst), tokens+s.Sub(last).Seconds()*tt.rate)
				last = s
				if tokens < 1-1e-9 {
					t.Fatalf("send %d at +%v found Amazon's bucket empty (%.3f tokens)", i, s.Sub(t0), tokens)
				}
				tokens--
			}
			elapsed := sends[len(sends)-1].Sub(t0).Seconds()
			if limit := tt.rate*elapsed + float64(tt.burst); float64(len(sends)) > limit+1e-9 {
				t.Fatalf("%d sends in %.1fs, limit %.1f", len(sends), elapsed, limit)
			}
			// And the limiter does not dawdle: the last send is within one
			// step of when the rate allows it.
			ideal := float64(len(sends)-tt.burst) / tt.rate
			if elapsed > ideal+step.Seconds()+1e-9 {
				t.Fatalf("last send at %.1fs, the rate allows %.1fs", elapsed, ideal)
			}
		})
	}
}

func TestIndependentKeys(t *testing.T) {
	clk := clock.NewFake(t0)
	l := New(Options{Clock: clk})
	keys := []Key{
		{Seller: "A", App: "app", Operation: "getOrder"},
		{Seller: "B", App: "app", Operation: "getOrder"},
		{Seller: "A", App: "app2", Operation: "getOrder"},
		{Seller: "A", App: "app", Operation: "getOrders"},
		{App: "app", Operation: "getOrder"}, // grantless: per app
	}
	for _, k := range keys {
		if err := l.Wait(context.Background(), k, op(0.01, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if st := l.Stats(); st.Waits != 0 {
		t.Fatalf("keys share a bucket: %+v", st)
	}
}

func TestWaitLogsKeyAndDelay(t *testing.T) {
	var buf bytes.Buffer
	clk := clock.NewFake(t0)
	l := New(Options{Clock: clk, Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	l.Wait(context.Background(), key, op(1, 1))
	done := waitAsync(t, l, clk, context.Background(), 1)
	clk.Advance(time.Second)
	<-done
	l.Observe(key, "garbage")
	out := buf.String()
	for _, want := range []string{"rate limit wait", "seller=A2SELLER", "operation=orders/v0/getOrder", "delay=1s", "absurd x-amzn-RateLimit-Limit", "value=garbage"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func BenchmarkWaitNonEmptyBucket(b *testing.B) {
	clk := clock.NewFake(t0)
	l := New(Options{Clock: clk})
	o := op(1, b.N+1)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := l.Wait(ctx, key, o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWaitNonEmptyBucketParallel(b *testing.B) {
	clk := clock.NewFake(t0)
	l := New(Options{Clock: clk})
	o := op(1, math.MaxInt32)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Wait(ctx, key, o); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Callers queued at the table's rate re-plan when the header reveals a
// faster one, instead of waiting out their old slots.
func TestWaitersReplanOnRateChange(t *testing.T) {
	clk := clock.NewFake(t0)
	l := New(Options{Clock: clk})
	ctx := context.Background()
	if err := l.Wait(ctx, key, op(1, 1)); err != nil { // spends the burst
		t.Fatal(err)
	}
	var dones []<-chan error
	for i := 1; i <= 4; i++ {
		dones = append(dones, waitAsync(t, l, clk, ctx, i)) // slots at 1, 2, 3, 4 s
	}
	l.Observe(key, "10") // 100 ms per request from now on
	bctx, cancel := testenv.PatienceContext(t)
	defer cancel()
	// Every waiter wakes, gives its slot back and parks again (each park
	// counts as a wait).
	for l.Stats().Waits < 8 {
		if bctx.Err() != nil {
			t.Fatalf("waiters did not re-plan: %+v", l.Stats())
		}
		runtime.Gosched()
	}
	if err := clk.BlockUntil(bctx, 4); err != nil {
		t.Fatal(err)
	}
	// Four requests at 10/s after the one at 0 s: the last slot is 0.4 s.
	clk.Advance(400 * time.Millisecond)
	for i, d := range dones {
		select {
		case err := <-d:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(testenv.Patience):
			t.Fatalf("waiter %d still parked at its old slot after the rate rose tenfold", i)
		}
	}
	// And the bucket is not overdrawn: the next slot is 0.5 s.
	if _, ok := l.store.Reserve(key, Plan{Rate: 10, Burst: 1}, clk.Now(), 0); ok {
		t.Error("re-planned waiters left the bucket with spare capacity")
	}
}
