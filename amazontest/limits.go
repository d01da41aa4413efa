package amazontest

import (
	"maps"
	"math"
	"strconv"
	"sync"
	"time"
)

// limitKey names one token bucket: per selling partner (or the app itself
// for grantless calls), application and operation, as Amazon meters.
type limitKey struct{ who, app, op string }

type bucket struct {
	tokens float64
	last   time.Time
}

// limiter is the emulator's own token bucket (deliberately not shared with
// the client side's ratelimit package). Times are emulator times, so a time
// scale refills buckets that much faster in real time.
type limiter struct {
	mu      sync.Mutex
	buckets map[limitKey]*bucket
}

func newLimiter() *limiter { return &limiter{buckets: map[limitKey]*bucket{}} }

// allow takes one token from k's bucket (rate per second, burst size) at
// now and reports whether there was one.
func (l *limiter) allow(k limitKey, rate float64, burst int, now time.Time) bool {
	if burst < 1 {
		burst = 1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[k]
	if b == nil {
		b = &bucket{tokens: float64(burst), last: now}
		l.buckets[k] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(float64(burst), b.tokens+el.Seconds()*rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// formatRate writes a rate as Amazon does: a plain decimal ("0.0167", "30").
func formatRate(r float64) string {
	return strconv.FormatFloat(math.Round(r*1e6)/1e6, 'f', -1, 64)
}

// everyNth reports whether the n-th event (1-based) is one of a share p of
// events spread evenly: exactly floor(n·p) of the first n are.
func everyNth(n uint64, p float64) bool {
	if p <= 0 {
		return false
	}
	if p >= 1 {
		return true
	}
	return math.Floor(float64(n)*p) != math.Floor(float64(n-1)*p)
}

func (s *Server) omitHeader() bool {
	p := s.cfg.RateLimitHeaderOmitShare
	if p <= 0 {
		return false
	}
	return everyNth(s.omitAcc.Add(1), p)
}

// Counters is a snapshot of what the emulator has seen.
type Counters struct {
	// Calls counts authorized SP-API requests per operation key
	// ("orders/v0/getOrders"), throttled ones included.
	Calls map[string]int64 `json:"calls"`
	// Throttled counts 429 QuotaExceeded answers per operation key.
	Throttled map[string]int64 `json:"throttled"`
	// TotalCalls and TotalThrottled sum the two maps.
	TotalCalls     int64 `json:"totalCalls"`
	TotalThrottled int64 `json:"totalThrottled"`
	// TokensIssued counts LWA access tokens per grant type.
	TokensIssued map[string]int64 `json:"tokensIssued"`
	// RDTsIssued counts Restricted Data Tokens.
	RDTsIssued int64 `json:"rdtsIssued"`
	// LWAErrors counts LWA error answers per error code (invalid_client…).
	LWAErrors map[string]int64 `json:"lwaErrors"`
	// Faults counts injected faults: "internalFailure", "serviceUnavailable",
	// "dropped".
	Faults map[string]int64 `json:"faults"`
	// Notifications counts notifications delivered; NotificationErrors those
	// that could not be (SQS failure, full channel).
	Notifications      int64 `json:"notifications"`
	NotificationErrors int64 `json:"notificationErrors"`
	// Panics counts handler panics turned into 500 InternalFailure; it should
	// stay 0.
	Panics int64 `json:"panics"`
}

type counters struct {
	mu                              sync.Mutex
	calls, throttled                map[string]int64
	tokens, lwaErrors, faults       map[string]int64
	rdts, notes, noteErrors, panics int64
}

func (c *counters) init() {
	c.calls, c.throttled = map[string]int64{}, map[string]int64{}
	c.tokens, c.lwaErrors, c.faults = map[string]int64{}, map[string]int64{}, map[string]int64{}
}

func (c *counters) add(f *int64) {
	c.mu.Lock()
	*f++
	c.mu.Unlock()
}

func (c *counters) inc(m map[string]int64, k string) {
	c.mu.Lock()
	m[k]++
	c.mu.Unlock()
}

func (c *counters) call(op string, throttled bool) {
	c.mu.Lock()
	c.calls[op]++
	if throttled {
		c.throttled[op]++
	}
	c.mu.Unlock()
}

func (c *counters) tokenIssued(grant string) { c.inc(c.tokens, grant) }
func (c *counters) lwaError(code string)     { c.inc(c.lwaErrors, code) }
func (c *counters) fault(kind string)        { c.inc(c.faults, kind) }

// Counters returns a snapshot of the counters.
func (s *Server) Counters() Counters {
	c := &s.counters
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Counters{
		Calls: maps.Clone(c.calls), Throttled: maps.Clone(c.throttled),
		TokensIssued: maps.Clone(c.tokens), LWAErrors: maps.Clone(c.lwaErrors), Faults: maps.Clone(c.faults),
		RDTsIssued: c.rdts, Notifications: c.notes, NotificationErrors: c.noteErrors, Panics: c.panics,
	}
	for _, v := range c.calls {
		out.TotalCalls += v
	}
	for _, v := range c.throttled {
		out.TotalThrottled += v
	}
	return out
}
