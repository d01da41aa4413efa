// Package tokencache names what a token cache shared by several processes
// must do, so that N gateway replicas (or a gateway and a cron'd orders
// pull) on one vault ask Login with Amazon for one access token per seller
// and token lifetime, and Amazon for one Restricted Data Token per resource
// and lifetime, instead of one each.
//
// A [Shared] cache sits behind each process's own in-memory cache (package
// lwa's CachedSource, package rdt's Cache): a hit in memory never reaches
// it. On a miss it hands out the token another process stored, or lets one
// process among all that share it fetch a new one while the others wait for
// that one. appvault.NewTokenCache keeps it in the vault (SQLite or
// PostgreSQL), encrypted; [Memory] keeps it in this process.
package tokencache

import (
	"context"
	"errors"
	"time"

	"github.com/spgate/spgate/secret"
)

// Token is a cached token and its dates.
type Token struct {
	Value secret.String
	// Expiry is when Amazon stops accepting the token.
	Expiry time.Time
	// RefreshAt is when processes stop handing the token out and fetch a
	// new one: Expiry less a margin for latency and clock skew. Zero means
	// Expiry.
	RefreshAt time.Time
}

// FreshAt reports whether t may still be handed out at now.
func (t Token) FreshAt(now time.Time) bool {
	if t.Value.IsZero() {
		return false
	}
	end := t.RefreshAt
	if end.IsZero() {
		end = t.Expiry
	}
	return now.Before(end)
}

// FetchFunc gets a new token from Amazon.
type FetchFunc func(ctx context.Context) (Token, error)

// ErrNoToken is what Get returns when fetch returned neither a token nor
// an error: nothing is cached then.
var ErrNoToken = errors.New("tokencache: the fetch returned no token")

// Shared is a token cache several processes share. Keys name what a token
// grants (app, seller, refresh token digest; or the RDT's resource) and
// must never contain a secret. Implementations are safe for concurrent use.
type Shared interface {
	// Get returns the token cached under key while it is fresh. Otherwise
	// one caller among every process sharing the cache runs fetch and
	// stores its token, and the others wait for that token — until it
	// arrives, or that caller gives up or vanishes (then another fetches),
	// or ctx ends. fetch's error is returned as it is; a failure is not
	// cached. When the store itself fails, Get runs fetch for this caller
	// alone rather than fail: a token is better than an error.
	Get(ctx context.Context, key string, fetch FetchFunc) (Token, error)
	// Invalidate removes the token cached under key if its value is
	// value (Amazon refused it), so the next Get fetches a new one. A
	// different token under key (already replaced) is left alone.
	Invalidate(ctx context.Context, key, value string)
}
