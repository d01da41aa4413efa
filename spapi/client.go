// Package spapi is the Selling Partner API client core: every call, from the
// typed helpers, `spgate call` or the gateway, goes through one
// http.RoundTripper chain that resolves the operation, waits for the rate
// limiter, authorizes (LWA token, grantless token or Restricted Data Token),
// optionally signs, sends, and classifies and retries the answer.
package spapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/credstate"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/rdt"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/tokencache"
)

// Seller is a selling partner the client may call for.
type Seller struct {
	ID           string
	Region       Region
	RefreshToken secret.String
}

// SellerStore finds a seller's region and refresh token. The vault
// implements it; StaticSellers serves a fixed list.
type SellerStore interface {
	Seller(ctx context.Context, id string) (Seller, error)
}

// ErrUnknownSeller is wrapped by a SellerStore's error for a seller it does
// not hold (or that has not authorized the app).
var ErrUnknownSeller = errors.New("spapi: unknown seller")

// StaticSellers is a SellerStore over a fixed list.
type StaticSellers []Seller

// Seller returns the seller with the id.
func (s StaticSellers) Seller(_ context.Context, id string) (Seller, error) {
	for _, x := range s {
		if x.ID == id {
			return x, nil
		}
	}
	return Seller{}, fmt.Errorf("seller %s is not configured: add it with `spgate seller add`: %w", id, ErrUnknownSeller)
}

// Config configures a Client. AppID, Credentials and (for seller calls)
// Sellers are required.
type Config struct {
	// AppID is the application id (amzn1.sp.solution.…).
	AppID string
	// Credentials gives the app's LWA client id and secret; it is asked on
	// every token refresh, so a rotated secret takes effect at once.
	Credentials lwa.CredentialsProvider
	// Sellers resolves seller ids to regions and refresh tokens.
	Sellers SellerStore
	// Endpoints defaults to Production().
	Endpoints Endpoints
	// Base is the transport that puts requests on the wire (default:
	// HTTP/1.1 keep-alive connections, each request written and answered
	// on its caller's goroutine; through a proxy from the environment, a
	// clone of http.DefaultTransport).
	Base http.RoundTripper
	// Sign, when set, wraps the wire transport for a region (SigV4). SP-API
	// no longer needs it; integrations that still sign plug in here.
	Sign func(region Region, next http.RoundTripper) http.RoundTripper
	// Limiter paces calls; share one among clients that use the same app
	// and sellers. Default: a new in-memory limiter keeping one token of
	// each bucket's burst in reserve.
	Limiter *ratelimit.Limiter
	// TargetApplication is the delegatee app id for RDTs, if any.
	TargetApplication string
	// MaxAttempts bounds tries per call (default 5). Every try counts: one
	// answered 429 or 5xx, a broken or stalled connection, a token Amazon
	// refused (replaced once per call), or LWA failing to issue a token.
	MaxAttempts int
	// BackoffBase and BackoffMax shape the exponential backoff with full
	// jitter after 5xx, connection errors and LWA outages (defaults 500 ms
	// and 30 s). A Retry-After from Amazon on a 429 or 5xx is waited
	// instead, up to MaxRetryAfter; no wait runs past the caller's
	// deadline: the call ends at once with what it has.
	BackoffBase, BackoffMax time.Duration
	// ResponseTimeout bounds how long Amazon and LWA may stay silent: from
	// sending a request to its response headers, and during each read of
	// the response body (default DefaultResponseTimeout, 60 s). A stalled
	// attempt fails with a *ResponseTimeoutError and is retried like a
	// broken connection (idempotent requests only). It applies over any
	// Base transport. LWA token requests are also bounded to 30 s in all.
	ResponseTimeout time.Duration
	// UserAgent defaults to "spgate/<version> (Language=Go)".
	UserAgent string
	Clock     clock.Clock
	Logger    *slog.Logger
	// TokenTimeout bounds one token request to Login with Amazon, retries
	// of an unanswered request included (default lwa.DefaultFetchTimeout,
	// 30 s).
	TokenTimeout time.Duration
	// TokenCache, when set, shares LWA access tokens (seller and
	// grantless) and Restricted Data Tokens with the other processes that
	// use it — appvault.NewTokenCache: every spgate process on the vault —
	// so that they request each token once among them. Nil keeps them in
	// this client. Needs AppID. A token in this client's memory is used
	// without asking it.
	TokenCache tokencache.Shared

	// lwa replaces the token client (this package's tests).
	lwa *lwa.Client
}

// Client calls SP-API for one application and any number of its sellers.
// It is safe for concurrent use.
type Client struct {
	cfg     Config
	clk     clock.Clock
	log     *slog.Logger
	lwa     *lwa.Client
	limiter *ratelimit.Limiter
	rdts    *rdt.Cache
	wire    http.RoundTripper
	chain   http.RoundTripper
	hc      *http.Client
	stats   stats
	opKeys  sync.Map // *operations.Operation → its Key()

	mu        sync.Mutex
	creds     *credstate.Store      // seller id → refresh token, access token, liveness
	grantless map[string]lwa.Source // scope → client-credentials source
	signed    map[Region]http.RoundTripper

	// ioClock times ResponseTimeout: nil means the wall clock; tests set a
	// fake one before the first request.
	ioClock clock.Clock
}

// New returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("spapi: Config.Credentials is required (the app's LWA client id and secret)")
	}
	if cfg.TokenCache != nil && cfg.AppID == "" {
		return nil, errors.New("spapi: Config.TokenCache needs Config.AppID: tokens are shared per app")
	}
	if cfg.Endpoints.SPAPI == nil {
		cfg.Endpoints = Production()
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 500 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "spgate/1 (Language=Go)"
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = DefaultResponseTimeout
	}
	c := &Client{cfg: cfg, clk: clock.Or(cfg.Clock), log: cfg.Logger,
		grantless: map[string]lwa.Source{}, signed: map[Region]http.RoundTripper{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.wire = cfg.Base
	if c.wire == nil {
		// Requests through a proxy go by http.Transport. Go keeps 2 idle
		// connections per host by default: a gateway with dozens of
		// concurrent calls to one regional endpoint would open and close
		// a TCP (and TLS) connection for most of them.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = wireMaxIdle
		c.wire = newH1Transport(t)
	}
	c.lwa = cfg.lwa
	if c.lwa == nil {
		timeout := cfg.TokenTimeout
		if timeout <= 0 {
			timeout = lwa.DefaultFetchTimeout
		}
		hc := &http.Client{Transport: c.guard(c.wire), Timeout: timeout}
		c.lwa = &lwa.Client{TokenURL: cfg.Endpoints.TokenURL, HTTPClient: hc, Clock: c.clk, Logger: c.log, FetchTimeout: timeout}
	}
	c.limiter = cfg.Limiter
	if c.limiter == nil {
		c.limiter = ratelimit.New(ratelimit.Options{Clock: c.clk, Logger: c.log, Headroom: 1})
	}
	c.creds = credstate.New(credstate.Options{LWA: c.lwa, Credentials: cfg.Credentials, RefreshToken: c.refreshToken, Clock: c.clk, Logger: c.log,
		Shared: cfg.TokenCache, App: cfg.AppID})
	c.rdts = rdt.NewCache(c.fetchRDT, c.clk, 0, c.log, rdt.WithShared(cfg.TokenCache))
	c.chain = &transport{c: c}
	c.hc = &http.Client{Transport: c.chain, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c, nil
}

// guard bounds the silences of requests sent through rt (ResponseTimeout).
func (c *Client) guard(rt http.RoundTripper) http.RoundTripper {
	return &stallGuard{next: rt, c: c}
}

// Transport returns the call chain as an http.RoundTripper. Requests must
// carry the seller in their context (WithSeller) unless the operation is
// grantless; NewRequest does that.
func (c *Client) Transport() http.RoundTripper { return c.chain }

// HTTPClient returns an *http.Client over the chain.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Limiter returns the client's rate limiter.
func (c *Client) Limiter() *ratelimit.Limiter { return c.limiter }

// RDTs returns the Restricted Data Token cache (for Prefetch and stats).
func (c *Client) RDTs() *rdt.Cache { return c.rdts }

// LWA returns the token client (its counters say how many tokens were
// requested).
func (c *Client) LWA() *lwa.Client { return c.lwa }

type ctxKey int

const (
	sellerKey ctxKey = iota
	elementsKey
	operationKey
)

// WithOperation tells the chain which operation a request made with ctx
// addresses, so it does not look the path up again: for callers (the
// gateway) that already resolved it on the very path they send. The chain
// still checks that the request's method and path fit op's template
// (a cheap comparison); requests that do not fit are resolved as usual.
func WithOperation(ctx context.Context, op *operations.Operation) context.Context {
	return context.WithValue(ctx, operationKey, op)
}

func operationFrom(ctx context.Context) *operations.Operation {
	op, _ := ctx.Value(operationKey).(*operations.Operation)
	return op
}

// WithSeller makes calls in ctx act for the seller.
func WithSeller(ctx context.Context, sellerID string) context.Context {
	return context.WithValue(ctx, sellerKey, sellerID)
}

// WithDataElements asks for PII in calls made with ctx: a restricted call
// then gets a Restricted Data Token covering these elements (e.g.
// "shippingAddress", "buyerInfo"). Operations that always return PII
// (getOrderAddress…) get an RDT without being asked.
func WithDataElements(ctx context.Context, elements ...string) context.Context {
	return context.WithValue(ctx, elementsKey, elements)
}

func sellerFrom(ctx context.Context) string {
	s, _ := ctx.Value(sellerKey).(string)
	return s
}

func elementsFrom(ctx context.Context) []string {
	e, _ := ctx.Value(elementsKey).([]string)
	return e
}

// BaseURL returns the SP-API base URL for the seller's region (or for the
// region given when sellerID is empty — grantless calls).
func (c *Client) BaseURL(ctx context.Context, sellerID string, region Region) (*url.URL, error) {
	if sellerID != "" {
		s, err := c.seller(ctx, sellerID)
		if err != nil {
			return nil, err
		}
		region = s.Region
	}
	if region == "" {
		region = NA
	}
	return c.cfg.Endpoints.SPAPI(region), nil
}

// NewRequest builds a request for the seller: pathAndQuery is an SP-API path
// with its query string, e.g. "/orders/v0/orders?MarketplaceIds=…".
func (c *Client) NewRequest(ctx context.Context, sellerID, method, pathAndQuery string, body []byte) (*http.Request, error) {
	ref, err := url.Parse(pathAndQuery)
	if err != nil || ref.IsAbs() || !strings.HasPrefix(ref.Path, "/") {
		return nil, fmt.Errorf("spapi: %q is not an SP-API path such as /orders/v0/orders?…", pathAndQuery)
	}
	return c.NewRequestPath(ctx, sellerID, method, ref.EscapedPath(), ref.RawQuery, body)
}

// NewRequestPath is NewRequest for a path and query already escaped and
// apart: escapedPath such as "/listings/2021-08-01/items/A2SELLER/AB%2F12"
// (an escaped '/' stays one segment) and rawQuery such as
// "marketplaceIds=ATVPDKIKX0DER", or "". They are sent as they are.
func (c *Client) NewRequestPath(ctx context.Context, sellerID, method, escapedPath, rawQuery string, body []byte) (*http.Request, error) {
	base, err := c.BaseURL(ctx, sellerID, "")
	if err != nil {
		return nil, err
	}
	return c.newRequestAt(WithSeller(ctx, sellerID), base, method, escapedPath, rawQuery, body)
}

// Call describes one operation call for Do.
type Call struct {
	// Operation is the operation to call (from the operations table).
	Operation *operations.Operation
	// Seller is the selling partner id; empty for grantless operations.
	Seller string
	// Region is used for grantless calls (default NA).
	Region Region
	// PathParams fill the path template's placeholders.
	PathParams map[string]string
	Query      url.Values
	// Body is marshalled as JSON when not nil.
	Body any
	// DataElements asks for PII (restricted operations).
	DataElements []string
}

// Response is a successful answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do performs the call and returns the answer; a non-2xx answer is an
// *APIError.
func (c *Client) Do(ctx context.Context, call Call) (*Response, error) {
	op := call.Operation
	if op == nil {
		return nil, errors.New("spapi: Call.Operation is nil")
	}
	path, err := expandPath(op.Path, call.PathParams)
	if err != nil {
		return nil, fmt.Errorf("spapi %s: %w", op.ID, err)
	}
	var query string
	if len(call.Query) > 0 {
		query = call.Query.Encode()
	}
	var body []byte
	if call.Body != nil {
		if body, err = json.Marshal(call.Body); err != nil {
			return nil, fmt.Errorf("spapi %s: encoding body: %w", op.ID, err)
		}
	}
	if len(call.DataElements) > 0 {
		ctx = WithDataElements(ctx, call.DataElements...)
	}
	var req *http.Request
	if call.Seller == "" {
		base, err := c.BaseURL(ctx, "", call.Region)
		if err != nil {
			return nil, err
		}
		req, err = c.newRequestAt(ctx, base, op.Method, path, query, body)
		if err != nil {
			return nil, err
		}
	} else if req, err = c.NewRequestPath(ctx, call.Seller, op.Method, path, query, body); err != nil {
		return nil, err
	}
	resp, err := c.chain.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("spapi %s: reading answer: %w", op.ID, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, parseAPIError(resp, b, op.ID, call.Seller)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// DoJSON performs the call and decodes a JSON answer into out.
func (c *Client) DoJSON(ctx context.Context, call Call, out any) error {
	resp, err := c.Do(ctx, call)
	if err != nil {
		return err
	}
	if out == nil || len(resp.Body) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return fmt.Errorf("spapi %s: Amazon's answer is not the expected JSON (%v): %.200q", call.Operation.ID, err, resp.Body)
	}
	return nil
}

// newRequestAt builds a request for escapedPath and rawQuery under base;
// a body is sent as JSON. The URL is put together, not written out and
// parsed again.
func (c *Client) newRequestAt(ctx context.Context, base *url.URL, method, escapedPath, rawQuery string, body []byte) (*http.Request, error) {
	path, err := url.PathUnescape(escapedPath)
	if err != nil || !strings.HasPrefix(path, "/") || !cleanQuery(rawQuery) {
		return nil, fmt.Errorf("spapi: %q is not an SP-API path such as /orders/v0/orders?…", clipped(escapedPath, rawQuery))
	}
	u := *base
	// Keep the escaped form: an encoded '/' in a path value (a SKU) must
	// reach Amazon encoded, not split the path.
	u.Path, u.RawPath, u.RawQuery = path, escapedPath, rawQuery
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	// An empty URL to parse; the request then takes u.
	req, err := http.NewRequestWithContext(ctx, method, "", rd)
	if err != nil {
		return nil, fmt.Errorf("spapi: building request: %w", err)
	}
	req.URL, req.Host = &u, u.Host
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// cleanQuery reports whether q may go on the request line as it is: no
// space, control character, '#' or byte outside ASCII.
func cleanQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		if b := q[i]; b <= ' ' || b >= 0x7f || b == '#' {
			return false
		}
	}
	return true
}

// clipped is a path and query for a message, clipped.
func clipped(path, query string) string {
	s := path
	if query != "" {
		s += "?" + query
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// maxBody bounds what the client reads from one answer.
const maxBody = 64 << 20

func readBody(resp *http.Response) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return b, err
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("answer larger than %d MiB", maxBody>>20)
	}
	return b, nil
}

// expandPath fills a path template; values are path-escaped.
func expandPath(tmpl string, params map[string]string) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("bad path template %q", tmpl)
		}
		name := tmpl[i+1 : i+j]
		v, ok := params[name]
		if !ok || v == "" {
			return "", fmt.Errorf("path parameter %s is required", name)
		}
		b.WriteString(tmpl[:i])
		b.WriteString(url.PathEscape(v))
		tmpl = tmpl[i+j+1:]
	}
}

func (c *Client) seller(ctx context.Context, id string) (Seller, error) {
	if c.cfg.Sellers == nil {
		return Seller{}, fmt.Errorf("seller %s: no sellers configured", id)
	}
	s, err := c.cfg.Sellers.Seller(ctx, id)
	if err != nil {
		return Seller{}, err
	}
	if s.Region == "" {
		s.Region = NA
	}
	return s, nil
}

// refreshToken reads the seller's refresh token for the credential state.
func (c *Client) refreshToken(ctx context.Context, id string) (secret.String, error) {
	s, err := c.seller(ctx, id)
	if errors.Is(err, ErrUnknownSeller) {
		return secret.String{}, fmt.Errorf("%w: %w", credstate.ErrNoSeller, err)
	}
	if err != nil {
		return secret.String{}, err
	}
	return s.RefreshToken, nil
}

// CredentialState returns the client's credential state: per seller, the
// refresh token in use, the cached access token and whether Amazon still
// accepts the authorization and the app's secret. Call its Reload when the
// store behind Config.Sellers changed (a new refresh token, a removed
// seller, a new client secret).
func (c *Client) CredentialState() *credstate.Store { return c.creds }

// ForgetSeller drops what the client knows of a seller's credentials
// (after its refresh token changed); the next call reads them again.
func (c *Client) ForgetSeller(id string) { c.creds.Forget(id) }

func (c *Client) grantlessSource(scope string) lwa.Source {
	c.mu.Lock()
	defer c.mu.Unlock()
	src, ok := c.grantless[scope]
	if !ok {
		src = lwa.NewGrantlessSource(c.lwa, c.cfg.Credentials, scope, lwa.WithShared(c.cfg.TokenCache, "lwa-grantless|"+c.cfg.AppID+"|"+scope))
		c.grantless[scope] = src
	}
	return src
}

func (c *Client) wireFor(region Region) http.RoundTripper {
	if c.cfg.Sign == nil {
		return c.wire
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rt, ok := c.signed[region]
	if !ok {
		rt = c.cfg.Sign(region, c.wire)
		c.signed[region] = rt
	}
	return rt
}

// tokensOp is createRestrictedDataToken, resolved once.
var tokensOp = mustOp("tokens", "2021-03-01", "createRestrictedDataToken")

func mustOp(api, version, id string) *operations.Operation {
	op, ok := operations.ByID(api, version, id)
	if !ok {
		panic("spapi: operation table lacks " + api + "/" + version + "/" + id + "; run go generate ./operations")
	}
	return op
}

func (c *Client) fetchRDT(ctx context.Context, r rdt.Request) (secret.String, time.Duration, error) {
	body := struct {
		TargetApplication   string         `json:"targetApplication,omitempty"`
		RestrictedResources []rdt.Resource `json:"restrictedResources"`
	}{r.TargetApplication, r.Resources}
	var out struct {
		RestrictedDataToken string `json:"restrictedDataToken"`
		ExpiresIn           int    `json:"expiresIn"`
	}
	// The token call itself asks for no PII, whatever the restricted call
	// that needs it asked for.
	ctx = context.WithValue(ctx, elementsKey, []string(nil))
	if err := c.DoJSON(ctx, Call{Operation: tokensOp, Seller: r.Seller, Body: body}, &out); err != nil {
		return secret.String{}, 0, err
	}
	return secret.New(out.RestrictedDataToken), time.Duration(out.ExpiresIn) * time.Second, nil
}
