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
	CodeNotServed          = "not_served"          // 403: grantless operations are not served
	CodeUnavailable        = "unavailable"         // 503: the gateway is shutting down or its store failed
)

// Directory is what the gateway reads from the vault: client keys and
// sellers. *vault.Vault implements it.
type Directory interface {
	AuthenticateClient(ctx context.Context, key secret.String) (vault.Client, error)
	GetSeller(ctx context.Context, ref string) (vault.Seller, error)
}

// AccessRecorder stores PII access events (vault.RecordAccess).
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
	// Audit receives a line per PII access and per denied request; nil
	// keeps none (not recommended: Amazon's Data Protection Policy asks
	// for a PII access log).
	Audit *AuditLog
	// Access, when set, also receives PII access events, asynchronously and
	// best effort (events are dropped, and counted, when it falls behind).
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
	// MaxDeadline caps X-Spgate-Deadline-Ms (default 10 minutes).
	MaxDeadline time.Duration
}

// Gateway is the HTTP handler. Create it with New.
type Gateway struct {
	cfg     Config
	clk     clock.Clock
	log     *slog.Logger
	keys    *keyCache
	sellers *sellerCache
	access  *accessQueue
	mux     *http.ServeMux

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
		cfg.MaxDeadline = 10 * time.Minute
	}
	g := &Gateway{cfg: cfg, clk: clock.Or(cfg.Clock), log: cfg.Logger}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.keys = newKeyCache(cfg.Directory, g.clk, cfg.KeyCacheTTL)
	g.sellers = newSellerCache(cfg.Directory, g.clk, cfg.SellerCacheTTL)
	if cfg.Access != nil {
		g.access = newAccessQueue(cfg.Access, g.log, cfg.Metrics)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	g.idPrefix = hex.EncodeToString(b[:])
	g.mux = http.NewServeMux()
	g.mux.HandleFunc("GET /healthz", g.healthz)
	g.mux.HandleFunc("GET /readyz", g.readyz)
	if cfg.Metrics != nil {
		g.mux.Handle("GET /metrics", cfg.Metrics.Handler())
	}
	return g, nil
}

// Forget drops every cached key and seller, so a revocation or a scope
// change takes effect at once (instead of within KeyCacheTTL).
func (g *Gateway) Forget() {
	g.keys.clear()
	g.sellers.clear()
}

// Close flushes the access recorder. Call it after the server stopped.
func (g *Gateway) Close() {
	if g.access != nil {
		g.access.close()
	}
}

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

func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request) {
	c := &call{id: g.newRequestID(), start: time.Now(), method: r.Method, path: r.URL.Path}
	w.Header().Set(HeaderRequestID, c.id)
	defer g.finish(c)

	// 1 who is calling
	key, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="spgate"`)
		g.refuse(w, c, http.StatusUnauthorized, CodeUnauthenticated, "send the client key from `spgate client add` as Authorization: Bearer spg_…")
		return
	}
	cl, err := g.keys.authenticate(r.Context(), key)
	if err != nil {
		if errors.Is(err, errStore) {
			g.log.Error("client key check failed", "request_id", c.id, "error", err.Error())
			g.refuse(w, c, http.StatusServiceUnavailable, CodeUnavailable, "the gateway cannot read its vault; try again later")
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="spgate", error="invalid_token"`)
		g.refuse(w, c, http.StatusUnauthorized, CodeUnauthenticated, "unknown or revoked client key; ask the gateway's operator for a key (`spgate client add`)")
		return
	}
	c.client = cl.Name

	// 2 which operation
	op, _, ok := operations.Lookup(r.Method, r.URL.Path)
	if !ok {
		g.refuse(w, c, http.StatusNotFound, CodeUnknownOperation, fmt.Sprintf("%s %s is not an SP-API operation in any official model; check the path", r.Method, clip(r.URL.Path, 200)))
		return
	}
	c.op = op
	if !allowsOperation(cl, op) {
		g.refuse(w, c, http.StatusForbidden, CodeOperationForbidden, fmt.Sprintf("this client key may not call %s (%s); the operator can widen it with `spgate client add --operation`", op.ID, op.Key()))
		return
	}
	if op.Grantless {
		g.refuse(w, c, http.StatusForbidden, CodeNotServed, fmt.Sprintf("%s is an application-level (grantless) operation; the gateway serves only seller operations", op.ID))
		return
	}

	// 3 for which seller
	ref := strings.TrimSpace(r.Header.Get(HeaderSeller))
	if ref == "" {
		g.refuse(w, c, http.StatusBadRequest, CodeBadRequest, "name the seller in the "+HeaderSeller+" header (selling partner id or the seller's name in the vault)")
		return
	}
	if len(ref) > 128 {
		ref = ref[:128]
	}
	c.seller = ref
	s, err := g.sellers.resolve(r.Context(), ref)
	if errors.Is(err, errStore) {
		g.log.Error("seller lookup failed", "request_id", c.id, "error", err.Error())
		g.refuse(w, c, http.StatusServiceUnavailable, CodeUnavailable, "the gateway cannot read its vault; try again later")
		return
	}
	// The same answer whether the seller is unknown or out of scope, so a
	// key learns nothing about sellers it may not see.
	if err != nil || !(cl.AllowsSeller(s.ID) || (s.Name != "" && cl.AllowsSeller(s.Name))) {
		g.refuse(w, c, http.StatusForbidden, CodeSellerForbidden, fmt.Sprintf("this client key may not act for seller %q", clip(ref, 64)))
		return
	}
	c.seller = s.ID

	// 4 personal data
	pii, err := parsePII(r.Header.Get(HeaderPII))
	if err != nil {
		g.refuse(w, c, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	if _, _, err := rdt.Plan(op, pii); err != nil {
		g.refuse(w, c, http.StatusBadRequest, CodeBadRequest, HeaderPII+": "+err.Error())
		return
	}
	c.pii = pii
	c.piiCall = returnsPII(op, pii, r.URL.RawQuery)
	if c.piiCall && !cl.PII {
		g.refuse(w, c, http.StatusForbidden, CodePIIForbidden, fmt.Sprintf("%s with personal data needs a client key with the PII permission (`spgate client add --pii`)", op.ID))
		return
	}

	// 5 how long the caller will wait
	ctx := r.Context()
	if v := r.Header.Get(HeaderDeadline); v != "" {
		ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || ms <= 0 {
			g.refuse(w, c, http.StatusBadRequest, CodeBadRequest, HeaderDeadline+" must be a positive number of milliseconds")
			return
		}
		d := min(time.Duration(min(ms, int64(g.cfg.MaxDeadline/time.Millisecond)))*time.Millisecond, g.cfg.MaxDeadline)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	if len(pii) > 0 {
		ctx = spapi.WithDataElements(ctx, pii...)
	}

	// 6 the body
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		body, err = io.ReadAll(io.LimitReader(r.Body, g.cfg.MaxBody+1))
		if err != nil {
			g.refuse(w, c, http.StatusBadRequest, CodeBadRequest, "reading the request body failed")
			return
		}
		if int64(len(body)) > g.cfg.MaxBody {
			g.refuse(w, c, http.StatusRequestEntityTooLarge, CodeBadRequest, fmt.Sprintf("request body larger than %d bytes", g.cfg.MaxBody))
			return
		}
		if len(body) == 0 {
			body = nil
		}
	}

	// 7 the call chain
	pathAndQuery := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		pathAndQuery += "?" + r.URL.RawQuery
	}
	req, err := g.cfg.Client.NewRequest(ctx, s.ID, r.Method, pathAndQuery, body)
	if err != nil {
		g.refuse(w, c, http.StatusBadRequest, CodeBadRequest, "the path or query cannot be forwarded: "+clip(err.Error(), 200))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && body != nil {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := g.cfg.Client.Transport().RoundTrip(req)
	if err != nil {
		g.chainError(w, c, err)
		return
	}
	defer resp.Body.Close()
	h := w.Header()
	for _, k := range passHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests && h.Get("Retry-After") == "" {
		h.Set("Retry-After", strconv.Itoa(g.refillSeconds(c)))
	}
	c.status = resp.StatusCode
	c.amazonID = resp.Header.Get("x-amzn-RequestId")
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		g.log.Warn("copying Amazon's answer to the client failed", "request_id", c.id, "error", err.Error())
	}
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

// chainError answers a failure of the call chain.
func (g *Gateway) chainError(w http.ResponseWriter, c *call, err error) {
	var we *ratelimit.WaitError
	var uo *spapi.UnknownOperationError
	switch {
	case errors.As(err, &we):
		w.Header().Set("Retry-After", strconv.Itoa(int(we.RetryAfter()/time.Second)))
		g.refuse(w, c, http.StatusTooManyRequests, CodeRateLimited,
			fmt.Sprintf("seller %s's rate limit for %s has no free slot before your deadline; retry after %d s (the limit is shared by every client of this seller)", c.seller, c.op.ID, int(we.RetryAfter()/time.Second)))
	case errors.As(err, &uo):
		g.refuse(w, c, http.StatusNotFound, CodeUnknownOperation, uo.Error())
	case errors.Is(err, context.DeadlineExceeded):
		g.refuse(w, c, http.StatusGatewayTimeout, CodeDeadline, "the deadline passed before Amazon answered")
	case errors.Is(err, context.Canceled):
		c.status, c.code = 499, "client_gone"
	default:
		g.log.Warn("call chain failed", "request_id", c.id, "operation", c.op.ID, "seller", c.seller, "error", err.Error())
		g.refuse(w, c, http.StatusBadGateway, CodeUpstream, clip(err.Error(), 600))
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

// returnsPII reports whether the call can return personal data: data
// elements were asked for, the operation always returns PII
// (getOrderAddress…), or an Orders 2026-01-01 call includes BUYER or
// RECIPIENT data.
func returnsPII(op *operations.Operation, pii []string, rawQuery string) bool {
	if len(pii) > 0 && op.Restricted {
		return true
	}
	if op.Restricted && len(op.DataElements) == 0 {
		return true
	}
	if op.API == "orders" && op.Version != "v0" && rawQuery != "" {
		q := strings.ToUpper(rawQuery)
		if strings.Contains(q, "INCLUDEDDATA") && (strings.Contains(q, "BUYER") || strings.Contains(q, "RECIPIENT")) {
			return true
		}
	}
	return false
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
