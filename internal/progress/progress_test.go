package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/orderpull"
)

// TestPullIsHonest: Amazon gives no total for an orders query, so progress
// counts pages and orders and never shows a percentage or an ETA, however
// late the last-update times of the orders already seen are.
func TestPullIsHonest(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	p := NewPull(&buf, func() time.Time { return now })
	since := now.Add(-365 * 24 * time.Hour)
	p.Event(orderpull.Event{Kind: orderpull.Started, From: since})
	for i := int64(1); i <= 3; i++ {
		now = now.Add(10 * time.Second)
		p.Event(orderpull.Event{Kind: orderpull.PageDone, Orders: i * 100, Pages: i, PageOrders: 100})
	}
	p.Finish()
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

// TestPullEvents: the progress lines show the rate-limit waits the pull's
// events carry, and say when Amazon refused a page token.
func TestPullEvents(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	p := NewPull(&buf, func() time.Time { return now })
	p.Event(orderpull.Event{Kind: orderpull.Started, Resumed: true, Orders: 20, Pages: 2, From: now.Add(-time.Hour)})
	now = now.Add(time.Minute)
	p.Event(orderpull.Event{Kind: orderpull.Restarted, Orders: 20, Pages: 2})
	p.Event(orderpull.Event{Kind: orderpull.PageDone, Orders: 30, Pages: 3, PageOrders: 10, RateLimitWaits: 2, RateLimitWait: 61 * time.Second})
	p.Event(orderpull.Event{Kind: orderpull.Finished, Orders: 30, Pages: 3})
	p.Finish()
	for _, want := range []string{"resuming from the checkpoint (20 orders already written", "refused the page token",
		"checkpoint: page 3, 30 orders, 0.2 orders/s, rate-limit waits 2 (1m1s)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, buf.String())
		}
	}
}
