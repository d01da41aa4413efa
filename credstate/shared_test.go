package credstate_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/spgate/spgate/credstate"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/tokencache"
)

// processes returns n stores over one shared token cache, as n processes
// on one vault have: each its own LWA client and state, one cache.
func (f *fixture) processes(n int, shared tokencache.Shared, app string) []*credstate.Store {
	out := make([]*credstate.Store, n)
	for i := range out {
		out[i] = credstate.New(credstate.Options{LWA: &lwa.Client{TokenURL: f.srv.TokenURL(), Clock: f.clk}, Credentials: f.creds,
			RefreshToken: f.toks.get, Clock: f.clk, Shared: shared, App: app})
	}
	return out
}

// refreshes counts the refresh grants Amazon answered, whichever process
// asked.
func (f *fixture) refreshes() int64 { return f.srv.Counters().TokensIssued["refresh_token"] }

func TestSharedCacheOneRefreshPerSellerAcrossProcesses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	shared := tokencache.NewMemory(f.clk)
	stores := f.processes(3, shared, f.demo.AppID)
	var wg sync.WaitGroup
	for _, st := range stores {
		for _, s := range f.demo.Sellers {
			for range 10 {
				wg.Go(func() {
					if _, err := st.Token(ctx, s.ID); err != nil {
						t.Error(err)
					}
				})
			}
		}
	}
	wg.Wait()
	if n, want := f.refreshes(), int64(len(f.demo.Sellers)); n != want {
		t.Errorf("%d LWA refreshes for %d sellers on 3 processes, want %d", n, len(f.demo.Sellers), want)
	}
	for _, st := range stores {
		if got := st.Seller(f.demo.Sellers[0].ID); got.Status != credstate.Live {
			t.Errorf("a process that took the shared token: %+v, want live", got)
		}
	}

	// Amazon refuses the token at one process: a process that misses in
	// memory next does not get it back from the shared cache.
	s := f.demo.Sellers[0].ID
	old, _ := stores[0].Token(ctx, s)
	stores[0].Invalidate(s, old.AccessToken.Reveal())
	newcomer := f.processes(1, shared, f.demo.AppID)[0]
	fresh, err := newcomer.Token(ctx, s)
	if err != nil || fresh.AccessToken.Equal(old.AccessToken) {
		t.Fatalf("after the refusal: the same token, or %v", err)
	}
	if again, _ := stores[0].Token(ctx, s); !again.AccessToken.Equal(fresh.AccessToken) {
		t.Error("the process that saw the refusal did not take the new shared token")
	}
	if n, want := f.refreshes(), int64(len(f.demo.Sellers))+1; n != want {
		t.Errorf("%d LWA refreshes after one refusal, want %d", n, want)
	}
}

// A refresh token replaced in the vault never gets the access token the
// old one yielded, although it is still in the shared cache.
func TestSharedCacheKeysByRefreshToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	shared := tokencache.NewMemory(f.clk)
	stores := f.processes(2, shared, f.demo.AppID)
	s := f.demo.Sellers[0]
	first, err := stores[0].Token(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := f.srv.Authorize(s.ID, f.demo.AppID)
	if err != nil {
		t.Fatal(err)
	}
	f.toks.set(s.ID, fresh)
	got, err := stores[1].Token(ctx, s.ID)
	if err != nil || got.AccessToken.Equal(first.AccessToken) {
		t.Fatalf("a process reading the new refresh token got the old one's access token (%v)", err)
	}
	if n := f.refreshes(); n != 2 {
		t.Errorf("%d LWA refreshes, want 2 (one per refresh token)", n)
	}
	for _, tc := range []struct{ app, seller, rt string }{
		{f.demo.AppID, s.ID, s.RefreshToken}, {"amzn1.sp.solution.other", s.ID, s.RefreshToken}, {f.demo.AppID, "A3OTHER", s.RefreshToken},
	} {
		k := credstate.SharedKey(tc.app, tc.seller, secret.New(tc.rt))
		if strings.Contains(k, tc.rt) || strings.Contains(k, tc.rt[len(tc.rt)-16:]) || !strings.Contains(k, tc.seller) || !strings.Contains(k, tc.app) {
			t.Errorf("key %q: want the app and the seller, not the refresh token", k)
		}
	}
	if credstate.SharedKey("a", "s", secret.New("r1")) == credstate.SharedKey("a", "s", secret.New("r2")) {
		t.Error("two refresh tokens share a key")
	}
}

// Without the app id the shared cache is not used: its keys would mix
// apps' tokens.
func TestSharedCacheNeedsTheApp(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stores := f.processes(2, tokencache.NewMemory(f.clk), "")
	for _, st := range stores {
		if _, err := st.Token(ctx, f.demo.Sellers[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.refreshes(); n != 2 {
		t.Errorf("%d LWA refreshes, want one per process", n)
	}
}
