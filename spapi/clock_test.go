package spapi_test

import (
	"time"

	"github.com/spgate/spgate/clock"
)

func newFakeClock() *clock.Fake { return clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)) }
