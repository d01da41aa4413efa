package clock

import (
	"context"
	"testing"
	"time"
)

func TestAfterFunc(t *testing.T) {
	for _, tc := range []struct {
		name string
		clk  Clock
		tick func()
	}{
		{"fake", NewFake(time.Unix(0, 0)), nil},
		{"real", Real{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fired := make(chan struct{}, 2)
			advance := func(d time.Duration) {
				if f, ok := tc.clk.(*Fake); ok {
					if err := f.BlockUntil(context.Background(), 1); err != nil {
						t.Fatal(err)
					}
					f.Advance(d)
				}
			}
			AfterFunc(tc.clk, time.Millisecond, func() { fired <- struct{}{} })
			advance(time.Millisecond)
			select {
			case <-fired:
			case <-time.After(10 * time.Minute): // bounds a broken run only
				t.Fatal("f did not run")
			}
			stop := AfterFunc(tc.clk, time.Hour, func() { fired <- struct{}{} })
			if !stop() {
				t.Error("stop before the time reported false")
			}
			if f, ok := tc.clk.(*Fake); ok {
				f.Advance(2 * time.Hour)
			}
			select {
			case <-fired:
				t.Error("a stopped f ran")
			case <-time.After(10 * time.Millisecond):
			}
		})
	}
}
