// Package appvault adapts the vault to what an app's SP-API client and the
// product's jobs need: its sellers (region and refresh token) as an
// spapi.SellerStore, cached in memory and cleared when the vault changes,
// the checkpoints of resumable jobs as an orderpull.CheckpointStore, and an
// SP-API client whose credentials and rate limits live in the vault
// (NewClient).
//
// It also holds the rules the command line, the console and Go programs
// share when they change the vault (AddSeller, CreateClient, ResolveApp)
// and the views they show of its records, which never hold a secret value
// (AppView, SellerView, ClientView).
package appvault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/ttlcache"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// Sellers is an spapi.SellerStore over the vault for one app. Lookups are
// cached for TTL (the vault decrypts a refresh token per read); Clear
// drops the cache at once, which is what a process watching the vault's
// change counter does, so a new refresh token is never read stale.
type Sellers struct {
	v     *vault.Vault
	app   string
	cache *ttlcache.Cache[spapi.Seller]
}

// NewSellers returns the sellers of app (its name or id in the vault),
// cached for ttl (0: no cache).
func NewSellers(v *vault.Vault, app string, ttl time.Duration, clk clock.Clock) *Sellers {
	return &Sellers{v: v, app: app, cache: ttlcache.New[spapi.Seller](clk, ttl, 0)}
}

// Seller returns the seller's region and refresh token for the app. A
// seller that is not in the vault, or has not authorized the app, is an
// error wrapping spapi.ErrUnknownSeller.
func (s *Sellers) Seller(ctx context.Context, id string) (spapi.Seller, error) {
	return s.cache.Get(ctx, id, func(ctx context.Context) (spapi.Seller, error) { return s.read(ctx, id) })
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
func (s *Sellers) Clear() { s.cache.Clear() }
