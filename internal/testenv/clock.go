package testenv

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/spgate/spgate/clock"
)

// DriveClock runs virtual time for code that waits on fake (a client's
// limiter and backoff, the emulator's buckets and latency, all on the one
// fake clock) until ctx ends. parked reports how many timers are pending
// when every goroutine of the code under test waits on the clock and none
// is in the middle of a request (the number of callers still running, when
// each of them waits on at most one timer at a time); whenever fake has that
// many, DriveClock advances it by step.
//
// Time thus passes only while nothing else can happen, so the code under
// test sees the same timeline however slow the machine is, and a test can
// assert rates on it. A wait ends at most one step after its deadline:
// choose a step that is small against the waits being measured.
func DriveClock(ctx context.Context, fake *clock.Fake, parked func() int, step time.Duration) {
	poll := time.NewTicker(100 * time.Microsecond)
	defer poll.Stop()
	for ctx.Err() == nil {
		if n := parked(); n > 0 && fake.Waiters() >= n {
			fake.Advance(step)
			continue
		}
		select {
		case <-ctx.Done():
		case <-poll.C:
		}
	}
}

// Callers returns parked for DriveClock when n goroutines each wait on at
// most one timer at a time: done is called as each of them returns.
func Callers(n int) (parked func() int, done func()) {
	var left atomic.Int64
	left.Store(int64(n))
	return func() int { return int(left.Load()) }, func() { left.Add(-1) }
}
