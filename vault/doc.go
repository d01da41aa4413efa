// Package vault is spgate's encrypted store: apps and their LWA client
// secrets, sellers and their refresh tokens, AWS keys, gateway clients,
// job checkpoints, resumable work state, and the audit logs.
//
// # Files
//
// The vault is one SQLite file (modernc.org/sqlite, no cgo) in WAL mode, by
// default $XDG_DATA_HOME/spgate/vault.db (~/.local/share/spgate/vault.db),
// overridden by $SPGATE_VAULT. It and its -wal/-shm files are created 0600
// in a 0700 directory; Open refuses a vault whose file, directory or
// journal files group or others can write (ErrVaultPermissions, with the
// chmod that fixes it). The master key comes from $SPGATE_MASTER_KEY, else
// from $XDG_CONFIG_HOME/spgate/master.key (~/.config/spgate/master.key, mode
// 0600; a key file that group or others can access is refused). Key and data
// live in different directories so a copy of one is not a copy of both. See
// DefaultPaths, LoadKey.
//
// # PostgreSQL
//
// A vault path starting postgres:// or postgresql:// ($SPGATE_VAULT,
// --vault) is a DSN: the same vault kept in that PostgreSQL database, in
// the first schema of its search_path (public unless the DSN says
// ?search_path=…), through jackc/pgx's database/sql driver, so that
// several gateway replicas share one vault. Everything below holds for it
// — the same tables, encryption, integrity checks, migrations (kept in a
// schema_version table) and typed errors — except what concerns files:
// there is no file to check the permissions of, and Verify leaves the
// storage's own consistency to the server. What differs between the two
// databases lives in dialect.go and postgres.go: placeholders, column
// types, how a writer excludes the others (a transaction-scoped advisory
// lock per schema instead of BEGIN IMMEDIATE, bounded by lock_timeout
// instead of busy_timeout), and error codes. A server that cannot be
// reached is ErrUnavailable. The DSN's password never appears in a
// message (Path, RedactDSN).
//
// # Encryption
//
// Every secret, checkpoint and state value is sealed with AES-256-GCM under
// a random 256-bit data key (DEK), with a fresh random nonce per write and
// the record's identity as associated data, e.g.
// "secret|app|<app id>|client_secret|v3": a value moved to another row or
// edited fails with ErrTampered naming the record. The DEK is stored wrapped
// (AES-GCM) by the key-encryption key (KEK): the raw master key, or a
// passphrase stretched with PBKDF2-HMAC-SHA256 (600,000 iterations, per-vault
// salt; standard library, no new dependency). A key check value
// (HMAC-SHA256 of a label under the KEK) lets Open refuse a wrong key with
// ErrWrongKey before it reads or writes anything else. ChangeKey re-wraps
// the DEK only.
//
// Not encrypted (so List calls and doctor need no decryption): names, ids,
// client ids, regions, marketplaces, roles, URLs, dates, gateway client
// scopes and key hashes, audit and access logs.
//
// # Integrity
//
// What grants access is authenticated even where it is not encrypted: every
// gateway client row (name, key hash, sellers, operations, PII flag,
// creation and revocation) and the metadata of every secret (ref, version,
// status current/previous, creation, expiry, verification) carries an
// HMAC-SHA256 under a subkey of the DEK (HKDF-SHA256). Each read that relies
// on such a row checks it and refuses a row added or changed without the
// key with an *IntegrityError (ErrIntegrity, also ErrTampered) that names
// the record and its repair; every write path writes the MAC in the same
// transaction. Client seller scopes hold selling partner ids, never names,
// and Client.AllowsSeller matches ids only; seller names cannot take the
// shape of an id. Schema version 3 signs the rows of an older vault when it
// is first opened with its key and re-wraps the DEK with new associated
// data, so a vault cannot later be passed off as unsigned. Other plain
// fields (an app's client id, a seller's marketplaces) remain
// unauthenticated, and a restored older row, signed when it was current,
// or a whole older copy of the file (rollback) is not detected.
//
// # Robustness
//
// Open checks the permissions of the file and its directory, then the
// SQLite header and length before SQLite touches the file
// (ErrCorrupt for random bytes or a truncated copy), then the schema version
// (ErrTooNew), then the key (ErrWrongKey), then the wrapped DEK (ErrTampered),
// and only then migrates; each failure leaves the file byte-identical.
// Writes are single BEGIN IMMEDIATE transactions; a writer that waits longer
// than Options.BusyTimeout for another process fails with ErrLocked.
// Verify checks every record (for spgate doctor).
//
// # Audit
//
// Every change to a secret, app, seller or client is recorded (actor from
// Options.Actor or WithActor, subject, field, action, detail; never a
// secret) and read with AuditLog. The gateway's PII access log goes to
// RecordAccess/AccessLog/PruneAccessLog in the same file.
package vault
