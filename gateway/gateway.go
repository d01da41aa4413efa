// Package gateway is spgate's HTTP gateway: Business Central and scripts
// call SP-API paths on it with a client key, and it forwards each call
// through the library's one call chain (spapi.Client.Transport: resolve the
// operation, wait for the shared rate limiter, authorize with an LWA token
// or a Restricted Data Token, sign if asked, send, retry).
//
// A request:
//
//	GET /orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER&CreatedAfter=2026-01-01T00:00:00Z
//	Authorization: Bearer spg_…            (a key from `spgate client add`)
//	X-Spgate-Seller: A2VYDBAL8BMVQK        (selling partner id or the seller's name in the vault)
//	X-Spgate-PII: shippingAddress,buyerInfo   (optional: ask for personal data)
//	X-Spgate-Deadline-Ms: 5000             (optional: give up instead of queueing longer)
//
// Amazon's status, body and headers (Content-Type, x-amzn-RequestId,
// x-amzn-RateLimit-Limit, x-amzn-ErrorType) come back unchanged; every
// answer carries X-Spgate-Request-Id. The gateway's own refusals are JSON
// {"error":{"code":"…","message":"…","requestId":"…"}}.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/credstate"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/rdt"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// Header names the gateway reads and writes.
const (
	HeaderSeller    = "X-Spgate-Seller"
	HeaderPII       = "X-Spgate-PII"
	HeaderDeadline  = "X-Spgate-Deadline-Ms"
	HeaderRequestID = "X-Spgate-Request-Id"
)

// Error codes of the gateway's own JSON errors.
const (
	CodeUnauthenticated    = "unauthenticated"     // 401: no key, unknown or revoked key
	CodeSellerForbidden    = "seller_forbidden"    // 403: the key may not act for this seller (or it does not exist)
	CodeOperationForbidden = "operation_forbidden" // 403: the key may not call this operation
	CodePIIForbidden       = "pii_forbidden"       // 403: personal data asked for without the PII permission
	CodeUnknownOperation   = "unknown_operation"   // 404: the path is no SP-API operation
	CodeBadRequest         = "bad_request"         // 400: malformed headers, path or body
	CodeRateLimited        = "rate_limited"        // 429: the seller's limit has no slot before the deadline
	CodeDeadline           = "deadline_exceeded"   // 504: the deadline passed during the call
	CodeUpstream           = "upstream_error"      // 502: the chain could not reach or authorize at Amazon
	CodeNotServed          = "not_served"          // 403: grantless operations and Amazon credentials are not served
	CodeUnavailable        = "unavailable"         // 503: the gateway is shutting down, its store or its audit failed
)

// Directory is what the gateway reads from the vault: client keys and
// sellers. *vault.Vault implements it.
type Directory interface {
	AuthenticateClient(ctx context.Context, key secret.String) (vault.Client, error)
	GetSeller(ctx context.Context, ref string) (vault.Seller, error)
}

// AccessRecorder stores PII access events (vault.RecordAccess). A nil error
// must mean the event is durably stored.
type AccessRecorder interface {
	RecordAccess(ctx context.Context, e vault.AccessEvent) error
}

// Config configures a Gateway. Client, AppID and Directory are required.
type Config struct {
	// Client is the SP-API client of the app the gateway serves; every
	// client key shares its token sources and rate limiter, so a seller's
	// limit is shared by all of them.
	Client *spapi.Client
	// AppID is the app's id (amzn1.sp.solution.…), used for rate-limit keys.
	AppID string
	// Directory authenticates client keys and resolves sellers.
	Directory Directory
	// Audit receives a line per PII access and per denied request. A PII
	// answer is released only after its line is written and synced.
	Audit *AuditLog
	// Access, when set, also receives every PII access, written before
	// the answer is released (as Audit is).
	//
	// With neither Audit nor Access, calls that can return personal data
	// are refused with 503: the gateway never releases personal data it
	// cannot account for.
	Access AccessRecorder
	// Metrics, when set, is updated per request; serve it with
	// Metrics.Handler (the gateway does at /metrics).
	Metrics *Metrics
	// Ready answers /readyz; nil means always ready.
	Ready *Readiness
	// Logger gets one JSON line per request (never a key or token).
	Logger *slog.Logger
	Clock  clock.Clock
	// KeyCacheTTL is how long an authenticated key is trusted without
	// asking the Directory again (default 30 s). A key revoked in the vault
	// stops working within this window.
	KeyCacheTTL time.Duration
	// SellerCacheTTL is how long a resolved seller is kept (default 30 s).
	SellerCacheTTL time.Duration
	// MaxBody bounds request bodies (default 10 MiB).
	MaxBody int64
	// MaxQueueWait bounds how long a call may wait for the seller's rate
	// limit (default 30 s); a call whose slot lies further away gets 429
	// with Retry-After at once. X-Spgate-Deadline-Ms can only lower it.
	MaxQueueWait time.Duration
	// MaxDeadline bounds every call, queueing for the rate limit and
	// Amazon's answer included, and caps X-Spgate-Deadline-Ms (default
	// 2 minutes). The server's WriteTimeout must be longer.
	MaxDeadline time.Duration
}

// Defaults of Config.MaxDeadline and Config.MaxQueueWait.
const (
	DefaultMaxDeadline  = 2 * time.Minute
	DefaultMaxQueueWait = 30 * time.Second
)

// Gateway is the HTTP handler. Create it with New.
type Gateway struct {
	cfg     Config
	clk     clock.Clock
	log     *slog.Logger
	keys    *keyCache
	sellers *sellerCache
	mux     *http.ServeMux
	steps   [7]step // the pipeline before forward, in order

	idPrefix string
	idSeq    atomic.Uint64
}

// New returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	if cfg.Client == nil || cfg.Directory == nil || cfg.AppID == "" {
		return nil, errors.New("gateway: Config.Client, Config.AppID and Config.Directory are required")
	}
	if cfg.KeyCacheTTL <= 0 {
		cfg.KeyCacheTTL = 30 * time.Second
	}
	if cfg.SellerCacheTTL <= 0 {
		cfg.SellerCacheTTL = 30 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 10 << 20
	}
	if cfg.MaxDeadline <= 0 {
		cfg.MaxDeadline = DefaultMaxDeadline
	}
	if cfg.MaxQueueWait <= 0 {
		cfg.MaxQueueWait = DefaultMaxQueueWait
	}
	g := &Gateway{cfg: cfg, clk: clock.Or(cfg.Clock), log: cfg.Logger}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	// Bound once here: method values made per request would allocate.
	g.steps = [...]step{g.unambiguous, g.authenticate, g.resolve, g.scope, g.decidePII, g.deadline, g.readBody}
	g.keys = newKeyCache(cfg.Directory, g.clk, cfg.KeyCacheTTL)
	g.sellers = newSellerCache(cfg.Directory, g.clk, cfg.SellerCacheTTL)
	var b [6]byte
	_, _ = rand.Read(b[:])
	g.idPrefix = hex.EncodeToString(b[:])
	g.mux = http.NewServeMux()
	g.mux.HandleFunc("GET /healthz", g.healthz)
	g.mux.HandleFunc("GET /readyz", g.readyz)
	if cfg.Metrics != nil {
		g.mux.Handle("GET /metrics", g.requireAllSellers(cfg.Metrics.Handler()))
	}
	return g, nil
}

// Forget drops every cached key and seller, so a revocation or a scope
// change takes effect at once (instead of within KeyCacheTTL).
func (g *Gateway) Forget() {
	g.keys.clear()
	g.sellers.clear()
}

// Close releases what the gateway holds. Call it after the server stopped.
func (g *Gateway) Close() {}

func (g *Gateway) newRequestID() string {
	n := g.idSeq.Add(1)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return g.idPrefix + hex.EncodeToString(b[2:])
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		g.mux.ServeHTTP(w, r)
		return
	}
	g.proxy(w, r)
}

// requireAllSellers serves h only to a client key that may act for every
// seller: the metrics name sellers and their credential state. (Serve them
// without a key on a separate, private listener with OpsHandler.)
func (g *Gateway) requireAllSellers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{id: g.newRequestID()}
		w.Header().Set(HeaderRequestID, c.id)
		key, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			g.answer(w, c, refuse(http.StatusUnauthorized, CodeUnauthenticated, "/metrics needs a client key for every seller (`spgate client add --seller '*'`), or scrape the operations listener (`spgate serve --ops-addr`)"))
			return
		}
		cl, err := g.keys.authenticate(r.Context(), key)
		if err != nil || !cl.AllowsEverySeller() {
			g.answer(w, c, refuse(http.StatusForbidden, CodeSellerForbidden, "/metrics needs a client key for every seller (`spgate client add --seller '*'`)"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// OpsHandler serves /metrics and the full /readyz report without a key,
// for a listener only operators and Prometheus reach (spgate serve
// --ops-addr, loopback by default).
func (g *Gateway) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", g.healthz)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		g.writeReady(w, r, func(rep ReadyReport) any { return rep })
	})
	if g.cfg.Metrics != nil {
		mux.Handle("GET /metrics", g.cfg.Metrics.Handler())
	}
	return mux
}

func (g *Gateway) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
}

// call is the state of one proxied request, for logs, audit and metrics.
type call struct {
	id        string
	start     time.Time
	client    string
	seller    string
	op        *operations.Operation
	method    string
	path      string
	pii       []string
	piiCall   bool
	status    int
	code      string // the gateway's error code when it refused
	amazonID  string
	limitWait time.Duration

	key         vault.Client // the authenticated client
	target      target       // the request as it will be sent
	body        []byte
	contentType string
	bodyRead    bool          // the request body was consumed (or there was none)
	deadline    time.Duration // X-Spgate-Deadline-Ms, 0 when not given
	recorded    bool          // the PII access was audited before release
}

func (c *call) opName() string {
	if c.op == nil {
		return "unknown"
	}
	return c.op.ID
}

func (c *call) opKey() string {
	if c.op == nil {
		return ""
	}
	return c.op.Key()
}

// refusal is a step's answer that stops the pipeline.
type refusal struct {
	status     int
	code, msg  string
	wwwAuth    string // WWW-Authenticate value, for 401s
	retryAfter int    // seconds, for 429s
}

func refuse(status int, code, msg string) *refusal {
	return &refusal{status: status, code: code, msg: msg}
}

// step is one stage of a proxied request. It returns a refusal to stop the
// call, nil to go on.
type step func(ctx context.Context, r *http.Request, c *call) *refusal

// proxy runs a request through the pipeline: authenticate → resolve
// (decode path and query as Amazon will) → scope (operation, seller) →
// personal data → body → forward (with the audit record written before a
// personal-data answer is released).
func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request) {
	c := &call{id: g.newRequestID(), start: time.Now(), method: r.Method, path: r.URL.Path}
	c.bodyRead = r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	w.Header().Set(HeaderRequestID, c.id)
	defer g.finish(c)

	for _, s := range g.steps {
		if rf := s(r.Context(), r, c); rf != nil {
			g.answer(w, c, rf)
			return
		}
	}
	// One deadline for the whole call: the gateway's bound, or the
	// caller's when shorter.
	d := g.cfg.MaxDeadline
	if c.deadline > 0 {
		d = min(d, c.deadline)
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	g.forward(ctx, w, c)
}

// controlHeaders are the headers the gateway decides on.
var controlHeaders = [...]string{"Authorization", HeaderSeller, HeaderPII, HeaderDeadline}

// unambiguous refuses a request that sends a header the gateway decides
// on more than once: which one counts would be the gateway's guess.
func (g *Gateway) unambiguous(_ context.Context, r *http.Request, _ *call) *refusal {
	for _, h := range controlHeaders {
		if len(r.Header[h]) > 1 {
			return refuse(http.StatusBadRequest, CodeBadRequest, "send the "+h+" header once")
		}
	}
	return nil
}

// authenticate checks the client key.
func (g *Gateway) authenticate(ctx context.Context, r *http.Request, c *call) *refusal {
	key, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		rf := refuse(http.StatusUnauthorized, CodeUnauthenticated, "send the client key from `spgate client add` as Authorization: Bearer spg_…")
		rf.wwwAuth = `Bearer realm="spgate"`
		return rf
	}
	cl, err := g.keys.authenticate(ctx, key)
	if err != nil {
		if errors.Is(err, errStore) {
			g.log.Error("client key check failed", "request_id", c.id, "error", err.Error())
			return refuse(http.StatusServiceUnavailable, CodeUnavailable, "the gateway cannot read its vault; try again later")
		}
		if errors.Is(err, errTampered) {
			// Someone wrote to the vault without its key: refuse the key
			// and say so loudly to the operator.
			g.log.Error("refused a client key whose vault record was tampered with", "request_id", c.id, "error", err.Error())
		}
		rf := refuse(http.StatusUnauthorized, CodeUnauthenticated, "unknown or revoked client key; ask the gateway's operator for a key (`spgate client add`)")
		rf.wwwAuth = `Bearer realm="spgate", error="invalid_token"`
		return rf
	}
	markAuthenticated(r.Context())
	c.client, c.key = cl.Name, cl
	return nil
}

// resolve decodes the path and query as Amazon will and finds the
// operation; every later decision is made on this parsed form, and it is
// what is forwarded.
func (g *Gateway) resolve(_ context.Context, r *http.Request, c *call) *refusal {
	t, err := parseTarget(r.Method, r.URL)
	if err != nil {
		return refuse(http.StatusBadRequest, CodeBadRequest, err.Error())
	}
	c.target = t
	if t.op == nil {
		return refuse(http.StatusNotFound, CodeUnknownOperation, fmt.Sprintf("%s %s is not an SP-API operation in any official model; check the path", r.Method, clip(t.displayPath(), 200)))
	}
	c.op = t.op
	return nil
}

// scope checks the operation and the seller against the key.
func (g *Gateway) scope(ctx context.Context, r *http.Request, c *call) *refusal {
	op := c.op
	if op.HandsOutCredentials() {
		return refuse(http.StatusForbidden, CodeNotServed, fmt.Sprintf("%s hands out or changes Amazon credentials, which never leave the gateway: ask for personal data with the %s header instead of a Restricted Data Token; the operator rotates the client secret with `spgate rotate`", op.ID, HeaderPII))
	}
	if !allowsOperation(c.key, op) {
		return refuse(http.StatusForbidden, CodeOperationForbidden, fmt.Sprintf("this client key may not call %s (%s); the operator can widen it with `spgate client add --operation`", op.ID, op.Key()))
	}
	if op.Grantless {
		return refuse(http.StatusForbidden, CodeNotServed, fmt.Sprintf("%s is an application-level (grantless) operation; the gateway serves only seller operations", op.ID))
	}
	ref := strings.TrimSpace(r.Header.Get(HeaderSeller))
	if ref == "" {
		return refuse(http.StatusBadRequest, CodeBadRequest, "name the seller in the "+HeaderSeller+" header (selling partner id or the seller's name in the vault)")
	}
	if len(ref) > 128 {
		ref = ref[:128]
	}
	c.seller = ref
	s, err := g.sellers.resolve(ctx, ref)
	if errors.Is(err, errStore) {
		g.log.Error("seller lookup failed", "request_id", c.id, "error", err.Error())
		return refuse(http.StatusServiceUnavailable, CodeUnavailable, "the gateway cannot read its vault; try again later")
	}
	// Scopes name seller ids only, and the answer is the same whether the
	// seller is unknown or out of scope, so a key learns nothing about
	// sellers it may not see.
	if err != nil || !c.key.AllowsSeller(s.ID) {
		return refuse(http.StatusForbidden, CodeSellerForbidden, fmt.Sprintf("this client key may not act for seller %q", clip(ref, 64)))
	}
	c.seller = s.ID
	return nil
}

// decidePII decides, from the operation and the decoded query, whether the
// answer can carry personal data, and whether the key may receive it.
func (g *Gateway) decidePII(_ context.Context, r *http.Request, c *call) *refusal {
	pii, err := parsePII(r.Header.Get(HeaderPII))
	if err != nil {
		return refuse(http.StatusBadRequest, CodeBadRequest, err.Error())
	}
	if _, _, err := rdt.Plan(c.op, pii); err != nil {
		return refuse(http.StatusBadRequest, CodeBadRequest, HeaderPII+": "+err.Error())
	}
	c.pii = pii
	c.piiCall = c.op.ReturnsPersonalData(pii, c.target.query)
	if c.piiCall && !c.key.PII {
		return refuse(http.StatusForbidden, CodePIIForbidden, fmt.Sprintf("%s with personal data needs a client key with the PII permission (`spgate client add --pii`)", c.op.ID))
	}
	if c.piiCall && g.cfg.Audit == nil && g.cfg.Access == nil {
		return refuse(http.StatusServiceUnavailable, CodeUnavailable, "this gateway keeps no audit of personal-data access, so it releases none; the operator must configure an audit log")
	}
	return nil
}

// deadline reads X-Spgate-Deadline-Ms into c.deadline (applied by proxy).
func (g *Gateway) deadline(_ context.Context, r *http.Request, c *call) *refusal {
	if r.Header.Get(HeaderDeadline) == "" {
		return nil
	}
	d, ok := deadlineFrom(r)
	if !ok {
		return refuse(http.StatusBadRequest, CodeBadRequest, HeaderDeadline+" must be a positive number of milliseconds")
	}
	c.deadline = d
	return nil
}

func deadlineFrom(r *http.Request) (time.Duration, bool) {
	v := r.Header.Get(HeaderDeadline)
	if v == "" {
		return 0, false
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || ms <= 0 {
		return 0, false
	}
	return time.Duration(min(ms, int64(24*time.Hour/time.Millisecond))) * time.Millisecond, true
}

// readBody reads the request body, bounded by MaxBody.
func (g *Gateway) readBody(_ context.Context, r *http.Request, c *call) *refusal {
	if c.bodyRead {
		return nil
	}
	if r.ContentLength > g.cfg.MaxBody {
		return refuse(http.StatusRequestEntityTooLarge, CodeBadRequest, fmt.Sprintf("request body larger than %d bytes", g.cfg.MaxBody))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, g.cfg.MaxBody+1))
	if err != nil {
		return refuse(http.StatusBadRequest, CodeBadRequest, "reading the request body failed")
	}
	if int64(len(body)) > g.cfg.MaxBody {
		return refuse(http.StatusRequestEntityTooLarge, CodeBadRequest, fmt.Sprintf("request body larger than %d bytes", g.cfg.MaxBody))
	}
	c.bodyRead = true
	if len(body) > 0 {
		c.body, c.contentType = body, r.Header.Get("Content-Type")
	}
	return nil
}

// forward sends the call through the client's chain and hands back
// Amazon's answer; a personal-data answer is released only once its audit
// record is written.
func (g *Gateway) forward(ctx context.Context, w http.ResponseWriter, c *call) {
	if len(c.pii) > 0 {
		ctx = spapi.WithDataElements(ctx, c.pii...)
	}
	ctx = ratelimit.WithMaxQueueWait(ctx, g.cfg.MaxQueueWait)
	ctx = spapi.WithOperation(ctx, c.op)
	req, err := g.cfg.Client.NewRequestPath(ctx, c.seller, c.op.Method, c.target.path, c.target.rawQuery, c.body)
	if err != nil {
		g.log.Warn("building the request failed", "request_id", c.id, "error", err.Error())
		g.answer(w, c, refuse(http.StatusBadRequest, CodeBadRequest, "the path or query cannot be forwarded"))
		return
	}
	// What goes on the wire must be the path that was decided on; the
	// chain then takes the operation from here instead of resolving again.
	if req.URL.EscapedPath() != c.target.path {
		g.log.Error("the request built for Amazon has another path than the one decided on; refused", "request_id", c.id, "operation", c.op.Key())
		g.answer(w, c, refuse(http.StatusBadRequest, CodeBadRequest, "the path cannot be forwarded unchanged"))
		return
	}
	if ct := c.contentType; ct != "" && c.body != nil {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := g.cfg.Client.Transport().RoundTrip(req)
	if err != nil {
		g.answer(w, c, g.chainRefusal(c, err))
		return
	}
	defer resp.Body.Close()
	c.status = resp.StatusCode
	c.amazonID = resp.Header.Get("x-amzn-RequestId")
	if c.piiCall {
		if err := g.record(ctx, c); err != nil {
			g.log.Error("the audit record of a personal-data answer could not be written; the answer was withheld", "request_id", c.id, "error", err.Error())
			if g.cfg.Metrics != nil {
				g.cfg.Metrics.auditFailures.Inc()
			}
			g.answer(w, c, refuse(http.StatusServiceUnavailable, CodeUnavailable, "the audit record of this call could not be written, so no personal data was released; try again later"))
			return
		}
		c.recorded = true
	}
	h := w.Header()
	for _, k := range passHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests && h.Get("Retry-After") == "" {
		h.Set("Retry-After", strconv.Itoa(g.refillSeconds(c)))
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		g.log.Warn("copying Amazon's answer to the client failed", "request_id", c.id, "error", err.Error())
	}
}

// answer writes a refusal.
func (g *Gateway) answer(w http.ResponseWriter, c *call, rf *refusal) {
	if rf.status == 499 { // nobody is listening
		c.status, c.code = rf.status, rf.code
		return
	}
	h := w.Header()
	if rf.wwwAuth != "" {
		h.Set("WWW-Authenticate", rf.wwwAuth)
	}
	if rf.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(rf.retryAfter))
	}
	if !c.bodyRead {
		// Without this, net/http reads up to 256 KiB of an unread body
		// before sending the answer: a client trickling its body would
		// hold the refusal (and the connection) for as long as it likes.
		h.Set("Connection", "close")
	}
	g.refuse(w, c, rf.status, rf.code, rf.msg)
}

// passHeaders are Amazon's response headers handed back to the client.
var passHeaders = []string{"Content-Type", "X-Amzn-Requestid", "X-Amzn-Ratelimit-Limit", "X-Amzn-Errortype", "Retry-After"}

// refillSeconds is how long one request slot of the call's bucket takes to
// refill, for a Retry-After after Amazon's own 429.
func (g *Gateway) refillSeconds(c *call) int {
	p, ok := g.cfg.Client.Limiter().Plan(ratelimit.Key{Seller: c.seller, App: g.cfg.AppID, Operation: c.opKey()})
	if !ok || p.Rate <= 0 {
		p = ratelimit.PlanFor(c.op)
	}
	s := int(1/p.Rate + 0.999)
	return max(1, min(s, 3600))
}

// chainRefusal turns a failure of the call chain into the client's answer.
// Details (which may name the app's client id or LWA's wording) go to the
// gateway's log, not to the client.
func (g *Gateway) chainRefusal(c *call, err error) *refusal {
	var we *ratelimit.WaitError
	var uo *spapi.UnknownOperationError
	switch {
	case errors.As(err, &we):
		s := max(1, int((we.RetryAfter()+time.Second-1)/time.Second))
		rf := refuse(http.StatusTooManyRequests, CodeRateLimited,
			fmt.Sprintf("seller %s's rate limit for %s has no free slot within the gateway's queue limit or your deadline; retry after %d s (the limit is shared by every client of this seller)", c.seller, c.op.ID, s))
		rf.retryAfter = s
		return rf
	case errors.Is(err, credstate.ErrAuthorizationRevoked):
		g.log.Warn("seller's authorization is revoked", "request_id", c.id, "seller", c.seller, "error", err.Error())
		return refuse(http.StatusUnauthorized, CodeSellerRevoked, fmt.Sprintf("Amazon no longer accepts seller %s's authorization of this app (revoked, or its refresh token was replaced): the seller must authorize the app again; the gateway's operator runs `spgate seller authorize`", c.seller))
	case errors.Is(err, credstate.ErrAppSecretInvalid):
		g.log.Error("the app's client secret is refused by LWA", "request_id", c.id, "error", err.Error())
		return refuse(http.StatusUnauthorized, CodeSecretInvalid, "Amazon refuses the gateway's app credentials (its client secret expired or was rotated elsewhere): the gateway's operator runs `spgate doctor`, then `spgate rotate` or `spgate app set-secret`")
	case errors.As(err, &uo):
		return refuse(http.StatusNotFound, CodeUnknownOperation, fmt.Sprintf("%s %s is not an SP-API operation in any official model; check the path", c.method, clip(c.target.displayPath(), 200)))
	case errors.Is(err, context.DeadlineExceeded):
		return refuse(http.StatusGatewayTimeout, CodeDeadline, "the deadline passed before Amazon answered")
	case errors.Is(err, context.Canceled):
		c.status, c.code = 499, "client_gone"
		return &refusal{status: 499, code: "client_gone", msg: "the client went away"}
	default:
		g.log.Warn("call chain failed", "request_id", c.id, "operation", c.op.ID, "seller", c.seller, "error", err.Error())
		return refuse(http.StatusBadGateway, CodeUpstream, "the gateway could not get an answer from Amazon for this call; the operator can find the cause under this request id in the gateway's log")
	}
}

// bearer extracts the key from "Bearer <key>".
func bearer(h string) (secret.String, bool) {
	scheme, key, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return secret.String{}, false
	}
	key = strings.TrimSpace(key)
	if key == "" || len(key) > 256 {
		return secret.String{}, false
	}
	return secret.New(key), true
}

// parsePII reads "shippingAddress, buyerInfo".
func parsePII(h string) ([]string, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return nil, nil
	}
	var out []string
	for part := range strings.SplitSeq(h, ",") {
		p := strings.TrimSpace(part)
		if p == "" {
			continue
		}
		if len(p) > 40 || strings.IndexFunc(p, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) >= 0 {
			return nil, fmt.Errorf("%s: %q is not a data element such as shippingAddress, buyerInfo or buyerTaxInformation", HeaderPII, clip(p, 40))
		}
		if len(out) >= 10 {
			return nil, fmt.Errorf("%s names too many data elements", HeaderPII)
		}
		out = append(out, p)
	}
	return out, nil
}

// allowsOperation matches the key's operation scopes: "*", an operation id
// ("getOrders"), api/version/id ("orders/v0/getOrders"), api/version
// ("orders/v0") or an api ("orders").
func allowsOperation(c vault.Client, op *operations.Operation) bool {
	return c.AllowsOperation(op.ID) || c.AllowsOperation(op.Key()) ||
		c.AllowsOperation(op.API+"/"+op.Version) || c.AllowsOperation(op.API)
}

func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
