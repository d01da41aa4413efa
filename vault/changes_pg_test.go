package vault

import (
	"context"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/testenv"
)

// In PostgreSQL a change made through another handle (another replica)
// reaches WatchChanges by notification: the watcher's clock never ticks
// in this test.
func TestWatchChangesWakesOnNotification(t *testing.T) {
	if !onPostgres() {
		t.Skip("LISTEN/NOTIFY is PostgreSQL's; a vault file is read on the ticks")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newVault(t)
	f.seed(t)
	other, err := Open(ctx, f.path, f.key, testOpts(f.clk))
	must(t, err)
	defer other.Close()
	calls := make(chan struct{}, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.v.WatchChanges(ctx, f.clk, time.Hour, func(context.Context) { calls <- struct{}{} })
	}()
	// The watcher has read the counter once it waits for its first tick.
	must(t, f.clk.BlockUntil(ctx, 1))
	for _, change := range []func() error{
		func() error {
			_, err := other.CreateClient(ctx, Client{Name: "bc", Sellers: []string{"*"}, Operations: []string{"*"}})
			return err
		},
		func() error { return other.RevokeClient(ctx, "bc") },
	} {
		must(t, change())
		select {
		case <-calls:
		case <-time.After(testenv.Patience):
			t.Fatal("no callback after another handle's change, with the clock standing still")
		}
	}
	cancel()
	<-done
}
