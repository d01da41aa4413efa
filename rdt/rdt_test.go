package rdt_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/rdt"
	"github.com/spgate/spgate/secret"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func mustOp(t *testing.T, api, version, id string) *operations.Operation {
	t.Helper()
	op, ok := operations.ByID(api, version, id)
	if !ok {
		t.Fatalf("operation table lacks %s/%s/%s", api, version, id)
	}
	return op
}

func TestPlan(t *testing.T) {
	tests := []struct {
		api, version, id string
		want             []string
		needed           bool
		path             string
		elements         []string
		err              string
	}{
		{"orders", "v0", "getOrders", nil, false, "", nil, ""},
		{"orders", "v0", "getOrders", []string{"shippingAddress", "buyerInfo", "buyerInfo"}, true, "/orders/v0/orders", []string{"buyerInfo", "shippingAddress"}, ""},
		{"orders", "v0", "getOrder", []string{"buyerTaxInformation"}, true, "/orders/v0/orders/{orderId}", []string{"buyerTaxInformation"}, ""},
		{"orders", "v0", "getOrderItems", []string{"shippingAddress"}, false, "", nil, `does not take data element "shippingAddress"`},
		{"orders", "v0", "getOrderAddress", nil, true, "/orders/v0/orders/{orderId}/address", nil, ""},
		// getOrderAddress returns its PII without naming elements; asking is harmless.
		{"orders", "v0", "getOrderAddress", []string{"shippingAddress"}, true, "/orders/v0/orders/{orderId}/address", nil, ""},
		{"sellers", "v1", "getMarketplaceParticipations", nil, false, "", nil, ""},
		{"sellers", "v1", "getMarketplaceParticipations", []string{"buyerInfo"}, false, "", nil, "not a restricted operation"},
	}
	for _, tt := range tests {
		t.Run(tt.id+"/"+strings.Join(tt.want, ","), func(t *testing.T) {
			op := mustOp(t, tt.api, tt.version, tt.id)
			res, needed, err := rdt.Plan(op, tt.want)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || needed != tt.needed {
				t.Fatalf("needed %v err %v, want %v", needed, err, tt.needed)
			}
			if !needed {
				return
			}
			if res.Method != op.Method || res.Path != tt.path || !slices.Equal(res.DataElements, tt.elements) {
				t.Fatalf("resource %+v, want %s %s %v", res, op.Method, tt.path, tt.elements)
			}
		})
	}
}

// fetcher is a fake createRestrictedDataToken.
type fetcher struct {
	clk  *clock.Fake
	life time.Duration

	mu      sync.Mutex
	reqs    []rdt.Request
	n       int
	err     error
	release chan struct{} // when set, each fetch waits for it
	started chan struct{} // when set, each fetch signals it started
	advance time.Duration // clock advance during each fetch (slow network)
	empty   bool
}

func (f *fetcher) fetch(ctx context.Context, r rdt.Request) (secret.String, time.Duration, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.reqs = append(f.reqs, r)
	err, rel, st, adv, empty := f.err, f.release, f.started, f.advance, f.empty
	f.mu.Unlock()
	if st != nil {
		st <- struct{}{}
	}
	if rel != nil {
		select {
		case <-rel:
		case <-ctx.Done():
			return secret.String{}, 0, ctx.Err()
		}
	}
	if adv > 0 {
		f.clk.Advance(adv)
	}
	if err != nil {
		return secret.String{}, 0, err
	}
	if empty {
		return secret.String{}, f.life, nil
	}
	return secret.New(fmt.Sprintf("Atz.sprdt|%d", n)), f.life, nil
}

func (f *fetcher) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func newCache(life time.Duration) (*rdt.Cache, *fetcher) {
	f := &fetcher{clk: clock.NewFake(t0), life: life}
	return rdt.NewCache(f.fetch, f.clk, 0, nil), f
}

var (
	address = rdt.Resource{Method: "GET", Path: "/orders/v0/orders/{orderId}/address"}
	buyer   = rdt.Resource{Method: "GET", Path: "/orders/v0/orders", DataElements: []string{"buyerInfo"}}
)

func token(t *testing.T, c *rdt.Cache, res rdt.Resource) string {
	t.Helper()
	v, err := c.Token(context.Background(), "A1SELLER", "app", "", res)
	if err != nil {
		t.Fatal(err)
	}
	if v.IsZero() {
		t.Fatal("an empty token without an error")
	}
	return v.Reveal()
}

// Amazon's one-hour RDT is used until 5 minutes before it expires.
func TestHourTokenRefreshedFiveMinutesEarly(t *testing.T) {
	c, f := newCache(time.Hour)
	first := token(t, c, address)
	f.clk.Advance(55*time.Minute - time.Nanosecond)
	if got := token(t, c, address); got != first || f.count() != 1 {
		t.Fatalf("token %q after %d fetches, want the cached %q", got, f.count(), first)
	}
	f.clk.Advance(time.Nanosecond)
	if got := token(t, c, address); got == first || f.count() != 2 {
		t.Fatalf("token %q after %d fetches: not replaced 5 minutes before expiry", got, f.count())
	}
}

// Tokens living 5 minutes or less are usable: the margin is a tenth of
// their lifetime, not a fixed 5 minutes that would leave nothing.
func TestShortLivedTokensWork(t *testing.T) {
	for _, life := range []time.Duration{time.Second, 10 * time.Second, time.Minute, 4 * time.Minute, 5 * time.Minute, 10 * time.Minute} {
		t.Run(life.String(), func(t *testing.T) {
			c, f := newCache(life)
			first := token(t, c, address)
			reuse := life - life/10 // the margin is min(5 min, life/10)
			f.clk.Advance(reuse - time.Nanosecond)
			if got := token(t, c, address); got != first || f.count() != 1 {
				t.Fatalf("at +%v: token %q after %d fetches, want the cached one", reuse-time.Nanosecond, got, f.count())
			}
			f.clk.Advance(time.Nanosecond)
			if got := token(t, c, address); got == first || f.count() != 2 {
				t.Fatalf("at +%v: token %q after %d fetches, want a fresh one", reuse, got, f.count())
			}
		})
	}
}

func TestMarginOption(t *testing.T) {
	f := &fetcher{clk: clock.NewFake(t0), life: time.Hour}
	c := rdt.NewCache(f.fetch, f.clk, time.Minute, nil)
	first := token(t, c, address)
	f.clk.Advance(59*time.Minute - time.Nanosecond)
	if token(t, c, address) != first {
		t.Fatal("a 1-minute margin replaced the token early")
	}
	f.clk.Advance(time.Nanosecond)
	if token(t, c, address) == first {
		t.Fatal("a 1-minute margin kept the token")
	}
}

// A token that expired while it was being fetched is an error, never an
// empty token.
func TestTokenExpiredOnArrivalIsAnError(t *testing.T) {
	c, f := newCache(time.Minute)
	f.advance = 2 * time.Minute
	v, err := c.Token(context.Background(), "A1SELLER", "app", "", address)
	if err == nil || !v.IsZero() {
		t.Fatalf("token %q err %v, want an error", v.Reveal(), err)
	}
}

func TestNoTokenInAnswerIsAnError(t *testing.T) {
	c, f := newCache(time.Hour)
	f.empty = true
	if v, err := c.Token(context.Background(), "A1SELLER", "app", "", address); err == nil || !v.IsZero() {
		t.Fatalf("token %q err %v, want an error", v.Reveal(), err)
	}
	f.empty, f.life = false, 0
	if _, err := c.Token(context.Background(), "A1SELLER", "app", "", address); err == nil {
		t.Fatal("a token with no lifetime was accepted")
	}
}

func TestFetchErrorsAreNotCachedAndNameTheRole(t *testing.T) {
	c, f := newCache(time.Hour)
	f.err = errors.New("SP-API createRestrictedDataToken: HTTP 400 InvalidInput: Application does not have access to one or more requested data elements: [buyerInfo]")
	_, err := c.Token(context.Background(), "A1SELLER", "app", "", buyer)
	var re *rdt.RoleError
	if !errors.As(err, &re) || !slices.Contains(re.Roles, rdt.RoleFor(rdt.BuyerInfo)) {
		t.Fatalf("err = %v, want a RoleError naming %q", err, rdt.RoleFor(rdt.BuyerInfo))
	}
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	token(t, c, buyer)
	if f.count() != 2 {
		t.Fatalf("%d fetches: the failure was cached", f.count())
	}
}

// Callers that arrive while a token is being fetched wait for that fetch
// instead of making their own.
func TestConcurrentCallersShareOneFetch(t *testing.T) {
	c, f := newCache(time.Hour)
	f.release = make(chan struct{})
	f.started = make(chan struct{}, 100)
	const callers = 20
	results := make(chan string, callers)
	errs := make(chan error, callers)
	call := func() {
		v, err := c.Token(context.Background(), "A1SELLER", "app", "", address)
		if err != nil {
			errs <- err
			return
		}
		results <- v.Reveal()
	}
	go call()
	<-f.started // the first fetch is in flight
	var ready sync.WaitGroup
	for range callers - 1 {
		ready.Add(1)
		go func() {
			ready.Done()
			call()
		}()
	}
	ready.Wait()
	// Give the callers time to reach the cache (polling, not waiting for
	// an expiry); a caller that fetched on its own would show up here.
	for range 100 {
		runtime.Gosched()
	}
	time.Sleep(20 * time.Millisecond)
	if n := f.count(); n != 1 {
		t.Fatalf("%d fetches in flight for one key, want 1", n)
	}
	close(f.release)
	var got []string
	for range callers {
		select {
		case v := <-results:
			got = append(got, v)
		case err := <-errs:
			t.Fatal(err)
		}
	}
	for _, v := range got {
		if v != got[0] {
			t.Fatalf("callers got different tokens: %v", got)
		}
	}
	if n := f.count(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// A caller that gives up does not cancel the fetch the others wait for.
func TestCallerGivingUpLeavesSharedFetch(t *testing.T) {
	c, f := newCache(time.Hour)
	f.release = make(chan struct{})
	f.started = make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := c.Token(ctx, "A1SELLER", "app", "", address)
		gaveUp <- err
	}()
	<-f.started
	other := make(chan string, 1)
	go func() {
		v, _ := c.Token(context.Background(), "A1SELLER", "app", "", address)
		other <- v.Reveal()
	}()
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(f.release)
	if v := <-other; v == "" {
		t.Fatal("the shared fetch died with the first caller")
	}
	if f.count() != 1 {
		t.Fatalf("%d fetches, want 1", f.count())
	}
}

func TestKeying(t *testing.T) {
	c, f := newCache(time.Hour)
	type key struct {
		seller, app, target string
		res                 rdt.Resource
	}
	base := key{"A1SELLER", "amzn1.sp.solution.app", "", address}
	keys := []key{
		base,
		{"A2SELLER", base.app, base.target, base.res},
		{base.seller, "amzn1.sp.solution.other", base.target, base.res},
		{base.seller, base.app, "amzn1.sp.solution.delegatee", base.res},
		{base.seller, base.app, base.target, rdt.Resource{Method: "GET", Path: "/orders/v0/orders/123-1234567-1234567/address"}},
		{base.seller, base.app, base.target, buyer},
		{base.seller, base.app, base.target, rdt.Resource{Method: "GET", Path: buyer.Path, DataElements: []string{"buyerInfo", "shippingAddress"}}},
		{base.seller, base.app, base.target, rdt.Resource{Method: "POST", Path: address.Path}},
	}
	seen := map[string]bool{}
	for i, k := range keys {
		v, err := c.Token(context.Background(), k.seller, k.app, k.target, k.res)
		if err != nil {
			t.Fatal(err)
		}
		if seen[v.Reveal()] || f.count() != i+1 {
			t.Fatalf("key %d %+v shares a token with another key", i, k)
		}
		seen[v.Reveal()] = true
		r := f.reqs[i]
		if r.Seller != k.seller || r.App != k.app || r.TargetApplication != k.target || len(r.Resources) != 1 || r.Resources[0].Path != k.res.Path {
			t.Fatalf("request %+v for key %+v", r, k)
		}
	}
	// Every key is cached on its own.
	for _, k := range keys {
		if _, err := c.Token(context.Background(), k.seller, k.app, k.target, k.res); err != nil {
			t.Fatal(err)
		}
	}
	if f.count() != len(keys) {
		t.Fatalf("%d fetches for %d keys asked twice", f.count(), len(keys))
	}
}

func TestPrefetchBatchesByFifty(t *testing.T) {
	c, f := newCache(time.Hour)
	var res []rdt.Resource
	for i := range 120 {
		res = append(res, rdt.Resource{Method: "GET", Path: fmt.Sprintf("/orders/v0/orders/%03d-0000000-0000000/address", i)})
	}
	res = append(res, res[0], res[1]) // duplicates take no room
	if err := c.Prefetch(context.Background(), "A1SELLER", "app", "", res); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, r := range f.reqs {
		sizes = append(sizes, len(r.Resources))
	}
	if !slices.Equal(sizes, []int{50, 50, 20}) {
		t.Fatalf("batches %v, want [50 50 20]", sizes)
	}
	for _, r := range res {
		if _, err := c.Token(context.Background(), "A1SELLER", "app", "", r); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Prefetch(context.Background(), "A1SELLER", "app", "", res); err != nil {
		t.Fatal(err)
	}
	if f.count() != 3 || c.Requests() != 3 {
		t.Fatalf("%d fetches (%d counted) after using prefetched tokens, want 3", f.count(), c.Requests())
	}
}

func TestInvalidateDropsEveryEntryOfTheToken(t *testing.T) {
	c, f := newCache(time.Hour)
	if err := c.Prefetch(context.Background(), "A1SELLER", "app", "", []rdt.Resource{address, buyer}); err != nil {
		t.Fatal(err)
	}
	other, err := c.Token(context.Background(), "A2SELLER", "app", "", address)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := c.Token(context.Background(), "A1SELLER", "app", "", address)
	if err != nil {
		t.Fatal(err)
	}
	c.Invalidate("Atz.sprdt|unknown")
	c.Invalidate("")
	if f.count() != 2 {
		t.Fatalf("%d fetches", f.count())
	}
	c.Invalidate(shared.Reveal())
	for _, r := range []rdt.Resource{address, buyer} {
		if v := token(t, c, r); v == shared.Reveal() {
			t.Fatalf("%s still served the invalidated token", r.Path)
		}
	}
	if got, _ := c.Token(context.Background(), "A2SELLER", "app", "", address); got.Reveal() != other.Reveal() {
		t.Fatal("invalidating one token dropped another")
	}
	if f.count() != 4 {
		t.Fatalf("%d fetches, want 4 (one per invalidated resource)", f.count())
	}
}
