// Package rdt plans and caches Restricted Data Tokens: which operations need
// one, which generic path lets one token serve every order, and a cache that
// shares one token request among concurrent callers.
package rdt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/tokencache"
)

// MaxResources is Amazon's limit of restricted resources per token request.
const MaxResources = 50

// Resource is one restricted resource of createRestrictedDataToken.
type Resource struct {
	Method       string   `json:"method"`
	Path         string   `json:"path"`
	DataElements []string `json:"dataElements,omitempty"`
}

func (r Resource) key() string {
	return r.Method + " " + r.Path + " " + strings.Join(r.DataElements, ",")
}

// Data elements an RDT can name, and the restricted role each needs.
const (
	BuyerInfo           = "buyerInfo"
	ShippingAddress     = "shippingAddress"
	BuyerTaxInformation = "buyerTaxInformation"
)

// RoleFor names the Seller Central restricted role an app needs for a data
// element or a restricted operation (by operation id), or "" when unknown.
func RoleFor(elementOrOperation string) string {
	switch elementOrOperation {
	case ShippingAddress, "getOrderAddress", "getShipment", "createShipment", "cancelShipment", "cancelShipmentOld", "createScheduledPackageBulk":
		return "Direct-to-Consumer Shipping"
	case BuyerInfo, "getOrderBuyerInfo", "getOrderItemsBuyerInfo":
		return "Tax Invoicing or Direct-to-Consumer Shipping"
	case BuyerTaxInformation, "getOrderRegulatedInfo", "getShipmentDetails":
		return "Tax Invoicing"
	}
	return ""
}

// Plan decides how a call to op is authorized. want lists the data elements
// the caller asked for. It returns needed=false when a plain LWA token
// serves (an operation that is not restricted, or getOrders without data
// elements). Otherwise the resource names the generic path (the model's
// template), so one token serves every order id.
func Plan(op *operations.Operation, want []string) (res Resource, needed bool, err error) {
	if !op.Restricted {
		if len(want) > 0 {
			return Resource{}, false, fmt.Errorf("%s is not a restricted operation: it takes no data elements (asked for %s)", op.ID, strings.Join(want, ", "))
		}
		return Resource{}, false, nil
	}
	var elems []string
	for _, w := range want {
		if !slices.Contains(op.DataElements, w) {
			if len(op.DataElements) == 0 {
				// getOrderAddress and friends return their PII without
				// naming data elements; asking for them is harmless.
				continue
			}
			return Resource{}, false, fmt.Errorf("%s does not take data element %q: it takes %s", op.ID, w, strings.Join(op.DataElements, ", "))
		}
		if !slices.Contains(elems, w) {
			elems = append(elems, w)
		}
	}
	if len(op.DataElements) > 0 && len(elems) == 0 {
		// getOrders/getOrder/getOrderItems without PII: a plain token.
		return Resource{}, false, nil
	}
	sort.Strings(elems)
	return Resource{Method: op.Method, Path: op.Path, DataElements: elems}, true, nil
}

// Token is a Restricted Data Token with its expiry.
type Token struct {
	Value  secret.String
	Expiry time.Time
}

// entry is a cached token and when the cache stops handing it out:
// Expiry less the refresh margin.
type entry struct {
	Token
	refreshAt time.Time
}

// Request is one createRestrictedDataToken call.
type Request struct {
	Seller            string
	App               string
	TargetApplication string
	Resources         []Resource
}

// FetchFunc performs createRestrictedDataToken (through the client's call
// chain, so it is paced and retried like any call).
type FetchFunc func(ctx context.Context, req Request) (value secret.String, expiresIn time.Duration, err error)

// DefaultMargin is the longest refresh margin: a token is replaced this
// long before it expires, or a tenth of its lifetime when that is shorter.
const DefaultMargin = 5 * time.Minute

// Cache keeps RDTs per (seller, app, targetApplication, resource) until
// shortly before they expire.
//
// The refresh margin is min(margin, lifetime/10). It exists so a token is
// not sent in a request that reaches Amazon after it expired: request
// latency and clock skew, seconds. Amazon issues RDTs for an hour, which
// gives the full 5 minutes; a fixed 5-minute margin would make a token of 5
// minutes or less stale on arrival, so it is proportional: a 60-second
// token is used for 54 s and still has 6 s of slack, while a tenth keeps
// the token requests for short-lived tokens (createRestrictedDataToken is
// paced at 1/s) near one per lifetime.
//
// With a shared cache (WithShared), a token missing here is first looked
// for there, and of all the processes sharing it one requests it; Token's
// tokens are stored there, Invalidate drops them there too. Prefetch
// requests for this process alone (one request for many resources) and
// stores nothing there.
type Cache struct {
	fetch  FetchFunc
	clk    clock.Clock
	margin time.Duration
	log    *slog.Logger
	shared tokencache.Shared // nil: this process alone

	mu     sync.Mutex
	tokens map[string]entry
	group  singleflight.Group

	requests atomic.Int64
}

// CacheOption adjusts a Cache.
type CacheOption func(*Cache)

// WithShared makes the cache share its tokens with other processes
// through shared (nil: ignored). Keys there name the seller, app, target
// application and resource, never a token.
func WithShared(shared tokencache.Shared) CacheOption {
	return func(c *Cache) { c.shared = shared }
}

// NewCache returns a cache that fetches with fetch. margin is the longest
// refresh margin (0 means DefaultMargin); see Cache.
func NewCache(fetch FetchFunc, clk clock.Clock, margin time.Duration, log *slog.Logger, opts ...CacheOption) *Cache {
	if margin <= 0 {
		margin = DefaultMargin
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cache{fetch: fetch, clk: clock.Or(clk), margin: margin, log: log, tokens: map[string]entry{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Requests reports how many token requests the cache has made.
func (c *Cache) Requests() int64 { return c.requests.Load() }

func cacheKey(seller, app, target string, r Resource) string {
	return seller + "|" + app + "|" + target + "|" + r.key()
}

// fetchTimeout bounds a shared fetch, which outlives the callers' contexts.
const fetchTimeout = 2 * time.Minute

// Token returns an RDT that covers res for the seller, fetching one when
// none is cached. Concurrent callers for the same key share one request.
// It never returns an empty token without an error.
func (c *Cache) Token(ctx context.Context, seller, app, target string, res Resource) (secret.String, error) {
	k := cacheKey(seller, app, target, res)
	if t, ok := c.cached(k); ok {
		return t, nil
	}
	ch := c.group.DoChan(k, func() (any, error) {
		if t, ok := c.cached(k); ok {
			return t, nil
		}
		// The shared fetch must not die with the first caller's context.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		if c.shared != nil {
			return c.sharedToken(fctx, k, seller, app, target, res)
		}
		return c.fetchOne(fctx, seller, app, target, res)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return secret.String{}, r.Err
		}
		return r.Val.(secret.String), nil
	case <-ctx.Done():
		return secret.String{}, ctx.Err()
	}
}

// fetchOne requests a token for res alone and caches it here.
func (c *Cache) fetchOne(ctx context.Context, seller, app, target string, res Resource) (secret.String, error) {
	toks, err := c.prefetch(ctx, seller, app, target, []Resource{res})
	if err != nil {
		return secret.String{}, err
	}
	// The token just issued, even when its lifetime is shorter than any
	// margin: it is as fresh as Amazon makes them.
	t := toks[0]
	if !c.clk.Now().Before(t.Expiry) {
		return secret.String{}, errors.New("createRestrictedDataToken issued a token that expired before it could be used; check the machine's clock")
	}
	return t.Value, nil
}

// sharedToken gets k's token through the shared cache — another process's,
// or one requested here for all — and caches it here.
func (c *Cache) sharedToken(ctx context.Context, k, seller, app, target string, res Resource) (secret.String, error) {
	st, err := c.shared.Get(ctx, sharedKey(k), func(ctx context.Context) (tokencache.Token, error) {
		v, err := c.fetchOne(ctx, seller, app, target, res)
		if err != nil {
			return tokencache.Token{}, err
		}
		c.mu.Lock()
		e := c.tokens[k]
		c.mu.Unlock()
		return tokencache.Token{Value: v, Expiry: e.Expiry, RefreshAt: e.refreshAt}, nil
	})
	if err != nil {
		return secret.String{}, err
	}
	refreshAt := st.RefreshAt
	if refreshAt.IsZero() {
		refreshAt = st.Expiry
	}
	c.mu.Lock()
	c.tokens[k] = entry{Token: Token{Value: st.Value, Expiry: st.Expiry}, refreshAt: refreshAt}
	c.mu.Unlock()
	return st.Value, nil
}

// sharedKey is a local cache key's name in the shared cache.
func sharedKey(k string) string { return "rdt|" + k }

// Prefetch gets tokens for several resources at once, up to MaxResources per
// request, so a job that needs addresses and buyer info makes one request.
func (c *Cache) Prefetch(ctx context.Context, seller, app, target string, res []Resource) error {
	var missing []Resource
	seen := map[string]bool{}
	for _, r := range res {
		k := cacheKey(seller, app, target, r)
		if _, ok := c.cached(k); !ok && !seen[k] {
			seen[k] = true
			missing = append(missing, r)
		}
	}
	_, err := c.prefetch(ctx, seller, app, target, missing)
	return err
}

// prefetch fetches tokens for res and caches them; it returns the token
// of each batch it fetched, in order (one per MaxResources resources).
func (c *Cache) prefetch(ctx context.Context, seller, app, target string, res []Resource) ([]Token, error) {
	var out []Token
	for len(res) > 0 {
		n := min(len(res), MaxResources)
		batch := res[:n]
		res = res[n:]
		c.requests.Add(1)
		// The lifetime counts from when Amazon issued the token, which is
		// after the request left: measure from then, not from the answer.
		start := c.clk.Now()
		v, exp, err := c.fetch(ctx, Request{Seller: seller, App: app, TargetApplication: target, Resources: batch})
		if err != nil {
			return out, explain(err, batch)
		}
		if v.IsZero() || exp <= 0 {
			return out, errors.New("createRestrictedDataToken answered without a token or with no lifetime")
		}
		e := entry{Token: Token{Value: v, Expiry: start.Add(exp)}, refreshAt: start.Add(exp - c.marginFor(exp))}
		c.mu.Lock()
		for _, r := range batch {
			c.tokens[cacheKey(seller, app, target, r)] = e
		}
		c.mu.Unlock()
		out = append(out, e.Token)
		c.log.Debug("restricted data token issued", "seller", seller, "resources", len(batch), "expires_in", exp)
	}
	return out, nil
}

// marginFor is the refresh margin of a token living life: min(margin,
// life/10).
func (c *Cache) marginFor(life time.Duration) time.Duration {
	return min(c.margin, life/10)
}

func (c *Cache) cached(k string) (secret.String, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tokens[k]
	if !ok {
		return secret.String{}, false
	}
	if !c.clk.Now().Before(t.refreshAt) {
		delete(c.tokens, k)
		return secret.String{}, false
	}
	return t.Value, true
}

// Invalidate drops every cached entry holding token (Amazon refused it as
// expired, revoked or invalid), so the next call fetches a new one. The
// shared cache's entries go first, so a concurrent miss here cannot take
// the token back from there.
func (c *Cache) Invalidate(token string) {
	if token == "" {
		return
	}
	var keys []string
	c.mu.Lock()
	for k, t := range c.tokens {
		if t.Value.Reveal() == token {
			keys = append(keys, k)
		}
	}
	c.mu.Unlock()
	if c.shared != nil && len(keys) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		for _, k := range keys {
			c.shared.Invalidate(ctx, sharedKey(k), token)
		}
		cancel()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if t, ok := c.tokens[k]; ok && t.Value.Reveal() == token {
			delete(c.tokens, k)
		}
	}
}

// RoleError says which restricted role an app lacks.
type RoleError struct {
	Roles []string
	Err   error
}

// Error implements the error interface.
func (e *RoleError) Error() string {
	return fmt.Sprintf("the app lacks the restricted role %s needed for this data: add it in Seller Central → Develop Apps → Edit App, then re-authorize the seller (Amazon said: %v)",
		strings.Join(e.Roles, " and "), e.Err)
}

// Unwrap returns the error this one wraps.
func (e *RoleError) Unwrap() error { return e.Err }

// explain turns Amazon's "does not have access to one or more requested data
// elements" into an error naming the roles.
func explain(err error, batch []Resource) error {
	if !strings.Contains(strings.ToLower(err.Error()), "not have access") {
		return fmt.Errorf("getting a restricted data token: %w", err)
	}
	var roles []string
	add := func(r string) {
		if r != "" && !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	for _, r := range batch {
		for _, e := range r.DataElements {
			add(RoleFor(e))
		}
		if len(r.DataElements) == 0 {
			if op, _, ok := operations.Lookup(r.Method, r.Path); ok {
				add(RoleFor(op.ID))
			}
		}
	}
	return &RoleError{Roles: roles, Err: err}
}
