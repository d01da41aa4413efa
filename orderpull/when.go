package orderpull

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseWhen reads a time the way a person gives a pull's window: RFC 3339
// (2025-01-31T00:00:00Z), a date (2025-01-31, midnight UTC), or a duration
// ago ("72h", "7d") counted back from now.
func ParseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.ParseFloat(n, 64); err == nil && days >= 0 {
			return now.Add(-time.Duration(days * 24 * float64(time.Hour))), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2025-01-31T00:00:00Z), a date (2025-01-31) or a duration ago (72h, 7d)", s)
}
