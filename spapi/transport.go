package spapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/rdt"
)

// stats counts what the chain did. Read it with Client.Stats.
type stats struct {
	Calls          atomic.Int64 // requests that entered the chain
	Attempts       atomic.Int64 // requests put on the wire
	Throttled      atomic.Int64 // 429 answers from Amazon
	Retries        atomic.Int64 // attempts after the first
	TokenRetries   atomic.Int64 // retries after a 403 refusing the access token (expired, revoked or invalid)
	LWARetries     atomic.Int64 // retries after LWA was unavailable while authorizing
	ServerErrors   atomic.Int64 // 5xx answers
	NetworkErrors  atomic.Int64 // connection failures
	LimiterWaits   atomic.Int64 // calls that waited for the rate limiter
	LimiterWaitNs  atomic.Int64 // total time waited
	BackoffWaitsNs atomic.Int64 // total time spent in backoff
}

// StatsSnapshot is a copy of Stats.
type StatsSnapshot struct {
	Calls, Attempts, Throttled, Retries, TokenRetries, LWARetries, ServerErrors, NetworkErrors, LimiterWaits int64
	LimiterWait, BackoffWait                                                                                 time.Duration
}

// Stats returns the chain's counters.
func (c *Client) Stats() StatsSnapshot {
	s := &c.stats
	return StatsSnapshot{
		Calls: s.Calls.Load(), Attempts: s.Attempts.Load(), Throttled: s.Throttled.Load(), Retries: s.Retries.Load(),
		TokenRetries: s.TokenRetries.Load(), LWARetries: s.LWARetries.Load(), ServerErrors: s.ServerErrors.Load(), NetworkErrors: s.NetworkErrors.Load(),
		LimiterWaits: s.LimiterWaits.Load(), LimiterWait: time.Duration(s.LimiterWaitNs.Load()), BackoffWait: time.Duration(s.BackoffWaitsNs.Load()),
	}
}

// transport is the chain: resolve, then authorize → limit → sign → send →
// classify per attempt.
type transport struct{ c *Client }

// UnknownOperationError says a request addressed no SP-API operation.
type UnknownOperationError struct{ Method, Path string }

// Error implements the error interface.
func (e *UnknownOperationError) Error() string {
	return fmt.Sprintf("%s %s is not an SP-API operation in any official model: check the path (Amazon would answer 403 MissingAuthenticationToken)", e.Method, e.Path)
}

// safePOSTs are POST operations that change nothing at Amazon, so any
// failure may be retried.
var safePOSTs = map[string]bool{
	"tokens/2021-03-01/createRestrictedDataToken": true,
}

// exchange is one call on its way through the chain: what resolve decided
// and what the attempts so far learnt.
type exchange struct {
	req        *http.Request
	ctx        context.Context
	op         *operations.Operation
	seller     string // empty for grantless operations
	plan       rdt.Resource
	needRDT    bool
	key        ratelimit.Key
	wire       http.RoundTripper
	idempotent bool
	base       *slog.Logger // the client's logger
	log        *slog.Logger // base with the call's fields, built on first use

	attempt      int
	tokenRetried bool
	invalidate   func() // drops the access token the last attempt used
}

// RoundTrip runs the chain's steps: resolve once, then for each attempt
// authorize → limit → sign → send → classify, until classify says the
// answer (or error) is final.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	c.stats.Calls.Add(1)
	x, err := c.resolve(req)
	if err != nil {
		return nil, err
	}
	for x.attempt = 1; ; x.attempt++ {
		if x.attempt > 1 {
			c.stats.Retries.Add(1)
		}
		// The token comes first: a seller (or secret) Amazon refuses then
		// fails before it spends a rate-limit slot, and concurrent callers
		// of a cold seller share one LWA request instead of queueing.
		token, err := c.authorizeAttempt(x)
		if err != nil {
			return nil, err
		}
		waited, err := c.limit(x)
		if err != nil {
			return nil, err
		}
		if waited > 0 {
			// The token aged while the call queued: take the current one
			// (the cached token unless it entered its refresh margin).
			if token, err = c.authorizeAttempt(x); err != nil {
				return nil, err
			}
		}
		out, err := c.sign(x, token)
		if err != nil {
			return nil, err
		}
		c.stats.Attempts.Add(1)
		resp, err := c.guard(x.wire).RoundTrip(out)
		retry, resp, err := c.classify(x, resp, err)
		if !retry {
			return resp, err
		}
	}
}

// resolve finds the operation (on the escaped path: a SKU like AB/12
// travels as AB%2F12 and must stay one segment), the seller, the RDT plan
// and the wire, makes the body replayable, and fails early for a seller
// whose credentials Amazon is known to refuse.
func (c *Client) resolve(req *http.Request) (*exchange, error) {
	ctx := req.Context()
	op := operationFrom(ctx)
	if op != nil {
		// Trust the caller's resolution only for the request it made: the
		// chain's own calls under the same context (an RDT request) go to
		// other paths.
		if _, ok := op.Match(req.Method, req.URL.EscapedPath()); !ok {
			op = nil
		}
	}
	if op == nil {
		var ok bool
		if op, _, ok = operations.LookupEscaped(req.Method, req.URL.EscapedPath()); !ok {
			closeBody(req)
			return nil, &UnknownOperationError{Method: req.Method, Path: req.URL.Path}
		}
	}
	x := &exchange{req: req, ctx: ctx, op: op, seller: sellerFrom(ctx), wire: c.wire}
	if x.seller == "" && !op.Grantless {
		closeBody(req)
		return nil, fmt.Errorf("spapi %s: no seller given: %s acts for a selling partner (spapi.WithSeller)", op.ID, op.ID)
	}
	if op.Grantless {
		x.seller = ""
	}
	if c.cfg.Sign != nil {
		// Only signing needs the region; the URL already names the host.
		x.wire = c.wireFor(c.regionOf(ctx, req, x.seller))
	}
	var err error
	if x.plan, x.needRDT, err = rdt.Plan(op, elementsFrom(ctx)); err != nil {
		closeBody(req)
		return nil, fmt.Errorf("spapi: %w", err)
	}
	if req.Body != nil && req.GetBody == nil {
		// Retries need the body again.
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("spapi %s: reading request body: %w", op.ID, err)
		}
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	} else {
		// Every attempt sends a fresh copy from GetBody; the caller's body
		// is ours to close (http.RoundTripper's contract).
		closeBody(req)
	}
	x.key = ratelimit.Key{Seller: x.seller, App: c.cfg.AppID, Operation: c.opKey(op)}
	x.idempotent = req.Method != http.MethodPost && req.Method != http.MethodPatch || safePOSTs[op.Key()]
	x.base = c.log
	return x, nil
}

// opKey is op.Key(), built once per operation rather than per call.
func (c *Client) opKey(op *operations.Operation) string {
	if k, ok := c.opKeys.Load(op); ok {
		return k.(string)
	}
	k := op.Key()
	c.opKeys.Store(op, k)
	return k
}

// logger is the client's logger with the call's operation and seller,
// built only when something is logged: most calls log nothing.
func (x *exchange) logger() *slog.Logger {
	if x.log == nil {
		x.log = x.base.With("operation", x.op.ID, "seller", x.seller)
	}
	return x.log
}

// limit waits for the call's rate-limit slot and says how long it waited.
func (c *Client) limit(x *exchange) (time.Duration, error) {
	start := c.clk.Now()
	if err := c.limiter.Wait(x.ctx, x.key, x.op); err != nil {
		return 0, fmt.Errorf("spapi %s: waiting for the rate limit: %w", x.op.ID, err)
	}
	waited := c.clk.Now().Sub(start)
	// Under a millisecond is the time Wait itself takes on a real clock,
	// not a wait the limiter asked for.
	if waited >= time.Millisecond {
		c.stats.LimiterWaits.Add(1)
		c.stats.LimiterWaitNs.Add(int64(waited))
		x.logger().Debug("waited for rate limit", "wait", waited)
		return waited, nil
	}
	return 0, nil
}

// authorizeAttempt gets the access token for this attempt. LWA unreachable
// or failing (5xx, 429, garbage) is tried again with backoff, keeping the
// rate-limit slot, as long as attempts and the deadline allow; each try
// counts as an attempt. A refusal (invalid_grant, invalid_client…) needs a
// fix, not a retry. An RDT's own call through this chain has retried
// already.
func (c *Client) authorizeAttempt(x *exchange) (string, error) {
	token, invalidate, err := c.authorize(x.ctx, x.op, x.seller, x.plan, x.needRDT)
	for err != nil && !x.needRDT && lwa.IsRetryable(err) && x.attempt < c.cfg.MaxAttempts {
		if berr := c.backoff(x.ctx, x.logger(), x.attempt, "LWA unavailable", err); berr != nil {
			return "", fmt.Errorf("spapi %s: %w", x.op.ID, berr)
		}
		x.attempt++
		c.stats.Retries.Add(1)
		c.stats.LWARetries.Add(1)
		token, invalidate, err = c.authorize(x.ctx, x.op, x.seller, x.plan, x.needRDT)
	}
	if err != nil {
		return "", err
	}
	x.invalidate = invalidate
	return token, nil
}

// sign builds this attempt's copy of the request with its token (SigV4,
// when configured, is applied by the wire transport chosen in resolve).
func (c *Client) sign(x *exchange, token string) (*http.Request, error) {
	out, err := cloneRequest(x.req)
	if err != nil {
		return nil, fmt.Errorf("spapi %s: %w", x.op.ID, err)
	}
	out.Header.Set("x-amz-access-token", token)
	if out.Header.Get("User-Agent") == "" {
		out.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	return out, nil
}

// classify decides what an attempt's outcome means: retry (after the
// wait it calls for), or the final answer or error.
func (c *Client) classify(x *exchange, resp *http.Response, err error) (retry bool, _ *http.Response, _ error) {
	ctx, op, attempt := x.ctx, x.op, x.attempt
	if err != nil {
		if ctx.Err() != nil {
			return false, nil, ctx.Err()
		}
		c.stats.NetworkErrors.Add(1)
		if attempt >= c.cfg.MaxAttempts || !(x.idempotent || notSent(err)) {
			return false, nil, fmt.Errorf("spapi %s: sending to Amazon failed after %d attempt(s): %w", op.ID, attempt, err)
		}
		if err := c.backoff(ctx, x.logger(), attempt, "network error", err); err != nil {
			return false, nil, err
		}
		return true, nil, nil
	}
	c.limiter.Observe(x.key, resp.Header.Get("x-amzn-RateLimit-Limit"))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return c.throttled(x, resp)
	case resp.StatusCode == http.StatusForbidden && !x.tokenRetried && attempt < c.cfg.MaxAttempts:
		body, rerr := peekBody(resp)
		if rerr != nil || !tokenRefused(body) {
			return false, resp, nil
		}
		// Expired on Amazon's clock, or revoked, malformed or invalid:
		// drop it from its cache and try once with a fresh one. A revoked
		// grant then fails at LWA with invalid_grant, which says what to
		// fix.
		x.tokenRetried = true
		c.stats.TokenRetries.Add(1)
		x.invalidate()
		discard(resp)
		x.logger().Debug("Amazon refused the access token; fetching a fresh one and retrying once")
		return true, nil, nil
	case resp.StatusCode >= 500:
		c.stats.ServerErrors.Add(1)
		cause := fmt.Errorf("HTTP %d", resp.StatusCode)
		if attempt >= c.cfg.MaxAttempts || !x.idempotent {
			return false, resp, nil
		}
		wait, asked := retryAfter(resp.Header, c.clk.Now())
		if asked && !beforeDeadline(ctx, wait) {
			return false, resp, nil
		}
		discard(resp)
		if asked {
			err = c.pause(ctx, wait, "Amazon's Retry-After after a server error", cause)
		} else {
			err = c.backoff(ctx, x.logger(), attempt, "server error", cause)
		}
		if err != nil {
			return false, nil, err
		}
		return true, nil, nil
	}
	return false, resp, nil
}

// MaxRetryAfter caps how long a Retry-After from Amazon makes a call wait
// before its next attempt.
const MaxRetryAfter = 60 * time.Second

// retryAfter reads a Retry-After header (seconds, or an HTTP date taken
// relative to the answer's Date), capped at MaxRetryAfter. ok is false when
// there is none or it is unreadable.
func retryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return min(time.Duration(min(secs, int64(MaxRetryAfter/time.Second)))*time.Second, MaxRetryAfter), true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		now = date // both times on Amazon's clock
	}
	return min(max(at.Sub(now), 0), MaxRetryAfter), true
}

// beforeDeadline reports whether a wait of d still ends before ctx's
// deadline.
func beforeDeadline(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d
}

// tokenRefused reports whether a 403 body says the access token itself was
// refused: expired on Amazon's clock, or revoked, malformed or invalid.
func tokenRefused(body []byte) bool {
	b := bytes.ToLower(body)
	return bytes.Contains(b, []byte("access token you provided has expired")) ||
		bytes.Contains(b, []byte("access token you provided is revoked, malformed or invalid"))
}

// authorize returns the access token for the call and a func that drops it
// from its cache.
func (c *Client) authorize(ctx context.Context, op *operations.Operation, seller string, plan rdt.Resource, needRDT bool) (string, func(), error) {
	switch {
	case op.Grantless:
		src := c.grantlessSource(op.Scope)
		tok, err := src.Token(ctx)
		if err != nil {
			return "", nil, fmt.Errorf("spapi %s: grantless token (scope %s): %w", op.ID, op.Scope, err)
		}
		v := tok.AccessToken.Reveal()
		return v, func() { src.Invalidate(v) }, nil
	case needRDT:
		tok, err := c.rdts.Token(ctx, seller, c.cfg.AppID, c.cfg.TargetApplication, plan)
		if err != nil {
			return "", nil, fmt.Errorf("spapi %s: %w", op.ID, err)
		}
		v := tok.Reveal()
		return v, func() { c.rdts.Invalidate(v) }, nil
	default:
		tok, err := c.creds.Token(ctx, seller)
		if err != nil {
			return "", nil, fmt.Errorf("spapi %s for seller %s: %w", op.ID, seller, err)
		}
		v := tok.AccessToken.Reveal()
		return v, func() { c.creds.Invalidate(seller, v) }, nil
	}
}

func (c *Client) regionOf(ctx context.Context, req *http.Request, seller string) Region {
	if seller != "" {
		if s, err := c.seller(ctx, seller); err == nil {
			return s.Region
		}
	}
	for _, r := range []Region{NA, EU, FE} {
		if strings.Contains(req.URL.Host, "-"+string(r)+".") {
			return r
		}
	}
	return NA
}

// throttled handles Amazon's 429: the seller's bucket is emptied, and the
// call is tried again (after Retry-After, or after the refill the limiter
// waits for) unless its attempts or its deadline are spent.
func (c *Client) throttled(x *exchange, resp *http.Response) (retry bool, _ *http.Response, _ error) {
	ctx, attempt := x.ctx, x.attempt
	c.stats.Throttled.Add(1)
	c.limiter.Drain(x.key)
	if attempt >= c.cfg.MaxAttempts {
		return false, resp, nil
	}
	wait, asked := retryAfter(resp.Header, c.clk.Now())
	if asked && !beforeDeadline(ctx, wait) {
		return false, resp, nil // Amazon asks for longer than the caller will wait
	}
	discard(resp)
	x.logger().Debug("throttled by Amazon (429); bucket emptied, retrying after refill", "attempt", attempt, "retry_after", wait)
	why := "Amazon's Retry-After after 429"
	if !asked {
		// The limiter, drained, holds the retry until the bucket
		// refills. A random part of BackoffBase on top keeps two
		// clients that overrun one bucket (separate limiters) from
		// retrying in lockstep, where the same one would lose every
		// refill. Skipped when it would not fit the deadline.
		wait, why = time.Duration(rand.Int64N(int64(c.cfg.BackoffBase)+1)), "a spread after 429"
		if !beforeDeadline(ctx, wait) {
			wait = 0
		}
	}
	if wait > 0 {
		if err := c.pause(ctx, wait, why, errors.New("HTTP 429")); err != nil {
			return false, nil, err
		}
	}
	return true, nil, nil
}

// backoff sleeps with exponential backoff and full jitter. It gives up at
// once, returning an error that wraps cause, when the sleep would end after
// ctx's deadline.
func (c *Client) backoff(ctx context.Context, log interface {
	Debug(string, ...any)
}, attempt int, why string, cause error) error {
	ceil := c.cfg.BackoffBase << min(attempt-1, 20)
	if ceil > c.cfg.BackoffMax || ceil <= 0 {
		ceil = c.cfg.BackoffMax
	}
	d := time.Duration(rand.Int64N(int64(ceil) + 1))
	log.Debug("backing off before retry", "reason", why, "error", cause.Error(), "attempt", attempt, "wait", d)
	return c.pause(ctx, d, why, cause)
}

// pause sleeps d before the next attempt, on the client's clock.
func (c *Client) pause(ctx context.Context, d time.Duration, why string, cause error) error {
	if !beforeDeadline(ctx, d) {
		return fmt.Errorf("spapi: giving up retrying (%s): the next attempt would start after the deadline: %w", why, cause)
	}
	c.stats.BackoffWaitsNs.Add(int64(d))
	if err := clock.Sleep(ctx, c.clk, d); err != nil {
		return fmt.Errorf("spapi: giving up retrying (%s: %v): %w", why, cause, err)
	}
	return nil
}

// notSent reports whether err proves the request never reached Amazon
// (so even a non-idempotent POST may be sent again).
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED)
}

// cloneRequest is this attempt's copy of req: its own header (the token
// goes in) and body; the rest, the URL included, is shared and never
// changed. A shallow copy, as Request.WithContext makes.
func cloneRequest(req *http.Request) (*http.Request, error) {
	out := new(http.Request)
	*out = *req
	out.Header = req.Header.Clone()
	if out.Header == nil {
		out.Header = make(http.Header, 2)
	}
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("rewinding request body: %w", err)
		}
		out.Body = b
	}
	return out, nil
}

// peekBody reads a small error body and puts it back for the caller.
func peekBody(resp *http.Response) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}

func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
