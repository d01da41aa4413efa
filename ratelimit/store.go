package ratelimit

import (
	"math"
	"sync"
	"time"
)

// Store keeps the token buckets. Every method is atomic per key. The
// in-memory MemoryStore is the default; a shared store (e.g. one key per
// bucket in Redis, updated by a script) lets several gateway instances
// pace one seller together. The state is deliberately small — a plan and
// one timestamp per bucket (GCRA's theoretical arrival time) — so it fits
// such a store.
type Store interface {
	// Reserve takes the next request slot of key's bucket at now and
	// reports how long the caller must wait before sending. A missing
	// bucket starts full with seed. When the wait would exceed maxWait,
	// nothing is taken and ok is false; wait is then the wait that would
	// have been needed; a negative maxWait therefore only asks how long
	// the next slot is away.
	Reserve(key Key, seed Plan, now time.Time, maxWait time.Duration) (wait time.Duration, ok bool)
	// Cancel gives back a slot that Reserve took but the caller never used
	// (its context ended while waiting).
	Cancel(key Key, now time.Time)
	// SetRate changes the bucket's rate, keeping how much of it is used,
	// and reports the previous rate (0 when unknown) and whether it changed.
	SetRate(key Key, rate float64, now time.Time) (prev float64, changed bool)
	// Drain empties the bucket at now: the next request waits a full
	// interval.
	Drain(key Key, now time.Time)
	// Plan reports the bucket's current rate and burst; ok is false when
	// the bucket does not exist. Burst is 0 while unknown (a bucket created
	// by SetRate or Drain before any Reserve).
	Plan(key Key) (p Plan, ok bool)
}

// MemoryStore is a Store in process memory. The zero value is ready to use.
type MemoryStore struct {
	mu      sync.Mutex
	buckets map[Key]*Bucket
}

var _ Store = (*MemoryStore)(nil)

// Bucket is one GCRA bucket's whole state, with the arithmetic every Store
// shares: MemoryStore keeps Buckets in a map, a shared store loads one,
// calls a method and saves it back inside a transaction. A request at now
// is allowed at max(TAT, now) + interval − Burst·interval, and moves TAT on
// by one interval. TAT ≤ now means the bucket is full. The zero value is a
// bucket that exists but whose plan is not known yet.
type Bucket struct {
	Rate      float64   // requests per second; 0 while unknown
	Burst     int       // 0 while unknown (before the first Reserve)
	TAT       time.Time // theoretical arrival time of the next request
	Seeded    bool      // Burst (and Rate) known
	DrainedAt time.Time // Drain before the plan was known
}

func (b *Bucket) interval() time.Duration { return interval(b.Rate) }

// interval is the time one token takes to refill, rounded up to the
// nanosecond so rounding never makes the pace faster than the rate.
func interval(rate float64) time.Duration {
	return time.Duration(math.Ceil(float64(time.Second) / rate))
}

func (s *MemoryStore) get(key Key) *Bucket {
	if s.buckets == nil {
		s.buckets = make(map[Key]*Bucket)
	}
	b := s.buckets[key]
	if b == nil {
		b = &Bucket{}
		s.buckets[key] = b
	}
	return b
}

func (b *Bucket) seed(p Plan) {
	if b.Seeded {
		return
	}
	if b.Rate <= 0 {
		b.Rate = p.Rate
	}
	b.Burst = p.Burst
	b.Seeded = true
	if !b.DrainedAt.IsZero() {
		b.TAT = b.DrainedAt.Add(time.Duration(b.Burst) * b.interval())
	}
}

// Reserve is Store.Reserve on this bucket: it seeds an unseeded bucket
// with seed, then takes the next slot unless the wait would exceed maxWait.
func (b *Bucket) Reserve(seed Plan, now time.Time, maxWait time.Duration) (time.Duration, bool) {
	b.seed(seed)
	t := b.interval()
	tat := b.TAT
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(t)
	wait := next.Add(-time.Duration(b.Burst) * t).Sub(now)
	if wait < 0 {
		wait = 0
	}
	if wait > maxWait {
		return wait, false
	}
	b.TAT = next
	return wait, true
}

// Cancel is Store.Cancel on this bucket; an unseeded bucket is unchanged.
func (b *Bucket) Cancel(now time.Time) {
	if !b.Seeded {
		return
	}
	b.TAT = b.TAT.Add(-b.interval())
	if b.TAT.Before(now) {
		b.TAT = now
	}
}

// SetRate is Store.SetRate on this bucket.
func (b *Bucket) SetRate(rate float64, now time.Time) (float64, bool) {
	prev := b.Rate
	if prev > 0 && math.Abs(prev-rate) <= 1e-9*math.Max(prev, rate) {
		return prev, false
	}
	if prev > 0 && b.TAT.After(now) {
		// Keep the used part of the bucket: convert the debt from the old
		// interval to the new one.
		used := float64(b.TAT.Sub(now)) / float64(interval(prev))
		b.TAT = now.Add(time.Duration(math.Ceil(used * float64(interval(rate)))))
	}
	b.Rate = rate
	return prev, true
}

// Drain is Store.Drain on this bucket.
func (b *Bucket) Drain(now time.Time) {
	if !b.Seeded {
		b.DrainedAt = now
		return
	}
	if empty := now.Add(time.Duration(b.Burst) * b.interval()); b.TAT.Before(empty) {
		b.TAT = empty
	}
}

// Plan reports the bucket's rate and burst.
func (b *Bucket) Plan() Plan { return Plan{Rate: b.Rate, Burst: b.Burst} }

// Reserve implements Store.
func (s *MemoryStore) Reserve(key Key, seed Plan, now time.Time, maxWait time.Duration) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.get(key).Reserve(seed, now, maxWait)
}

// Cancel implements Store.
func (s *MemoryStore) Cancel(key Key, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[key]; b != nil {
		b.Cancel(now)
	}
}

// SetRate implements Store.
func (s *MemoryStore) SetRate(key Key, rate float64, now time.Time) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.get(key).SetRate(rate, now)
}

// Drain implements Store.
func (s *MemoryStore) Drain(key Key, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.get(key).Drain(now)
}

// Plan implements Store.
func (s *MemoryStore) Plan(key Key) (Plan, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[key]
	if b == nil {
		return Plan{}, false
	}
	return b.Plan(), true
}

// Unlimited is a Store that never makes a caller wait. It exists for load
// tests against an emulator with its limits lifted; against Amazon it would
// collect 429s.
type Unlimited struct{}

// Reserve grants every request at once.
func (Unlimited) Reserve(Key, Plan, time.Time, time.Duration) (time.Duration, bool) { return 0, true }

// Cancel does nothing.
func (Unlimited) Cancel(Key, time.Time) {}

// SetRate ignores the rate.
func (Unlimited) SetRate(Key, float64, time.Time) (float64, bool) { return 0, false }

// Drain does nothing.
func (Unlimited) Drain(Key, time.Time) {}

// Plan reports no bucket.
func (Unlimited) Plan(Key) (Plan, bool) { return Plan{}, false }
