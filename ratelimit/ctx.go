package ratelimit

import (
	"context"
	"time"
)

type maxQueueWaitKey struct{}

// WithMaxQueueWait bounds how long Wait may keep a caller of ctx waiting
// for its slot, apart from ctx's own deadline: when the caller's turn lies
// further away, Wait returns a *WaitError at once and takes nothing. A
// gateway uses it to answer 429 with an honest Retry-After instead of
// holding a request, while the rest of the call (Amazon's answer) keeps
// the whole deadline.
func WithMaxQueueWait(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	return context.WithValue(ctx, maxQueueWaitKey{}, d)
}

func maxQueueWait(ctx context.Context) time.Duration {
	d, _ := ctx.Value(maxQueueWaitKey{}).(time.Duration)
	return d
}
