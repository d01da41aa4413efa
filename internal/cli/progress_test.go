package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPullProgressIsHonest: Amazon gives no total for an orders query, so
// progress counts pages and orders and never shows a percentage or an ETA,
// however late the last-update times of the orders already seen are.
func TestPullProgressIsHonest(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	p := &progress{w: &buf, now: func() time.Time { return now }}
	since := now.Add(-365 * 24 * time.Hour)
	p.start(since, 0, false)
	for i := int64(1); i <= 3; i++ {
		now = now.Add(10 * time.Second)
		p.page(i*100, i)
	}
	p.finish()
	out := buf.String()
	for _, want := range []string{"page 1, 100 orders", "page 3, 300 orders", "orders/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "%") || strings.Contains(out, "ETA") {
		t.Errorf("progress shows an estimate it cannot know:\n%s", out)
	}
}

// TestPullProgressWideRange pulls a year of orders page by page and checks
// the progress lines: pages and orders counted, no percentage.
func TestPullProgressWideRange(t *testing.T) {
	e := newEmuEnv(t)
	out := filepath.Join(t.TempDir(), "orders.jsonl")
	_, stderr := e.run(t, ExitOK, "orders", "pull", "--seller", e.demo.Sellers[0].ID, "--since", "365d", "--page-size", "10", "--out", out)
	lines := 0
	for _, l := range strings.Split(stderr, "\n") {
		if !strings.HasPrefix(l, "checkpoint: ") {
			continue
		}
		lines++
		if strings.Contains(l, "%") || strings.Contains(l, "ETA") {
			t.Errorf("progress shows an estimate it cannot know: %s", l)
		}
	}
	if lines < 3 || !strings.Contains(stderr, "checkpoint: page 1, 10 orders") {
		t.Errorf("want a line per page, \"page N, M orders\":\n%s", stderr)
	}
}
