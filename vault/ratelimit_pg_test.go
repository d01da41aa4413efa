package vault

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/ratelimit"
)

// The PostgreSQL store's counterpart of TestRateLimitStoreFallsBackWhenLocked:
// another replica holds the bucket's row; reserves give up on it after the
// busy timeout and pace on the fallback, then share the bucket again.
func TestPgRateLimitStoreFallsBackWhenLocked(t *testing.T) {
	if !onPostgres() {
		t.Skip("the PostgreSQL store; TestRateLimitStoreFallsBackWhenLocked checks SQLite's")
	}
	ctx := context.Background()
	f := newVault(t)
	f.reopenWith(t, func(o *Options) { o.BusyTimeout = 50 * time.Millisecond })
	var logs bytes.Buffer
	s := f.v.RateLimitStore(slog.New(slog.NewTextHandler(&logs, nil)))
	plan := ratelimit.Plan{Rate: 1, Burst: 1}
	if _, ok := s.Reserve(rlKey, plan, t0, 0); !ok {
		t.Fatal("first reserve refused")
	}

	db := rawDB(t, f.path)
	defer db.Close()
	conn, err := db.Conn(ctx)
	must(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `BEGIN`)
	must(t, err)
	_, err = conn.ExecContext(ctx, `SELECT 1 FROM rate_limits WHERE key = $1 FOR UPDATE`, bucketKey(rlKey))
	must(t, err)

	reserved := make(chan error, 1)
	go func() {
		for range 3 {
			if wait, ok := s.Reserve(rlKey, plan, t0, time.Hour); !ok {
				reserved <- fmt.Errorf("reserve under a foreign lock refused (wait %v)", wait)
				return
			}
		}
		reserved <- nil
	}()
	select {
	case err := <-reserved:
		must(t, err)
	case <-time.After(testenv.Patience):
		t.Fatal("reserves under a foreign row lock wait for it instead of giving up after the busy timeout")
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "paces on its own") || !strings.Contains(logs.String(), "locked") {
		t.Errorf("warning does not say what happened:\n%s", logs.String())
	}
	_, err = conn.ExecContext(ctx, `ROLLBACK`)
	must(t, err)
	if wait, ok := s.Reserve(rlKey, plan, t0, time.Hour); !ok || wait != time.Second {
		t.Errorf("after the lock: wait %v ok %v, want the shared bucket's 1s", wait, ok)
	}
	if !strings.Contains(logs.String(), "answers again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

// A header repeating the bucket's rate changes nothing and takes no lock:
// it is answered while another replica holds the row.
func TestPgRateLimitSameRateTakesNoLock(t *testing.T) {
	if !onPostgres() {
		t.Skip("the PostgreSQL store")
	}
	ctx := context.Background()
	f := newVault(t)
	f.reopenWith(t, func(o *Options) { o.BusyTimeout = 50 * time.Millisecond })
	var logs bytes.Buffer
	s := f.v.RateLimitStore(slog.New(slog.NewTextHandler(&logs, nil)))
	s.Reserve(rlKey, ratelimit.Plan{Rate: 2, Burst: 1}, t0, 0)
	db := rawDB(t, f.path)
	defer db.Close()
	conn, err := db.Conn(ctx)
	must(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `BEGIN`)
	must(t, err)
	_, err = conn.ExecContext(ctx, `SELECT 1 FROM rate_limits WHERE key = $1 FOR UPDATE`, bucketKey(rlKey))
	must(t, err)
	if prev, changed := s.SetRate(rlKey, 2, t0); prev != 2 || changed {
		t.Errorf("SetRate(2) = %v %v, want 2 false", prev, changed)
	}
	if logs.Len() > 0 {
		t.Errorf("the repeated rate went to the fallback:\n%s", logs.String())
	}
	_, err = conn.ExecContext(ctx, `ROLLBACK`)
	must(t, err)
}

// The store's updates commit without waiting for the disk, on a pool of
// its own; the vault's connections keep synchronous_commit for secrets
// and audit rows.
func TestPgRateLimitStoreCommitsUnsynced(t *testing.T) {
	if !onPostgres() {
		t.Skip("the PostgreSQL store")
	}
	f := newVault(t)
	s := f.v.RateLimitStore(nil).(*pgRateLimitStore)
	s.Reserve(rlKey, ratelimit.Plan{Rate: 1, Burst: 1}, t0, 0)
	pool, err := s.pool()
	must(t, err)
	// Where the session's setting comes from tells the store's own choice
	// from the server's (the tests' throw-away server may itself run
	// with it off).
	const q = `SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit'`
	var store, storeSrc, vault, vaultSrc string
	must(t, pool.QueryRow(q).Scan(&store, &storeSrc))
	must(t, f.v.db.QueryRow(q).Scan(&vault, &vaultSrc))
	if store != "off" || storeSrc != "client" || vaultSrc == "client" {
		t.Errorf("synchronous_commit is %q (from %s) for the rate-limit store and %q (from %s) for the vault; want off set by the store, and the server's own",
			store, storeSrc, vault, vaultSrc)
	}
}

// A header repeating the rate the replica last read or set costs no round
// trip for rateSeenFor: it is answered with the database out of reach,
// while a new rate still goes to the database (and, out of reach, to the
// fallback).
func TestPgRateLimitRepeatedRateIsRemembered(t *testing.T) {
	if !onPostgres() {
		t.Skip("the PostgreSQL store")
	}
	f := newVault(t)
	var logs bytes.Buffer
	s := f.v.RateLimitStore(slog.New(slog.NewTextHandler(&logs, nil))).(*pgRateLimitStore)
	s.Reserve(rlKey, ratelimit.Plan{Rate: 2, Burst: 1}, t0, 0)
	if prev, changed := s.SetRate(rlKey, 4, t0); prev != 2 || !changed {
		t.Fatalf("SetRate(4) = %v %v, want 2 true", prev, changed)
	}
	pool, err := s.pool()
	must(t, err)
	pool.Close() // the database out of reach
	if prev, changed := s.SetRate(rlKey, 4, t0.Add(rateSeenFor/2)); prev != 4 || changed || logs.Len() > 0 {
		t.Errorf("repeated SetRate(4) = %v %v, want 4 false from memory\n%s", prev, changed, logs.String())
	}
	s.SetRate(rlKey, 4, t0.Add(rateSeenFor))
	if !strings.Contains(logs.String(), "paces on its own") {
		t.Errorf("a rate remembered for longer than %v was not asked again:\n%s", rateSeenFor, logs.String())
	}
}
