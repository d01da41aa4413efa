package vault

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is everything that differs between the vault's two backends,
// SQLite (one file) and PostgreSQL (postgres.go). The rest of the package
// writes each statement once, in the SQL both accept, with ? placeholders;
// the dialect rewrites it for its database (q, args), opens transactions
// its way, keeps the schema version, runs the schema steps written for it
// and maps its errors onto the vault's typed errors.
type dialect interface {
	// name is "sqlite" or "postgres".
	name() string
	// q rewrites a statement written with ? placeholders.
	q(query string) string
	// args adapts argument values (PostgreSQL's integer columns take
	// no Go bool).
	args(args []any) []any
	// beginWrite opens a transaction that excludes every other writer
	// of the vault, waiting at most busy for them.
	beginWrite(busy time.Duration) string
	// beginRead opens a transaction that reads one consistent snapshot.
	beginRead() string
	// beginFailed cleans up after a failed begin statement.
	beginFailed(ctx context.Context, c *sql.Conn)
	// schemaVersion reads the vault's schema version (0: none yet).
	schemaVersion(ctx context.Context, c *sql.Conn) (int, error)
	// setSchemaVersion records version inside a migration step.
	setSchemaVersion(ctx context.Context, c *sql.Conn, version int) error
	// foreignTables reports whether the database (or schema) holds
	// tables although it has no vault schema version: it belongs to
	// something else.
	foreignTables(ctx context.Context, c *sql.Conn) (bool, error)
	// notAVault is the error for a database that foreignTables found
	// taken.
	notAVault(where string) error
	// prepare runs once per Open, after unlocking and before migrating.
	prepare(ctx context.Context, c *sql.Conn) error
	// up picks the schema step of m written for this database.
	up(m migration) func(ctx context.Context, c *sql.Conn) error
	// check lists problems the database itself finds in its storage
	// (SQLite's quick_check); none for a server that checks its own.
	check(t *tx) ([]string, error)
	// changeNotifications delivers a value soon after another process
	// changes the vault, until ctx ends; nil when the database cannot
	// notify (WatchChanges then reads on its ticks only).
	changeNotifications(ctx context.Context) <-chan struct{}
	// classify maps an error of this database onto the vault's typed
	// errors; it returns nil when it has nothing better than the
	// caller's generic wrapping.
	classify(v *Vault, err error, doing string) error
}

// sqliteDialect is the default backend: one file, WAL mode, one writer at
// a time by BEGIN IMMEDIATE and SQLite's busy timeout (set on the
// connection, so beginWrite ignores busy).
type sqliteDialect struct{}

func (sqliteDialect) name() string                           { return "sqlite" }
func (sqliteDialect) q(query string) string                  { return query }
func (sqliteDialect) args(args []any) []any                  { return args }
func (sqliteDialect) beginWrite(time.Duration) string        { return "BEGIN IMMEDIATE" }
func (sqliteDialect) beginRead() string                      { return "BEGIN" }
func (sqliteDialect) beginFailed(context.Context, *sql.Conn) {}

func (sqliteDialect) schemaVersion(ctx context.Context, c *sql.Conn) (int, error) {
	var v int
	err := c.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
	return v, err
}

func (sqliteDialect) setSchemaVersion(ctx context.Context, c *sql.Conn, version int) error {
	_, err := c.ExecContext(ctx, `PRAGMA user_version = `+strconv.Itoa(version))
	return err
}

func (sqliteDialect) foreignTables(ctx context.Context, c *sql.Conn) (bool, error) {
	var n int
	err := c.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n)
	return n > 0, err
}

func (sqliteDialect) notAVault(where string) error {
	return newErr(ErrCorrupt, "%s is an SQLite database but not an spgate vault; check %s", where, EnvVault)
}

func (sqliteDialect) prepare(ctx context.Context, c *sql.Conn) error {
	_, err := c.ExecContext(ctx, `PRAGMA journal_mode=WAL`)
	return err
}

func (sqliteDialect) up(m migration) func(ctx context.Context, c *sql.Conn) error { return m.Up }

func (sqliteDialect) check(t *tx) ([]string, error) {
	rows, err := t.query(`PRAGMA quick_check`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			return nil, err
		}
		if msg != "ok" {
			problems = append(problems, msg)
		}
	}
	return problems, rows.Err()
}

func (sqliteDialect) changeNotifications(context.Context) <-chan struct{} { return nil }

func (sqliteDialect) classify(v *Vault, err error, doing string) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return wrapErr(ErrLocked, err, "%s: vault is locked by another spgate process (waited %s); try again when it has finished", doing, v.busy)
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return wrapErr(ErrCorrupt, err, "%s: vault file %s is damaged; restore it from a backup", doing, v.path)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		return fmt.Errorf("%s: cannot write vault file %s (check its permissions and its directory's): %w", doing, v.path, err)
	}
	return nil
}
