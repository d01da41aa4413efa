// Package clock lets time-dependent code (token expiry, rate limits,
// rotation) run on real time in production and on a controlled fake in tests,
// so no test sleeps to wait for an expiry.
package clock

import (
	"sync"
	"time"
)

// Clock is the time source. Implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires after d.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the code uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// Or returns c, or the real clock when c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// AfterFunc calls f in its own goroutine once d has passed on c, unless
// the returned stop function is called first (it reports whether it
// stopped f from running). On the real clock it is time.AfterFunc — no
// goroutine waits meanwhile; on another clock a goroutine waits on one of
// its timers.
func AfterFunc(c Clock, d time.Duration, f func()) (stop func() bool) {
	c = Or(c)
	if _, ok := c.(Real); ok {
		return time.AfterFunc(d, f).Stop
	}
	t := c.NewTimer(d)
	quit := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-t.C():
			f()
		case <-quit:
		}
	}()
	return func() bool {
		stopped := t.Stop()
		once.Do(func() { close(quit) })
		return stopped
	}
}
