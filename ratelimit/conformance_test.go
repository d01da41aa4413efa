package ratelimit_test

import (
	"testing"

	"github.com/spgate/spgate/internal/ratelimittest"
	"github.com/spgate/spgate/ratelimit"
)

func TestMemoryStoreConformance(t *testing.T) {
	ratelimittest.Conformance(t, func(*testing.T) ratelimit.Store { return &ratelimit.MemoryStore{} })
}
