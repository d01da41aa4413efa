package vault

import (
	"context"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/secret"
)

// TestChangesFollowOtherProcesses: a change made through another handle on
// the same file (another process) moves the counter; what no process
// caches does not.
func TestChangesFollowOtherProcesses(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	f.seed(t)
	other, err := Open(ctx, f.path, f.key, testOpts(f.clk))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	count := func() int64 {
		t.Helper()
		n, err := f.v.Changes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	steps := []struct {
		name   string
		do     func() error
		change bool
	}{
		{"new refresh token", func() error {
			return other.SetRefreshToken(ctx, seller1, "main", secret.New(token1+"-new"), time.Time{})
		}, true},
		{"new gateway key", func() error {
			_, err := other.CreateClient(ctx, Client{Name: "bc", Sellers: []string{"*"}, Operations: []string{"*"}})
			return err
		}, true},
		{"revoked key", func() error { return other.RevokeClient(ctx, "bc") }, true},
		{"new client secret", func() error {
			_, err := other.SetClientSecret(ctx, "main", secret.New(secret2), SecretChange{})
			return err
		}, true},
		{"checkpoint", func() error { return other.SetCheckpoint(ctx, seller1, "orders", []byte(`{}`)) }, false},
		{"rate-limit reservation", func() error {
			store := other.RateLimitStore(nil)
			_, _ = store.Reserve(ratelimit.Key{Seller: seller1, App: appID1, Operation: "x"}, ratelimit.Plan{Rate: 1, Burst: 1}, f.clk.Now(), time.Second)
			return nil
		}, false},
	}
	for _, s := range steps {
		before := count()
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if moved := count() != before; moved != s.change {
			t.Errorf("%s: counter moved %v, want %v", s.name, moved, s.change)
		}
	}
}

func TestWatchChangesCallsBackOnChange(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newVault(t)
	f.seed(t)
	calls := make(chan struct{}, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.v.WatchChanges(ctx, f.clk, time.Second, func(context.Context) { calls <- struct{}{} })
	}()
	tick := func() {
		t.Helper()
		if err := f.clk.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(time.Second)
	}
	tick() // nothing changed
	_, err := f.v.CreateClient(ctx, Client{Name: "bc", Sellers: []string{"*"}, Operations: []string{"*"}})
	must(t, err)
	tick()
	// The watcher reads after each tick; a change is reported once.
	select {
	case <-calls:
	case <-time.After(testenv.Patience):
		t.Fatal("no callback after a change")
	}
	tick()
	tick()
	select {
	case <-calls:
		t.Error("a callback without a change")
	default:
	}
	cancel()
	<-done
}
