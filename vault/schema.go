package vault

import (
	"context"
	"database/sql"
	"fmt"
)

// migration moves the schema from version Version-1 to Version. Migrations
// run in order, each in its own write transaction together with the
// schema version bump (PRAGMA user_version in SQLite, the schema_version
// table in PostgreSQL), so a crash leaves the vault at a whole version.
type migration struct {
	Version int
	Name    string
	Up      func(ctx context.Context, tx *sql.Conn) error
	// PG is Up in PostgreSQL's dialect; nil when Up's SQL suits both.
	PG func(ctx context.Context, tx *sql.Conn) error
	// Keyed, when set, runs after Up in the same transaction with the
	// unlocked vault and its key-encryption key. kek is nil when the
	// vault is being created (before it has a key or any record).
	Keyed func(ctx context.Context, c *sql.Conn, v *Vault, kek []byte) error
}

func execAll(stmts ...string) func(ctx context.Context, c *sql.Conn) error {
	return func(ctx context.Context, c *sql.Conn) error {
		for _, s := range stmts {
			if _, err := c.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
}

// migrations is the ordered schema history. Append; never edit a released one.
var migrations = []migration{
	{Version: 1, Name: "initial schema", Up: execAll(
		`CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)`,
		`CREATE TABLE apps (
			name TEXT PRIMARY KEY,
			app_id TEXT NOT NULL UNIQUE,
			client_id TEXT NOT NULL UNIQUE,
			roles TEXT NOT NULL DEFAULT '[]',
			draft INTEGER NOT NULL DEFAULT 0,
			region TEXT NOT NULL DEFAULT '',
			aws_access_key_id TEXT NOT NULL DEFAULT '',
			role_arn TEXT NOT NULL DEFAULT '',
			sqs_queue_url TEXT NOT NULL DEFAULT '',
			signing INTEGER NOT NULL DEFAULT 0,
			redirect_uri TEXT NOT NULL DEFAULT '',
			created_at TEXT NOT NULL,
			updated_at TEXT NOT NULL)`,
		// One row per encrypted secret. ref names the owner and field
		// ("app|<app id>|client_secret", "seller|<id>|app|<app id>|refresh_token");
		// ref, version are bound into the ciphertext as associated data.
		`CREATE TABLE secrets (
			ref TEXT NOT NULL,
			version INTEGER NOT NULL,
			status TEXT NOT NULL,
			created_at TEXT NOT NULL,
			expires_at TEXT,
			verified_at TEXT,
			ct BLOB NOT NULL,
			PRIMARY KEY (ref, version))`,
		// The last version issued per ref, so a version number (and with
		// it the associated data) is never reused, even after deletions:
		// an old ciphertext restored from a backup cannot pass as current.
		`CREATE TABLE secret_versions (ref TEXT PRIMARY KEY, last INTEGER NOT NULL)`,
		`CREATE TABLE sellers (
			id TEXT PRIMARY KEY,
			name TEXT UNIQUE,
			region TEXT NOT NULL,
			marketplaces TEXT NOT NULL DEFAULT '[]',
			created_at TEXT NOT NULL,
			updated_at TEXT NOT NULL)`,
		`CREATE TABLE authorizations (
			seller_id TEXT NOT NULL REFERENCES sellers(id) ON DELETE CASCADE,
			app_id TEXT NOT NULL REFERENCES apps(app_id) ON DELETE CASCADE,
			authorized_at TEXT NOT NULL,
			PRIMARY KEY (seller_id, app_id))`,
		`CREATE TABLE clients (
			name TEXT PRIMARY KEY,
			key_hash BLOB NOT NULL UNIQUE,
			sellers TEXT NOT NULL DEFAULT '[]',
			operations TEXT NOT NULL DEFAULT '[]',
			pii INTEGER NOT NULL DEFAULT 0,
			created_at TEXT NOT NULL,
			revoked_at TEXT)`,
		`CREATE TABLE checkpoints (
			seller TEXT NOT NULL,
			job TEXT NOT NULL,
			ct BLOB NOT NULL,
			updated_at TEXT NOT NULL,
			PRIMARY KEY (seller, job))`,
		`CREATE TABLE state (
			key TEXT PRIMARY KEY,
			ct BLOB NOT NULL,
			updated_at TEXT NOT NULL)`,
		`CREATE TABLE audit (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			at TEXT NOT NULL,
			actor TEXT NOT NULL,
			subject TEXT NOT NULL,
			field TEXT NOT NULL,
			action TEXT NOT NULL,
			detail TEXT NOT NULL DEFAULT '')`,
		`CREATE INDEX audit_subject ON audit(subject, id)`,
		`CREATE TABLE access_log (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			at TEXT NOT NULL,
			client TEXT NOT NULL,
			seller TEXT NOT NULL,
			operation TEXT NOT NULL,
			pii INTEGER NOT NULL,
			status INTEGER NOT NULL,
			request_id TEXT NOT NULL DEFAULT '')`,
		`CREATE INDEX access_log_at ON access_log(at)`,
	), PG: execAll(pgSchemaV1...)},
	// Rate-limit buckets shared by every spgate process using the vault
	// (RateLimitStore). key is "seller|app|operation"; tat and drained_at
	// are Unix nanoseconds, 0 for none. Not secret: neither encrypted nor
	// audited.
	{Version: 2, Name: "shared rate-limit buckets", Up: execAll(
		`CREATE TABLE rate_limits (
			key TEXT PRIMARY KEY,
			rate REAL NOT NULL,
			burst INTEGER NOT NULL,
			tat INTEGER NOT NULL,
			drained_at INTEGER NOT NULL,
			seeded INTEGER NOT NULL)`,
	), PG: execAll(pgSchemaV2...)},
	// Every row that grants access carries an HMAC-SHA256 under a subkey
	// of the data key (integrity.go): gateway clients and secret
	// metadata. Existing rows are signed in the same transaction, client
	// seller scopes stored as names become ids, and the data key is
	// re-wrapped so that the vault cannot be passed off as unprotected.
	{Version: integrityVersion, Name: "record integrity", Up: execAll(
		`ALTER TABLE clients ADD COLUMN mac BLOB`,
		`ALTER TABLE secrets ADD COLUMN mac BLOB`,
	), PG: execAll(pgSchemaV3...), Keyed: authenticateRows},
	// A counter bumped by triggers on every change to what running
	// processes cache (changes.go), so they follow another process's
	// changes without re-reading everything.
	{Version: changesVersion, Name: "change counter", Up: execAll(changeCounterStatements()...), PG: execAll(pgSchemaV4()...)},
	// Runtime state every replica shares: access tokens and RDTs
	// (tokencache.go; key is an HMAC of the cache key, ct the sealed
	// token or empty, times Unix nanoseconds, holder the fetch lease's
	// holder or empty) and the replicas' heartbeats (replicas.go). Not
	// watched by the change counter, not copied, not audited.
	{Version: sharedTokensVersion, Name: "shared token cache and replica heartbeats", Up: execAll(
		`CREATE TABLE token_cache (
			key TEXT PRIMARY KEY,
			ct BLOB NOT NULL,
			expires_at INTEGER NOT NULL,
			holder TEXT NOT NULL,
			lease_until INTEGER NOT NULL)`,
		`CREATE TABLE replicas (
			id TEXT PRIMARY KEY,
			host TEXT NOT NULL,
			pid INTEGER NOT NULL,
			started_at INTEGER NOT NULL,
			addr TEXT NOT NULL,
			version TEXT NOT NULL,
			seen_at INTEGER NOT NULL,
			clock INTEGER NOT NULL)`,
	), PG: execAll(pgSchemaV5...)},
}

// latestVersion is the schema version this code writes.
func latestVersion(ms []migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// migrate brings the database on c up to the last version in ms. Each step
// runs in its own write transaction and re-reads the version
// inside it, so two processes opening an old vault at once do not both
// migrate. v and kek are handed to keyed steps; kek is nil while a new
// vault is created.
func migrate(ctx context.Context, c *sql.Conn, ms []migration, v *Vault, kek []byte) error {
	for i, m := range ms {
		if m.Version != i+1 {
			return fmt.Errorf("internal error: migration %d has version %d", i+1, m.Version)
		}
	}
	for _, m := range ms {
		err := v.inTx(ctx, c, func() error {
			cur, err := v.d.schemaVersion(ctx, c)
			if err != nil {
				return err
			}
			if cur >= m.Version {
				return nil
			}
			if cur != m.Version-1 {
				return fmt.Errorf("internal error: vault at schema %d, next migration is %d", cur, m.Version)
			}
			if err := v.d.up(m)(ctx, c); err != nil {
				return fmt.Errorf("migrate vault schema to version %d (%s): %w", m.Version, m.Name, err)
			}
			if m.Keyed != nil {
				if err := m.Keyed(ctx, c, v, kek); err != nil {
					return fmt.Errorf("migrate vault schema to version %d (%s): %w", m.Version, m.Name, err)
				}
			}
			return v.d.setSchemaVersion(ctx, c, m.Version)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
