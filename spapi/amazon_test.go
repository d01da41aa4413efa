package spapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/rdt"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/spapi/appmgmt"
	"github.com/spgate/spgate/spapi/orders"
	"github.com/spgate/spgate/spapi/orders2026"
	"github.com/spgate/spgate/spapi/sellers"
)

type env struct {
	srv    *amazontest.Server
	demo   amazontest.Demo
	client *spapi.Client
	logs   *testenv.Buffer
}

func endpoints(t testing.TB, srv *amazontest.Server) spapi.Endpoints {
	e, err := spapi.Custom(srv.URL, map[spapi.Region]string{
		spapi.EU: srv.RegionURL(amazontest.RegionEU),
		spapi.FE: srv.RegionURL(amazontest.RegionFE),
	}, srv.TokenURL())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func sellersOf(d amazontest.Demo) spapi.StaticSellers {
	var out spapi.StaticSellers
	for _, s := range d.Sellers {
		out = append(out, spapi.Seller{ID: s.ID, Region: spapi.Region(s.Region), RefreshToken: secret.New(s.RefreshToken)})
	}
	return out
}

func newClient(t testing.TB, srv *amazontest.Server, d amazontest.Demo, mod func(*spapi.Config)) (*spapi.Client, *testenv.Buffer) {
	logs := &testenv.Buffer{}
	cfg := spapi.Config{
		AppID:       d.AppID,
		Credentials: lwa.StaticCredentials{ClientID: d.ClientID, ClientSecret: secret.New(d.ClientSecret)},
		Sellers:     sellersOf(d),
		Endpoints:   endpoints(t, srv),
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		BackoffBase: time.Millisecond,
		BackoffMax:  5 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := spapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, logs
}

func newEnv(t testing.TB, opts ...amazontest.Option) *env {
	srv := amazontest.NewServer(opts...)
	t.Cleanup(srv.Close)
	d := srv.Demo()
	c, logs := newClient(t, srv, d, nil)
	e := &env{srv: srv, demo: d, client: c, logs: logs}
	if tt, ok := t.(*testing.T); ok {
		t.Cleanup(func() { e.assertNoSecretsLogged(tt) })
	}
	return e
}

func (e *env) assertNoSecretsLogged(t *testing.T) {
	logs := e.logs.String()
	for _, s := range []string{e.demo.ClientSecret, e.demo.RefreshToken, "Atza|", "Atz.sprdt|"} {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("logs contain a secret or token (%.8s…)", s)
		}
	}
}

func (e *env) query() orders.Query {
	return orders.Query{Seller: e.demo.SellerID, MarketplaceIDs: e.demo.Marketplaces[:1],
		CreatedAfter: e.srv.Now().AddDate(-2, 0, 0)}
}

func TestOrdersV0WithAndWithoutPII(t *testing.T) {
	e := newEnv(t, amazontest.WithOrdersPerSeller(150), amazontest.WithTimeScale(1000), amazontest.WithTokenLifetime(24*time.Hour))
	ctx := context.Background()
	oc := orders.New(e.client)

	seen := map[string]bool{}
	var first orders.Order
	for o, err := range oc.ListOrders(ctx, e.query()) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[o.AmazonOrderId] {
			t.Fatalf("order %s returned twice", o.AmazonOrderId)
		}
		seen[o.AmazonOrderId] = true
		if first.AmazonOrderId == "" && o.ShippingAddress != nil {
			first = o
		}
		if o.ShippingAddress != nil && o.ShippingAddress.AddressLine1 != "" {
			t.Fatalf("order %s has address line without an RDT", o.AmazonOrderId)
		}
	}
	if len(seen) == 0 {
		t.Fatal("no orders")
	}
	if got := e.srv.Counters().RDTsIssued; got != 0 {
		t.Errorf("plain getOrders asked for %d RDTs", got)
	}

	q := e.query()
	q.PII = []string{orders.PIIShippingAddress}
	withPII := 0
	for o, err := range oc.ListOrders(ctx, q) {
		if err != nil {
			t.Fatal(err)
		}
		if o.ShippingAddress != nil && o.ShippingAddress.AddressLine1 != "" {
			withPII++
		}
	}
	if withPII == 0 {
		t.Fatal("no order carried a full address with the RDT")
	}
	if got := e.srv.Counters().RDTsIssued; got != 1 {
		t.Errorf("RDTs issued = %d, want 1 for the whole pull", got)
	}

	// getOrderAddress is always restricted: the client gets an RDT for the
	// generic path without being asked, and one serves every order.
	n := 0
	for id := range seen {
		a, err := oc.GetOrderAddress(ctx, e.demo.SellerID, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.AmazonOrderId != id {
			t.Fatalf("address for %s answered for %s", id, a.AmazonOrderId)
		}
		if n++; n == 5 {
			break
		}
	}
	if got := e.srv.Counters().RDTsIssued; got != 2 {
		t.Errorf("RDTs issued = %d, want 2 (one per generic resource)", got)
	}

	items := 0
	for _, err := range oc.ListOrderItems(ctx, e.demo.SellerID, first.AmazonOrderId) {
		if err != nil {
			t.Fatal(err)
		}
		items++
	}
	if items == 0 {
		t.Error("order without items")
	}
}

func TestColdStartThousandCallers(t *testing.T) {
	// Amazon does not meter here: how a thousand callers share one token
	// and one RDT must not depend on how the machine schedules them
	// against a 1 ms slot. Pacing and 429s are tested on a fake clock
	// (TestPullTwentyThousandOrders…, TestThrottledCallsRetryAfterRefill).
	e := newEnv(t, amazontest.WithOrdersPerSeller(50), amazontest.WithTimeScale(2000), amazontest.WithTokenLifetime(24*time.Hour),
		amazontest.WithoutRateLimits())
	ctx := context.Background()
	oc := orders.New(e.client)
	var ids []string
	for o, err := range oc.ListOrders(ctx, e.query()) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.AmazonOrderId)
	}
	// A fresh client: cold tokens, cold RDT cache, pacing at the
	// emulator's time scale from the first call.
	c, _ := newClient(t, e.srv, e.demo, func(cfg *spapi.Config) {
		cfg.Limiter = ratelimit.New(ratelimit.Options{RateScale: 2000, Headroom: 1})
	})
	oc = orders.New(c)
	before := e.srv.Counters()
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := oc.GetOrderAddress(ctx, e.demo.SellerID, ids[i%len(ids)]); err != nil {
				if failures.Add(1) == 1 {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if got := c.LWA().Counters().RefreshToken.Requests.Load(); got != 1 {
		t.Errorf("LWA token requests = %d, want 1", got)
	}
	after := e.srv.Counters()
	if got := after.RDTsIssued - before.RDTsIssued; got != 1 {
		t.Errorf("RDT requests = %d, want 1", got)
	}
	if got := after.Calls["orders/v0/getOrderAddress"] - before.Calls["orders/v0/getOrderAddress"]; got != 1000 {
		t.Errorf("Amazon counted %d getOrderAddress calls, want 1000", got)
	}
}

func TestMissingRoleNamesTheRole(t *testing.T) {
	srv := amazontest.NewServer()
	t.Cleanup(srv.Close)
	d := srv.Demo()
	app, err := srv.AddApp(amazontest.App{RedirectURIs: []string{amazontest.DemoRedirectURI}})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := srv.Authorize(d.SellerID, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newClient(t, srv, d, func(cfg *spapi.Config) {
		cfg.AppID = app.ID
		cfg.Credentials = lwa.StaticCredentials{ClientID: app.ClientID, ClientSecret: secret.New(app.ClientSecret)}
		cfg.Sellers = spapi.StaticSellers{{ID: d.SellerID, Region: spapi.Region(d.Region), RefreshToken: secret.New(rt)}}
	})
	_, err = orders.New(c).GetOrderAddress(context.Background(), d.SellerID, "123-1234567-1234567")
	var re *rdt.RoleError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a RoleError", err)
	}
	if !strings.Contains(err.Error(), "Direct-to-Consumer Shipping") {
		t.Errorf("error does not name the role: %v", err)
	}
}

func TestOrders2026AndSellers(t *testing.T) {
	e := newEnv(t, amazontest.WithOrdersPerSeller(30), amazontest.WithTimeScale(1000), amazontest.WithTokenLifetime(24*time.Hour))
	ctx := context.Background()
	n := 0
	for o, err := range orders2026.New(e.client).Search(ctx, orders2026.Query{Seller: e.demo.SellerID,
		MarketplaceIDs: e.demo.Marketplaces[:1], CreatedAfter: e.srv.Now().AddDate(-2, 0, 0),
		IncludedData: []string{orders2026.Recipient}, MaxResultsPerPage: 7}) {
		if err != nil {
			t.Fatal(err)
		}
		if o.OrderID == "" || len(o.Raw) == 0 {
			t.Fatalf("bad order %+v", o)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no orders from searchOrders")
	}
	ps, err := sellers.New(e.client).MarketplaceParticipations(ctx, e.demo.SellerID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) == 0 || ps[0].Marketplace.ID == "" {
		t.Fatalf("participations = %+v", ps)
	}
	// EU seller goes to the EU endpoint.
	for _, s := range e.demo.Sellers {
		if s.Region == amazontest.RegionEU {
			if _, err := sellers.New(e.client).MarketplaceParticipations(ctx, s.ID); err != nil {
				t.Fatalf("EU seller: %v", err)
			}
		}
	}
}

func TestWrongRegionIsDiagnosed(t *testing.T) {
	e := newEnv(t)
	d := e.demo
	// Configure the NA seller as if it were EU: Amazon answers 403.
	c, _ := newClient(t, e.srv, d, func(cfg *spapi.Config) {
		cfg.Sellers = spapi.StaticSellers{{ID: d.SellerID, Region: spapi.EU, RefreshToken: secret.New(d.RefreshToken)}}
	})
	_, err := sellers.New(c).MarketplaceParticipations(context.Background(), d.SellerID)
	var ae *spapi.APIError
	if !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("err = %v, want a 403 APIError", err)
	}
	if ae.Diagnose().Step == "" || !strings.Contains(err.Error(), "doctor") {
		t.Errorf("no diagnosis: %v", err)
	}
}

func TestGrantlessRotation(t *testing.T) {
	e := newEnv(t)
	if err := appmgmt.New(e.client).RotateClientSecret(context.Background(), spapi.NA); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-e.srv.Notifications():
		if !bytes.Contains(msg, []byte("APPLICATION_OAUTH_CLIENT_NEW_SECRET")) {
			t.Fatalf("notification = %s", msg)
		}
	case <-time.After(testenv.Patience):
		t.Fatal("no notification")
	}
	if got := e.client.LWA().Counters().ClientCredentials.Requests.Load(); got != 1 {
		t.Errorf("client_credentials requests = %d", got)
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	e := newEnv(t, amazontest.WithTimeScale(1000), amazontest.WithTokenLifetime(24*time.Hour))
	if err := e.srv.SetFaults(amazontest.Faults{ServiceUnavailableShare: 0.5}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 20 {
		if _, err := sellers.New(e.client).MarketplaceParticipations(ctx, e.demo.SellerID); err != nil {
			t.Fatalf("call failed despite retries: %v", err)
		}
	}
	st := e.client.Stats()
	if st.ServerErrors == 0 || st.Retries == 0 {
		t.Errorf("expected retried server errors, stats %+v", st)
	}
	if !strings.Contains(e.logs.String(), "backing off before retry") {
		t.Error("retries not in debug log")
	}
}

func TestThrottledCallsRetryAfterRefill(t *testing.T) {
	// Amazon and both clients run on one fake clock that moves only while
	// every caller waits on it, so the overrun is the same on any machine:
	// each limiter spends the whole burst at the same instant.
	fake := newFakeClock()
	e := newEnv(t, amazontest.WithClock(fake), amazontest.WithTokenLifetime(24*time.Hour))
	// A second client with its own limiter shares the seller's bucket at
	// Amazon: together they overrun it, and 429s must be absorbed.
	own := func(cfg *spapi.Config) {
		cfg.Clock = fake
		// A reservation horizon beyond every wait here: each caller holds
		// its slot and waits on its own timer (none waits in line), so a
		// timer per caller still running means all of them wait.
		cfg.Limiter = ratelimit.New(ratelimit.Options{Clock: fake, MaxWait: 24 * time.Hour})
		// Two processes fighting over one bucket can each meet several
		// 429s in a row; every retry waits for a refill first. Which of
		// two calls sent at one refill wins is up to the scheduler, so a
		// call may lose many refills in a row on a busy machine: the
		// budget is what the property (all are absorbed) needs, not a
		// count the test could predict.
		cfg.MaxAttempts = 40
	}
	other, _ := newClient(t, e.srv, e.demo, own)
	e.client, _ = newClient(t, e.srv, e.demo, own)
	op, _ := operations.ByID("sellers", "v1", "getMarketplaceParticipations")
	const each = 40
	parked, done := testenv.Callers(2 * each)
	dctx, stop := testenv.PatienceContext(t)
	defer stop()
	driven := make(chan struct{})
	go func() {
		defer close(driven)
		testenv.DriveClock(dctx, fake, parked, time.Duration(float64(time.Second)/op.Rate/100))
	}()
	ctx := context.Background()
	start := fake.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for _, c := range []*spapi.Client{e.client, other} {
		for range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer done()
				if _, err := sellers.New(c).MarketplaceParticipations(ctx, e.demo.SellerID); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	elapsed := fake.Now().Sub(start)
	stop()
	<-driven
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	throttled := e.client.Stats().Throttled + other.Stats().Throttled
	ac := e.srv.Counters()
	t.Logf("%d calls in %s of virtual time, %d 429s", 2*each, elapsed, throttled)
	if throttled == 0 || ac.TotalThrottled != throttled {
		t.Errorf("clients saw %d 429s, Amazon answered %d; two clients with separate limiters on one seller must meet some", throttled, ac.TotalThrottled)
	}
	if ok := ac.Calls["sellers/v1/getMarketplaceParticipations"] - ac.TotalThrottled; ok != 2*each {
		t.Errorf("Amazon answered %d calls, want %d", ok, 2*each)
	}
}

func TestTokenExpiringMidPaginationIsInvisible(t *testing.T) {
	// Tokens live 2 s of emulator time at scale 1: each page is slower than
	// that only because the test waits on the emulator's clock.
	fake := newFakeClock()
	e := newEnv(t, amazontest.WithOrdersPerSeller(250), amazontest.WithClock(fake))
	ctx := context.Background()
	q := e.query()
	q.MaxResultsPerPage = 50
	pages := 0
	n := 0
	oc := orders.New(e.client)
	next := ""
	for {
		p, err := oc.GetOrders(ctx, q, next)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		n += len(p.Orders)
		// Two hours pass at Amazon between pages: every token expires.
		fake.Advance(2 * time.Hour)
		if p.NextToken == "" {
			break
		}
		next = p.NextToken
	}
	if pages < 3 {
		t.Fatalf("only %d pages", pages)
	}
	if got := e.client.Stats().TokenRetries; got < int64(pages-1) {
		t.Errorf("token retries = %d over %d pages", got, pages)
	}
}

// garbageServer answers every SP-API call with the given status, headers
// and body; LWA is served by amazontest.
func garbageClient(t *testing.T, status int, hdr map[string]string, body string, mod func(*spapi.Config)) (*spapi.Client, *atomic.Int64, amazontest.Demo) {
	srv := amazontest.NewServer()
	t.Cleanup(srv.Close)
	d := srv.Demo()
	var hits atomic.Int64
	g := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(g.Close)
	c, _ := newClient(t, srv, d, func(cfg *spapi.Config) {
		ep, _ := spapi.Custom(g.URL, nil, srv.TokenURL())
		cfg.Endpoints = ep
		cfg.Sellers = spapi.StaticSellers{{ID: d.SellerID, Region: spapi.NA, RefreshToken: secret.New(d.RefreshToken)}}
		if mod != nil {
			mod(cfg)
		}
	})
	return c, &hits, d
}

func TestMalformedAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		hdr    map[string]string
		body   string
		want   string
	}{
		{"truncated JSON", 200, nil, `{"payload":[{"marketplace":`, "not the expected JSON"},
		{"HTML error page", 502, map[string]string{"Content-Type": "text/html"}, "<html><h1>502 Bad Gateway</h1></html>", "502"},
		{"rate header zero", 200, map[string]string{"x-amzn-RateLimit-Limit": "0"}, `{"payload":[]}`, ""},
		{"rate header absurd", 200, map[string]string{"x-amzn-RateLimit-Limit": "1e9"}, `{"payload":[]}`, ""},
		{"rate header garbage", 200, map[string]string{"x-amzn-RateLimit-Limit": "fast"}, `{"payload":[]}`, ""},
		{"empty 403", 403, nil, "", "HTTP 403"},
		{"error list without errors", 400, nil, `{"errors":[]}`, "HTTP 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A bad header must not park the next call: a slot more than
			// 10 s away is refused at once (the queue limit is compared
			// with the planned wait, not with time spent), so the call
			// fails instead.
			c, _, d := garbageClient(t, tt.status, tt.hdr, tt.body, nil)
			ctx := ratelimit.WithMaxQueueWait(context.Background(), 10*time.Second)
			for range 3 {
				_, err := sellers.New(c).MarketplaceParticipations(ctx, d.SellerID)
				if tt.want == "" {
					if err != nil {
						t.Fatalf("err = %v", err)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.want)
				}
				break // retries spent the burst; one failing call says it all
			}
		})
	}
}

func TestNonIdempotentPOSTNotRetriedOn500(t *testing.T) {
	c, hits, d := garbageClient(t, 500, nil, `{"errors":[{"code":"InternalFailure","message":"We encountered an internal error."}]}`, nil)
	op, _ := operations.ByID("orders", "v0", "confirmShipment")
	_, err := c.Do(context.Background(), spapi.Call{Operation: op, Seller: d.SellerID,
		PathParams: map[string]string{"orderId": "123-1234567-1234567"}, Body: map[string]any{"marketplaceId": "ATVPDKIKX0DER"}})
	if err == nil {
		t.Fatal("expected an error")
	}
	if got := hits.Load(); got != 1 {
		t.Errorf("POST sent %d times after a 500; a POST that may have been processed must not be repeated", got)
	}
	op, _ = operations.ByID("sellers", "v1", "getMarketplaceParticipations")
	hits.Store(0)
	_, err = c.Do(context.Background(), spapi.Call{Operation: op, Seller: d.SellerID})
	if err == nil {
		t.Fatal("expected an error")
	}
	if got := hits.Load(); got != 5 {
		t.Errorf("GET tried %d times, want MaxAttempts=5", got)
	}
}

func TestUnknownOperationRefusedLocally(t *testing.T) {
	e := newEnv(t)
	req, err := e.client.NewRequest(context.Background(), e.demo.SellerID, "GET", "/orders/v0/orderz", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.Transport().RoundTrip(req)
	var uo *spapi.UnknownOperationError
	if !errors.As(err, &uo) {
		t.Fatalf("err = %v", err)
	}
}

// unlimited is a rate-limit store that never waits (benchmarks only).
type unlimited struct{ ratelimit.MemoryStore }

func (*unlimited) Reserve(ratelimit.Key, ratelimit.Plan, time.Time, time.Duration) (time.Duration, bool) {
	return 0, true
}

func BenchmarkChainCachedToken(b *testing.B) {
	srv := amazontest.NewServer(amazontest.WithoutRateLimits(), amazontest.WithTokenLifetime(24*time.Hour))
	b.Cleanup(srv.Close)
	d := srv.Demo()
	c, _ := newClient(b, srv, d, func(cfg *spapi.Config) {
		cfg.Limiter = ratelimit.New(ratelimit.Options{Store: &unlimited{}})
		cfg.Logger = nil
	})
	op, _ := operations.ByID("sellers", "v1", "getMarketplaceParticipations")
	ctx := context.Background()
	if _, err := c.Do(ctx, spapi.Call{Operation: op, Seller: d.SellerID}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Do(ctx, spapi.Call{Operation: op, Seller: d.SellerID}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPullTwentyThousandOrdersAtTheAllowedRate pulls 20,000 orders with
// shipping addresses under Amazon's published getOrders limit and checks
// there are no 429s and the achieved rate is at least 95 % of what the
// limit allows. The emulator and the client run on one fake clock that
// moves only while the client waits on it, so the rate is measured on
// virtual time: the same on an idle laptop and on a loaded CI runner.
func TestPullTwentyThousandOrdersAtTheAllowedRate(t *testing.T) {
	if testing.Short() {
		t.Skip("long pacing test")
	}
	fake := newFakeClock()
	e := newEnv(t, amazontest.WithOrdersPerSeller(20000), amazontest.WithSellers(1),
		amazontest.WithClock(fake), amazontest.WithTokenLifetime(24*time.Hour))
	c, _ := newClient(t, e.srv, e.demo, func(cfg *spapi.Config) {
		cfg.Clock = fake
		cfg.Limiter = ratelimit.New(ratelimit.Options{Clock: fake, Headroom: 1})
	})
	q := e.query()
	q.MarketplaceIDs = e.demo.Marketplaces
	q.CreatedAfter = e.srv.Now().AddDate(0, 0, -120)
	q.PII = []string{orders.PIIShippingAddress}

	// One caller pages sequentially: a pending timer means it waits on the
	// limiter (or a backoff), and no request is on its way.
	op, _ := operations.ByID("orders", "v0", "getOrders")
	ctx, cancel := testenv.PatienceContext(t)
	defer cancel()
	driven := make(chan struct{})
	go func() {
		defer close(driven)
		testenv.DriveClock(ctx, fake, func() int { return 1 }, time.Duration(float64(time.Second)/op.Rate/200))
	}()
	start := fake.Now()
	n, withAddr := 0, 0
	for o, err := range orders.New(c).ListOrders(context.Background(), q) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if o.ShippingAddress != nil && o.ShippingAddress.AddressLine1 != "" {
			withAddr++
		}
	}
	elapsed := fake.Now().Sub(start)
	cancel()
	<-driven
	pages := (n + 99) / 100
	// Amazon's bucket allows its burst at once, then rate per second.
	allowed := float64(op.Burst) + op.Rate*elapsed.Seconds()
	ratio := float64(pages) / allowed
	st := c.Stats()
	ac := e.srv.Counters()
	t.Logf("orders=%d with address=%d pages=%d virtual elapsed=%s allowed pages=%.1f achieved/allowed=%.3f 429s=%d LWA=%d RDT=%d",
		n, withAddr, pages, elapsed, allowed, ratio, st.Throttled, c.LWA().Counters().RefreshToken.Requests.Load(), c.RDTs().Requests())
	if n < 19000 {
		t.Fatalf("pulled %d orders, want about 20,000", n)
	}
	if withAddr != n {
		t.Errorf("%d of %d orders lack a full address", n-withAddr, n)
	}
	if st.Throttled != 0 || ac.TotalThrottled != 0 {
		t.Errorf("429s = %d (Amazon counted %d), want 0", st.Throttled, ac.TotalThrottled)
	}
	if got := ac.Calls["orders/v0/getOrders"]; got != int64(pages) {
		t.Errorf("Amazon counted %d getOrders calls for %d pages", got, pages)
	}
	if ratio < 0.95 {
		t.Errorf("achieved %.1f%% of the allowed rate, want ≥ 95%%", ratio*100)
	}
	if got := c.RDTs().Requests(); got != 1 {
		t.Errorf("RDT requests = %d, want 1", got)
	}
}

// BenchmarkDirectEmulator is the baseline for BenchmarkChainCachedToken:
// the same call with a hand-made request and a token fetched once.
func BenchmarkDirectEmulator(b *testing.B) {
	srv := amazontest.NewServer(amazontest.WithoutRateLimits(), amazontest.WithTokenLifetime(24*time.Hour))
	b.Cleanup(srv.Close)
	d := srv.Demo()
	lc := &lwa.Client{TokenURL: srv.TokenURL()}
	tok, err := lwa.NewRefreshTokenSource(lc, lwa.StaticCredentials{ClientID: d.ClientID, ClientSecret: secret.New(d.ClientSecret)}, secret.New(d.RefreshToken)).Token(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("GET", srv.URL+"/sellers/v1/marketplaceParticipations", nil)
		req.Header.Set("x-amz-access-token", tok.AccessToken.Reveal())
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
}

// TestProductionEndpointsUnmodified points a client at Amazon's production
// host names over TLS; the emulator's Client dials them to the emulator, so
// nothing in the client knows it is not talking to Amazon.
func TestProductionEndpointsUnmodified(t *testing.T) {
	srv := amazontest.NewServer(amazontest.WithTLS(), amazontest.WithTimeScale(1000), amazontest.WithTokenLifetime(24*time.Hour))
	t.Cleanup(srv.Close)
	d := srv.Demo()
	c, _ := newClient(t, srv, d, func(cfg *spapi.Config) {
		cfg.Endpoints = spapi.Production()
		cfg.Base = srv.Client().Transport
	})
	ctx := context.Background()
	for _, s := range d.Sellers {
		ps, err := sellers.New(c).MarketplaceParticipations(ctx, s.ID)
		if err != nil {
			t.Fatalf("seller %s (%s) through %s: %v", s.ID, s.Region, spapi.Production().SPAPI(spapi.Region(s.Region)).Host, err)
		}
		if len(ps) == 0 {
			t.Fatalf("seller %s: no participations", s.ID)
		}
	}
	a, err := orders.New(c).GetOrderAddress(ctx, d.SellerID, firstOrderID(t, c, d, srv))
	if err != nil {
		t.Fatal(err)
	}
	if a.ShippingAddress == nil || a.ShippingAddress.AddressLine1 == "" {
		t.Fatalf("no full address over production endpoints: %+v", a)
	}
}

func firstOrderID(t *testing.T, c *spapi.Client, d amazontest.Demo, srv *amazontest.Server) string {
	t.Helper()
	p, err := orders.New(c).GetOrders(context.Background(), orders.Query{Seller: d.SellerID, MarketplaceIDs: d.Marketplaces,
		CreatedAfter: srv.Now().AddDate(0, 0, -120), MaxResultsPerPage: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Orders) == 0 {
		t.Fatal("no orders")
	}
	return p.Orders[0].AmazonOrderId
}
