package credstate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/credstate"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
)

// tokens is a vault stand-in: the refresh token each seller has now.
type tokens struct {
	mu sync.Mutex
	m  map[string]string
}

func (t *tokens) get(_ context.Context, seller string) (secret.String, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[seller]
	if !ok {
		return secret.String{}, fmt.Errorf("seller %s: %w", seller, credstate.ErrNoSeller)
	}
	return secret.New(v), nil
}

func (t *tokens) set(seller, tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tok == "" {
		delete(t.m, seller)
		return
	}
	t.m[seller] = tok
}

type fixture struct {
	srv   *amazontest.Server
	demo  amazontest.Demo
	clk   *clock.Fake
	lwa   *lwa.Client
	toks  *tokens
	creds *mutableCreds
	store *credstate.Store
}

type mutableCreds struct {
	mu sync.Mutex
	c  lwa.Credentials
}

func (m *mutableCreds) Credentials(context.Context) (lwa.Credentials, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c, nil
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clock.NewFake(time.Now())
	srv := amazontest.NewServer(amazontest.WithoutRateLimits(), amazontest.WithClock(clk))
	t.Cleanup(srv.Close)
	d := srv.Demo()
	f := &fixture{srv: srv, demo: d, clk: clk, toks: &tokens{m: map[string]string{}},
		creds: &mutableCreds{c: lwa.Credentials{ClientID: d.ClientID, ClientSecret: secret.New(d.ClientSecret)}}}
	for _, s := range d.Sellers {
		f.toks.set(s.ID, s.RefreshToken)
	}
	f.lwa = &lwa.Client{TokenURL: srv.TokenURL(), Clock: clk}
	f.store = credstate.New(credstate.Options{LWA: f.lwa, Credentials: f.creds, RefreshToken: f.toks.get, Clock: clk,
		MinBackoff: time.Minute, MaxBackoff: 8 * time.Minute})
	return f
}

func (f *fixture) lwaRequests() int64 { return f.lwa.Counters().RefreshToken.Requests.Load() }

func TestLiveSellerOneRefreshManyCallers(t *testing.T) {
	f := newFixture(t)
	s := f.demo.Sellers[0].ID
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := f.store.Token(context.Background(), s); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.lwaRequests(); n != 1 {
		t.Errorf("%d LWA requests for 50 concurrent callers, want 1", n)
	}
	if st := f.store.Seller(s); st.Status != credstate.Live {
		t.Errorf("state %+v, want live", st)
	}
}

// TestRevokedSellerIsRememberedAndRetriedWithBackoff: after invalid_grant
// the seller is dead; calls fail at once without LWA; one probe per
// backoff window, the window doubling up to MaxBackoff.
func TestRevokedSellerIsRememberedAndRetriedWithBackoff(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.demo.Sellers[0]
	if !f.srv.Revoke(s.ID, f.demo.AppID) {
		t.Fatal("revoke failed")
	}
	_, err := f.store.Token(ctx, s.ID)
	var de *credstate.DeadError
	if !errors.Is(err, credstate.ErrAuthorizationRevoked) || !errors.As(err, &de) || !errors.Is(err, lwa.ErrGrantRejected) {
		t.Fatalf("first call: %v", err)
	}
	if de.RetryAt != f.clk.Now().Add(time.Minute) {
		t.Errorf("next check at %v, want in 1 min", de.RetryAt.Sub(f.clk.Now()))
	}
	for _, window := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 8 * time.Minute} {
		before := f.lwaRequests()
		for range 100 {
			if _, err := f.store.Token(ctx, s.ID); !errors.Is(err, credstate.ErrAuthorizationRevoked) {
				t.Fatalf("call while revoked: %v", err)
			}
		}
		if n := f.lwaRequests() - before; n != 0 {
			t.Fatalf("%d LWA requests inside a backoff window", n)
		}
		f.clk.Advance(window)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() { _, _ = f.store.Token(ctx, s.ID) })
		}
		wg.Wait()
		if n := f.lwaRequests() - before; n != 1 {
			t.Fatalf("window %v: %d LWA requests when the check was due, want 1", window, n)
		}
	}
	if st := f.store.Seller(s.ID); st.Status != credstate.Revoked || st.RetryAt.IsZero() {
		t.Errorf("state %+v", st)
	}
	// Other sellers are unaffected.
	if _, err := f.store.Token(ctx, f.demo.Sellers[1].ID); err != nil {
		t.Errorf("another seller: %v", err)
	}
}

// TestReloadFollowsTheVault: a new refresh token in the vault is used at
// once, and the revoked state belongs to the old token only.
func TestReloadFollowsTheVault(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.demo.Sellers[0]
	if _, err := f.store.Token(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	f.srv.Revoke(s.ID, f.demo.AppID)
	fresh, err := f.srv.Authorize(s.ID, f.demo.AppID)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(2 * time.Hour) // the cached access token expired
	if _, err := f.store.Token(ctx, s.ID); !errors.Is(err, credstate.ErrAuthorizationRevoked) {
		t.Fatalf("old refresh token: %v", err)
	}
	f.toks.set(s.ID, fresh)
	f.store.Reload(ctx)
	tok, err := f.store.Token(ctx, s.ID)
	if err != nil || tok.AccessToken.IsZero() {
		t.Fatalf("after the vault got a new refresh token: %v", err)
	}
	if st := f.store.Seller(s.ID); st.Status != credstate.Live {
		t.Errorf("state %+v, want live", st)
	}
	// A seller removed from the vault is dropped.
	f.toks.set(s.ID, "")
	f.store.Reload(ctx)
	if _, err := f.store.Token(ctx, s.ID); !errors.Is(err, credstate.ErrNoSeller) {
		t.Errorf("removed seller: %v", err)
	}
}

// TestRefusedSecretPausesEverySeller: invalid_client (previous secret
// tried too) marks the app's secret; a new secret in the vault lifts it.
func TestRefusedSecretPausesEverySeller(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	good := f.creds.c
	f.creds.c.ClientSecret = secret.New("amzn1.oa2-cs.v1." + fmt.Sprintf("%064x", 7))
	if _, err := f.store.Token(ctx, f.demo.Sellers[0].ID); !errors.Is(err, credstate.ErrAppSecretInvalid) {
		t.Fatalf("wrong secret: %v", err)
	}
	before := f.lwaRequests()
	for _, s := range f.demo.Sellers {
		if _, err := f.store.Token(ctx, s.ID); !errors.Is(err, credstate.ErrAppSecretInvalid) {
			t.Errorf("seller %s: %v", s.ID, err)
		}
	}
	if n := f.lwaRequests() - before; n != 0 {
		t.Errorf("%d LWA requests while the secret is known bad", n)
	}
	if !f.store.AppSecretRefused() {
		t.Error("AppSecretRefused = false")
	}
	f.creds.mu.Lock()
	f.creds.c = good
	f.creds.mu.Unlock()
	f.store.Reload(ctx)
	if _, err := f.store.Token(ctx, f.demo.Sellers[0].ID); err != nil {
		t.Errorf("after the secret was replaced: %v", err)
	}
}

func TestInvalidateFetchesAFreshToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.demo.Sellers[0].ID
	t1, err := f.store.Token(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	f.store.Invalidate(s, "not-the-cached-token")
	if t2, _ := f.store.Token(ctx, s); !t2.AccessToken.Equal(t1.AccessToken) {
		t.Error("invalidating another token dropped the cached one")
	}
	f.store.Invalidate(s, t1.AccessToken.Reveal())
	t3, err := f.store.Token(ctx, s)
	if err != nil || t3.AccessToken.Equal(t1.AccessToken) {
		t.Errorf("after Invalidate: same token or %v", err)
	}
}

func TestErrReportsDeadWithoutAskingLWA(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.demo.Sellers[0].ID
	if err := f.store.Err(s); err != nil {
		t.Fatalf("unknown seller: %v", err)
	}
	f.srv.Revoke(s, f.demo.AppID)
	_, _ = f.store.Token(ctx, s)
	before := f.lwaRequests()
	if err := f.store.Err(s); !errors.Is(err, credstate.ErrAuthorizationRevoked) {
		t.Errorf("revoked seller: %v", err)
	}
	f.clk.Advance(time.Minute)
	if err := f.store.Err(s); err != nil {
		t.Errorf("check due: Err = %v, want nil so that one call probes", err)
	}
	if f.lwaRequests() != before {
		t.Error("Err asked LWA")
	}
}
