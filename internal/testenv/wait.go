package testenv

import (
	"context"
	"testing"
	"time"
)

// Patience bounds every wait of a test for an event it expects: a server
// saying where it listens, a goroutine parking on a fake clock, a message
// arriving on a queue, a token request being answered. A busy machine
// (go test -race ./... on two cores with other work running) delays such
// an event by seconds, never by minutes, so a test that runs out of
// Patience has found a hang, not a slow machine.
//
// No test waits on a shorter real-time budget for something it expects, and
// no test asserts how fast anything happened: pacing is tested on a fake
// clock, speed is reported by benchmarks.
const Patience = 2 * time.Minute

// PatienceContext returns a context that ends after Patience, or when the
// test ends.
func PatienceContext(tb testing.TB) (context.Context, context.CancelFunc) {
	return context.WithTimeout(tb.Context(), Patience)
}
