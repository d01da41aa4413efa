package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/vault"
)

func (e *env) ordersPath() string {
	return "/orders/v0/orders?MarketplaceIds=" + e.demo.Sellers[0].Marketplaces[0] + "&CreatedAfter=2020-01-01T00:00:00Z"
}

func TestScopes(t *testing.T) {
	fake := clock.NewFake(time.Now())
	e := newEnv(t, envOptions{clock: fake})
	s1, s2 := e.demo.Sellers[0].ID, e.demo.Sellers[1].ID
	all := e.addClient("bc", []string{s1}, []string{"*"}, false)
	byName := e.addClient("by-name", []string{sellerName}, []string{"orders/v0"}, false)
	onlyOrders := e.addClient("orders-only", []string{"*"}, []string{"getOrders"}, false)
	revoked := e.addClient("old", []string{"*"}, []string{"*"}, false)
	ctx := context.Background()

	tests := []struct {
		name, key, seller, method, path string
		status                          int
		code                            string
	}{
		{"allowed by seller id", all, s1, "GET", e.ordersPath(), 200, ""},
		{"seller given by name", all, sellerName, "GET", e.ordersPath(), 200, ""},
		{"scope by name, seller by id", byName, s1, "GET", e.ordersPath(), 200, ""},
		{"scope by api/version", byName, s1, "GET", e.ordersPath(), 200, ""},
		{"other seller", all, s2, "GET", e.ordersPath(), 403, gateway.CodeSellerForbidden},
		{"unknown seller", all, "A1NOSUCHSELLER", "GET", e.ordersPath(), 403, gateway.CodeSellerForbidden},
		{"no seller header", all, "", "GET", e.ordersPath(), 400, gateway.CodeBadRequest},
		{"operation by id allowed", onlyOrders, s1, "GET", e.ordersPath(), 200, ""},
		{"operation not in scope", onlyOrders, s2, "GET", participationsPath, 403, gateway.CodeOperationForbidden},
		{"api/version scope excludes sellers API", byName, s1, "GET", participationsPath, 403, gateway.CodeOperationForbidden},
		{"unknown key", "spg_" + strings.Repeat("x", 43), s1, "GET", e.ordersPath(), 401, gateway.CodeUnauthenticated},
		{"malformed key", "not-a-key", s1, "GET", e.ordersPath(), 401, gateway.CodeUnauthenticated},
		{"no key", "", s1, "GET", e.ordersPath(), 401, gateway.CodeUnauthenticated},
		{"unknown path", all, s1, "GET", "/orders/v0/nothing/here", 404, gateway.CodeUnknownOperation},
		{"grantless operation", all, s1, "POST", "/applications/2023-11-30/clientSecret", 403, gateway.CodeNotServed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(ctx, tt.method, tt.path, tt.key, tt.seller, nil)
			if r.status != tt.status || r.errorCode() != tt.code {
				t.Fatalf("status %d code %q, want %d %q; body %s", r.status, r.errorCode(), tt.status, tt.code, r.body)
			}
			if r.header.Get(gateway.HeaderRequestID) == "" {
				t.Error("no X-Spgate-Request-Id")
			}
			if tt.status == 200 {
				if r.header.Get("x-amzn-RequestId") == "" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
					t.Errorf("Amazon's headers not passed back: %v", r.header)
				}
				if r.header.Get("x-amzn-RateLimit-Limit") == "" {
					t.Errorf("x-amzn-RateLimit-Limit not passed back: %v", r.header)
				}
			}
			if tt.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}

	t.Run("seller errors reveal nothing", func(t *testing.T) {
		other := e.do(ctx, "GET", e.ordersPath(), all, s2, nil)
		unknown := e.do(ctx, "GET", e.ordersPath(), all, "A1NOSUCHSELLER", nil)
		clean := func(r result, ref string) string {
			var b gateway.ErrorBody
			_ = json.Unmarshal(r.body, &b)
			return strings.ReplaceAll(b.Error.Message, ref, "REF")
		}
		if a, b := clean(other, s2), clean(unknown, "A1NOSUCHSELLER"); a != b {
			t.Errorf("an existing out-of-scope seller and an unknown one get different messages:\n%s\n%s", a, b)
		}
		if strings.Contains(string(other.body), e.demo.Sellers[0].ID) || strings.Contains(string(other.body), "shop-") {
			t.Errorf("error names other sellers: %s", other.body)
		}
	})

	t.Run("revoked key stops within the cache window", func(t *testing.T) {
		if r := e.do(ctx, "GET", e.ordersPath(), revoked, s1, nil); r.status != 200 {
			t.Fatalf("before revocation: %d %s", r.status, r.body)
		}
		if err := e.v.RevokeClient(ctx, "old"); err != nil {
			t.Fatal(err)
		}
		fake.Advance(31 * time.Second)
		r := e.do(ctx, "GET", e.ordersPath(), revoked, s1, nil)
		if r.status != 401 || r.errorCode() != gateway.CodeUnauthenticated {
			t.Fatalf("revoked key: %d %s", r.status, r.body)
		}
	})

	t.Run("denials are audited without keys", func(t *testing.T) {
		lines := e.auditLines()
		var denied int
		for _, l := range lines {
			if l.Decision == "denied" {
				denied++
				if l.Reason == "" || l.RequestID == "" {
					t.Errorf("denied line lacks reason or request id: %+v", l)
				}
			}
		}
		if denied < 7 {
			t.Errorf("%d denied lines in the audit log, want ≥ 7", denied)
		}
		raw, _ := os.ReadFile(e.audit)
		for _, s := range e.secrets() {
			if strings.Contains(string(raw), s) {
				t.Errorf("audit log contains a secret (%.8s…)", s)
			}
		}
	})
}

// TestRepeatedControlHeadersAreRefused: a header the gateway decides on,
// sent twice, is refused rather than read as whichever comes first.
func TestRepeatedControlHeadersAreRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	s1, s2 := e.demo.Sellers[0].ID, e.demo.Sellers[1].ID
	key := e.addClient("bc", []string{s1}, []string{"*"}, true)
	other := e.addClient("other", []string{s2}, []string{"*"}, false)
	for _, tt := range []struct {
		name, header string
		values       []string
	}{
		{"two sellers", gateway.HeaderSeller, []string{s1, s2}},
		{"two keys", "Authorization", []string{"Bearer " + key, "Bearer " + other}},
		{"two PII headers", gateway.HeaderPII, []string{"address", "buyerInfo"}},
		{"two deadlines", gateway.HeaderDeadline, []string{"1000", "50"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, e.url+e.ordersPath(), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set(gateway.HeaderSeller, s1)
			req.Header.Del(tt.header)
			for _, v := range tt.values {
				req.Header.Add(tt.header, v)
			}
			resp, err := e.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r := result{status: resp.StatusCode, header: resp.Header, body: b}
			if r.status != http.StatusBadRequest || r.errorCode() != gateway.CodeBadRequest || !strings.Contains(string(b), tt.header) {
				t.Errorf("%s twice: %d %q %s, want 400 %s naming the header", tt.header, r.status, r.errorCode(), b, gateway.CodeBadRequest)
			}
		})
	}
}

func TestPII(t *testing.T) {
	e := newEnv(t, envOptions{})
	s1 := e.demo.Sellers[0].ID
	plain := e.addClient("plain", []string{"*"}, []string{"*"}, false)
	pii := e.addClient("shipping", []string{"*"}, []string{"*"}, true)
	ctx := context.Background()
	ask := map[string]string{gateway.HeaderPII: "shippingAddress, buyerInfo"}

	// Without the PII permission: refused, before any RDT is asked for.
	if r := e.do(ctx, "GET", e.ordersPath(), plain, s1, ask); r.status != 403 || r.errorCode() != gateway.CodePIIForbidden {
		t.Fatalf("PII without permission: %d %s", r.status, r.body)
	}
	// Plain getOrders is fine and carries no address.
	r := e.do(ctx, "GET", e.ordersPath(), plain, s1, nil)
	if r.status != 200 {
		t.Fatalf("getOrders: %d %s", r.status, r.body)
	}
	var page struct {
		Payload struct {
			Orders []struct {
				AmazonOrderID   string `json:"AmazonOrderId"`
				ShippingAddress *struct {
					Name         string `json:"Name"`
					AddressLine1 string `json:"AddressLine1"`
					City         string `json:"City"`
				} `json:"ShippingAddress"`
			} `json:"Orders"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || len(page.Payload.Orders) == 0 {
		t.Fatalf("getOrders answer: %v %.300s", err, r.body)
	}
	orderID := page.Payload.Orders[0].AmazonOrderID
	addrPath := "/orders/v0/orders/" + orderID + "/address"
	if r := e.do(ctx, "GET", addrPath, plain, s1, nil); r.status != 403 || r.errorCode() != gateway.CodePIIForbidden {
		t.Fatalf("getOrderAddress without permission: %d %s", r.status, r.body)
	}
	if n := e.srv.Counters().RDTsIssued; n != 0 {
		t.Fatalf("%d RDTs issued for refused calls", n)
	}

	// With the permission: the chain gets an RDT and Amazon sends PII.
	r = e.do(ctx, "GET", e.ordersPath(), pii, s1, ask)
	if r.status != 200 {
		t.Fatalf("PII getOrders: %d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	var pi []string
	for _, o := range page.Payload.Orders {
		if a := o.ShippingAddress; a != nil && a.AddressLine1 != "" {
			pi = append(pi, a.AddressLine1, a.Name)
		}
	}
	if len(pi) == 0 {
		t.Fatalf("no shipping address in a PII answer: %.500s", r.body)
	}
	if r := e.do(ctx, "GET", addrPath, pii, s1, nil); r.status != 200 {
		t.Fatalf("getOrderAddress with permission: %d %s", r.status, r.body)
	}
	if n := e.srv.Counters().RDTsIssued; n < 2 {
		t.Fatalf("%d RDTs issued, want ≥ 2", n)
	}
	if r := e.do(ctx, "GET", e.ordersPath(), pii, s1, map[string]string{gateway.HeaderPII: "creditCard"}); r.status != 400 {
		t.Fatalf("unknown data element: %d %s", r.status, r.body)
	}

	// The audit log has both PII accesses, and no PII, query or key.
	var access []gateway.AuditEntry
	for _, l := range e.auditLines() {
		if l.Decision == "allowed" && l.PII {
			access = append(access, l)
		}
	}
	if len(access) != 2 {
		t.Fatalf("%d PII access lines, want 2: %+v", len(access), access)
	}
	if a := access[0]; a.Client != "shipping" || a.Seller != s1 || a.Operation != "getOrders" || a.Status != 200 || a.Path != "/orders/v0/orders" ||
		strings.Join(a.DataElements, ",") != "shippingAddress,buyerInfo" || a.RequestID == "" {
		t.Errorf("access line: %+v", a)
	}
	if a := access[1]; a.Operation != "getOrderAddress" || a.Path != addrPath {
		t.Errorf("access line: %+v", a)
	}
	raw, _ := os.ReadFile(e.audit)
	for _, s := range append(e.secrets(), pi...) {
		if s != "" && strings.Contains(string(raw), s) {
			t.Errorf("audit log contains %q", s)
		}
	}
	if strings.Contains(string(raw), "MarketplaceIds") {
		t.Error("audit log contains a query string")
	}
	// The vault's access log gets them too (asynchronously).
	e.gw.Close()
	ev, err := e.v.AccessLog(ctx, vault.AccessFilter{PIIOnly: true})
	if err != nil || len(ev) != 2 {
		t.Fatalf("vault access log: %v %+v", err, ev)
	}
}

func TestDeadlineGets429WithRetryAfter(t *testing.T) {
	// The limiter's clock stands still: once the burst is spent the next
	// slot is one interval (62.5 s) away, longer than the 60 s deadline
	// however long the calls before took.
	e := newEnv(t, envOptions{virtual: clock.NewFake(time.Now())})
	key := e.addClient("bc", []string{"*"}, []string{"*"}, false)
	ctx := context.Background()
	s1 := e.demo.Sellers[0].ID
	// getMarketplaceParticipations: 0.016/s, burst 15 (14 with headroom).
	var last result
	for i := range 20 {
		last = e.do(ctx, "GET", participationsPath, key, s1, map[string]string{gateway.HeaderDeadline: "60000"})
		if last.status == 429 {
			if i < 10 {
				t.Fatalf("429 after %d calls", i)
			}
			break
		}
		if last.status != 200 {
			t.Fatalf("call %d: %d %s", i, last.status, last.body)
		}
	}
	if last.status != 429 || last.errorCode() != gateway.CodeRateLimited {
		t.Fatalf("want the gateway's 429, got %d %s", last.status, last.body)
	}
	ra, err := strconv.Atoi(last.header.Get("Retry-After"))
	if err != nil || ra < 30 || ra > 70 {
		t.Fatalf("Retry-After %q, want about 63 s", last.header.Get("Retry-After"))
	}
	if n := e.srv.Counters().TotalThrottled; n != 0 {
		t.Fatalf("Amazon answered 429 %d times", n)
	}
}

func TestClientsShareSellerLimit(t *testing.T) {
	// Amazon, the gateway's client and its limiter run on one fake clock
	// that moves only while every call waits for a slot: the limit is
	// measured on virtual time, the same on any machine.
	fake := clock.NewFake(time.Now())
	e := newEnv(t, envOptions{virtual: fake, withoutLogs: true})
	op, _ := operations.ByID("sellers", "v1", "getMarketplaceParticipations") // 0.016/s, burst 15
	s1 := e.demo.Sellers[0].ID
	keys := []string{
		e.addClient("bc", []string{"*"}, []string{"*"}, false),
		e.addClient("script", []string{s1}, []string{"sellers"}, false),
		e.addClient("report", []string{sellerName}, []string{"getMarketplaceParticipations"}, false),
	}
	// Warm the token so the window measures only paced calls.
	if r := e.do(context.Background(), "GET", participationsPath, keys[0], s1, nil); r.status != 200 {
		t.Fatalf("warm-up: %d %s", r.status, r.body)
	}
	before := e.srv.Counters().Calls["sellers/v1/getMarketplaceParticipations"]
	const perClient = 4
	const window = 2 * time.Hour
	// Each worker has one call in flight, and a call waits on at most one
	// timer (its slot): when all of them wait, none is talking to Amazon.
	parked, done := testenv.Callers(len(keys) * perClient)
	ctx, cancel := testenv.PatienceContext(t)
	defer cancel()
	driven := make(chan struct{})
	go func() {
		defer close(driven)
		testenv.DriveClock(ctx, fake, parked, time.Duration(float64(time.Second)/op.Rate/50))
	}()
	start := fake.Now()
	var wg sync.WaitGroup
	var ok, other atomic.Int64
	for _, k := range keys {
		for range perClient {
			wg.Go(func() {
				defer done()
				for fake.Now().Sub(start) < window && ctx.Err() == nil {
					r := e.do(ctx, "GET", participationsPath, k, s1, nil)
					switch {
					case r.status == 200:
						ok.Add(1)
					case r.status != 0:
						if other.Add(1) == 1 {
							t.Logf("first answer other than 200: %d %s", r.status, r.body)
						}
					}
				}
			})
		}
	}
	wg.Wait()
	elapsed := fake.Now().Sub(start)
	if err := ctx.Err(); err != nil {
		t.Fatalf("the window of %v did not pass within %v: %v", window, testenv.Patience, err)
	}
	cancel()
	<-driven
	c := e.srv.Counters()
	calls := c.Calls["sellers/v1/getMarketplaceParticipations"] - before
	bound := float64(op.Burst) + op.Rate*elapsed.Seconds()
	t.Logf("%d calls reached Amazon in %v of virtual time (bound %.1f), %d ok, %d other", calls, elapsed, bound, ok.Load(), other.Load())
	if c.TotalThrottled != 0 {
		t.Errorf("Amazon answered 429 %d times", c.TotalThrottled)
	}
	if float64(calls) > bound {
		t.Errorf("%d calls in %v exceed burst + rate×t = %.1f", calls, elapsed, bound)
	}
	if float64(calls) < 0.95*bound {
		t.Errorf("only %d calls in %v, under 95%% of burst + rate×t = %.1f: the clients did not use the limit", calls, elapsed, bound)
	}
	if other.Load() != 0 {
		t.Errorf("%d answers other than 200", other.Load())
	}
}

func TestGracefulShutdownFinishesCallsInFlight(t *testing.T) {
	// Amazon's latency runs on a fake clock: the calls stay in flight
	// until the test, having seen the gateway stop listening, ends it.
	fake := clock.NewFake(time.Now())
	e := newEnv(t, envOptions{virtual: fake})
	key := e.addClient("bc", []string{"*"}, []string{"*"}, false)
	s1 := e.demo.Sellers[0].ID
	ctx := context.Background()
	if r := e.do(ctx, "GET", e.ordersPath(), key, s1, nil); r.status != 200 { // warm the token
		t.Fatalf("warm-up: %d", r.status)
	}
	const latency = 700 * time.Millisecond
	if err := e.srv.SetFaults(amazontest.Faults{Latency: latency}); err != nil {
		t.Fatal(err)
	}
	const n = 5
	results := make(chan int, n)
	for range n {
		go func() { results <- e.do(ctx, "GET", e.ordersPath(), key, s1, nil).status }()
	}
	wctx, cancel := testenv.PatienceContext(t)
	defer cancel()
	if err := fake.BlockUntil(wctx, n); err != nil {
		t.Fatalf("the calls did not reach Amazon: %v", err)
	}
	e.cancel()
	// Shutdown has begun once the gateway refuses new connections.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		req, _ := http.NewRequestWithContext(wctx, "GET", e.url+"/healthz", nil)
		resp, err := fresh.Do(req)
		if err != nil {
			break
		}
		resp.Body.Close()
		if wctx.Err() != nil {
			t.Fatal("the gateway kept listening after its context ended")
		}
	}
	if wctx.Err() != nil {
		t.Fatal("the gateway kept listening after its context ended")
	}
	fake.Advance(latency)
	for range n {
		if s := <-results; s != 200 {
			t.Errorf("call in flight during shutdown ended with %d", s)
		}
	}
	if err := <-e.served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	e.served <- nil // for the cleanup
	if _, err := http.Get(e.url + "/healthz"); err == nil {
		t.Error("the gateway still accepts connections after shutdown")
	}
}

func TestColdTokensOneRefreshPerSeller(t *testing.T) {
	e := newEnv(t, envOptions{amazon: []amazontest.Option{amazontest.WithoutRateLimits()}, store: unlimited{}, withoutLogs: true})
	var keys []string
	for i := range 10 {
		keys = append(keys, e.addClient("c"+strconv.Itoa(i), []string{"*"}, []string{"*"}, false))
	}
	ctx := context.Background()
	const n = 1000
	var wg sync.WaitGroup
	var bad atomic.Int64
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			s := e.demo.Sellers[i%len(e.demo.Sellers)].ID
			if r := e.do(ctx, "GET", participationsPath, keys[i%len(keys)], s, nil); r.status != 200 {
				bad.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of %d calls failed", bad.Load(), n)
	}
	sellers := int64(len(e.demo.Sellers))
	if got := e.client.LWA().Counters().RefreshToken.Requests.Load(); got != sellers {
		t.Errorf("%d LWA refreshes for %d sellers, want one each", got, sellers)
	}
	if got := e.srv.Counters().TokensIssued["refresh_token"]; got != sellers {
		t.Errorf("Amazon issued %d tokens, want %d", got, sellers)
	}
}

func TestReadyz(t *testing.T) {
	for _, tt := range []struct {
		name  string
		days  int
		ready bool
	}{{"fresh secret", 120, true}, {"secret expiring in 3 days", 3, false}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{readiness: true, secretDays: tt.days})
			// Without a key: ready or not, and nothing else.
			resp, err := http.Get(e.url + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			var bare map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&bare); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(bare) != 1 || bare["ready"] != tt.ready || (resp.StatusCode == 200) != tt.ready {
				t.Fatalf("/readyz without a key answered %d %v, want only {ready: %v}", resp.StatusCode, bare, tt.ready)
			}
			// A key for one seller sees that seller's check only.
			one := e.addClient("one", []string{e.demo.Sellers[0].ID}, []string{"*"}, false)
			r1 := e.do(context.Background(), "GET", "/readyz", one, "", nil)
			if strings.Count(string(r1.body), `"token:`) != 1 || !strings.Contains(string(r1.body), `"token:`+e.demo.Sellers[0].ID) {
				t.Errorf("/readyz for a one-seller key shows other sellers: %s", r1.body)
			}
			all := e.addClient("all", []string{"*"}, []string{"*"}, false)
			req, _ := http.NewRequest("GET", e.url+"/readyz", nil)
			req.Header.Set("Authorization", "Bearer "+all)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var rep gateway.ReadyReport
			if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
				t.Fatal(err)
			}
			if rep.Ready != tt.ready || (resp.StatusCode == 200) != tt.ready {
				t.Fatalf("ready=%v status %d, want %v: %+v", rep.Ready, resp.StatusCode, tt.ready, rep)
			}
			tokens := 0
			for _, c := range rep.Checks {
				if strings.HasPrefix(c.Name, "token:") {
					tokens++
					if !c.OK {
						t.Errorf("token check failed: %+v", c)
					}
				}
				if c.Name == "client-secret" && c.OK == !tt.ready {
					t.Errorf("client-secret check: %+v", c)
				}
			}
			if tokens != len(e.demo.Sellers) {
				t.Errorf("%d token checks, want %d", tokens, len(e.demo.Sellers))
			}
			if h, err := http.Get(e.url + "/healthz"); err != nil || h.StatusCode != 200 {
				t.Errorf("healthz: %v", err)
			}
			m := scrape(t, e)
			if !strings.Contains(m, `spgate_client_secret_days_left{app="main"} `+strconv.Itoa(tt.days)) {
				t.Errorf("secret days gauge missing:\n%s", grepLines(m, "secret_days"))
			}
		})
	}
}

func TestMetricsAndLogs(t *testing.T) {
	e := newEnv(t, envOptions{logLevel: -4})
	key := e.addClient("bc", []string{"*"}, []string{"*"}, true)
	ctx := context.Background()
	s1 := e.demo.Sellers[0].ID
	for range 3 {
		if r := e.do(ctx, "GET", e.ordersPath(), key, s1, map[string]string{gateway.HeaderPII: "shippingAddress"}); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	e.do(ctx, "GET", e.ordersPath(), "spg_nope", s1, nil)
	m := scrape(t, e)
	for _, want := range []string{
		`spgate_requests_total{operation="getOrders",status="200"} 3`,
		`spgate_requests_total{operation="unknown",status="401"} 1`,
		`spgate_request_duration_seconds_bucket{operation="getOrders"`,
		`spgate_limiter_wait_seconds_count`,
		`spgate_lwa_token_requests_total{grant="refresh_token"} 1`,
		`spgate_amazon_throttled_total 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, `"client":"bc"`) {
		t.Errorf("no per-request JSON log lines:\n%.1000s", logs)
	}
	for _, s := range e.secrets() {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain a secret (%.8s…)", s)
		}
	}
}

// unlimited is a rate-limit store that never makes anyone wait.
type unlimited struct{}

func (unlimited) Reserve(ratelimit.Key, ratelimit.Plan, time.Time, time.Duration) (time.Duration, bool) {
	return 0, true
}
func (unlimited) Cancel(ratelimit.Key, time.Time) {}
func (unlimited) SetRate(ratelimit.Key, float64, time.Time) (float64, bool) {
	return 0, false
}
func (unlimited) Drain(ratelimit.Key, time.Time)            {}
func (unlimited) Plan(ratelimit.Key) (ratelimit.Plan, bool) { return ratelimit.Plan{}, false }

// scrape reads /metrics from the operations handler (no key needed there).
func scrape(t *testing.T, e *env) string {
	t.Helper()
	w := httptest.NewRecorder()
	e.gw.OpsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("/metrics on the operations handler: %d", w.Code)
	}
	return w.Body.String()
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
