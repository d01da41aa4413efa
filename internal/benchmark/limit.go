// Package benchmark runs spgate's whole workloads offline and reports each
// figure against the limit spgate states for it: the orders pull at
// Amazon's allowed rate (Pull) and the latency, throughput and memory of
// spgate serve as a separate process next to nginx (Gateway).
//
// It is internal: it measures the spgate binary itself (Gateway runs
// `spgate serve`), its reports are the JSON of spgate bench, and its
// workloads change with the claims they check; no Go program should
// depend on their shape.
package benchmark

import (
	"fmt"
	"math"
)

// The stated limits the workloads are compared with.
const (
	PullMinRatio        = 0.95   // achieved ÷ allowed getOrders pages
	GatewayMaxAddedP50  = 200.0  // µs
	GatewayMaxAddedP99  = 2000.0 // µs
	GatewayMinReqPerSec = 10000.0
	// NginxMaxAddedRatio is the most latency spgate may add, as a
	// multiple of what nginx adds as a plain reverse proxy in the same run.
	NginxMaxAddedRatio = 2.0
	// The limits of spgate serve with its vault, and so its rate-limit
	// buckets, in PostgreSQL (a round trip to the server per call).
	PostgresMaxAddedP50  = 1000.0 // µs
	PostgresMaxAddedP99  = 5000.0 // µs
	PostgresMinReqPerSec = 2000.0
)

// Limit is one measured figure against a stated limit.
type Limit struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
	Limit float64 `json:"limit"`
	// AtLeast is true for a floor (value ≥ limit), false for a ceiling
	// (value < limit, or = 0 for a zero limit).
	AtLeast bool `json:"atLeast"`
	// Ratio is value ÷ limit; absent for a zero limit.
	Ratio *float64 `json:"ratio,omitempty"`
	OK    bool     `json:"ok"`
}

// NewLimit compares value with limit, a floor when atLeast, else a
// ceiling.
func NewLimit(name, unit string, value, limit float64, atLeast bool) Limit {
	l := Limit{Name: name, Unit: unit, Value: value, Limit: limit, AtLeast: atLeast}
	if limit != 0 {
		r := value / limit
		l.Ratio = &r
	}
	switch {
	case atLeast:
		l.OK = value >= limit
	case limit == 0:
		l.OK = value <= 0
	default:
		l.OK = value < limit
	}
	return l
}

// String is the limit's line in a report: ✓ or ✗, the figure and the
// limit, and their ratio where it says something.
func (l Limit) String() string {
	mark := "✗"
	if l.OK {
		mark = "✓"
	}
	kind := "limit"
	if l.AtLeast {
		kind = "floor"
	}
	if l.Ratio == nil || l.Unit == "" {
		// A count against zero, or a number that is a ratio already.
		return fmt.Sprintf("%s %s %s (%s %s)", mark, l.Name, num(l.Value), kind, num(l.Limit))
	}
	return fmt.Sprintf("%s %s %s %s = %.2f of the %s %s %s", mark, l.Name, num(l.Value), l.Unit, *l.Ratio, num(l.Limit), l.Unit, kind)
}

// num prints whole numbers with thousands separators and others with
// three significant decimals.
func num(f float64) string {
	if f != math.Trunc(f) || math.Abs(f) >= 1e15 {
		return fmt.Sprintf("%.3f", f)
	}
	s := fmt.Sprintf("%.0f", math.Abs(f))
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if f < 0 {
		s = "-" + s
	}
	return s
}
