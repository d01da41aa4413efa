// Package ratelimit paces Selling Partner API calls with a token bucket per
// (selling partner, application, operation), the way Amazon meters them, so
// callers wait for their turn instead of collecting 429 QuotaExceeded.
//
// Buckets start from the operation's usage plan in the generated operation
// table and follow the rate Amazon reports in x-amzn-RateLimit-Limit.
// After a 429, Drain empties the bucket.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/operations"
)

// Key identifies a bucket. Seller is empty for grantless operations, which
// Amazon meters per application.
type Key struct {
	Seller    string // selling partner id
	App       string // application id or LWA client id
	Operation string // e.g. operations.Operation.Key(): "orders/v0/getOrders"
}

// String renders the key for logs: seller/app/operation, "-" for no seller.
func (k Key) String() string {
	s := k.Seller
	if s == "" {
		s = "-"
	}
	return s + "/" + k.App + "/" + k.Operation
}

// LogValue groups the key's fields in structured logs.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("seller", k.Seller), slog.String("app", k.App), slog.String("operation", k.Operation))
}

// Plan is a usage plan: a rate in requests per second and a burst.
type Plan struct {
	Rate  float64
	Burst int
}

// PlanFor returns op's usage plan, or Amazon's conservative fallback plan
// when op is nil or states nonsense.
func PlanFor(op *operations.Operation) Plan {
	p := Plan{Rate: operations.FallbackRate, Burst: operations.FallbackBurst}
	if op == nil {
		return p
	}
	if validRate(op.Rate) {
		p.Rate = op.Rate
	}
	if op.Burst >= 1 {
		p.Burst = op.Burst
	}
	return p
}

// Bounds for a rate taken from x-amzn-RateLimit-Limit. The slowest plan
// Amazon publishes is 0.0056/s (one call per three minutes); a header below
// MinHeaderRate would park callers for tens of minutes, one above
// MaxHeaderRate would lift pacing altogether. Both are ignored.
const (
	MinHeaderRate = 0.001
	MaxHeaderRate = 10000
)

func validRate(r float64) bool {
	return r >= MinHeaderRate && r <= MaxHeaderRate && !math.IsNaN(r)
}

// ErrDeadline is matched by *WaitError.
var ErrDeadline = errors.New("ratelimit: the wait would outlast the deadline")

// WaitError reports that the caller's turn lies beyond its deadline.
// Nothing was taken from the bucket. A gateway answers 429 with
// Retry-After: Delay.
type WaitError struct {
	Key   Key
	Delay time.Duration // how long the caller would have had to wait
}

// Error implements the error interface.
func (e *WaitError) Error() string {
	return fmt.Sprintf("ratelimit: %s: the next request slot is %v away, beyond the caller's deadline; retry after %v or allow a longer deadline",
		e.Key, e.Delay.Round(time.Millisecond), e.RetryAfter())
}

// Is matches ErrDeadline.
func (e *WaitError) Is(target error) bool { return target == ErrDeadline }

// RetryAfter is Delay rounded up to whole seconds, for a Retry-After header.
func (e *WaitError) RetryAfter() time.Duration {
	return (e.Delay + time.Second - 1).Truncate(time.Second)
}

// Stats are counters for logs and metrics.
type Stats struct {
	Waits          int64         // reserved slots the caller had to wait for
	WaitTime       time.Duration // total time those calls were told to wait
	Queued         int64         // Wait calls that queued behind MaxWait before reserving
	Rejected       int64         // WaitErrors returned
	Drains         int64         // Drain calls
	RateChanges    int64         // rates adopted from x-amzn-RateLimit-Limit
	IgnoredHeaders int64         // x-amzn-RateLimit-Limit values ignored as absurd
}

// Options configure a Limiter. The zero value is valid.
type Options struct {
	// Store keeps the buckets; nil means a new MemoryStore.
	Store Store
	// Clock is the time source; nil means the wall clock.
	Clock clock.Clock
	// Logger gets a debug line per wait and warnings for ignored headers;
	// nil discards.
	Logger *slog.Logger
	// MaxWait is the furthest into the future a request slot is reserved
	// in the Store; zero or negative means DefaultMaxWait. A caller whose
	// turn lies further away waits in line without a reservation (callers
	// of one Limiter in arrival order) until its slot comes within MaxWait,
	// so the Store never holds more than MaxWait of promised capacity: a
	// process that dies with callers queued strands at most MaxWait (plus
	// one refill interval) of its shared bucket, however long the queue.
	// How long a caller waits in all is bounded by its context: when its
	// turn lies beyond ctx's deadline, Wait returns a *WaitError at once.
	MaxWait time.Duration
	// RateScale multiplies the rates seeded from the operation table (not
	// those learnt from x-amzn-RateLimit-Limit). 0 means 1. It lets a client
	// start at the pace of a time-scaled emulator, or of a seller whose
	// usage plan is known to be a multiple of the default.
	RateScale float64
	// Headroom is how many of a bucket's burst the limiter never spends.
	// Pacing at exactly Amazon's rate leaves no slack once the burst is
	// used: a request that travels a little faster than the one before it
	// meets an empty bucket and gets a 429. One token of headroom absorbs
	// that jitter for a tiny share of throughput.
	Headroom int
}

// DefaultMaxWait is Options.MaxWait when unset. Thirty seconds keeps the
// reservations of a fast operation in the store (30 s × its rate) while a
// crashed process strands at most half a refill of the slowest common plan
// (getOrders: one request a minute).
const DefaultMaxWait = 30 * time.Second

// Limiter paces calls. It is safe for concurrent use.
type Limiter struct {
	store   Store
	clock   clock.Clock
	log     *slog.Logger
	maxWait time.Duration
	scale   float64
	reserve int

	waits, waitNanos, queued, rejected, drains, rateChanges, ignored atomic.Int64

	mu      sync.Mutex
	changes map[Key]chan struct{} // closed when the key's rate changes
	lines   map[Key][]*ticket     // callers whose turn lies beyond maxWait, in arrival order
}

// ticket is a caller's place in a key's line; ready is closed when it
// reaches the front.
type ticket struct{ ready chan struct{} }

// New returns a Limiter.
func New(o Options) *Limiter {
	l := &Limiter{store: o.Store, clock: clock.Or(o.Clock), log: o.Logger, maxWait: o.MaxWait, scale: o.RateScale, reserve: o.Headroom}
	if l.maxWait <= 0 {
		l.maxWait = DefaultMaxWait
	}
	if l.store == nil {
		l.store = &MemoryStore{}
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l
}

// Wait blocks until key's bucket grants a request for op (nil op means the
// fallback plan), or until ctx ends (returning ctx.Err() and giving the
// slot back). When the caller's turn lies beyond ctx's deadline, Wait
// returns a *WaitError at once and takes nothing. Waiters are served in
// the order they arrived: each takes the next slot in line, reserving it
// at most MaxWait ahead (see Options.MaxWait). When Observe adopts a new
// rate, the waiters give back their slots and take new ones at that rate,
// so callers queued before the first answer do not wait at the table's
// (default) pace.
func (l *Limiter) Wait(ctx context.Context, key Key, op *operations.Operation) error {
	queueLimit, queueStart := maxQueueWait(ctx), l.clock.Now()
	if err := ctx.Err(); err != nil {
		return err
	}
	seed := l.seedPlan(op)
	var tk *ticket // our place in key's line, while we have one
	defer func() {
		if tk != nil {
			l.leave(key, tk)
		}
	}()
	replan := false
	for {
		// Taken before reserving, so a rate change after the reservation
		// is never missed.
		changed := l.rateChanged(key)
		left := untilDeadline(ctx)
		if queueLimit > 0 {
			left = min(left, queueLimit-l.clock.Now().Sub(queueStart))
		}
		if tk == nil && !replan {
			// Callers already in line go first.
			var ahead int
			if tk, ahead = l.join(key, false); ahead > 0 {
				if err := l.waitTurn(ctx, key, seed, tk, ahead, left); err != nil {
					return err
				}
				continue
			}
		}
		replan = false
		wait, ok := l.store.Reserve(key, seed, l.clock.Now(), min(l.maxWait, left))
		if !ok {
			if err := l.queueBeyondHorizon(ctx, key, seed, &tk, wait, left, changed); err != nil {
				return err
			}
			continue
		}
		if tk != nil {
			// Reserved: the next caller in line may try.
			l.leave(key, tk)
			tk = nil
		}
		if wait <= 0 {
			return nil
		}
		var err error
		if replan, err = l.awaitSlot(ctx, key, wait, changed); !replan {
			return err
		}
	}
}

// seedPlan is op's plan as this Limiter applies it: scaled, and with the
// headroom kept out of the burst.
func (l *Limiter) seedPlan(op *operations.Operation) Plan {
	seed := PlanFor(op)
	if l.scale > 0 {
		seed.Rate *= l.scale
	}
	if l.reserve > 0 && seed.Burst > l.reserve {
		seed.Burst -= l.reserve
	}
	return seed
}

// queueBeyondHorizon handles a turn the store would not reserve, being
// more than MaxWait away: a *WaitError when it lies beyond what the caller
// has left, else wait for the callers ahead in line or, at its front, until
// the turn comes within reach. Wait then tries again.
func (l *Limiter) queueBeyondHorizon(ctx context.Context, key Key, seed Plan, tk **ticket, wait, left time.Duration, changed <-chan struct{}) error {
	if wait > left {
		l.rejected.Add(1)
		l.log.DebugContext(ctx, "rate limit wait exceeds the deadline", "key", key, "delay", wait)
		return &WaitError{Key: key, Delay: wait}
	}
	// Our turn lies beyond MaxWait: hold the front of the line,
	// without a reservation, until it comes within reach.
	if *tk == nil {
		var ahead int
		if *tk, ahead = l.join(key, true); ahead > 0 {
			return l.waitTurn(ctx, key, seed, *tk, ahead, left)
		}
	}
	l.log.DebugContext(ctx, "rate limit wait beyond the reservation horizon; queueing", "key", key, "delay", wait, "horizon", l.maxWait)
	return l.sleep(ctx, wait-l.maxWait, changed)
}

// awaitSlot sleeps until the reserved slot, wait from now. It gives the
// slot back when ctx ends (returning ctx.Err()) or when the rate changes
// (returning replan, so that Wait takes a new one).
func (l *Limiter) awaitSlot(ctx context.Context, key Key, wait time.Duration, changed <-chan struct{}) (replan bool, err error) {
	l.waits.Add(1)
	l.waitNanos.Add(int64(wait))
	l.log.DebugContext(ctx, "rate limit wait", "key", key, "delay", wait)
	t := l.clock.NewTimer(wait)
	select {
	case <-t.C():
		return false, nil
	case <-ctx.Done():
		t.Stop()
		l.store.Cancel(key, l.clock.Now())
		return false, ctx.Err()
	case <-changed:
		// x-amzn-RateLimit-Limit changed the rate: a slot computed at
		// the old rate is too late (or too early). Give it back and
		// take one at the new rate, ahead of the line.
		t.Stop()
		l.store.Cancel(key, l.clock.Now())
		return true, nil
	}
}

// untilDeadline is how long ctx has left (deadlines are wall-clock times,
// whatever the Limiter's clock), or the longest duration.
func untilDeadline(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl)
	}
	return time.Duration(math.MaxInt64)
}

// sleep waits d on the Limiter's clock, returning early (nil) when the
// key's rate changes, or with ctx.Err() when ctx ends.
func (l *Limiter) sleep(ctx context.Context, d time.Duration, changed <-chan struct{}) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := l.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-changed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitTurn waits until tk reaches the front of key's line. With ahead
// callers in front of it, a caller with a deadline is refused at once when
// even the most optimistic estimate of its turn (the next free slot plus
// one interval per caller ahead) lies beyond the deadline.
func (l *Limiter) waitTurn(ctx context.Context, key Key, seed Plan, tk *ticket, ahead int, left time.Duration) error {
	if left != time.Duration(math.MaxInt64) {
		// A refused reservation takes nothing: it only tells the next slot.
		next, _ := l.store.Reserve(key, seed, l.clock.Now(), -1)
		rate := seed.Rate
		if p, ok := l.store.Plan(key); ok && p.Rate > 0 {
			rate = p.Rate
		}
		est := next + time.Duration(ahead)*interval(rate)
		if est > left {
			l.rejected.Add(1)
			l.log.DebugContext(ctx, "rate limit wait exceeds the deadline", "key", key, "delay", est, "queued_ahead", ahead)
			return &WaitError{Key: key, Delay: est}
		}
	}
	for {
		// The front of the line moves it; the timer only keeps this
		// caller waiting on the clock like every other waiter, so code
		// that runs time on a fake clock sees it parked.
		t := l.clock.NewTimer(l.maxWait)
		select {
		case <-tk.ready:
			t.Stop()
			return nil
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
		}
	}
}

// join puts a ticket at the end of key's line and reports how many callers
// are ahead of it. With evenIfEmpty an empty line is joined too (the caller
// becomes its front); otherwise an empty line stays empty and the ticket is
// nil.
func (l *Limiter) join(key Key, evenIfEmpty bool) (*ticket, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := l.lines[key]
	if len(line) == 0 && !evenIfEmpty {
		return nil, 0
	}
	l.queued.Add(1)
	tk := &ticket{ready: make(chan struct{})}
	if len(line) == 0 {
		close(tk.ready)
	}
	if l.lines == nil {
		l.lines = map[Key][]*ticket{}
	}
	l.lines[key] = append(line, tk)
	return tk, len(line)
}

// leave takes tk out of key's line and lets the next caller go first.
func (l *Limiter) leave(key Key, tk *ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := l.lines[key]
	i := slices.Index(line, tk)
	if i < 0 {
		return
	}
	line = slices.Delete(line, i, i+1)
	if len(line) == 0 {
		delete(l.lines, key)
		return
	}
	if i == 0 {
		close(line[0].ready)
	}
	l.lines[key] = line
}

// rateChanged returns a channel closed at key's next rate change.
func (l *Limiter) rateChanged(key Key) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changes == nil {
		l.changes = map[Key]chan struct{}{}
	}
	ch, ok := l.changes[key]
	if !ok {
		ch = make(chan struct{})
		l.changes[key] = ch
	}
	return ch
}

// announceRateChange wakes key's waiters so they re-plan at the new rate.
func (l *Limiter) announceRateChange(key Key) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.changes[key]; ok {
		close(ch)
		delete(l.changes, key)
	}
}

// Observe feeds the x-amzn-RateLimit-Limit header of a response for key.
// A rate that differs from the bucket's is adopted. A missing header is
// ignored silently; an absurd one (unparsable, NaN, Inf, outside
// MinHeaderRate…MaxHeaderRate) is ignored with a warning, so a bad header
// can cause neither an endless wait nor a flood.
func (l *Limiter) Observe(key Key, header string) {
	h := strings.TrimSpace(header)
	if h == "" {
		return
	}
	rate, err := strconv.ParseFloat(h, 64)
	if err != nil || !validRate(rate) {
		l.ignored.Add(1)
		l.log.Warn("ignoring an absurd x-amzn-RateLimit-Limit header", "key", key, "value", truncate(h, 40))
		return
	}
	prev, changed := l.store.SetRate(key, rate, l.clock.Now())
	if changed {
		l.announceRateChange(key)
		l.rateChanges.Add(1)
		l.log.Info("rate adopted from x-amzn-RateLimit-Limit", "key", key, "from", prev, "to", rate)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// Drain empties key's bucket after Amazon answered 429, so the next
// request waits a full refill interval. Requests already waiting keep
// their slots.
func (l *Limiter) Drain(key Key) {
	l.drains.Add(1)
	l.store.Drain(key, l.clock.Now())
	l.log.Debug("rate limit bucket drained after 429", "key", key)
}

// Plan reports key's current usage plan (see Store.Plan).
func (l *Limiter) Plan(key Key) (Plan, bool) { return l.store.Plan(key) }

// Stats returns a snapshot of the counters.
func (l *Limiter) Stats() Stats {
	return Stats{
		Waits:          l.waits.Load(),
		WaitTime:       time.Duration(l.waitNanos.Load()),
		Queued:         l.queued.Load(),
		Rejected:       l.rejected.Load(),
		Drains:         l.drains.Load(),
		RateChanges:    l.rateChanges.Load(),
		IgnoredHeaders: l.ignored.Load(),
	}
}
