package vault

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Change notifications in PostgreSQL: the triggers that bump the change
// counter also NOTIFY pgChangesChannel with the vault's schema
// (postgres_schema.go). A watcher holds one connection of its own (not
// one of the pool's) that LISTENs, and wakes WatchChanges for each
// notification about its schema. A dropped connection is dialled again,
// after a pause that grows to pgListenMaxPause; each new connection wakes
// the watcher once, for whatever happened while nobody listened.

const (
	pgListenFirstPause = 100 * time.Millisecond
	pgListenMaxPause   = 5 * time.Second
)

func (d *pgDialect) changeNotifications(ctx context.Context) <-chan struct{} {
	wake := make(chan struct{}, 1)
	go d.listen(ctx, wake)
	return wake
}

func (d *pgDialect) listen(ctx context.Context, wake chan<- struct{}) {
	signal := func() {
		select {
		case wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	pause := pgListenFirstPause
	for ctx.Err() == nil {
		if d.listenOnce(ctx, signal) {
			pause = pgListenFirstPause
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pause = min(2*pause, pgListenMaxPause)
	}
}

// listenOnce connects, listens and forwards notifications until the
// connection fails or ctx ends. It reports whether it got to listen.
func (d *pgDialect) listenOnce(ctx context.Context, signal func()) bool {
	conn, err := pgx.ConnectConfig(ctx, d.cfg.Copy())
	if err != nil {
		return false
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgChangesChannel); err != nil {
		return false
	}
	signal()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true
		}
		if n.Payload == d.schema {
			signal()
		}
	}
}
