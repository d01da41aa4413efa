package spapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/secret"
)

// emuFront serves the emulator through a hook that may answer an SP-API
// request itself (n counts SP-API requests from 1).
type emuFront struct {
	emu  *amazontest.Server
	demo amazontest.Demo
	url  string
	n    atomic.Int64
	seen chan int64 // each SP-API request's number, as it arrives
	hook func(n int64, w http.ResponseWriter, r *http.Request) bool
}

func newEmuFront(t *testing.T, clk clock.Clock, hook func(n int64, w http.ResponseWriter, r *http.Request) bool) *emuFront {
	t.Helper()
	emu, err := amazontest.New(amazontest.Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	f := &emuFront{emu: emu, demo: emu.Demo(), seen: make(chan int64, 64), hook: hook}
	h := emu.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth/o2/token" {
			h.ServeHTTP(w, r)
			return
		}
		n := f.n.Add(1)
		f.seen <- n
		if f.hook != nil && f.hook(n, w, r) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// client returns a Client for the emulator's first (NA) demo seller.
func (f *emuFront) client(t *testing.T, clk clock.Clock, mod func(*Config)) *Client {
	t.Helper()
	ep, err := Custom(f.url, nil, f.url+"/auth/o2/token")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		AppID:       f.demo.AppID,
		Credentials: lwa.StaticCredentials{ClientID: f.demo.ClientID, ClientSecret: secret.New(f.demo.ClientSecret)},
		Sellers:     StaticSellers{{ID: f.demo.SellerID, Region: NA, RefreshToken: secret.New(f.demo.RefreshToken)}},
		Endpoints:   ep,
		Clock:       clk,
		// Only Amazon's answers pace these calls.
		Limiter:     ratelimit.New(ratelimit.Options{Store: ratelimit.Unlimited{}, Clock: clk}),
		BackoffBase: time.Second,
		BackoffMax:  time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *emuFront) call(c *Client) <-chan error {
	return f.callCtx(context.Background(), c)
}

func (f *emuFront) callCtx(ctx context.Context, c *Client) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, Call{Operation: participationsOp, Seller: f.demo.SellerID})
		done <- err
	}()
	return done
}

func (f *emuFront) next(t *testing.T) int64 {
	t.Helper()
	select {
	case n := <-f.seen:
		return n
	case <-time.After(testenv.Patience):
		t.Fatal("no request reached Amazon")
		return 0
	}
}

func (f *emuFront) noRequest(t *testing.T) {
	t.Helper()
	select {
	case n := <-f.seen:
		t.Fatalf("request %d reached Amazon too early", n)
	default:
	}
}

func answer(w http.ResponseWriter, status int, retryAfter, code, msg string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

func TestRetryAfterHonouredOn429(t *testing.T) {
	clk := clock.NewFake(stallT0)
	f := newEmuFront(t, clk, func(n int64, w http.ResponseWriter, _ *http.Request) bool {
		if n == 1 {
			answer(w, http.StatusTooManyRequests, "7", "QuotaExceeded", "You exceeded your quota for the requested resource.")
			return true
		}
		return false
	})
	c := f.client(t, clk, nil)
	done := f.call(c)
	f.next(t)
	blockUntil(t, clk, 1) // waiting out Retry-After
	clk.Advance(7*time.Second - time.Nanosecond)
	f.noRequest(t)
	clk.Advance(time.Nanosecond)
	f.next(t)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Throttled != 1 || st.BackoffWait != 7*time.Second {
		t.Fatalf("stats %+v, want one 429 and 7 s waited", st)
	}
}

func TestRetryAfterHonouredOn503(t *testing.T) {
	clk := clock.NewFake(stallT0)
	f := newEmuFront(t, clk, func(n int64, w http.ResponseWriter, _ *http.Request) bool {
		if n == 1 {
			answer(w, http.StatusServiceUnavailable, "4", "ServiceUnavailable", "Service temporarily unavailable. Please try again.")
			return true
		}
		return false
	})
	c := f.client(t, clk, nil) // backoff alone would wait at most 1 s
	done := f.call(c)
	f.next(t)
	blockUntil(t, clk, 1)
	clk.Advance(4*time.Second - time.Nanosecond)
	f.noRequest(t)
	clk.Advance(time.Nanosecond)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.ServerErrors != 1 || st.BackoffWait != 4*time.Second {
		t.Fatalf("stats %+v, want one 503 and Amazon's 4 s waited", st)
	}
}

// A Retry-After of an hour waits MaxRetryAfter; one beyond the caller's
// deadline ends the call at once with Amazon's answer.
func TestRetryAfterCappedAndBoundedByDeadline(t *testing.T) {
	clk := clock.NewFake(stallT0)
	f := newEmuFront(t, clk, func(n int64, w http.ResponseWriter, _ *http.Request) bool {
		if n == 1 || n == 3 {
			answer(w, http.StatusTooManyRequests, "3600", "QuotaExceeded", "You exceeded your quota for the requested resource.")
			return true
		}
		return false
	})
	c := f.client(t, clk, nil)
	done := f.call(c)
	f.next(t)
	blockUntil(t, clk, 1)
	clk.Advance(MaxRetryAfter)
	f.next(t)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.BackoffWait != MaxRetryAfter {
		t.Fatalf("waited %v, want the cap %v", st.BackoffWait, MaxRetryAfter)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute-time.Second)
	defer cancel()
	err := result(t, f.callCtx(ctx, c))
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests {
		t.Fatalf("err = %v, want Amazon's 429 at once", err)
	}
	if n := f.next(t); n != 3 {
		t.Fatalf("request %d, want 3", n)
	}
	f.noRequest(t)
}

// The emulator runs on its own clock: moving it makes tokens the client
// still trusts expire at Amazon.
func TestExpiredTokenRetryCountsTowardMaxAttempts(t *testing.T) {
	emuClk, clk := clock.NewFake(stallT0), clock.NewFake(stallT0)
	f := newEmuFront(t, emuClk, nil)
	for _, tt := range []struct {
		maxAttempts int
		ok          bool
	}{{1, false}, {2, true}} {
		c := f.client(t, clk, func(cfg *Config) { cfg.MaxAttempts = tt.maxAttempts })
		if err := result(t, f.call(c)); err != nil {
			t.Fatal(err)
		}
		emuClk.Advance(2 * time.Hour)
		err := result(t, f.call(c))
		st := c.Stats()
		if tt.ok {
			if err != nil || st.Attempts != 3 || st.TokenRetries != 1 {
				t.Fatalf("MaxAttempts %d: err %v, stats %+v; want the expired token replaced once", tt.maxAttempts, err, st)
			}
			continue
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || st.Attempts != 2 {
			t.Fatalf("MaxAttempts %d: err %v after %d attempts; want Amazon's 403 after one attempt per call", tt.maxAttempts, err, st.Attempts)
		}
	}
}

// A token Amazon calls revoked, malformed or invalid is dropped and the
// call tried once more with a fresh one.
func TestRefusedTokenReplacedOnce(t *testing.T) {
	clk := clock.NewFake(stallT0)
	f := newEmuFront(t, clk, nil)
	c := f.client(t, clk, nil)
	if err := result(t, f.call(c)); err != nil {
		t.Fatal(err)
	}
	if n := f.emu.ForgetAccessTokens(); n == 0 {
		t.Fatal("no token to forget")
	}
	if err := result(t, f.call(c)); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.TokenRetries != 1 || c.LWA().Counters().RefreshToken.Requests.Load() != 2 {
		t.Fatalf("stats %+v, LWA requests %d; want one retry with a second token", st, c.LWA().Counters().RefreshToken.Requests.Load())
	}
	// Refused again after the retry: Amazon's answer, no loop.
	f.hook = func(_ int64, w http.ResponseWriter, r *http.Request) bool {
		f.emu.ForgetAccessTokens()
		return false
	}
	err := result(t, f.call(c))
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || c.Stats().TokenRetries != 2 {
		t.Fatalf("err = %v, stats %+v; want the 403 after one retry", err, c.Stats())
	}
}

// A grant revoked at Amazon surfaces as LWA's invalid_grant, which names
// the fix, rather than a bare 403.
func TestRevokedGrantSaysReauthorize(t *testing.T) {
	clk := clock.NewFake(stallT0)
	f := newEmuFront(t, clk, nil)
	c := f.client(t, clk, nil)
	if err := result(t, f.call(c)); err != nil {
		t.Fatal(err)
	}
	f.emu.Revoke(f.demo.SellerID, f.demo.AppID)
	err := result(t, f.call(c))
	if !errors.Is(err, lwa.ErrGrantRejected) {
		t.Fatalf("err = %v, want LWA's invalid_grant", err)
	}
	if st := c.Stats(); st.Attempts != 2 || st.LWARetries != 0 {
		t.Fatalf("stats %+v: invalid_grant was retried", st)
	}
}

// The RDT of a restricted call and the LWA token of the RDT request are
// both replaced when Amazon forgets them.
func TestRefusedRDTReplaced(t *testing.T) {
	clk := clock.NewFake(stallT0)
	f := newEmuFront(t, clk, nil)
	c := f.client(t, clk, nil)
	getOrders, _ := operations.ByID("orders", "v0", "getOrders")
	getAddress, _ := operations.ByID("orders", "v0", "getOrderAddress")
	q := url.Values{"MarketplaceIds": {f.demo.Marketplaces[0]}, "CreatedAfter": {f.emu.Now().AddDate(-2, 0, 0).UTC().Format(time.RFC3339)}}
	var list struct {
		Payload struct {
			Orders []struct{ AmazonOrderId string }
		}
	}
	if err := c.DoJSON(context.Background(), Call{Operation: getOrders, Seller: f.demo.SellerID, Query: q}, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Payload.Orders) == 0 {
		t.Fatal("no orders")
	}
	call := Call{Operation: getAddress, Seller: f.demo.SellerID, PathParams: map[string]string{"orderId": list.Payload.Orders[0].AmazonOrderId}}
	if _, err := c.Do(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	f.emu.ForgetAccessTokens()
	if _, err := c.Do(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.TokenRetries != 2 || c.RDTs().Requests() != 2 {
		t.Fatalf("stats %+v, %d RDT requests; want the RDT and the LWA token each replaced once", st, c.RDTs().Requests())
	}
}

// lwaEvents is an LWA client for the emulator that reports each token
// request's error (nil on success).
func lwaEvents(f *emuFront, clk clock.Clock) (*lwa.Client, <-chan error) {
	events := make(chan error, 64)
	return &lwa.Client{TokenURL: f.url + "/auth/o2/token", Clock: clk, OnRequest: func(e lwa.RequestEvent) { events <- e.Err }}, events
}

// An LWA outage is retried with backoff; a refusal is not.
func TestLWAOutageRetriedButNotRefusals(t *testing.T) {
	clk := clock.NewFake(stallT0)
	f := newEmuFront(t, clk, nil)
	lc, events := lwaEvents(f, clk)
	c := f.client(t, clk, func(cfg *Config) { cfg.lwa = lc })
	f.emu.SetFaults(amazontest.Faults{LWAOutage: true})
	done := f.call(c)
	if err := <-events; !errors.Is(err, lwa.ErrUnavailable) {
		t.Fatalf("first token request: %v, want LWA unavailable", err)
	}
	f.emu.SetFaults(amazontest.Faults{})
	blockUntil(t, clk, 1) // the backoff
	clk.Advance(time.Second)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.LWARetries != 1 || st.Attempts != 1 {
		t.Fatalf("stats %+v, want one LWA retry and one request to Amazon", st)
	}

	// A refusal from LWA needs a fix: it is not retried.
	lc, _ = lwaEvents(f, clk)
	c = f.client(t, clk, func(cfg *Config) { cfg.lwa = lc })
	if err := f.emu.ExpireClientSecret(f.demo.AppID); err != nil {
		t.Fatal(err)
	}
	err := result(t, f.call(c))
	if !errors.Is(err, lwa.ErrClientRejected) {
		t.Fatalf("err = %v, want invalid_client", err)
	}
	if n := lc.Counters().RefreshToken.Requests.Load(); n != 1 || clk.Waiters() != 0 || c.Stats().LWARetries != 0 {
		t.Fatalf("%d token requests, %d timers; want one request and no backoff", n, clk.Waiters())
	}
}

func TestLWAOutageBoundedByMaxAttempts(t *testing.T) {
	clk := clock.NewFake(stallT0)
	f := newEmuFront(t, clk, nil)
	lc, _ := lwaEvents(f, clk)
	c := f.client(t, clk, func(cfg *Config) { cfg.lwa = lc; cfg.MaxAttempts = 3 })
	f.emu.SetFaults(amazontest.Faults{LWAOutage: true})
	err := advanceUntilDone(t, clk, time.Second, f.call(c))
	if !errors.Is(err, lwa.ErrUnavailable) {
		t.Fatalf("err = %v, want LWA unavailable", err)
	}
	if n := lc.Counters().RefreshToken.Requests.Load(); n != 3 {
		t.Fatalf("%d token requests, want 3 (MaxAttempts)", n)
	}
	if st := c.Stats(); st.Attempts != 0 {
		t.Fatalf("stats %+v: called Amazon without a token", st)
	}
}
