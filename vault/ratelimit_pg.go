package vault

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spgate/spgate/ratelimit"
)

// pgRateLimitStore is RateLimitStore for a vault in PostgreSQL: the
// buckets every replica of the gateway shares. A reservation is one
// statement, SELECT … FROM spgate_rate_reserve(…) (postgres_schema.go),
// which locks only the bucket's row for the few microseconds of its
// arithmetic: replicas serialize per bucket, not on the vault's writer
// lock, and take one round trip per call. A header that repeats the rate
// this replica last saw for the bucket, within rateSeenFor, costs nothing;
// another one is one read; a new rate, a drain (Amazon's 429) and a
// cancel are short transactions that lock the row and apply
// ratelimit.Bucket's own arithmetic to it. All of it runs on a pool of
// the store's own that commits without waiting for the disk
// (rateLimitDB.pgPool).
//
// When the database does not answer within the busy timeout, the call
// falls back to a MemoryStore private to this store, as the SQLite store
// does: pacing this replica alone beats failing or blocking the call, and
// Amazon's 429 corrects any overshoot. log gets one warning when that
// starts and one line when the database answers again.
type pgRateLimitStore struct {
	v        *Vault
	log      *slog.Logger
	fallback ratelimit.MemoryStore
	degraded atomic.Bool
	seen     sync.Map // ratelimit.Key → rateSeen: the rate last read or set
}

// rateSeen is a bucket's rate as this replica last read or set it, and
// when (on the callers' clock).
type rateSeen struct {
	rate float64
	at   time.Time
}

// rateSeenFor is how long a rate this replica read or set answers a
// header repeating it without asking the database. Another replica that
// adopted another rate meanwhile (Amazon told it so) keeps its rate in
// the row that long; the next header that differs writes again.
const rateSeenFor = time.Second

var _ ratelimit.Store = (*pgRateLimitStore)(nil)

func (v *Vault) pgRateLimitStore(log *slog.Logger) ratelimit.Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &pgRateLimitStore{v: v, log: log}
}

// ctx bounds one call: the server's lock_timeout (the busy timeout)
// bounds its wait for a bucket's row; this bounds the rest (a server that
// does not answer at all).
func (s *pgRateLimitStore) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.v.busy+time.Second)
}

func (s *pgRateLimitStore) failed(err error) bool {
	if err != nil {
		if s.degraded.CompareAndSwap(false, true) {
			s.log.Warn("the vault's shared rate-limit store is failing; this process paces on its own (other spgate processes are not counted) until it answers again",
				"err", s.v.classify(err, "rate-limit store"))
		}
		return true
	}
	if s.degraded.CompareAndSwap(true, false) {
		s.log.Info("the vault's shared rate-limit store answers again; pacing is shared with the other spgate processes")
	}
	return false
}

// Reserve implements ratelimit.Store.
func (s *pgRateLimitStore) Reserve(key ratelimit.Key, seed ratelimit.Plan, now time.Time, maxWait time.Duration) (time.Duration, bool) {
	ctx, cancel := s.ctx()
	defer cancel()
	var wait int64
	var ok bool
	db, err := s.pool()
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT wait, ok FROM spgate_rate_reserve($1, $2, $3, $4, $5)`,
			bucketKey(key), seed.Rate, seed.Burst, toNanos(now), int64(maxWait)).Scan(&wait, &ok)
	}
	if s.failed(err) {
		return s.fallback.Reserve(key, seed, now, maxWait)
	}
	return time.Duration(wait), ok
}

// Cancel implements ratelimit.Store.
func (s *pgRateLimitStore) Cancel(key ratelimit.Key, now time.Time) {
	err := s.update(key, false, "give back a rate-limit slot", func(b *ratelimit.Bucket) { b.Cancel(now) })
	if s.failed(err) {
		s.fallback.Cancel(key, now)
	}
}

// SetRate implements ratelimit.Store. A rate the bucket already has (the
// header of almost every response) costs one read and no lock.
func (s *pgRateLimitStore) SetRate(key ratelimit.Key, rate float64, now time.Time) (float64, bool) {
	if v, ok := s.seen.Load(key); ok {
		seen := v.(rateSeen)
		b := ratelimit.Bucket{Rate: seen.rate}
		if prev, changed := b.SetRate(rate, now); !changed && now.Sub(seen.at) < rateSeenFor && !now.Before(seen.at) {
			return prev, false
		}
	}
	ctx, cancel := s.ctx()
	var cur float64
	db, err := s.pool()
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT rate FROM rate_limits WHERE key = $1`, bucketKey(key)).Scan(&cur)
	}
	cancel()
	if err == nil {
		b := ratelimit.Bucket{Rate: cur}
		if prev, changed := b.SetRate(rate, now); !changed {
			s.failed(nil)
			s.seen.Store(key, rateSeen{rate: cur, at: now})
			return prev, false
		}
	} else if !errors.Is(err, sql.ErrNoRows) {
		s.failed(err)
		return s.fallback.SetRate(key, rate, now)
	}
	var prev float64
	var changed bool
	err = s.update(key, true, "set a rate limit", func(b *ratelimit.Bucket) { prev, changed = b.SetRate(rate, now) })
	if s.failed(err) {
		return s.fallback.SetRate(key, rate, now)
	}
	s.seen.Store(key, rateSeen{rate: rate, at: now})
	return prev, changed
}

// Drain implements ratelimit.Store.
func (s *pgRateLimitStore) Drain(key ratelimit.Key, now time.Time) {
	err := s.update(key, true, "drain a rate-limit bucket", func(b *ratelimit.Bucket) { b.Drain(now) })
	if s.failed(err) {
		s.fallback.Drain(key, now)
	}
}

// Plan implements ratelimit.Store.
func (s *pgRateLimitStore) Plan(key ratelimit.Key) (ratelimit.Plan, bool) {
	ctx, cancel := s.ctx()
	defer cancel()
	var p ratelimit.Plan
	db, err := s.pool()
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT rate, burst FROM rate_limits WHERE key = $1`, bucketKey(key)).Scan(&p.Rate, &p.Burst)
	}
	if errors.Is(err, sql.ErrNoRows) {
		s.failed(nil)
		return ratelimit.Plan{}, false
	}
	if s.failed(err) {
		return s.fallback.Plan(key)
	}
	return p, true
}

// update locks key's row in a short transaction, lets fn change the
// bucket and saves it. With create, a missing row is created as the
// zero Bucket first (MemoryStore's new bucket); without, a missing row
// is left missing.
func (s *pgRateLimitStore) update(key ratelimit.Key, create bool, doing string, fn func(*ratelimit.Bucket)) error {
	ctx, cancel := s.ctx()
	defer cancel()
	k := bucketKey(key)
	return s.withConn(ctx, doing, func(t *tx) error {
		if create {
			if _, err := t.exec(`INSERT INTO rate_limits(key, rate, burst, tat, drained_at, seeded) VALUES (?, 0, 0, 0, 0, 0)
				ON CONFLICT (key) DO NOTHING`, k); err != nil {
				return err
			}
		}
		var b ratelimit.Bucket
		var tat, drained int64
		err := t.queryRow(`SELECT rate, burst, tat, drained_at, seeded FROM rate_limits WHERE key = ? FOR UPDATE`, k).
			Scan(&b.Rate, &b.Burst, &tat, &drained, &b.Seeded)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		b.TAT, b.DrainedAt = fromNanos(tat), fromNanos(drained)
		fn(&b)
		_, err = t.exec(`UPDATE rate_limits SET rate = ?, burst = ?, tat = ?, drained_at = ?, seeded = ? WHERE key = ?`,
			b.Rate, b.Burst, toNanos(b.TAT), toNanos(b.DrainedAt), b.Seeded, k)
		return err
	})
}

// pool is the store's own pool (rateLimitDB.pgPool).
func (s *pgRateLimitStore) pool() (*sql.DB, error) {
	d, ok := s.v.d.(*pgDialect)
	if !ok {
		return nil, errors.New("the PostgreSQL rate-limit store on a vault that is not in PostgreSQL")
	}
	return s.v.rl.pgPool(d)
}

// withConn runs fn in one READ COMMITTED transaction on the store's pool.
func (s *pgRateLimitStore) withConn(ctx context.Context, doing string, fn func(*tx) error) error {
	db, err := s.pool()
	if err != nil {
		return s.v.classify(err, doing)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		return s.v.classify(err, doing)
	}
	defer c.Close()
	t := &tx{ctx: ctx, c: c, v: s.v, now: s.v.clk.Now().UTC(), actor: s.v.actorOf(ctx)}
	return s.v.classify(s.v.runTx(ctx, c, "BEGIN ISOLATION LEVEL READ COMMITTED", func() error { return fn(t) }), doing)
}
