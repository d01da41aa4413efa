package vault

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"math"
	"sync"
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
// encrypted nor audited. A change to a row is one short BEGIN IMMEDIATE
// transaction that loads the bucket, applies ratelimit.Bucket's arithmetic
// (exactly MemoryStore's) and saves it, so two processes serialize on
// SQLite's write lock. It runs on a handle of its own that commits without
// fsync and keeps its statements prepared (ratelimit_db.go). Goroutines of
// one process take turns on the store before they touch SQLite, so they
// never spin in SQLite's busy handler.
//
// A busy bucket is leased rather than asked on every call. When a process
// reserves again within leaseTTL of its last lease of the bucket, its
// transaction also claims the slots that follow, up to leaseTTL of the
// bucket's time (at most leaseMaxSlots) and only those a caller would get
// within leaseTTL and its maxWait: the row's arrival time moves past them,
// so every other process plans after them. For leaseTTL the process then
// hands them out from its own copy of the bucket with MemoryStore's
// arithmetic, without SQLite, and answers x-amzn-RateLimit-Limit headers
// that repeat the bucket's rate from that copy. Its next transaction finds
// the row as it left it unless another process changed it since, and then
// gives back the claimed slots it did not use; a lease left idle gives them
// back when it expires. A lease in use is renewed in the background once
// its last quarter begins (or half its claim is spent): one transaction finds
// the row as this process left it, claims the slots that follow its claim
// (its unused claim and the new slots together still at most leaseTTL of
// the bucket's time, leaseMaxSlots, and only slots a caller would get
// within leaseTTL and its maxWait) and lets the lease run leaseTTL from
// then, so the calls of a busy bucket do not wait for SQLite at all; a
// row another process changed ends the renewal, and the lease runs out.
// So one process alone gets exactly MemoryStore's
// answers, several never share a slot (another process waits at most
// leaseTTL longer for one), and a process that dies holding a lease strands
// no slot further away than its callers' maxWait, within the MaxWait bound
// of ratelimit.Options. A bucket slower than one slot per leaseTTL (50 a
// second; Amazon's plans go up to 80) is not leased: its callers, who
// mostly wait anyway, take one transaction per call as before.
//
// When the vault cannot answer (another process holds the write lock
// beyond the busy timeout, the vault was closed, the disk is full), the
// call falls back to a MemoryStore private to this store: pacing this
// process alone is better than failing the call or blocking it, and Amazon's
// 429 (which drains the bucket) corrects any overshoot. log gets one warning
// when that starts and one line when the vault answers again; nil discards.
// No call waits much longer than the vault's busy timeout for the vault.
func (v *Vault) RateLimitStore(log *slog.Logger) ratelimit.Store {
	if v.Backend() == "postgres" {
		return v.pgRateLimitStore(log) // ratelimit_pg.go
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &rateLimitStore{v: v, log: log, turn: make(chan struct{}, 1)}
}

// Leases: how long a process answers from its copy of a bucket, how far
// ahead it may claim slots, and how many at most.
const (
	leaseTTL      = 20 * time.Millisecond
	leaseMaxSlots = 256
)

type rateLimitStore struct {
	v        *Vault
	log      *slog.Logger
	turn     chan struct{} // one goroutine of this process in SQLite at a time
	leases   sync.Map      // ratelimit.Key → *lease
	fallback ratelimit.MemoryStore
	degraded atomic.Bool
	// For tests: transactions run, those a call waited for, and the
	// renewals running in the background.
	txs, inCall atomic.Int64
	renewals    sync.WaitGroup
}

var _ ratelimit.Store = (*rateLimitStore)(nil)

// lease is this process's view of one bucket.
type lease struct {
	mu sync.Mutex
	// held: b is the bucket exactly, as one process alone would see it,
	// and the calls of the lease may be answered from it while the
	// caller's now is before until.
	held  bool
	until time.Time
	b     ratelimit.Bucket
	// row is the row as this process last wrote or read it (valid with
	// hasRow): b with its TAT moved on to the end of the claim.
	row    ratelimit.Bucket
	hasRow bool
	gen    uint64 // counts leases, so a stale expiry timer does nothing
	// renewing: a renewal runs in the background (renew).
	renewing bool
}

func (s *rateLimitStore) lease(key ratelimit.Key) *lease {
	if l, ok := s.leases.Load(key); ok {
		return l.(*lease)
	}
	l, _ := s.leases.LoadOrStore(key, &lease{})
	return l.(*lease)
}

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

// takeTurn waits, at most the busy timeout, until no other goroutine of
// this process is in SQLite for the store.
func (s *rateLimitStore) takeTurn() error {
	select {
	case s.turn <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(s.v.busy)
	defer t.Stop()
	select {
	case s.turn <- struct{}{}:
		return nil
	case <-t.C:
		return errRateLimitTurn
	}
}

// change is what a transaction does to a bucket: fn changes b (exists is
// false for a missing row, b then being the zero Bucket; busy is true when
// the bucket's last lease ended less than leaseTTL ago) and reports whether
// a missing row is to be created and how many slots beyond b's to claim.
type change func(b *ratelimit.Bucket, exists, busy bool) (create bool, claim int)

// update runs one write transaction on key's row, unless fast (called
// with l.mu held, once this goroutine's turn has come) answers from a lease
// another goroutine renewed meanwhile. It settles l first: a row just as
// this process left it is b plus this process's claim, so it starts from b
// (giving the unused claim back); a row another process changed is taken
// as it is. Then it applies fn, saves the row when it differs, and renews l
// from the result (held until now + leaseTTL).
func (s *rateLimitStore) update(key ratelimit.Key, l *lease, now time.Time, doing string, fast func() bool, fn change) error {
	if err := s.takeTurn(); err != nil {
		return err
	}
	defer func() { <-s.turn }()
	l.mu.Lock()
	if fast != nil && fast() {
		l.mu.Unlock()
		return nil
	}
	busy := l.hasRow && now.Sub(l.until) < leaseTTL
	l.held = false // no slot from the old copy while the row changes
	mine, hasRow, mineRow := l.b, l.hasRow, l.row
	l.mu.Unlock()

	var b, row ratelimit.Bucket
	k := bucketKey(key)
	s.inCall.Add(1)
	err := s.v.rateLimitTx(doing, func(t rowTx) error {
		s.txs.Add(1)
		cur, exists, err := t.load(k)
		if err != nil {
			return err
		}
		b = cur
		if exists && hasRow && sameRow(cur, mineRow) {
			b = mine
		}
		create, claim := fn(&b, exists, busy)
		row = b
		if claim > 0 {
			row.TAT = b.TAT.Add(time.Duration(claim) * interval(b.Rate))
		}
		if (!exists && !create) || (exists && sameRow(row, cur)) {
			row, hasRow = cur, exists
			return nil
		}
		err = t.save(k, row)
		if err == nil {
			exists = true
		}
		if !exists {
			row = ratelimit.Bucket{}
		}
		hasRow = exists
		return err
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen++
	if err != nil {
		l.hasRow = false
		return err
	}
	l.b, l.row, l.hasRow = b, row, hasRow
	l.held, l.until = hasRow, now.Add(leaseTTL)
	s.expireLater(key, l)
	return nil
}

// expireLater (with l.mu held) gives l's claim back if nothing uses or
// renews it before the lease ends.
func (s *rateLimitStore) expireLater(key ratelimit.Key, l *lease) {
	if l.hasRow && l.row.TAT.After(l.b.TAT) {
		gen := l.gen
		time.AfterFunc(leaseTTL+leaseTTL/2, func() { s.expire(key, l, gen) })
	}
}

// renew extends l's lease ahead of its end, in the background, for a
// call at now with maxWait: one transaction checks that the row is as
// this process left it, claims the slots after its claim (extension) and
// lets the lease run leaseTTL from now. A row another process changed,
// or a failure, ends the renewal: the lease runs out, and a later call
// takes a transaction as usual.
func (s *rateLimitStore) renew(key ratelimit.Key, l *lease, now time.Time, maxWait time.Duration) {
	defer func() {
		l.mu.Lock()
		l.renewing = false
		l.mu.Unlock()
	}()
	if s.takeTurn() != nil {
		return
	}
	defer func() { <-s.turn }()
	l.mu.Lock()
	if !l.held || !l.hasRow || !now.Before(l.until) {
		l.mu.Unlock()
		return
	}
	gen, b, row := l.gen, l.b, l.row
	l.mu.Unlock()
	next := row
	next.TAT = row.TAT.Add(time.Duration(extension(b, row, now, min(maxWait, leaseTTL))) * interval(row.Rate))
	k := bucketKey(key)
	err := s.v.rateLimitTx("renew a rate-limit lease", func(t rowTx) error {
		s.txs.Add(1)
		cur, exists, err := t.load(k)
		switch {
		case err != nil:
			return err
		case !exists || !sameRow(cur, row):
			return errRowChanged
		case next.TAT.Equal(row.TAT):
			return nil
		}
		return t.setTAT(k, toNanos(next.TAT))
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || l.gen != gen || !l.held {
		return
	}
	l.gen++
	l.row, l.until = next, now.Add(leaseTTL)
	s.expireLater(key, l)
}

// errRowChanged ends a renewal: another process changed the row.
var errRowChanged = errors.New("another process changed the rate-limit bucket")

// sameRow reports whether two buckets are the same row: the same numbers
// and instants (a bucket read back from its row has another time.Location
// than the one it was computed as).
func sameRow(a, b ratelimit.Bucket) bool {
	return a.Rate == b.Rate && a.Burst == b.Burst && a.Seeded == b.Seeded &&
		toNanos(a.TAT) == toNanos(b.TAT) && toNanos(a.DrainedAt) == toNanos(b.DrainedAt)
}

// interval is ratelimit's refill interval of rate, rounded up.
func interval(rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(float64(time.Second) / rate))
}

// expire gives back the unused claim of lease generation gen of key, if
// that lease was not renewed meanwhile and no other process changed the
// row since. A failure leaves the claim to lapse with time.
func (s *rateLimitStore) expire(key ratelimit.Key, l *lease, gen uint64) {
	l.mu.Lock()
	stale := l.gen != gen || !l.hasRow || !l.row.TAT.After(l.b.TAT)
	l.mu.Unlock()
	if stale || s.takeTurn() != nil {
		return
	}
	defer func() { <-s.turn }()
	l.mu.Lock()
	if l.gen != gen || !l.hasRow {
		l.mu.Unlock()
		return
	}
	l.held = false // the copy stays as it is while the row changes
	b, mineRow := l.b, l.row
	l.mu.Unlock()
	k := bucketKey(key)
	gaveBack := false
	err := s.v.rateLimitTx("give back rate-limit slots", func(t rowTx) error {
		s.txs.Add(1)
		cur, exists, err := t.load(k)
		if err != nil || !exists || !sameRow(cur, mineRow) {
			return err
		}
		err = t.setTAT(k, toNanos(b.TAT))
		gaveBack = err == nil
		return err
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen++
	switch {
	case err != nil:
		l.hasRow = false
	case gaveBack:
		l.row = b
	}
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

// Reserve implements ratelimit.Store. A held lease grants slots within
// its claim without SQLite.
func (s *rateLimitStore) Reserve(key ratelimit.Key, seed ratelimit.Plan, now time.Time, maxWait time.Duration) (time.Duration, bool) {
	l := s.lease(key)
	var wait time.Duration
	var ok bool
	fast := func() bool {
		if !l.held || !now.Before(l.until) || !l.b.Seeded || maxWait < 0 {
			return false
		}
		b := l.b
		w, granted := b.Reserve(seed, now, maxWait)
		if !granted || b.TAT.After(l.row.TAT) {
			return false
		}
		l.b, wait, ok = b, w, true
		// Renew the lease before the calls that follow would need a
		// transaction.
		if !l.renewing && renewDue(l, b, now, maxWait) {
			l.renewing = true
			s.renewals.Go(func() { s.renew(key, l, now, maxWait) })
		}
		return true
	}
	l.mu.Lock()
	done := fast()
	l.mu.Unlock()
	if done {
		return wait, ok
	}
	err := s.update(key, l, now, "reserve a rate-limit slot", fast, func(b *ratelimit.Bucket, _, busy bool) (bool, int) {
		wait, ok = b.Reserve(seed, now, maxWait)
		if !ok || !busy {
			return true, 0
		}
		// A call soon after the bucket's last lease claims slots too.
		return true, claimable(b, now, min(maxWait, leaseTTL))
	})
	if s.failed(err) {
		return s.fallback.Reserve(key, seed, now, maxWait)
	}
	return wait, ok
}

// claimable is how many slots after b's next one a lease claims: those
// within leaseTTL of the bucket's time (none for a bucket slower than one
// slot per leaseTTL), at most leaseMaxSlots, and only those a caller at
// now would get with a wait of at most limit.
func claimable(b *ratelimit.Bucket, now time.Time, limit time.Duration) int {
	t := interval(b.Rate)
	if t <= 0 || limit < 0 {
		return 0
	}
	n := min(int64(leaseTTL/t), leaseMaxSlots)
	// The j-th slot after the next is free at TAT + j·t − burst·t.
	free := b.TAT.Sub(now) - time.Duration(b.Burst)*t
	if free > limit {
		return 0
	}
	return int(min(n, int64((limit-free)/t)))
}

// renewDue reports whether lease l, spent up to b, is to be renewed for a
// call at now with maxWait: its last quarter has begun, or a renewal would
// claim at least half the slots a lease may hold.
func renewDue(l *lease, b ratelimit.Bucket, now time.Time, maxWait time.Duration) bool {
	if l.until.Sub(now) < leaseTTL/4 {
		return true
	}
	t := interval(b.Rate)
	if t <= 0 {
		return false
	}
	return int64(extension(b, l.row, now, min(maxWait, leaseTTL))) >= min(int64(leaseTTL/t), leaseMaxSlots)/2
}

// extension is how many slots after a lease's claim (row's TAT) a
// renewal at now claims, b being the bucket as the lease has spent it:
// those a caller at now would get with a wait of at most limit, and no
// more than leave the unused claim and the new slots together within
// leaseTTL of the bucket's time and leaseMaxSlots.
func extension(b, row ratelimit.Bucket, now time.Time, limit time.Duration) int {
	t := interval(row.Rate)
	if t <= 0 || limit < 0 {
		return 0
	}
	held := int64(row.TAT.Sub(b.TAT) / t)
	n := min(int64(leaseTTL/t), leaseMaxSlots) - held
	// The j-th slot after the claim is free at TAT + j·t − burst·t.
	free := row.TAT.Sub(now) - time.Duration(row.Burst)*t
	if n <= 0 || free > limit {
		return 0
	}
	return int(max(0, min(n, int64((limit-free)/t))))
}

// Cancel implements ratelimit.Store.
func (s *rateLimitStore) Cancel(key ratelimit.Key, now time.Time) {
	err := s.update(key, s.lease(key), now, "give back a rate-limit slot", nil, func(b *ratelimit.Bucket, exists, _ bool) (bool, int) {
		if exists {
			b.Cancel(now)
		}
		return false, 0
	})
	if s.failed(err) {
		s.fallback.Cancel(key, now)
	}
}

// SetRate implements ratelimit.Store. A header repeating the rate of a
// lease held until less than leaseTTL ago is answered without SQLite.
func (s *rateLimitStore) SetRate(key ratelimit.Key, rate float64, now time.Time) (float64, bool) {
	l := s.lease(key)
	var prev float64
	var changed bool
	fast := func() bool {
		// The copy is at most two leases old: a rate another process set
		// since is adopted at the next transaction.
		if !l.held || !now.Before(l.until.Add(leaseTTL)) {
			return false
		}
		b := l.b
		p, c := b.SetRate(rate, now)
		if c {
			return false
		}
		prev = p
		return true
	}
	l.mu.Lock()
	done := fast()
	l.mu.Unlock()
	if done {
		return prev, false
	}
	err := s.update(key, l, now, "set a rate limit", fast, func(b *ratelimit.Bucket, _, _ bool) (bool, int) {
		prev, changed = b.SetRate(rate, now)
		return true, 0
	})
	if s.failed(err) {
		return s.fallback.SetRate(key, rate, now)
	}
	return prev, changed
}

// Drain implements ratelimit.Store.
func (s *rateLimitStore) Drain(key ratelimit.Key, now time.Time) {
	err := s.update(key, s.lease(key), now, "drain a rate-limit bucket", nil, func(b *ratelimit.Bucket, _, _ bool) (bool, int) {
		b.Drain(now)
		return true, 0
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
