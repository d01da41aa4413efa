// Package appvault adapts the vault to what an app's SP-API client needs:
// its sellers (region and refresh token) as an spapi.SellerStore, cached
// in memory and cleared when the vault changes.
package appvault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// maxCached bounds the cache; past it the cache starts over.
const maxCached = 10000

// Sellers is an spapi.SellerStore over the vault for one app. Lookups are
// cached for TTL (the vault decrypts a refresh token per read); Clear
// drops the cache at once, which is what a process watching the vault's
// change counter does, so a new refresh token is never read stale.
type Sellers struct {
	v   *vault.Vault
	app string
	ttl time.Duration
	clk clock.Clock

	mu      sync.Mutex
	entries map[string]cached
	gen     uint64 // bumped by Clear, so a read started before it is not cached
	group   singleflight.Group
}

type cached struct {
	s       spapi.Seller
	expires time.Time
}

// NewSellers returns the sellers of app (its name or id in the vault),
// cached for ttl (0: no cache).
func NewSellers(v *vault.Vault, app string, ttl time.Duration, clk clock.Clock) *Sellers {
	return &Sellers{v: v, app: app, ttl: ttl, clk: clock.Or(clk), entries: map[string]cached{}}
}

// Seller returns the seller's region and refresh token for the app. A
// seller that is not in the vault, or has not authorized the app, is an
// error wrapping spapi.ErrUnknownSeller.
func (s *Sellers) Seller(ctx context.Context, id string) (spapi.Seller, error) {
	if s.ttl <= 0 {
		return s.read(ctx, id)
	}
	now := s.clk.Now()
	s.mu.Lock()
	e, ok := s.entries[id]
	gen := s.gen
	s.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.s, nil
	}
	v, err, _ := s.group.Do(id, func() (any, error) {
		sl, err := s.read(context.WithoutCancel(ctx), id)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.gen == gen {
			if len(s.entries) >= maxCached {
				clear(s.entries)
			}
			s.entries[id] = cached{s: sl, expires: s.clk.Now().Add(s.ttl)}
		}
		s.mu.Unlock()
		return sl, nil
	})
	if err != nil {
		return spapi.Seller{}, err
	}
	return v.(spapi.Seller), nil
}

func (s *Sellers) read(ctx context.Context, id string) (spapi.Seller, error) {
	sl, err := s.v.GetSeller(ctx, id)
	if errors.Is(err, vault.ErrNotFound) {
		return spapi.Seller{}, fmt.Errorf("seller %s is not in the vault: add it with `spgate seller add`: %w", id, spapi.ErrUnknownSeller)
	}
	if err != nil {
		return spapi.Seller{}, fmt.Errorf("seller %s: %w", id, err)
	}
	au, ok := sl.Authorization(s.app)
	if !ok || au.RefreshToken.Value.IsZero() {
		return spapi.Seller{}, fmt.Errorf("seller %s has not authorized app %s: authorize it with `spgate seller authorize` or store its refresh token with `spgate seller add`: %w", id, s.app, spapi.ErrUnknownSeller)
	}
	return spapi.Seller{ID: sl.ID, Region: spapi.Region(sl.Region), RefreshToken: au.RefreshToken.Value}, nil
}

// Clear drops every cached seller.
func (s *Sellers) Clear() {
	s.mu.Lock()
	clear(s.entries)
	s.gen++
	s.mu.Unlock()
}
