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

// Cache keeps RDTs per (seller, app, targetApplication, resource) until
// shortly before they expire.
type Cache struct {
	fetch  FetchFunc
	clk    clock.Clock
	margin time.Duration
	log    *slog.Logger

	mu     sync.Mutex
	tokens map[string]Token
	group  singleflight.Group

	requests atomic.Int64
}

// NewCache returns a cache that fetches with fetch. margin is how long
// before expiry a token is replaced (default 5 minutes).
func NewCache(fetch FetchFunc, clk clock.Clock, margin time.Duration, log *slog.Logger) *Cache {
	if margin <= 0 {
		margin = 5 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cache{fetch: fetch, clk: clock.Or(clk), margin: margin, log: log, tokens: map[string]Token{}}
}

// Requests reports how many token requests the cache has made.
func (c *Cache) Requests() int64 { return c.requests.Load() }

func cacheKey(seller, app, target string, r Resource) string {
	return seller + "|" + app + "|" + target + "|" + r.key()
}

// Token returns an RDT that covers res for the seller, fetching one when
// none is cached. Concurrent callers for the same key share one request.
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
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := c.prefetch(fctx, seller, app, target, []Resource{res}); err != nil {
			return nil, err
		}
		t, _ := c.cached(k)
		return t, nil
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

// Prefetch gets tokens for several resources at once, up to MaxResources per
// request, so a job that needs addresses and buyer info makes one request.
func (c *Cache) Prefetch(ctx context.Context, seller, app, target string, res []Resource) error {
	var missing []Resource
	for _, r := range res {
		if _, ok := c.cached(cacheKey(seller, app, target, r)); !ok {
			missing = append(missing, r)
		}
	}
	return c.prefetch(ctx, seller, app, target, missing)
}

func (c *Cache) prefetch(ctx context.Context, seller, app, target string, res []Resource) error {
	for len(res) > 0 {
		n := min(len(res), MaxResources)
		batch := res[:n]
		res = res[n:]
		c.requests.Add(1)
		v, exp, err := c.fetch(ctx, Request{Seller: seller, App: app, TargetApplication: target, Resources: batch})
		if err != nil {
			return explain(err, batch)
		}
		if v.IsZero() || exp <= 0 {
			return errors.New("createRestrictedDataToken answered without a token or with no lifetime")
		}
		t := Token{Value: v, Expiry: c.clk.Now().Add(exp)}
		c.mu.Lock()
		for _, r := range batch {
			c.tokens[cacheKey(seller, app, target, r)] = t
		}
		c.mu.Unlock()
		c.log.Debug("restricted data token issued", "seller", seller, "resources", len(batch), "expires_in", exp)
	}
	return nil
}

func (c *Cache) cached(k string) (secret.String, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tokens[k]
	if !ok {
		return secret.String{}, false
	}
	if !c.clk.Now().Add(c.margin).Before(t.Expiry) {
		delete(c.tokens, k)
		return secret.String{}, false
	}
	return t.Value, true
}

// Invalidate drops every cached entry holding token (Amazon said it expired).
func (c *Cache) Invalidate(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, t := range c.tokens {
		if t.Value.Reveal() == token {
			delete(c.tokens, k)
		}
	}
}

// RoleError says which restricted role an app lacks.
type RoleError struct {
	Roles []string
	Err   error
}

func (e *RoleError) Error() string {
	return fmt.Sprintf("the app lacks the restricted role %s needed for this data: add it in Seller Central → Develop Apps → Edit App, then re-authorize the seller (Amazon said: %v)",
		strings.Join(e.Roles, " and "), e.Err)
}
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
