package ttlcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
)

func TestGetCachesForTTLAndSharesLoads(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := New[int](clk, time.Minute, 0)
	var loads atomic.Int64
	release := make(chan struct{})
	load := func(context.Context) (int, error) {
		<-release
		return int(loads.Add(1)), nil
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if v, err := c.Get(context.Background(), "k", load); err != nil || v != 1 {
				t.Errorf("Get = %d, %v", v, err)
			}
		})
	}
	close(release)
	wg.Wait()
	if loads.Load() != 1 {
		t.Fatalf("%d loads for 20 concurrent callers", loads.Load())
	}
	clk.Advance(59 * time.Second)
	if v, _ := c.Get(context.Background(), "k", load); v != 1 {
		t.Errorf("within the TTL: %d", v)
	}
	clk.Advance(time.Second)
	if v, _ := c.Get(context.Background(), "k", load); v != 2 {
		t.Errorf("after the TTL: %d", v)
	}
}

func TestErrorsAreNotCachedAndClearForgets(t *testing.T) {
	c := New[string](nil, time.Hour, 0)
	boom := errors.New("boom")
	if _, err := c.Get(context.Background(), "k", func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	v, err := c.Get(context.Background(), "k", func(context.Context) (string, error) { return "a", nil })
	if err != nil || v != "a" {
		t.Fatalf("after an error: %q %v", v, err)
	}
	c.Clear()
	if v, _ := c.Get(context.Background(), "k", func(context.Context) (string, error) { return "b", nil }); v != "b" {
		t.Errorf("after Clear: %q", v)
	}
	c.Delete("k")
	if v, _ := c.Get(context.Background(), "k", func(context.Context) (string, error) { return "c", nil }); v != "c" {
		t.Errorf("after Delete: %q", v)
	}
}

// TestClearDuringLoad: a load that started before Clear does not put
// stale data back.
func TestClearDuringLoad(t *testing.T) {
	c := New[string](nil, time.Hour, 0)
	started, finish := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Get(context.Background(), "k", func(context.Context) (string, error) {
			close(started)
			<-finish
			return "stale", nil
		})
	}()
	<-started
	c.Clear()
	close(finish)
	<-done
	if v, _ := c.Get(context.Background(), "k", func(context.Context) (string, error) { return "fresh", nil }); v != "fresh" {
		t.Errorf("got %q: a load begun before Clear was kept", v)
	}
}

func TestBoundedSize(t *testing.T) {
	c := New[int](nil, time.Hour, 2)
	for i, k := range []string{"a", "b", "c"} {
		_, _ = c.Get(context.Background(), k, func(context.Context) (int, error) { return i, nil })
	}
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	if n > 2 {
		t.Errorf("%d entries in a cache of 2", n)
	}
}
