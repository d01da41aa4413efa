// Package ratelimittest checks that a ratelimit.Store behaves exactly like
// ratelimit.MemoryStore: the same bucket scenarios, and the same answers to
// a long random sequence of operations.
package ratelimittest

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
)

// T0 is the simulated start time of every scenario.
var T0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Key is the bucket the scenarios use.
var Key = ratelimit.Key{Seller: "A2SELLER", App: "amzn1.sp.solution.app", Operation: "orders/v0/getOrder"}

func op(rate float64, burst int) *operations.Operation {
	return &operations.Operation{API: "orders", Version: "v0", ID: "getOrder", Rate: rate, Burst: burst}
}

func interval(rate float64) time.Duration {
	return time.Duration(math.Ceil(float64(time.Second) / rate))
}

// step is one action on a store at a point in simulated time.
type step struct {
	advance time.Duration
	do      string // "take", "drain", "cancel", "rate=<header>", "plan=<rate>/<burst>", "noplan", "refuse", "probe"
	want    time.Duration
}

// Scenario is a named sequence of steps against one bucket.
type Scenario struct {
	Name  string
	plan  *operations.Operation
	steps []step
}

// Scenarios is the table every Store must pass.
func Scenarios() []Scenario {
	const s = time.Second
	return []Scenario{
		{"burst then pacing", op(1, 3), []step{
			{0, "take", 0}, {0, "take", 0}, {0, "take", 0},
			{0, "take", 1 * s}, {0, "take", 2 * s},
			{2 * s, "take", 1 * s},
		}},
		{"refill up to burst only", op(2, 2), []step{
			{0, "take", 0}, {0, "take", 0},
			{time.Hour, "take", 0}, {0, "take", 0}, {0, "take", 500 * time.Millisecond},
		}},
		{"getOrders plan 0.0167/20", operations.Find("getOrders")[0], []step{
			{0, "take", 0}, {0, "drain", 0}, {0, "take", interval(0.0167)},
		}},
		{"header corrects down", op(1, 1), []step{
			{0, "take", 0}, {0, "rate=0.5", 0}, {0, "take", 2 * s}, {0, "take", 4 * s},
		}},
		{"header corrects up", op(0.5, 1), []step{
			{0, "take", 0}, {0, "rate=2", 0}, {0, "take", 500 * time.Millisecond},
		}},
		{"header down keeps debt", op(1, 1), []step{
			{0, "take", 0}, {0, "take", 1 * s}, {0, "rate=0.5", 0}, {0, "take", 4 * s},
		}},
		{"same rate is no change", op(0.0167, 1), []step{
			{0, "take", 0}, {0, "rate=0.0167", 0}, {0, "take", interval(0.0167)},
		}},
		{"absurd headers ignored", op(1, 1), []step{
			{0, "take", 0},
			{0, "rate=0", 0}, {0, "rate=-3", 0}, {0, "rate=NaN", 0}, {0, "rate=Inf", 0}, {0, "rate=+Inf", 0},
			{0, "rate=1e300", 0}, {0, "rate=10001", 0}, {0, "rate=0.00001", 0}, {0, "rate=fast", 0}, {0, "rate=1,5", 0},
			{0, "take", 1 * s},
		}},
		{"bounds accepted", op(1, 1), []step{
			{0, "take", 0}, {0, "rate=10000", 0}, {0, "take", 100 * time.Microsecond},
		}},
		{"drain after 429", op(5, 10), []step{
			{0, "take", 0}, {0, "drain", 0}, {0, "take", 200 * time.Millisecond},
			{time.Minute, "take", 0},
		}},
		{"drain before any take", op(1, 5), []step{
			{0, "drain", 0}, {0, "plan=0/0", 0}, {0, "take", 1 * s}, {0, "plan=1/5", 0},
		}},
		{"header before any take", op(1, 1), []step{
			{0, "noplan", 0}, {0, "rate=0.25", 0}, {0, "plan=0.25/0", 0}, {0, "take", 0}, {0, "take", 4 * s},
		}},
		{"nil op uses the fallback plan", nil, []step{
			{0, "drain", 0}, {0, "take", interval(operations.FallbackRate)},
		}},
		{"cancel gives the slot back", op(1, 1), []step{
			{0, "take", 0}, {0, "take", 1 * s}, {0, "cancel", 0}, {0, "take", 1 * s},
			{0, "cancel", 0}, {0, "cancel", 0}, {0, "cancel", 0}, {0, "take", 0}, // never below full
		}},
		{"cancel before any bucket does nothing", op(1, 1), []step{
			{0, "cancel", 0}, {0, "noplan", 0}, {0, "take", 0}, {0, "take", 1 * s},
		}},
		{"refused reserve takes nothing but seeds", op(0.5, 1), []step{
			{0, "take", 0}, {0, "refuse", 2 * s}, {0, "plan=0.5/1", 0}, {2 * s, "take", 0},
		}},
		{"negative maxWait only asks", op(1, 2), []step{
			{0, "probe", 0}, {0, "plan=1/2", 0}, {0, "take", 0}, {0, "take", 0},
			{0, "probe", 1 * s}, {0, "probe", 1 * s}, {0, "take", 1 * s},
		}},
	}
}

// Conformance runs the scenario table and a differential test against
// MemoryStore on stores made by newStore (a fresh, empty store per call).
func Conformance(t *testing.T, newStore func(t *testing.T) ratelimit.Store) {
	t.Run("scenarios", func(t *testing.T) {
		for _, sc := range Scenarios() {
			t.Run(sc.Name, func(t *testing.T) { runScenario(t, newStore(t), sc) })
		}
	})
	t.Run("like MemoryStore", func(t *testing.T) { Differential(t, newStore(t), 400) })
	t.Run("a crash strands at most MaxWait", func(t *testing.T) {
		for _, o := range []*operations.Operation{operations.Find("getOrders")[0], op(1, 1)} {
			t.Run(o.Key(), func(t *testing.T) { CrashStrandsAtMostMaxWait(t, newStore(t), o) })
		}
	})
	t.Run("independent keys", func(t *testing.T) {
		store := newStore(t)
		keys := []ratelimit.Key{
			{Seller: "A", App: "app", Operation: "getOrder"},
			{Seller: "B", App: "app", Operation: "getOrder"},
			{Seller: "A", App: "app2", Operation: "getOrder"},
			{Seller: "A", App: "app", Operation: "getOrders"},
			{App: "app", Operation: "getOrder"},
			{Seller: "-", App: "app", Operation: "getOrder"},
		}
		for _, k := range keys {
			if wait, ok := store.Reserve(k, ratelimit.Plan{Rate: 0.01, Burst: 1}, T0, time.Hour); !ok || wait != 0 {
				t.Fatalf("%v: wait %v ok %v: keys share a bucket", k, wait, ok)
			}
		}
	})
}

func runScenario(t *testing.T, store ratelimit.Store, sc Scenario) {
	clk := clock.NewFake(T0)
	l := ratelimit.New(ratelimit.Options{Store: store, Clock: clk})
	seed := ratelimit.PlanFor(sc.plan)
	for i, st := range sc.steps {
		clk.Advance(st.advance)
		switch {
		case st.do == "take":
			got, ok := store.Reserve(Key, seed, clk.Now(), time.Duration(math.MaxInt64))
			if !ok || got != st.want {
				t.Fatalf("step %d: wait %v (ok %v), want %v", i, got, ok, st.want)
			}
		case st.do == "refuse":
			got, ok := store.Reserve(Key, seed, clk.Now(), st.want-1)
			if ok || got != st.want {
				t.Fatalf("step %d: wait %v (ok %v), want refused with %v", i, got, ok, st.want)
			}
		case st.do == "probe":
			got, ok := store.Reserve(Key, seed, clk.Now(), -1)
			if ok || got != st.want {
				t.Fatalf("step %d: probe wait %v (ok %v), want %v and nothing taken", i, got, ok, st.want)
			}
		case st.do == "cancel":
			store.Cancel(Key, clk.Now())
		case st.do == "drain":
			l.Drain(Key)
		case st.do == "noplan":
			if p, ok := store.Plan(Key); ok {
				t.Fatalf("step %d: plan %+v of a bucket that should not exist", i, p)
			}
		case strings.HasPrefix(st.do, "plan="):
			p, ok := store.Plan(Key)
			var want ratelimit.Plan
			parsePlan(strings.TrimPrefix(st.do, "plan="), &want)
			if !ok || p != want {
				t.Fatalf("step %d: plan %+v (ok %v), want %+v", i, p, ok, want)
			}
		case strings.HasPrefix(st.do, "rate="):
			l.Observe(Key, strings.TrimPrefix(st.do, "rate="))
		default:
			t.Fatalf("step %d: unknown action %q", i, st.do)
		}
	}
}

// CrashStrandsAtMostMaxWait queues 200 callers of op on a Limiter with the
// default options over store, then abandons them as a crashed process
// would, and checks what the next process finds: its first caller waits no
// longer than DefaultMaxWait plus one refill interval. (Before reservations
// were bounded, 200 getOrders callers left three hours of reservations in
// a shared store.)
func CrashStrandsAtMostMaxWait(t *testing.T, store ratelimit.Store, o *operations.Operation) {
	t.Helper()
	const callers = 200
	clk := clock.NewFake(T0)
	crashed := ratelimit.New(ratelimit.Options{Store: store, Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var served atomic.Int64
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if crashed.Wait(ctx, Key, o) == nil {
				served.Add(1)
			}
		}()
	}
	stop := func() { cancel(); wg.Wait() }
	// Every caller has gone through at once, holds a slot, or waits in
	// line without one.
	deadline := time.Now().Add(testenv.Patience)
	for {
		st := crashed.Stats()
		if int64(ratelimit.PlanFor(o).Burst)+st.Waits+st.Queued >= callers {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("callers did not settle: %+v", st)
		}
		time.Sleep(time.Millisecond) // polling goroutines, not waiting for expiry
	}
	// The process dies here. The next one asks the store for a slot.
	wait, ok := store.Reserve(Key, ratelimit.PlanFor(o), clk.Now(), time.Duration(math.MaxInt64))
	stop()
	if limit := ratelimit.DefaultMaxWait + interval(ratelimit.PlanFor(o).Rate); !ok || wait > limit {
		t.Fatalf("after a crash with %d callers queued the next process waits %v (ok %v); at most %v (MaxWait plus one interval) may be stranded", callers, wait, ok, limit)
	}
}

func parsePlan(s string, p *ratelimit.Plan) {
	r, b, _ := strings.Cut(s, "/")
	p.Rate, _ = strconv.ParseFloat(r, 64)
	p.Burst, _ = strconv.Atoi(b)
}

// Differential applies n random operations on a few keys to store and to a
// MemoryStore and fails at the first answer that differs.
func Differential(t *testing.T, store ratelimit.Store, n int) {
	t.Helper()
	ref := &ratelimit.MemoryStore{}
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []ratelimit.Key{Key, {App: "app", Operation: "grantless"}, {Seller: "B", App: "app", Operation: "x"}}
	plans := []ratelimit.Plan{{Rate: 1, Burst: 3}, {Rate: 0.0167, Burst: 20}, {Rate: 10, Burst: 1}}
	rates := []float64{0.5, 1, 2, 0.0167, 10}
	now := T0
	for i := range n {
		now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		k := keys[rng.IntN(len(keys))]
		switch r := rng.IntN(10); {
		case r < 5:
			p := plans[rng.IntN(len(plans))]
			maxWait := time.Duration(rng.IntN(5000)) * time.Millisecond
			w1, ok1 := ref.Reserve(k, p, now, maxWait)
			w2, ok2 := store.Reserve(k, p, now, maxWait)
			if w1 != w2 || ok1 != ok2 {
				t.Fatalf("op %d Reserve(%v): got %v %v, MemoryStore %v %v", i, k, w2, ok2, w1, ok1)
			}
		case r < 6:
			ref.Cancel(k, now)
			store.Cancel(k, now)
		case r < 8:
			rate := rates[rng.IntN(len(rates))]
			p1, c1 := ref.SetRate(k, rate, now)
			p2, c2 := store.SetRate(k, rate, now)
			if p1 != p2 || c1 != c2 {
				t.Fatalf("op %d SetRate(%v, %v): got %v %v, MemoryStore %v %v", i, k, rate, p2, c2, p1, c1)
			}
		default:
			ref.Drain(k, now)
			store.Drain(k, now)
		}
		for _, k := range keys {
			p1, ok1 := ref.Plan(k)
			p2, ok2 := store.Plan(k)
			if p1 != p2 || ok1 != ok2 {
				t.Fatalf("op %d Plan(%v): got %+v %v, MemoryStore %+v %v", i, k, p2, ok2, p1, ok1)
			}
		}
	}
}
