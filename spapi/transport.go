package spapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

// Stats counts what the chain did. Read it with Client.Stats.
type Stats struct {
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

// transport is the chain: resolve → limit → authorize → sign → send → retry.
type transport struct{ c *Client }

// UnknownOperationError says a request addressed no SP-API operation.
type UnknownOperationError struct{ Method, Path string }

func (e *UnknownOperationError) Error() string {
	return fmt.Sprintf("%s %s is not an SP-API operation in any official model: check the path (Amazon would answer 403 MissingAuthenticationToken)", e.Method, e.Path)
}

// safePOSTs are POST operations that change nothing at Amazon, so any
// failure may be retried.
var safePOSTs = map[string]bool{
	"tokens/2021-03-01/createRestrictedDataToken": true,
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	ctx := req.Context()
	c.stats.Calls.Add(1)
	// Resolve on the escaped path: a SKU like AB/12 travels as AB%2F12
	// and must stay one segment.
	op, _, ok := operations.LookupEscaped(req.Method, req.URL.EscapedPath())
	if !ok {
		closeBody(req)
		return nil, &UnknownOperationError{Method: req.Method, Path: req.URL.Path}
	}
	seller := sellerFrom(ctx)
	if seller == "" && !op.Grantless {
		closeBody(req)
		return nil, fmt.Errorf("spapi %s: no seller given: %s acts for a selling partner (spapi.WithSeller)", op.ID, op.ID)
	}
	if op.Grantless {
		seller = ""
	}
	wire := c.wire
	if c.cfg.Sign != nil {
		// Only signing needs the region; the URL already names the host.
		wire = c.wireFor(c.regionOf(ctx, req, seller))
	}
	plan, needRDT, err := rdt.Plan(op, elementsFrom(ctx))
	if err != nil {
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
	if seller != "" {
		// A seller whose authorization (or the app's secret) Amazon is
		// known to refuse fails here, before it spends a rate-limit slot.
		if err := c.creds.Err(seller); err != nil {
			return nil, fmt.Errorf("spapi %s for seller %s: %w", op.ID, seller, err)
		}
	}
	key := ratelimit.Key{Seller: seller, App: c.cfg.AppID, Operation: op.Key()}
	idempotent := req.Method != http.MethodPost && req.Method != http.MethodPatch || safePOSTs[op.Key()]
	log := c.log.With("operation", op.ID, "seller", seller)

	tokenRetried := false
	var lastErr error
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			c.stats.Retries.Add(1)
		}
		start := c.clk.Now()
		if err := c.limiter.Wait(ctx, key, op); err != nil {
			return nil, fmt.Errorf("spapi %s: waiting for the rate limit: %w", op.ID, err)
		}
		if waited := c.clk.Now().Sub(start); waited > 0 {
			c.stats.LimiterWaits.Add(1)
			c.stats.LimiterWaitNs.Add(int64(waited))
			log.Debug("waited for rate limit", "wait", waited)
		}
		token, invalidate, err := c.authorize(ctx, op, seller, plan, needRDT)
		// LWA unreachable or failing (5xx, 429, garbage): try again with
		// backoff, keeping the rate-limit slot, as long as attempts and the
		// deadline allow. A refusal (invalid_grant, invalid_client…) needs
		// a fix, not a retry. An RDT's own call through this chain has
		// retried already.
		for err != nil && !needRDT && lwa.IsRetryable(err) && attempt < c.cfg.MaxAttempts {
			if berr := c.backoff(ctx, log, attempt, "LWA unavailable", err); berr != nil {
				return nil, fmt.Errorf("spapi %s: %w", op.ID, berr)
			}
			attempt++
			c.stats.Retries.Add(1)
			c.stats.LWARetries.Add(1)
			token, invalidate, err = c.authorize(ctx, op, seller, plan, needRDT)
		}
		if err != nil {
			return nil, err
		}
		out, err := cloneRequest(req)
		if err != nil {
			return nil, fmt.Errorf("spapi %s: %w", op.ID, err)
		}
		out.Header.Set("x-amz-access-token", token)
		if out.Header.Get("User-Agent") == "" {
			out.Header.Set("User-Agent", c.cfg.UserAgent)
		}
		c.stats.Attempts.Add(1)
		resp, err := c.guard(wire).RoundTrip(out)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.stats.NetworkErrors.Add(1)
			lastErr = err
			if attempt >= c.cfg.MaxAttempts || !(idempotent || notSent(err)) {
				return nil, fmt.Errorf("spapi %s: sending to Amazon failed after %d attempt(s): %w", op.ID, attempt, err)
			}
			if err := c.backoff(ctx, log, attempt, "network error", err); err != nil {
				return nil, err
			}
			continue
		}
		c.limiter.Observe(key, resp.Header.Get("x-amzn-RateLimit-Limit"))
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			c.stats.Throttled.Add(1)
			c.limiter.Drain(key)
			if attempt >= c.cfg.MaxAttempts {
				return resp, nil
			}
			wait, asked := retryAfter(resp.Header, c.clk.Now())
			if asked && !beforeDeadline(ctx, wait) {
				return resp, nil // Amazon asks for longer than the caller will wait
			}
			discard(resp)
			log.Debug("throttled by Amazon (429); bucket emptied, retrying after refill", "attempt", attempt, "retry_after", wait)
			if asked {
				if err := c.pause(ctx, wait, "Amazon's Retry-After after 429", errors.New("HTTP 429")); err != nil {
					return nil, err
				}
			}
			continue
		case resp.StatusCode == http.StatusForbidden && !tokenRetried && attempt < c.cfg.MaxAttempts:
			body, rerr := peekBody(resp)
			if rerr == nil && tokenRefused(body) {
				// Expired on Amazon's clock, or revoked, malformed or
				// invalid: drop it from its cache and try once with a
				// fresh one. A revoked grant then fails at LWA with
				// invalid_grant, which says what to fix.
				tokenRetried = true
				c.stats.TokenRetries.Add(1)
				invalidate()
				discard(resp)
				log.Debug("Amazon refused the access token; fetching a fresh one and retrying once")
				continue
			}
			return resp, nil
		case resp.StatusCode >= 500:
			c.stats.ServerErrors.Add(1)
			lastErr = fmt.Errorf("HTTP %d", resp.StatusCode)
			if attempt >= c.cfg.MaxAttempts || !idempotent {
				return resp, nil
			}
			wait, asked := retryAfter(resp.Header, c.clk.Now())
			if asked && !beforeDeadline(ctx, wait) {
				return resp, nil
			}
			discard(resp)
			if asked {
				err = c.pause(ctx, wait, "Amazon's Retry-After after a server error", lastErr)
			} else {
				err = c.backoff(ctx, log, attempt, "server error", lastErr)
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		return resp, nil
	}
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

func cloneRequest(req *http.Request) (*http.Request, error) {
	out := req.Clone(req.Context())
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
