package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
)

// TestWithMaxQueueWait: a caller that will not queue longer than d gets a
// WaitError at once when its slot lies further away, takes nothing, and
// keeps its context's own (longer) deadline for the rest of its call.
func TestWithMaxQueueWait(t *testing.T) {
	clk := clock.NewFake(t0)
	l := New(Options{Clock: clk})
	slow := op(1.0/60, 1) // one a minute
	if err := l.Wait(context.Background(), key, slow); err != nil {
		t.Fatal(err)
	}
	ctx := WithMaxQueueWait(context.Background(), 30*time.Second)
	err := l.Wait(ctx, key, slow)
	var we *WaitError
	if !errors.As(err, &we) || we.RetryAfter() != time.Minute {
		t.Fatalf("err = %v, want a WaitError with Retry-After 1 min", err)
	}
	if clk.Waiters() != 0 {
		t.Fatal("the refused caller left a timer behind")
	}
	// Within the bound it waits as usual.
	clk.Advance(45 * time.Second)
	done := make(chan error, 1)
	go func() { done <- l.Wait(ctx, key, slow) }()
	if err := clk.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(15 * time.Second)
	if err := <-done; err != nil {
		t.Fatalf("a wait of 15 s under a 30 s bound: %v", err)
	}
	if WithMaxQueueWait(context.Background(), 0) != context.Background() {
		t.Error("a zero bound changed the context")
	}
}
