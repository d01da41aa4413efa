package rdt_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/rdt"
	"github.com/spgate/spgate/tokencache"
)

type countingShared struct {
	tokencache.Shared
	gets atomic.Int64
	keys sync.Map
}

func (c *countingShared) Get(ctx context.Context, key string, fetch tokencache.FetchFunc) (tokencache.Token, error) {
	c.gets.Add(1)
	c.keys.Store(key, true)
	return c.Shared.Get(ctx, key, fetch)
}

// Processes sharing a cache request one RDT per resource and lifetime
// among them; a hit in memory does not ask the shared cache.
func TestSharedCacheOneTokenAcrossProcesses(t *testing.T) {
	f := &fetcher{clk: clock.NewFake(t0), life: time.Hour}
	shared := &countingShared{Shared: tokencache.NewMemory(f.clk)}
	process := func() *rdt.Cache { return rdt.NewCache(f.fetch, f.clk, 0, nil, rdt.WithShared(shared)) }
	a, b := process(), process()

	var wg sync.WaitGroup
	got := make([]string, 20)
	for i := range got {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Go(func() { got[i] = token(t, c, address) })
	}
	wg.Wait()
	for i, v := range got {
		if v != got[0] {
			t.Fatalf("caller %d got %q, caller 0 %q", i, v, got[0])
		}
	}
	if f.count() != 1 {
		t.Fatalf("%d token requests for 20 callers in two processes, want 1", f.count())
	}
	gets := shared.gets.Load()
	for range 50 {
		token(t, a, address)
		token(t, b, address)
	}
	if n := shared.gets.Load(); n != gets || n > 2 {
		t.Errorf("the shared cache was asked %d times (%d before 100 hits in memory); want at most one per process", n, gets)
	}
	shared.keys.Range(func(k, _ any) bool {
		if k != "rdt|A1SELLER|app||GET /orders/v0/orders/{orderId}/address " {
			t.Errorf("shared key %q", k)
		}
		return true
	})

	// At the refresh time the first to ask fetches, the other takes it.
	f.clk.Advance(55 * time.Minute)
	fresh := token(t, b, address)
	if fresh == got[0] || token(t, a, address) != fresh || f.count() != 2 {
		t.Errorf("after the refresh time: %d requests; want one new token for both", f.count())
	}

	// Amazon refuses the token at a: the shared cache drops it, so a new
	// process requests another; b keeps its copy until Amazon refuses it
	// there too.
	a.Invalidate(fresh)
	c := process()
	if v := token(t, c, address); v == fresh || f.count() != 3 {
		t.Errorf("a new process got %q after %d requests; want a new token", v, f.count())
	}
	if v := token(t, a, address); v == fresh || f.count() != 3 {
		t.Errorf("the refusing process got %q after %d requests; want the new shared token", v, f.count())
	}
	if v := token(t, b, address); v != fresh {
		t.Errorf("b's token in memory was dropped by another process's refusal: %q", v)
	}
}

// Prefetch requests for this process alone.
func TestPrefetchWithSharedCache(t *testing.T) {
	f := &fetcher{clk: clock.NewFake(t0), life: time.Hour}
	shared := tokencache.NewMemory(f.clk)
	a := rdt.NewCache(f.fetch, f.clk, 0, nil, rdt.WithShared(shared))
	if err := a.Prefetch(context.Background(), "A1SELLER", "app", "", []rdt.Resource{address, buyer}); err != nil {
		t.Fatal(err)
	}
	if token(t, a, address) != token(t, a, buyer) || f.count() != 1 {
		t.Errorf("%d requests; want one token for both resources", f.count())
	}
}
