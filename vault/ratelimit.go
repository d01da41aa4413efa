package vault

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/spgate/spgate/ratelimit"
)

// RateLimitStore returns a ratelimit.Store kept in the vault file, so every
// spgate process on the machine that opens this vault (spgate serve, an
// orders pull run by cron, spgate call) paces one bucket per (seller, app,
// operation) together instead of each spending Amazon's whole rate.
//
// Buckets are plain rows (rate, burst, theoretical arrival time), neither
// encrypted nor audited. Each operation is one short BEGIN IMMEDIATE
// transaction that loads the bucket, applies ratelimit.Bucket's arithmetic
// (exactly MemoryStore's) and saves it, so two processes serialize on
// SQLite's write lock. Goroutines of one process take turns on the store
// before they touch SQLite, so they never spin in SQLite's busy handler.
//
// When the vault cannot answer (another process holds the write lock
// beyond the busy timeout, the vault was closed, the disk is full), the
// call falls back to a MemoryStore private to this store: pacing this
// process alone is better than failing the call or blocking it, and Amazon's
// 429 (which drains the bucket) corrects any overshoot. log gets one warning
// when that starts and one line when the vault answers again; nil discards.
// No call waits longer than the vault's busy timeout for the vault.
func (v *Vault) RateLimitStore(log *slog.Logger) ratelimit.Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &rateLimitStore{v: v, log: log, turn: make(chan struct{}, 1)}
}

type rateLimitStore struct {
	v        *Vault
	log      *slog.Logger
	turn     chan struct{} // one goroutine of this process in SQLite at a time
	fallback ratelimit.MemoryStore
	degraded atomic.Bool
}

var _ ratelimit.Store = (*rateLimitStore)(nil)

// bucketKey is the row key: seller|app|operation (seller empty for
// grantless operations). Ids never contain "|".
func bucketKey(k ratelimit.Key) string { return k.Seller + "|" + k.App + "|" + k.Operation }

func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

var errRateLimitTurn = errors.New("another goroutine of this process held the rate-limit store beyond the busy timeout")

// update loads key's bucket in a write transaction, lets fn change it and
// saves it when fn reports a change. A missing bucket is given to fn as the
// zero Bucket with exists false.
func (s *rateLimitStore) update(key ratelimit.Key, doing string, fn func(b *ratelimit.Bucket, exists bool) (save bool)) error {
	t := time.NewTimer(s.v.busy)
	select {
	case s.turn <- struct{}{}:
		t.Stop()
	case <-t.C:
		return errRateLimitTurn
	}
	defer func() { <-s.turn }()
	k := bucketKey(key)
	return s.v.writeUnsynced(context.Background(), doing, func(t *tx) error {
		b, exists, err := loadBucket(t, k)
		if err != nil {
			return err
		}
		if !fn(&b, exists) {
			return nil
		}
		seeded := 0
		if b.Seeded {
			seeded = 1
		}
		_, err = t.exec(`INSERT INTO rate_limits(key, rate, burst, tat, drained_at, seeded) VALUES (?,?,?,?,?,?)
			ON CONFLICT(key) DO UPDATE SET rate=excluded.rate, burst=excluded.burst, tat=excluded.tat,
				drained_at=excluded.drained_at, seeded=excluded.seeded`,
			k, b.Rate, b.Burst, toNanos(b.TAT), toNanos(b.DrainedAt), seeded)
		return err
	})
}

func loadBucket(t *tx, k string) (ratelimit.Bucket, bool, error) {
	var b ratelimit.Bucket
	var tat, drained int64
	err := t.queryRow(`SELECT rate, burst, tat, drained_at, seeded FROM rate_limits WHERE key=?`, k).
		Scan(&b.Rate, &b.Burst, &tat, &drained, &b.Seeded)
	if errors.Is(err, sql.ErrNoRows) {
		return ratelimit.Bucket{}, false, nil
	}
	if err != nil {
		return b, false, err
	}
	b.TAT, b.DrainedAt = fromNanos(tat), fromNanos(drained)
	return b, true, nil
}

// failed reports whether err sent the call to the fallback, warning at the
// start of an outage and noting its end.
func (s *rateLimitStore) failed(err error) bool {
	if err != nil {
		if s.degraded.CompareAndSwap(false, true) {
			s.log.Warn("the vault's shared rate-limit store is failing; this process paces on its own (other spgate processes are not counted) until it answers again", "err", err)
		}
		return true
	}
	if s.degraded.CompareAndSwap(true, false) {
		s.log.Info("the vault's shared rate-limit store answers again")
	}
	return false
}

// Reserve implements ratelimit.Store.
func (s *rateLimitStore) Reserve(key ratelimit.Key, seed ratelimit.Plan, now time.Time, maxWait time.Duration) (time.Duration, bool) {
	var wait time.Duration
	var ok bool
	err := s.update(key, "reserve a rate-limit slot", func(b *ratelimit.Bucket, exists bool) bool {
		before := *b
		wait, ok = b.Reserve(seed, now, maxWait)
		return !exists || *b != before
	})
	if s.failed(err) {
		return s.fallback.Reserve(key, seed, now, maxWait)
	}
	return wait, ok
}

// Cancel implements ratelimit.Store.
func (s *rateLimitStore) Cancel(key ratelimit.Key, now time.Time) {
	err := s.update(key, "give back a rate-limit slot", func(b *ratelimit.Bucket, exists bool) bool {
		if !exists {
			return false
		}
		before := *b
		b.Cancel(now)
		return *b != before
	})
	if s.failed(err) {
		s.fallback.Cancel(key, now)
	}
}

// SetRate implements ratelimit.Store.
func (s *rateLimitStore) SetRate(key ratelimit.Key, rate float64, now time.Time) (float64, bool) {
	var prev float64
	var changed bool
	err := s.update(key, "set a rate limit", func(b *ratelimit.Bucket, exists bool) bool {
		prev, changed = b.SetRate(rate, now)
		return changed || !exists
	})
	if s.failed(err) {
		return s.fallback.SetRate(key, rate, now)
	}
	return prev, changed
}

// Drain implements ratelimit.Store.
func (s *rateLimitStore) Drain(key ratelimit.Key, now time.Time) {
	err := s.update(key, "drain a rate-limit bucket", func(b *ratelimit.Bucket, _ bool) bool {
		b.Drain(now)
		return true
	})
	if s.failed(err) {
		s.fallback.Drain(key, now)
	}
}

// Plan implements ratelimit.Store.
func (s *rateLimitStore) Plan(key ratelimit.Key) (ratelimit.Plan, bool) {
	var p ratelimit.Plan
	var ok bool
	err := s.v.read(context.Background(), "read a rate limit", func(t *tx) error {
		b, exists, err := loadBucket(t, bucketKey(key))
		p, ok = b.Plan(), exists
		return err
	})
	if s.failed(err) {
		return s.fallback.Plan(key)
	}
	return p, ok
}

// writeUnsynced is write with PRAGMA synchronous=NORMAL for the one
// transaction: in WAL mode its commit skips the fsync (the next synced
// commit, or a checkpoint, makes it durable), which cuts a rate-limit
// reservation from ~200 µs to tens of µs. Losing the last bucket updates in
// a power cut costs nothing worse than a 429. The connection's own setting
// is restored before it returns to the pool (or the connection is dropped),
// so secrets and audit rows keep full durability.
func (v *Vault) writeUnsynced(ctx context.Context, doing string, fn func(*tx) error) error {
	c, err := v.db.Conn(ctx)
	if err != nil {
		return v.classify(err, doing)
	}
	defer c.Close()
	var prev int
	if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&prev); err != nil {
		return v.classify(err, doing)
	}
	if _, err := c.ExecContext(ctx, `PRAGMA synchronous=NORMAL`); err != nil {
		return v.classify(err, doing)
	}
	defer func() {
		if _, err := c.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous=`+strconv.Itoa(prev)); err != nil {
			_ = c.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	t := &tx{ctx: ctx, c: c, v: v, now: v.clk.Now().UTC(), actor: v.actorOf(ctx)}
	return v.classify(runTx(ctx, c, "BEGIN IMMEDIATE", func() error { return fn(t) }), doing)
}
