package lwa

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/tokencache"
)

// countingShared counts what reaches the shared cache.
type countingShared struct {
	tokencache.Shared
	gets, invalidates atomic.Int64
}

func (c *countingShared) Get(ctx context.Context, key string, fetch tokencache.FetchFunc) (tokencache.Token, error) {
	c.gets.Add(1)
	return c.Shared.Get(ctx, key, fetch)
}

func (c *countingShared) Invalidate(ctx context.Context, key, value string) {
	c.invalidates.Add(1)
	c.Shared.Invalidate(ctx, key, value)
}

// Two processes' sources of one seller's token, sharing a cache: one
// refresh per token lifetime between them, and a hit in memory never asks
// the shared cache.
func TestSharedSourcesRefreshOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	shared := &countingShared{Shared: tokencache.NewMemory(e.clk)}
	const key = "lwa|app|A1SELLER|digest"
	newProcess := func() *CachedSource {
		// Each process has its own LWA client; only the cache is shared.
		c := &Client{TokenURL: e.f.url(), Clock: e.clk, Logger: e.c.Logger}
		return NewRefreshTokenSource(c, e.creds, secret.New(testRefresh), WithShared(shared, key))
	}
	a, b := newProcess(), newProcess()

	ta, err := a.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Token(ctx)
	if err != nil || !tb.AccessToken.Equal(ta.AccessToken) || !tb.Expiry.Equal(ta.Expiry) {
		t.Fatalf("the second process got %v (%v), not the first one's token", tb.Expiry, err)
	}
	if n := e.f.count("refresh_token"); n != 1 {
		t.Fatalf("%d refresh requests for two processes, want 1", n)
	}
	for range 100 {
		if _, err := a.Token(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := shared.gets.Load(); n != 2 {
		t.Errorf("the shared cache was asked %d times for 2 misses and 100 hits in memory", n)
	}

	// Inside the refresh margin the first to ask refreshes; the other
	// takes its token.
	e.clk.Advance(55*time.Minute + time.Second)
	ra, err := a.Token(ctx)
	if err != nil || ra.AccessToken.Equal(ta.AccessToken) {
		t.Fatalf("no refresh inside the margin: %v", err)
	}
	if rb, err := b.Token(ctx); err != nil || !rb.AccessToken.Equal(ra.AccessToken) {
		t.Errorf("the other process did not take the refreshed token: %v", err)
	}
	if n := e.f.count("refresh_token"); n != 2 {
		t.Errorf("%d refresh requests after one lifetime, want 2", n)
	}

	// Amazon refuses the token at a: it goes from the shared cache too,
	// so a third process does not pick it up; a late report about it
	// from b reaches the shared cache no more once b dropped it.
	a.Invalidate(ra.AccessToken.Reveal())
	c := newProcess()
	tc, err := c.Token(ctx)
	if err != nil || tc.AccessToken.Equal(ra.AccessToken) {
		t.Fatalf("a new process got the refused token (%v)", err)
	}
	if ta2, _ := a.Token(ctx); !ta2.AccessToken.Equal(tc.AccessToken) {
		t.Error("the process that reported the refusal did not take the new shared token")
	}
	if n := e.f.count("refresh_token"); n != 3 {
		t.Errorf("%d refresh requests, want 3", n)
	}
	b.Invalidate(ra.AccessToken.Reveal())
	b.Invalidate(ra.AccessToken.Reveal())
	if n := shared.invalidates.Load(); n != 2 {
		t.Errorf("%d invalidations reached the shared cache, want 2 (one per process that held the token)", n)
	}
	if tb2, _ := b.Token(ctx); !tb2.AccessToken.Equal(tc.AccessToken) {
		t.Error("b did not take the shared token after dropping the refused one")
	}
}

// Without a shared cache (nil), a source works on its own as before.
func TestWithSharedNil(t *testing.T) {
	e := newEnv(t)
	src := NewRefreshTokenSource(e.c, e.creds, secret.New(testRefresh), WithShared(nil, "k"))
	if _, err := src.Token(context.Background()); err != nil || src.shared != nil {
		t.Fatalf("Token: %v (shared %v)", err, src.shared)
	}
}
