package appvault

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/spgate/spgate/tokencache"
	"github.com/spgate/spgate/vault"
)

// TokenCache is the vault's shared token cache (vault.TokenSlot and its
// kin) as a tokencache.Shared: every process that opens the vault — the
// replicas of spgate serve on PostgreSQL, or spgate serve, a cron'd orders
// pull and spgate call on one machine's vault file — hands out the same
// LWA access tokens and RDTs, and one of them fetches each new one.
//
// On a miss, Get takes the key's fetch lease (one statement that only one
// process wins), fetches, stores the token sealed in the vault and ends the
// lease; while it fetches it renews the lease every leaseTTL/3, so a
// holder that dies (kill -9, a lost connection) is replaced within
// leaseTTL. The others poll the row, from every few milliseconds backing
// off to every pollMax, until the token is there or the lease is free
// again (the fetch failed, or its holder died): then one of them fetches.
//
// When the vault does not answer, Get fetches for its caller alone: a
// token is better than an error, and LWA does not mind a few extra
// requests. log gets one warning when that starts and one line when the
// vault answers again.
type TokenCache struct {
	v        *vault.Vault
	log      *slog.Logger
	leaseTTL time.Duration
	pollMin  time.Duration
	pollMax  time.Duration
	degraded atomic.Bool
	// waiting, when set, is called as Get starts to wait for another
	// holder's fetch (this package's tests).
	waiting func()
}

var _ tokencache.Shared = (*TokenCache)(nil)

// Defaults of a TokenCache.
const (
	// tokenLeaseTTL is how long a fetch lease lasts without renewal: how
	// long the others wait for a holder that died.
	tokenLeaseTTL = 10 * time.Second
	// tokenPollMin and tokenPollMax bound the pause between two reads of
	// a row another process is fetching: an LWA or RDT request takes
	// tens to hundreds of milliseconds.
	tokenPollMin = 5 * time.Millisecond
	tokenPollMax = 200 * time.Millisecond
	// tokenStoreTimeout bounds storing a token, ending a lease and an
	// invalidation, which outlive their callers' contexts.
	tokenStoreTimeout = 10 * time.Second
)

// NewTokenCache returns the shared token cache kept in v. log (nil:
// discard) hears of a failing vault and of damaged rows, never a token.
func NewTokenCache(v *vault.Vault, log *slog.Logger) *TokenCache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &TokenCache{v: v, log: log, leaseTTL: tokenLeaseTTL, pollMin: tokenPollMin, pollMax: tokenPollMax}
}

// Get implements tokencache.Shared.
func (c *TokenCache) Get(ctx context.Context, key string, fetch tokencache.FetchFunc) (tokencache.Token, error) {
	pause := c.pollMin
	for {
		if err := ctx.Err(); err != nil {
			return tokencache.Token{}, err
		}
		s, err := c.v.TokenSlot(ctx, key)
		if err != nil {
			return c.alone(ctx, fetch, err)
		}
		c.answered()
		if s.Fresh() {
			return tokencache.Token{Value: s.Token.Value, Expiry: s.Token.Expiry, RefreshAt: s.Token.RefreshAt}, nil
		}
		if s.Damaged {
			c.log.Warn("a token in the vault's shared cache failed authentication (written without the vault key?); it is ignored and replaced", "key", key)
		}
		if !s.Leased {
			holder := vault.NewLeaseToken()
			got, err := c.v.TakeTokenLease(ctx, key, holder, s, c.leaseTTL)
			if err != nil {
				return c.alone(ctx, fetch, err)
			}
			if got {
				return c.fetch(ctx, key, holder, fetch)
			}
			// Another process got there first: wait for its token.
		} else if c.waiting != nil {
			c.waiting()
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return tokencache.Token{}, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, c.pollMax)
	}
}

// fetch runs fetch as the lease's holder, renewing the lease meanwhile,
// then stores the token (or, after a failure, ends the lease).
func (c *TokenCache) fetch(ctx context.Context, key, holder string, fetch tokencache.FetchFunc) (tokencache.Token, error) {
	rctx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		c.renew(rctx, key, holder)
	}()
	tok, err := fetch(ctx)
	stopRenew()
	<-renewed
	if err == nil && tok.Value.IsZero() {
		err = tokencache.ErrNoToken
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenStoreTimeout)
	defer cancel()
	if err != nil {
		if rerr := c.v.ReleaseTokenLease(sctx, key, holder); rerr != nil {
			c.failed(rerr) // the lease lapses on its own
		}
		return tokencache.Token{}, err
	}
	if perr := c.v.PutToken(sctx, key, holder, vault.CachedToken{Value: tok.Value, Expiry: tok.Expiry, RefreshAt: tok.RefreshAt}); perr != nil {
		c.failed(perr) // the others fetch their own when the lease lapses
	}
	return tok, nil
}

// renew extends holder's lease every leaseTTL/3 until ctx ends or the
// lease is lost.
func (c *TokenCache) renew(ctx context.Context, key, holder string) {
	tick := time.NewTicker(c.leaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		got, err := c.v.TakeTokenLease(ctx, key, holder, vault.TokenSlot{}, c.leaseTTL)
		if err == nil && !got {
			return // lapsed and taken by another: its fetch counts now
		}
	}
}

// alone fetches for this caller only, the vault having failed with err.
func (c *TokenCache) alone(ctx context.Context, fetch tokencache.FetchFunc, err error) (tokencache.Token, error) {
	if cerr := ctx.Err(); cerr != nil {
		return tokencache.Token{}, cerr
	}
	c.failed(err)
	tok, err := fetch(ctx)
	if err == nil && tok.Value.IsZero() {
		err = tokencache.ErrNoToken
	}
	return tok, err
}

// Invalidate implements tokencache.Shared.
func (c *TokenCache) Invalidate(ctx context.Context, key, value string) {
	ctx, cancel := context.WithTimeout(ctx, tokenStoreTimeout)
	defer cancel()
	if _, err := c.v.DropToken(ctx, key, value); err != nil {
		c.failed(err)
		return
	}
	c.answered()
}

// failed warns at the start of an outage of the vault.
func (c *TokenCache) failed(err error) {
	if c.degraded.CompareAndSwap(false, true) {
		c.log.Warn("the vault's shared token cache is failing; this process asks Amazon for its own tokens until it answers again", "err", err)
	}
}

// answered notes the end of an outage.
func (c *TokenCache) answered() {
	if c.degraded.Load() && c.degraded.CompareAndSwap(true, false) {
		c.log.Info("the vault's shared token cache answers again; tokens are shared with the other spgate processes")
	}
}
