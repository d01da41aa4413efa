package appvault

import (
	"context"
	"testing"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/tokencachetest"
	"github.com/spgate/spgate/tokencache"
)

// BenchmarkTokenCacheSharedHit is what a miss in a process's memory costs
// when another process already stored the token: one indexed read and one
// decryption (an LWA refresh is a network round trip of tens to hundreds
// of milliseconds). A hit in memory never gets here.
func BenchmarkTokenCacheSharedHit(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := openStore(b, be.path(b), nil)
			c := NewTokenCache(s.b, nil)
			ctx := context.Background()
			f := &tokencachetest.Fetcher{Clock: clock.Real{}}
			if _, err := NewTokenCache(s.a, nil).Get(ctx, "k", f.Fetch); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Get(ctx, "k", func(context.Context) (tokencache.Token, error) {
					b.Fatal("fetched")
					return tokencache.Token{}, nil
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
