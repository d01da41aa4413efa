package vault

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spgate/spgate/clock"
)

// changesVersion is the schema version that adds the change counter.
const changesVersion = 4

// watchedTables are the tables whose changes a running process must
// follow: an app's secrets, a seller's refresh token, a gateway key.
var watchedTables = []string{"apps", "secrets", "sellers", "authorizations", "clients"}

// changeCounterStatements create the counter and the triggers that bump it
// in the same transaction as any change to a watched table, whichever
// process (or tool) makes it.
func changeCounterStatements() []string {
	stmts := []string{
		`CREATE TABLE changes (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)`,
		`INSERT INTO changes(id, n) VALUES (1, 0)`,
	}
	for _, t := range watchedTables {
		for _, ev := range []string{"INSERT", "UPDATE", "DELETE"} {
			stmts = append(stmts, fmt.Sprintf(`CREATE TRIGGER changes_%s_%s AFTER %s ON %s BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END`,
				t, strings.ToLower(ev), ev, t))
		}
	}
	return stmts
}

// Changes returns the vault's change counter: it grows with every change
// to apps, secrets, sellers, refresh tokens or gateway clients, made by
// any process. Comparing two readings tells whether cached credentials
// may be stale; it costs one indexed read, no decryption.
func (v *Vault) Changes(ctx context.Context) (int64, error) {
	var n int64
	err := v.read(ctx, "read the change counter", func(t *tx) error {
		return t.queryRow(`SELECT n FROM changes WHERE id = 1`).Scan(&n)
	})
	return n, err
}

// DefaultWatchInterval is how often WatchChanges reads the change counter.
// A quarter of a second keeps a change made by another process (a revoked
// key, a new refresh token, a rotated secret) well within two seconds of
// taking effect, for one small read four times a second.
const DefaultWatchInterval = 250 * time.Millisecond

// WatchChanges calls onChange each time the change counter moves, reading
// it every interval (DefaultWatchInterval when zero) until ctx ends. A
// failed read is retried at the next tick; onChange runs on the watching
// goroutine, one call at a time.
//
// A vault in PostgreSQL is also read the moment the server notifies a
// change (LISTEN/NOTIFY, changes_pg.go), so what another replica changed
// takes effect at once; the ticks stay, for a notification lost with a
// dropped connection.
func (v *Vault) WatchChanges(ctx context.Context, clk clock.Clock, interval time.Duration, onChange func(ctx context.Context)) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	clk = clock.Or(clk)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	wake := v.d.changeNotifications(ctx)
	last, err := v.Changes(ctx)
	seen := err == nil
	for {
		if waitTick(ctx, clk, interval, wake) != nil {
			return
		}
		n, err := v.Changes(ctx)
		if err != nil {
			continue
		}
		if seen && n == last {
			continue
		}
		last, seen = n, true
		onChange(ctx)
	}
}

// waitTick waits for d on clk, or for a wake-up (never, from a nil
// channel), or until ctx is done.
func waitTick(ctx context.Context, clk clock.Clock, d time.Duration, wake <-chan struct{}) error {
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
