package amazontest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/testenv"
)

// t0 is the fake clock's start in every core test.
var t0 = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

// Test operations whose handlers the core tests replace with echoHandler,
// so core behaviour is checked independently of the handler side.
const (
	echoOp     = "sellers/v1/getMarketplaceParticipations" // GET /sellers/v1/marketplaceParticipations, 0.016/15
	echoPath   = "/sellers/v1/marketplaceParticipations"
	limitOp    = "orders/v0/getOrder" // GET /orders/v0/orders/{orderId}, 0.5/30
	limitPath  = "/orders/v0/orders/123-1234567-1234567"
	unimplPath = "/fba/inventory/v1/summaries" // getInventorySummaries: implemented by nobody
)

// echoReply is what echoHandler answers: what the pipeline handed over.
type echoReply struct {
	Op       string            `json:"op"`
	App      string            `json:"app"`
	Seller   string            `json:"seller"`
	Region   Region            `json:"region"`
	Scope    string            `json:"scope"`
	RDT      int               `json:"rdtResources"`
	Params   map[string]string `json:"params"`
	Emulated time.Time         `json:"now"`
}

func echoHandler(s *Server, c *call) {
	rep := echoReply{Op: c.op.Key(), App: c.app.ID, Region: c.region, Scope: c.scope, Params: c.params, Emulated: c.now}
	if c.seller != nil {
		rep.Seller = c.seller.ID
	}
	if c.rdt != nil {
		rep.RDT = len(c.rdt.resources)
	}
	writeJSON(c.w, http.StatusOK, rep)
}

type harness struct {
	t    *testing.T
	srv  *Server
	clk  *clock.Fake
	demo Demo
}

// start builds a server on a fake clock with the echo handlers installed
// and starts its loopback listeners.
func start(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	fake := clock.NewFake(t0)
	cfg := Config{Seed: 7, Clock: fake, OrdersPerSeller: 5}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.handlers[echoOp] = echoHandler
	s.handlers[limitOp] = echoHandler
	if err := s.Start(StartOptions{}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		if p := s.Counters().Panics; p != 0 {
			t.Errorf("%d handler panics were recovered; the emulator must not panic", p)
		}
	})
	return &harness{t: t, srv: s, clk: fake, demo: s.Demo()}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       testenv.Patience,
}

func (h *harness) do(req *http.Request) resp {
	h.t.Helper()
	res, err := noRedirect.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatalf("read body: %v", err)
	}
	return resp{res.StatusCode, res.Header, b}
}

// token posts a form to the NA listener's LWA endpoint.
func (h *harness) token(form url.Values) resp {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	return h.do(req)
}

func (h *harness) refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {h.demo.ClientID}, "client_secret": {h.demo.ClientSecret}}
}

// accessToken exchanges the demo seller's refresh token.
func (h *harness) accessToken(rt string) string {
	h.t.Helper()
	r := h.token(h.refreshForm(rt))
	if r.status != http.StatusOK {
		h.t.Fatalf("refresh_token grant: %d %s", r.status, r.body)
	}
	return r.json(h.t)["access_token"].(string)
}

func (h *harness) grantless(scope string) string {
	h.t.Helper()
	r := h.token(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}, "client_id": {h.demo.ClientID}, "client_secret": {h.demo.ClientSecret}})
	if r.status != http.StatusOK {
		h.t.Fatalf("client_credentials grant: %d %s", r.status, r.body)
	}
	return r.json(h.t)["access_token"].(string)
}

// call makes an SP-API request to base with token (none when empty).
func (h *harness) call(base, method, path, token string, hdr ...string) resp {
	h.t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("x-amz-access-token", token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return h.do(req)
}

// errorBody is Amazon's SP-API error body for one error, as JSON text.
func errorBody(code, message, details string) string {
	b, _ := json.Marshal(struct {
		Errors []apiError `json:"errors"`
	}{[]apiError{{Code: code, Message: message, Details: details}}})
	return string(b)
}

func lwaBody(code, desc string) string {
	b, _ := json.Marshal(lwaError{ErrorDescription: desc, Error: code})
	return string(b)
}

// deniedBody is the body of an authorization refusal (details kept even
// when empty).
func deniedBody(code, details string) string {
	b, _ := json.Marshal(struct {
		Errors []deniedError `json:"errors"`
	}{[]deniedError{{Code: code, Message: msgDenied, Details: details}}})
	return string(b)
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
