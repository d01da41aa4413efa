package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// errUnknownKey: the key is not a live client key. errStore: the
// directory failed (the vault is locked, unreadable…).
// errTampered: the key's record fails the vault's integrity check.
var (
	errUnknownKey = errors.New("unknown or revoked client key")
	errStore      = errors.New("the vault could not be read")
	errTampered   = errors.New("the client's record fails the vault's integrity check")
)

// maxCached bounds each cache; past it the cache starts over.
const maxCached = 10000

// keyCache remembers authenticated keys for a short while, so the vault is
// not read per request. Entries are found by the key's SHA-256, never by
// the key itself, and only successful authentications are cached. The
// vault compares stored SHA-256 hashes (an index lookup on a hash of a
// 256-bit random key), so lookups leak nothing useful through timing.
type keyCache struct {
	dir Directory
	clk clock.Clock
	ttl time.Duration

	mu      sync.Mutex
	entries map[[sha256.Size]byte]keyEntry
	group   singleflight.Group
}

type keyEntry struct {
	client  vault.Client
	expires time.Time
}

func newKeyCache(dir Directory, clk clock.Clock, ttl time.Duration) *keyCache {
	return &keyCache{dir: dir, clk: clk, ttl: ttl, entries: map[[sha256.Size]byte]keyEntry{}}
}

func (k *keyCache) clear() {
	k.mu.Lock()
	clear(k.entries)
	k.mu.Unlock()
}

// authenticate returns the client holding key, errUnknownKey, or an error
// wrapping errStore.
func (k *keyCache) authenticate(ctx context.Context, key secret.String) (vault.Client, error) {
	h := sha256.Sum256([]byte(key.Reveal()))
	now := k.clk.Now()
	k.mu.Lock()
	e, ok := k.entries[h]
	k.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.client, nil
	}
	// Many requests with the same cold key share one vault read.
	v, err, _ := k.group.Do(string(h[:]), func() (any, error) {
		c, err := k.dir.AuthenticateClient(context.WithoutCancel(ctx), key)
		switch {
		case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrRevoked):
			k.mu.Lock()
			delete(k.entries, h)
			k.mu.Unlock()
			return nil, errUnknownKey
		case errors.Is(err, vault.ErrIntegrity):
			return nil, fmt.Errorf("%w: %w", errTampered, err)
		case err != nil:
			return nil, fmt.Errorf("%w: %w", errStore, err)
		case c.Revoked():
			return nil, errUnknownKey
		}
		k.mu.Lock()
		if len(k.entries) >= maxCached {
			clear(k.entries)
		}
		k.entries[h] = keyEntry{client: c, expires: k.clk.Now().Add(k.ttl)}
		k.mu.Unlock()
		return c, nil
	})
	if err != nil {
		return vault.Client{}, err
	}
	return v.(vault.Client), nil
}

// sellerInfo is what the gateway needs of a seller to check scopes.
type sellerInfo struct {
	ID, Name string
}

// sellerCache resolves X-Spgate-Seller (an id or a name) with a short
// cache, unknown sellers included.
type sellerCache struct {
	dir Directory
	clk clock.Clock
	ttl time.Duration

	mu      sync.Mutex
	entries map[string]sellerEntry
	group   singleflight.Group
}

type sellerEntry struct {
	info    sellerInfo
	found   bool
	expires time.Time
}

func newSellerCache(dir Directory, clk clock.Clock, ttl time.Duration) *sellerCache {
	return &sellerCache{dir: dir, clk: clk, ttl: ttl, entries: map[string]sellerEntry{}}
}

func (s *sellerCache) clear() {
	s.mu.Lock()
	clear(s.entries)
	s.mu.Unlock()
}

var errNoSeller = errors.New("no such seller")

func (s *sellerCache) resolve(ctx context.Context, ref string) (sellerInfo, error) {
	now := s.clk.Now()
	s.mu.Lock()
	e, ok := s.entries[ref]
	s.mu.Unlock()
	if !ok || !now.Before(e.expires) {
		v, err, _ := s.group.Do(ref, func() (any, error) {
			sl, err := s.dir.GetSeller(context.WithoutCancel(ctx), ref)
			var e sellerEntry
			switch {
			case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrInvalid):
			case err != nil:
				return nil, fmt.Errorf("%w: %w", errStore, err)
			default:
				e.info, e.found = sellerInfo{ID: sl.ID, Name: sl.Name}, true
			}
			e.expires = s.clk.Now().Add(s.ttl)
			s.mu.Lock()
			if len(s.entries) >= maxCached {
				clear(s.entries)
			}
			s.entries[ref] = e
			s.mu.Unlock()
			return e, nil
		})
		if err != nil {
			return sellerInfo{}, err
		}
		e = v.(sellerEntry)
	}
	if !e.found {
		return sellerInfo{}, errNoSeller
	}
	return e.info, nil
}

// Deprecated: use appvault.Sellers, which the vault watcher can clear.
//
// CachedSellers wraps an spapi.SellerStore (such as one reading the vault,
// which decrypts a refresh token per lookup) with a cache of ttl, so the
// call chain's per-request seller lookups stay in memory. A refresh token
// changed in the vault is picked up within ttl.
func CachedSellers(store spapi.SellerStore, clk clock.Clock, ttl time.Duration) spapi.SellerStore {
	return &cachedSellers{store: store, clk: clock.Or(clk), ttl: ttl, entries: map[string]cachedSeller{}}
}

type cachedSellers struct {
	store spapi.SellerStore
	clk   clock.Clock
	ttl   time.Duration

	mu      sync.Mutex
	entries map[string]cachedSeller
	group   singleflight.Group
}

type cachedSeller struct {
	s       spapi.Seller
	expires time.Time
}

func (c *cachedSellers) Seller(ctx context.Context, id string) (spapi.Seller, error) {
	now := c.clk.Now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.s, nil
	}
	v, err, _ := c.group.Do(id, func() (any, error) {
		s, err := c.store.Seller(context.WithoutCancel(ctx), id)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if len(c.entries) >= maxCached {
			clear(c.entries)
		}
		c.entries[id] = cachedSeller{s: s, expires: c.clk.Now().Add(c.ttl)}
		c.mu.Unlock()
		return s, nil
	})
	if err != nil {
		return spapi.Seller{}, err
	}
	return v.(spapi.Seller), nil
}
