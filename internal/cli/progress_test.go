package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

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
