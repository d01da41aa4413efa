// Package tokencachetest holds every tokencache.Shared to the same
// behaviour: one fetch among concurrent getters of two processes,
// freshness on an injected clock, invalidation by value, failures that
// are neither cached nor hidden, and waits bounded by the caller's context.
package tokencachetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/tokencache"
)

// T0 is the simulated time every case starts at.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Open returns two handles on one fresh, empty store — two processes
// sharing it — that tell time by clk.
type Open func(t *testing.T, clk *clock.Fake) (a, b tokencache.Shared)

// Token is a token issued at T0 for an hour, handed out for 55 minutes.
func Token(value string) tokencache.Token { return TokenAt(value, T0) }

// TokenAt is a token issued at issued for an hour, handed out for 55
// minutes.
func TokenAt(value string, issued time.Time) tokencache.Token {
	return tokencache.Token{Value: secret.New(value), Expiry: issued.Add(time.Hour), RefreshAt: issued.Add(55 * time.Minute)}
}

// Fetcher counts its fetches and hands out tok-1, tok-2, … in turn.
type Fetcher struct {
	Calls atomic.Int64
	// Gate, when set, holds every fetch until it is closed.
	Gate chan struct{}
	// Started gets a value as each fetch starts (when set; never blocks).
	Started chan struct{}
	// Err, when set, is what fetches return.
	Err error
	// Clock dates the tokens: TokenAt its now (nil: T0).
	Clock clock.Clock
	// Tok, when set, makes the tokens instead.
	Tok func(value string) tokencache.Token
}

// Fetch is a tokencache.FetchFunc.
func (f *Fetcher) Fetch(ctx context.Context) (tokencache.Token, error) {
	n := f.Calls.Add(1)
	if f.Started != nil {
		select {
		case f.Started <- struct{}{}:
		default:
		}
	}
	if f.Gate != nil {
		select {
		case <-f.Gate:
		case <-ctx.Done():
			return tokencache.Token{}, ctx.Err()
		}
	}
	if f.Err != nil {
		return tokencache.Token{}, f.Err
	}
	v := fmt.Sprintf("tok-%d", n)
	switch {
	case f.Tok != nil:
		return f.Tok(v), nil
	case f.Clock != nil:
		return TokenAt(v, f.Clock.Now()), nil
	}
	return Token(v), nil
}

// noFetch fails the test if the cache fetches.
func noFetch(t *testing.T) tokencache.FetchFunc {
	return func(context.Context) (tokencache.Token, error) {
		t.Error("fetched although a fresh token was cached")
		return tokencache.Token{}, errors.New("unexpected fetch")
	}
}

// Conformance runs every case against the store open makes.
func Conformance(t *testing.T, open Open) {
	t.Run("one fetch among concurrent getters of two processes", func(t *testing.T) { oneFetch(t, open) })
	t.Run("a fresh token is served without a fetch, until its refresh time", func(t *testing.T) { freshness(t, open) })
	t.Run("an expired token is never served", func(t *testing.T) { expired(t, open) })
	t.Run("invalidation by value", func(t *testing.T) { invalidation(t, open) })
	t.Run("a failed fetch is returned and not cached", func(t *testing.T) { failure(t, open) })
	t.Run("a waiter takes over from a failed fetch", func(t *testing.T) { takeover(t, open) })
	t.Run("a waiter's context ends its wait", func(t *testing.T) { cancelled(t, open) })
	t.Run("keys are apart", func(t *testing.T) { keysApart(t, open) })
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := testenv.PatienceContext(t)
	t.Cleanup(cancel)
	return ctx
}

func oneFetch(t *testing.T, open Open) {
	clk := clock.NewFake(T0)
	a, b := open(t, clk)
	ctx := ctxFor(t)
	f := &Fetcher{Gate: make(chan struct{})}
	const getters = 20
	var entered sync.WaitGroup
	entered.Add(getters)
	var wg sync.WaitGroup
	got := make([]string, getters)
	errs := make([]error, getters)
	for i := range getters {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Go(func() {
			entered.Done()
			tok, err := c.Get(ctx, "lwa|app|A1SELLER|rt1", f.Fetch)
			got[i], errs[i] = tok.Value.Reveal(), err
		})
	}
	entered.Wait()
	close(f.Gate)
	wg.Wait()
	for i := range getters {
		if errs[i] != nil || got[i] != "tok-1" {
			t.Errorf("getter %d: %q, %v; want tok-1", i, got[i], errs[i])
		}
	}
	if n := f.Calls.Load(); n != 1 {
		t.Errorf("%d fetches for %d concurrent getters on two handles, want 1", n, getters)
	}
}

func freshness(t *testing.T, open Open) {
	clk := clock.NewFake(T0)
	a, b := open(t, clk)
	ctx := ctxFor(t)
	f := &Fetcher{Clock: clk}
	if tok, err := a.Get(ctx, "k", f.Fetch); err != nil || tok.Value.Reveal() != "tok-1" ||
		!tok.Expiry.Equal(T0.Add(time.Hour)) || !tok.RefreshAt.Equal(T0.Add(55*time.Minute)) {
		t.Fatalf("first Get: %+v, %v", tok, err)
	}
	clk.Advance(55*time.Minute - time.Nanosecond)
	tok, err := b.Get(ctx, "k", noFetch(t))
	if err != nil || tok.Value.Reveal() != "tok-1" || !tok.Expiry.Equal(T0.Add(time.Hour)) {
		t.Errorf("the other handle just before the refresh time: %q %v, %v", tok.Value.Reveal(), tok.Expiry, err)
	}
	clk.Advance(time.Nanosecond)
	var wg sync.WaitGroup
	for _, c := range []tokencache.Shared{a, b} {
		wg.Go(func() {
			if tok, err := c.Get(ctx, "k", f.Fetch); err != nil || tok.Value.Reveal() != "tok-2" {
				t.Errorf("at the refresh time: %q, %v; want tok-2", tok.Value.Reveal(), err)
			}
		})
	}
	wg.Wait()
	if n := f.Calls.Load(); n != 2 {
		t.Errorf("%d fetches, want 2 (one, then one more at the refresh time)", n)
	}
}

func expired(t *testing.T, open Open) {
	clk := clock.NewFake(T0)
	a, b := open(t, clk)
	ctx := ctxFor(t)
	// No refresh time: the token is handed out until it expires.
	f := &Fetcher{Tok: func(v string) tokencache.Token {
		return tokencache.Token{Value: secret.New(v), Expiry: clk.Now().Add(time.Minute)}
	}}
	if _, err := a.Get(ctx, "k", f.Fetch); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if tok, err := b.Get(ctx, "k", f.Fetch); err != nil || tok.Value.Reveal() != "tok-2" {
		t.Errorf("after the expiry: %q, %v; want a new token", tok.Value.Reveal(), err)
	}
}

func invalidation(t *testing.T, open Open) {
	clk := clock.NewFake(T0)
	a, b := open(t, clk)
	ctx := ctxFor(t)
	f := &Fetcher{}
	if _, err := a.Get(ctx, "k", f.Fetch); err != nil {
		t.Fatal(err)
	}
	b.Invalidate(ctx, "k", "tok-0") // a token that is not (or no longer) cached
	if tok, err := a.Get(ctx, "k", noFetch(t)); err != nil || tok.Value.Reveal() != "tok-1" {
		t.Errorf("after invalidating another value: %q, %v", tok.Value.Reveal(), err)
	}
	b.Invalidate(ctx, "k", "tok-1")
	if tok, err := a.Get(ctx, "k", f.Fetch); err != nil || tok.Value.Reveal() != "tok-2" {
		t.Errorf("after invalidating the cached value on the other handle: %q, %v; want tok-2", tok.Value.Reveal(), err)
	}
	a.Invalidate(ctx, "other", "tok-2")
	if tok, err := b.Get(ctx, "k", noFetch(t)); err != nil || tok.Value.Reveal() != "tok-2" {
		t.Errorf("after invalidating another key: %q, %v", tok.Value.Reveal(), err)
	}
}

var errLWA = errors.New("LWA is down")

func failure(t *testing.T, open Open) {
	clk := clock.NewFake(T0)
	a, b := open(t, clk)
	ctx := ctxFor(t)
	f := &Fetcher{Err: errLWA}
	if _, err := a.Get(ctx, "k", f.Fetch); !errors.Is(err, errLWA) {
		t.Fatalf("Get with a failing fetch: %v, want its error", err)
	}
	f.Err = nil
	if tok, err := b.Get(ctx, "k", f.Fetch); err != nil || tok.Value.Reveal() != "tok-2" {
		t.Errorf("after a failed fetch: %q, %v; want a new fetch", tok.Value.Reveal(), err)
	}
	empty := func(context.Context) (tokencache.Token, error) { return tokencache.Token{}, nil }
	if _, err := a.Get(ctx, "empty", empty); !errors.Is(err, tokencache.ErrNoToken) {
		t.Errorf("a fetch without a token: %v, want ErrNoToken", err)
	}
}

func takeover(t *testing.T, open Open) {
	clk := clock.NewFake(T0)
	a, b := open(t, clk)
	ctx := ctxFor(t)
	first := &Fetcher{Gate: make(chan struct{}), Started: make(chan struct{}, 1), Err: errLWA}
	firstDone := make(chan error, 1)
	go func() {
		_, err := a.Get(ctx, "k", first.Fetch)
		firstDone <- err
	}()
	select {
	case <-first.Started:
	case <-ctx.Done():
		t.Fatal("the first fetch never started")
	}
	second := &Fetcher{}
	secondDone := make(chan tokencache.Token, 1)
	go func() {
		tok, err := b.Get(ctx, "k", second.Fetch)
		if err != nil {
			t.Errorf("the waiter: %v", err)
		}
		secondDone <- tok
	}()
	close(first.Gate) // the first fetch fails
	if err := <-firstDone; !errors.Is(err, errLWA) {
		t.Errorf("the first getter: %v, want its fetch's error", err)
	}
	if tok := <-secondDone; tok.Value.Reveal() != "tok-1" || second.Calls.Load() != 1 {
		t.Errorf("the waiter got %q after %d fetches of its own; want its own tok-1", tok.Value.Reveal(), second.Calls.Load())
	}
}

func cancelled(t *testing.T, open Open) {
	clk := clock.NewFake(T0)
	a, b := open(t, clk)
	ctx := ctxFor(t)
	f := &Fetcher{Gate: make(chan struct{}), Started: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if tok, err := a.Get(ctx, "k", f.Fetch); err != nil || tok.Value.Reveal() != "tok-1" {
			t.Errorf("the fetching getter: %q, %v", tok.Value.Reveal(), err)
		}
	}()
	select {
	case <-f.Started:
	case <-ctx.Done():
		t.Fatal("the fetch never started")
	}
	wctx, cancel := context.WithCancel(ctx)
	waited := make(chan error, 1)
	go func() {
		_, err := b.Get(wctx, "k", noFetch(t))
		waited <- err
	}()
	cancel()
	select {
	case err := <-waited:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("a waiter whose context ended: %v, want context.Canceled", err)
		}
	case <-ctx.Done():
		t.Error("a waiter whose context ended still waits")
	}
	close(f.Gate)
	<-done
}

func keysApart(t *testing.T, open Open) {
	clk := clock.NewFake(T0)
	a, b := open(t, clk)
	ctx := ctxFor(t)
	f := &Fetcher{}
	t1, err1 := a.Get(ctx, "rdt|A1|app||GET /orders/v0/orders/{orderId}/address ", f.Fetch)
	t2, err2 := b.Get(ctx, "rdt|A1|app||GET /orders/v0/orders/{orderId}/buyerInfo ", f.Fetch)
	if err1 != nil || err2 != nil || t1.Value.Reveal() == t2.Value.Reveal() || f.Calls.Load() != 2 {
		t.Errorf("two keys: %q %v, %q %v after %d fetches; want two tokens", t1.Value.Reveal(), err1, t2.Value.Reveal(), err2, f.Calls.Load())
	}
}
