package vault

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/spgate/spgate/ratelimit"
)

// rateLimitDB is a second handle on the vault file, for the rate-limit
// store alone, opened on its first use and closed with the vault. Its one
// connection commits without fsync (synchronous=NORMAL: in WAL mode the
// next synced commit, or a checkpoint, makes the rows durable; losing the
// last bucket updates in a power cut costs nothing worse than a 429),
// begins every transaction with BEGIN IMMEDIATE, and keeps its statements
// prepared. The vault's own connections keep full durability for secrets
// and audit rows, and never carry a rate-limit transaction.
type rateLimitDB struct {
	mu     sync.Mutex
	closed bool
	h      *rateLimitHandle
	pg     *sql.DB // the PostgreSQL store's pool (ratelimit_pg.go)
}

// rateLimitHandle is the open handle and its prepared statements.
type rateLimitHandle struct {
	db                 *sql.DB
	load, save, setTAT *sql.Stmt
}

var errVaultClosed = errors.New("the vault is closed")

// handle opens the handle on first use. A vault in PostgreSQL has none.
func (r *rateLimitDB) handle(v *Vault) (*rateLimitHandle, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errVaultClosed
	}
	if r.h != nil {
		return r.h, nil
	}
	dsn := v.path + "?_pragma=busy_timeout(" + strconv.FormatInt(v.busy.Milliseconds(), 10) + ")" +
		"&_pragma=synchronous(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection: the store's goroutines take turns anyway (one
	// writer per process), and its statements stay prepared on it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	h := &rateLimitHandle{db: db}
	for _, p := range []struct {
		stmt **sql.Stmt
		q    string
	}{
		{&h.load, `SELECT rate, burst, tat, drained_at, seeded FROM rate_limits WHERE key=?`},
		{&h.save, `INSERT INTO rate_limits(key, rate, burst, tat, drained_at, seeded) VALUES (?,?,?,?,?,?)
			ON CONFLICT(key) DO UPDATE SET rate=excluded.rate, burst=excluded.burst, tat=excluded.tat,
				drained_at=excluded.drained_at, seeded=excluded.seeded`},
		{&h.setTAT, `UPDATE rate_limits SET tat=? WHERE key=?`},
	} {
		if *p.stmt, err = db.Prepare(p.q); err != nil {
			db.Close()
			return nil, err
		}
	}
	r.h = h
	return h, nil
}

// close closes the handle; later uses fail (and the store falls back).
func (r *rateLimitDB) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.h != nil {
		r.h.db.Close() // closes its statements too
		r.h = nil
	}
	if r.pg != nil {
		r.pg.Close()
		r.pg = nil
	}
}

// pgPool opens, on first use, the PostgreSQL store's own pool: the
// vault's connection settings (its schema, the lock timeout) with
// synchronous_commit=off, so a bucket's update commits without waiting
// for the WAL to reach the disk (what the SQLite store's
// synchronous=NORMAL does; a crash loses at most the last updates, worth a
// 429) while secrets and audit rows keep full durability on the vault's
// own connections.
func (r *rateLimitDB) pgPool(d *pgDialect) (*sql.DB, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errVaultClosed
	}
	if r.pg == nil {
		cfg := d.cfg.Copy()
		cfg.RuntimeParams["synchronous_commit"] = "off"
		r.pg = stdlib.OpenDB(*cfg)
		r.pg.SetMaxOpenConns(pgMaxConns)
		r.pg.SetMaxIdleConns(pgMaxConns)
		r.pg.SetConnMaxIdleTime(5 * time.Minute)
	}
	return r.pg, nil
}

// rowTx is one short write transaction of the rate-limit store.
type rowTx struct {
	tx *sql.Tx
	h  *rateLimitHandle
}

// rateLimitTx runs fn in one BEGIN IMMEDIATE transaction on the store's
// handle: all of it lands or none.
func (v *Vault) rateLimitTx(doing string, fn func(t rowTx) error) error {
	h, err := v.rl.handle(v)
	if err != nil {
		return v.classify(err, doing)
	}
	ctx := context.Background() // SQLite's busy timeout bounds the wait
	tx, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		return v.classify(err, doing)
	}
	if err := fn(rowTx{tx: tx, h: h}); err != nil {
		_ = tx.Rollback()
		return v.classify(err, doing)
	}
	return v.classify(tx.Commit(), doing)
}

// load reads a bucket's row; exists is false when there is none.
func (t rowTx) load(k string) (b ratelimit.Bucket, exists bool, err error) {
	var tat, drained int64
	err = t.tx.Stmt(t.h.load).QueryRow(k).Scan(&b.Rate, &b.Burst, &tat, &drained, &b.Seeded)
	if errors.Is(err, sql.ErrNoRows) {
		return ratelimit.Bucket{}, false, nil
	}
	if err != nil {
		return ratelimit.Bucket{}, false, err
	}
	b.TAT, b.DrainedAt = fromNanos(tat), fromNanos(drained)
	return b, true, nil
}

// save writes a bucket's row, creating it when missing.
func (t rowTx) save(k string, b ratelimit.Bucket) error {
	seeded := 0
	if b.Seeded {
		seeded = 1
	}
	_, err := t.tx.Stmt(t.h.save).Exec(k, b.Rate, b.Burst, toNanos(b.TAT), toNanos(b.DrainedAt), seeded)
	return err
}

// setTAT moves a bucket's theoretical arrival time.
func (t rowTx) setTAT(k string, tat int64) error {
	_, err := t.tx.Stmt(t.h.setTAT).Exec(tat, k)
	return err
}
