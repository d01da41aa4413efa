package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/ttlcache"
	"github.com/spgate/spgate/secret"
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

// keyCache remembers authenticated keys for a short while, so the vault is
// not read per request. Entries are found by the key's SHA-256, never by
// the key itself, and only successful authentications are cached. The
// vault compares stored SHA-256 hashes (an index lookup on a hash of a
// 256-bit random key), so lookups leak nothing useful through timing.
type keyCache struct {
	dir   Directory
	cache *ttlcache.Cache[vault.Client]
}

func newKeyCache(dir Directory, clk clock.Clock, ttl time.Duration) *keyCache {
	return &keyCache{dir: dir, cache: ttlcache.New[vault.Client](clk, ttl, 0)}
}

func (k *keyCache) clear() { k.cache.Clear() }

// authenticate returns the client holding key, errUnknownKey, or an error
// wrapping errStore or errTampered.
func (k *keyCache) authenticate(ctx context.Context, key secret.String) (vault.Client, error) {
	h := sha256.Sum256([]byte(key.Reveal()))
	// Many requests with the same cold key share one vault read.
	return k.cache.Get(ctx, string(h[:]), func(ctx context.Context) (vault.Client, error) {
		c, err := k.dir.AuthenticateClient(ctx, key)
		switch {
		case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrRevoked):
			return vault.Client{}, errUnknownKey
		case errors.Is(err, vault.ErrIntegrity):
			return vault.Client{}, fmt.Errorf("%w: %w", errTampered, err)
		case err != nil:
			return vault.Client{}, fmt.Errorf("%w: %w", errStore, err)
		case c.Revoked():
			return vault.Client{}, errUnknownKey
		}
		return c, nil
	})
}

// sellerInfo is what the gateway needs of a seller to check scopes; found
// is false for a seller the vault does not hold (cached too, so unknown
// names cost no vault read per request).
type sellerInfo struct {
	ID, Name string
	found    bool
}

// sellerCache resolves X-Spgate-Seller (an id or a name) with a short
// cache, unknown sellers included.
type sellerCache struct {
	dir   Directory
	cache *ttlcache.Cache[sellerInfo]
}

func newSellerCache(dir Directory, clk clock.Clock, ttl time.Duration) *sellerCache {
	return &sellerCache{dir: dir, cache: ttlcache.New[sellerInfo](clk, ttl, 0)}
}

func (s *sellerCache) clear() { s.cache.Clear() }

var errNoSeller = errors.New("no such seller")

func (s *sellerCache) resolve(ctx context.Context, ref string) (sellerInfo, error) {
	info, err := s.cache.Get(ctx, ref, func(ctx context.Context) (sellerInfo, error) {
		sl, err := s.dir.GetSeller(ctx, ref)
		switch {
		case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrInvalid):
			return sellerInfo{}, nil
		case err != nil:
			return sellerInfo{}, fmt.Errorf("%w: %w", errStore, err)
		}
		return sellerInfo{ID: sl.ID, Name: sl.Name, found: true}, nil
	})
	if err != nil {
		return sellerInfo{}, err
	}
	if !info.found {
		return sellerInfo{}, errNoSeller
	}
	return info, nil
}
