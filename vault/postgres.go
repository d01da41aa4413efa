package vault

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/spgate/spgate/clock"
)

// IsPostgresDSN reports whether path names a PostgreSQL database
// (postgres://… or postgresql://…) rather than a vault file.
func IsPostgresDSN(path string) bool {
	p := strings.ToLower(path)
	return strings.HasPrefix(p, "postgres://") || strings.HasPrefix(p, "postgresql://")
}

// RedactDSN returns dsn with its password replaced by "xxxxx", for
// messages and logs. A path that is not a DSN is returned unchanged.
func RedactDSN(dsn string) string {
	if !IsPostgresDSN(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable DSN)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Backend names the database behind the vault: "sqlite" or "postgres".
func (v *Vault) Backend() string { return v.d.name() }

// pgOpenTimeout bounds connecting to the server when the DSN sets no
// connect_timeout.
const pgOpenTimeout = 10 * time.Second

// openPostgres opens (or, with opts.Create, creates) the vault in the
// PostgreSQL database (and schema: the first of search_path) that dsn
// names. The vault is the same as in a file: the same tables, the same
// encryption and integrity checks, the same migrations; only the
// dialect differs.
func openPostgres(ctx context.Context, dsn string, key Key, opts Options) (*Vault, error) {
	v, err := connectPostgres(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	ms := opts.migrations
	if ms == nil {
		ms = migrations
	}
	if err := v.init(ctx, key, opts, ms); err != nil {
		v.db.Close()
		return nil, err
	}
	return v, nil
}

// connectPostgres connects to the database dsn names and finds the
// vault's schema (creating it with opts.Create), without reading or
// unlocking anything: a handle for Open to unlock, or for Copy to fill.
func connectPostgres(ctx context.Context, dsn string, opts Options) (*Vault, error) {
	shown := RedactDSN(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN; name it redacted instead.
		return nil, invalid("%s=%s is not a usable PostgreSQL DSN; write it as postgres://user:password@host:5432/database?sslmode=…", EnvVault, shown)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgOpenTimeout
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "spgate"
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	// No statement waits longer than the busy timeout for a lock: the
	// writers' advisory lock, a rate-limit bucket's row.
	cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(max(busy.Milliseconds(), 1), 10)
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pgMaxConns)
	db.SetMaxIdleConns(pgMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	d := &pgDialect{cfg: cfg}
	v := &Vault{db: db, path: shown, d: d, clk: clock.Or(opts.Clock), actor: opts.Actor, busy: busy}
	if v.actor == "" {
		v.actor = "spgate"
	}
	if err := d.locate(ctx, v, opts.Create); err != nil {
		db.Close()
		return nil, err
	}
	return v, nil
}

// pgMaxConns bounds the connections one process opens to the server.
const pgMaxConns = 16

// pgDialect is the PostgreSQL backend. Writers exclude each other with a
// transaction-scoped advisory lock named for the vault's schema (as
// SQLite's BEGIN IMMEDIATE does with its write lock), waiting at most the
// busy timeout (lock_timeout) for it; readers see one REPEATABLE READ
// snapshot. Rate-limit buckets (ratelimit_pg.go) lock only their row.
type pgDialect struct {
	cfg     *pgx.ConnConfig
	schema  string // current_schema() of the vault's connections
	lockKey int64  // advisory lock of the vault's writers
	rebind  sync.Map
}

// locate finds the vault's schema: the first schema of search_path that
// exists (public by default). With create, a schema named first in
// search_path that does not exist yet is created.
func (d *pgDialect) locate(ctx context.Context, v *Vault, create bool) error {
	var schema sql.NullString
	err := v.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema)
	if err != nil {
		return v.classify(err, "open vault")
	}
	if !schema.Valid {
		path := d.cfg.RuntimeParams["search_path"]
		first := strings.Trim(strings.TrimSpace(strings.Split(path, ",")[0]), `"`)
		if !create || first == "" {
			return newErr(ErrNoVault, "no vault in %s: no schema of search_path %q exists; create the vault (spgate app add, spgate vault copy) or fix %s", v.path, path, EnvVault)
		}
		if _, err := v.db.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{first}.Sanitize()); err != nil {
			return v.classify(err, "create the vault's schema")
		}
		if err := v.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil || !schema.Valid {
			return v.classify(errors.Join(err, errors.New("schema still missing")), "create the vault's schema")
		}
	}
	d.schema = schema.String
	h := fnv.New64a()
	h.Write([]byte("spgate vault writer|" + d.schema))
	d.lockKey = int64(h.Sum64())
	return nil
}

func (*pgDialect) name() string { return "postgres" }

// q turns ? placeholders into $1, $2, … (outside quoted text).
func (d *pgDialect) q(query string) string {
	if s, ok := d.rebind.Load(query); ok {
		return s.(string)
	}
	var b strings.Builder
	n := 0
	quoted := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	s := b.String()
	d.rebind.Store(query, s)
	return s
}

// args passes Go bools as 0/1: the vault keeps flags in INTEGER columns,
// as SQLite does.
func (*pgDialect) args(args []any) []any {
	for i, a := range args {
		if b, ok := a.(bool); ok {
			if b {
				args[i] = int64(1)
			} else {
				args[i] = int64(0)
			}
		}
	}
	return args
}

// beginWrite takes the vault's writer lock; the connection's lock_timeout
// (the busy timeout, set at Open) bounds the wait for it.
func (d *pgDialect) beginWrite(time.Duration) string {
	return fmt.Sprintf("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(%d)", d.lockKey)
}

func (*pgDialect) beginRead() string {
	return "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
}

// beginFailed ends the transaction a failed begin left open (aborted),
// so the connection does not go back to the pool inside it.
func (*pgDialect) beginFailed(ctx context.Context, c *sql.Conn) {
	if _, err := c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
}

func (*pgDialect) schemaVersion(ctx context.Context, c *sql.Conn) (int, error) {
	var reg sql.NullString
	if err := c.QueryRowContext(ctx, `SELECT to_regclass(quote_ident(current_schema()) || '.schema_version')::text`).Scan(&reg); err != nil {
		return 0, err
	}
	if !reg.Valid {
		return 0, nil
	}
	var v int
	err := c.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE id = 1`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

func (*pgDialect) setSchemaVersion(ctx context.Context, c *sql.Conn, version int) error {
	_, err := c.ExecContext(ctx, `INSERT INTO schema_version(id, version) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET version = excluded.version`, version)
	return err
}

func (*pgDialect) foreignTables(ctx context.Context, c *sql.Conn) (bool, error) {
	var n int
	err := c.QueryRowContext(ctx, `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()`).Scan(&n)
	return n > 0, err
}

func (d *pgDialect) notAVault(where string) error {
	return newErr(ErrCorrupt, "schema %q of %s holds tables but no spgate vault; point %s at an empty database, or name an empty schema with ?search_path=…", d.schema, where, EnvVault)
}

func (*pgDialect) prepare(context.Context, *sql.Conn) error { return nil }

func (*pgDialect) up(m migration) func(ctx context.Context, c *sql.Conn) error {
	if m.PG != nil {
		return m.PG
	}
	return m.Up
}

func (*pgDialect) check(*tx) ([]string, error) { return nil, nil }

// PostgreSQL error codes the vault tells apart.
const (
	pgLockNotAvailable   = "55P03"
	pgSerialization      = "40001"
	pgDeadlock           = "40P01"
	pgNoDatabase         = "3D000"
	pgBadPassword        = "28P01"
	pgBadAuthorization   = "28000"
	pgInsufficientPriv   = "42501"
	pgTooManyConnections = "53300"
	pgCannotConnectNow   = "57P03"
	pgAdminShutdown      = "57P01"
)

func (d *pgDialect) classify(v *Vault, err error, doing string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgLockNotAvailable, pgSerialization, pgDeadlock:
			return wrapErr(ErrLocked, err, "%s: vault is locked by another spgate process (waited %s); try again when it has finished", doing, v.busy)
		case pgNoDatabase:
			return wrapErr(ErrNoVault, err, "%s: the database of %s does not exist; create it (createdb) or fix %s", doing, v.path, EnvVault)
		case pgBadPassword, pgBadAuthorization:
			return fmt.Errorf("%s: PostgreSQL refused the user of %s; check the user and password in %s: %w", doing, v.path, EnvVault, err)
		case pgInsufficientPriv:
			return fmt.Errorf("%s: the database user of %s lacks a privilege on the vault's schema %q (it needs to create and change tables there): %w", doing, v.path, d.schema, err)
		case pgTooManyConnections, pgCannotConnectNow, pgAdminShutdown:
			return wrapErr(ErrUnavailable, err, "%s: the vault database %s does not accept connections now; check the server", doing, v.path)
		}
		return nil
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) {
		return wrapErr(ErrUnavailable, err, "%s: cannot reach the vault database %s; check %s and that PostgreSQL is running", doing, v.path, EnvVault)
	}
	return nil
}
