package orderpull_test

import (
	"testing"
	"time"

	"github.com/spgate/spgate/orderpull"
)

func TestParseWhen(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "2025-01-02T03:04:05Z", want: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
		{in: "2025-01-02", want: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)},
		{in: "72h", want: now.Add(-72 * time.Hour)},
		{in: "7d", want: now.Add(-7 * 24 * time.Hour)},
		{in: "1.5d", want: now.Add(-36 * time.Hour)},
		{in: " 7d ", want: now.Add(-7 * 24 * time.Hour)},
		{in: "yesterday", err: true},
		{in: "-3h", err: true},
		{in: "-1d", err: true},
	}
	for _, tc := range tests {
		got, err := orderpull.ParseWhen(tc.in, now)
		if (err != nil) != tc.err || (!tc.err && !got.Equal(tc.want)) {
			t.Errorf("ParseWhen(%q) = %v, %v; want %v (err %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}
