// Package ttlcache is a small in-memory cache whose entries live for a
// fixed time, loaded once among concurrent callers (singleflight), and
// cleared at once when what they were read from changed.
package ttlcache

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/spgate/spgate/clock"
)

// DefaultMax bounds a cache's size when New is given none; past it the
// cache starts over rather than grow without bound.
const DefaultMax = 10000

// Cache maps string keys to values of type V for a TTL. The zero value is
// not usable; create one with New. It is safe for concurrent use.
type Cache[V any] struct {
	ttl time.Duration
	max int
	clk clock.Clock

	mu      sync.Mutex
	entries map[string]entry[V]
	gen     uint64 // bumped by Clear: a load started before it is not kept
	group   singleflight.Group
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns a cache keeping entries for ttl (0: nothing is kept, every
// Get loads) and at most max of them (0: DefaultMax).
func New[V any](clk clock.Clock, ttl time.Duration, max int) *Cache[V] {
	if max <= 0 {
		max = DefaultMax
	}
	return &Cache[V]{ttl: ttl, max: max, clk: clock.Or(clk), entries: map[string]entry[V]{}}
}

// Get returns key's value: the cached one while it lives, else what load
// returns, shared by every caller asking for key meanwhile. Only
// successful loads are kept; the load runs detached from any one caller's
// cancellation, since others may be waiting for it.
func (c *Cache[V]) Get(ctx context.Context, key string, load func(ctx context.Context) (V, error)) (V, error) {
	now := c.clk.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.v, nil
	}
	v, err, _ := c.group.Do(key, func() (any, error) {
		// A caller that missed just as another's load finished finds
		// that load's value here instead of loading again.
		c.mu.Lock()
		e, ok := c.entries[key]
		c.mu.Unlock()
		if ok && c.clk.Now().Before(e.expires) {
			return e.v, nil
		}
		v, err := load(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		if c.ttl > 0 {
			c.mu.Lock()
			if c.gen == gen {
				if len(c.entries) >= c.max {
					clear(c.entries)
				}
				c.entries[key] = entry[V]{v: v, expires: c.clk.Now().Add(c.ttl)}
			}
			c.mu.Unlock()
		}
		return v, nil
	})
	if err != nil {
		var zero V
		return zero, err
	}
	return v.(V), nil
}

// Delete drops key's entry.
func (c *Cache[V]) Delete(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}

// Clear drops every entry, and keeps none a load already under way
// returns.
func (c *Cache[V]) Clear() {
	c.mu.Lock()
	clear(c.entries)
	c.gen++
	c.mu.Unlock()
}
