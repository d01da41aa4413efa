package tokencache_test

import (
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/tokencachetest"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/tokencache"
)

func TestMemoryConformance(t *testing.T) {
	tokencachetest.Conformance(t, func(_ *testing.T, clk *clock.Fake) (a, b tokencache.Shared) {
		m := tokencache.NewMemory(clk)
		return m, m
	})
}

func TestTokenFreshAt(t *testing.T) {
	t0 := tokencachetest.T0
	for _, tc := range []struct {
		name string
		tok  tokencache.Token
		at   time.Time
		want bool
	}{
		{"before the refresh time", tokencachetest.Token("x"), t0.Add(54 * time.Minute), true},
		{"at the refresh time", tokencachetest.Token("x"), t0.Add(55 * time.Minute), false},
		{"no refresh time: before the expiry", tokencache.Token{Value: secret.New("x"), Expiry: t0.Add(time.Hour)}, t0.Add(59 * time.Minute), true},
		{"no refresh time: at the expiry", tokencache.Token{Value: secret.New("x"), Expiry: t0.Add(time.Hour)}, t0.Add(time.Hour), false},
		{"no value", tokencache.Token{Expiry: t0.Add(time.Hour)}, t0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tok.FreshAt(tc.at); got != tc.want {
				t.Errorf("FreshAt = %v, want %v", got, tc.want)
			}
		})
	}
}
