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
	// have been needed.
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
	buckets map[Key]*bucket
}

var _ Store = (*MemoryStore)(nil)

// bucket is a GCRA bucket: a request at now is allowed at
// max(tat, now) + interval − burst·interval, and moves tat on by one
// interval. tat ≤ now means the bucket is full.
type bucket struct {
	rate      float64
	burst     int
	tat       time.Time
	seeded    bool      // burst (and rate) known
	drainedAt time.Time // Drain before the plan was known
}

func (b *bucket) interval() time.Duration { return interval(b.rate) }

// interval is the time one token takes to refill, rounded up to the
// nanosecond so rounding never makes the pace faster than the rate.
func interval(rate float64) time.Duration {
	return time.Duration(math.Ceil(float64(time.Second) / rate))
}

func (s *MemoryStore) get(key Key) *bucket {
	if s.buckets == nil {
		s.buckets = make(map[Key]*bucket)
	}
	b := s.buckets[key]
	if b == nil {
		b = &bucket{}
		s.buckets[key] = b
	}
	return b
}

func (b *bucket) seed(p Plan, now time.Time) {
	if b.seeded {
		return
	}
	if b.rate <= 0 {
		b.rate = p.Rate
	}
	b.burst = p.Burst
	b.seeded = true
	if !b.drainedAt.IsZero() {
		b.tat = b.drainedAt.Add(time.Duration(b.burst) * b.interval())
	}
}

// Reserve implements Store.
func (s *MemoryStore) Reserve(key Key, seed Plan, now time.Time, maxWait time.Duration) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.get(key)
	b.seed(seed, now)
	t := b.interval()
	tat := b.tat
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(t)
	wait := next.Add(-time.Duration(b.burst) * t).Sub(now)
	if wait < 0 {
		wait = 0
	}
	if wait > maxWait {
		return wait, false
	}
	b.tat = next
	return wait, true
}

// Cancel implements Store.
func (s *MemoryStore) Cancel(key Key, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[key]
	if b == nil || !b.seeded {
		return
	}
	b.tat = b.tat.Add(-b.interval())
	if b.tat.Before(now) {
		b.tat = now
	}
}

// SetRate implements Store.
func (s *MemoryStore) SetRate(key Key, rate float64, now time.Time) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.get(key)
	prev := b.rate
	if prev > 0 && math.Abs(prev-rate) <= 1e-9*math.Max(prev, rate) {
		return prev, false
	}
	if prev > 0 && b.tat.After(now) {
		// Keep the used part of the bucket: convert the debt from the old
		// interval to the new one.
		used := float64(b.tat.Sub(now)) / float64(interval(prev))
		b.tat = now.Add(time.Duration(math.Ceil(used * float64(interval(rate)))))
	}
	b.rate = rate
	return prev, true
}

// Drain implements Store.
func (s *MemoryStore) Drain(key Key, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.get(key)
	if !b.seeded {
		b.drainedAt = now
		return
	}
	if empty := now.Add(time.Duration(b.burst) * b.interval()); b.tat.Before(empty) {
		b.tat = empty
	}
}

// Plan implements Store.
func (s *MemoryStore) Plan(key Key) (Plan, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[key]
	if b == nil {
		return Plan{}, false
	}
	return Plan{Rate: b.rate, Burst: b.burst}, true
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
