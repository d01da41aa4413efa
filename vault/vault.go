package vault

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/spgate/spgate/clock"
)

// DefaultBusyTimeout is how long a write waits for another process's write
// lock before failing with ErrLocked.
const DefaultBusyTimeout = 5 * time.Second

// Options tune Open. The zero value opens an existing vault with the real
// clock.
type Options struct {
	// Create makes Open create the vault (file mode 0600, directory 0700)
	// when it does not exist. Without it a missing vault is ErrNoVault.
	Create bool
	// Clock supplies created/updated/expiry times; nil means the real clock.
	Clock clock.Clock
	// BusyTimeout is how long to wait for another process's lock;
	// 0 means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// Actor is recorded in the audit log for changes made through this
	// handle ("cli", "gateway", "rotation"); WithActor on the context
	// overrides it per call. Empty means "spgate".
	Actor string

	kdfIter    int         // PBKDF2 iterations for new vaults; tests lower it
	migrations []migration // schema history; tests substitute their own
}

// Vault is an open vault. It is safe for concurrent use by several
// goroutines, and several processes may open the same file (or database).
type Vault struct {
	db      *sql.DB
	path    string  // the file, or the DSN with its password masked
	d       dialect // what differs between SQLite and PostgreSQL
	clk     clock.Clock
	actor   string
	busy    time.Duration
	aead    cipher.AEAD // data-encryption key
	dek     []byte
	macKey  []byte // row MAC key, derived from dek (integrity.go)
	version int
	rl      rateLimitDB // the rate-limit store's own handle (ratelimit_db.go)

	// The shared token cache's subkeys, derived from dek (tokencache.go),
	// and when this handle last pruned it (Unix nanoseconds).
	tokenSeal   cipher.AEAD
	tokenNames  []byte
	tokenPruned atomic.Int64
}

type actorKey struct{}

// WithActor returns a context whose changes are audited as done by actor.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

func (v *Vault) actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return v.actor
}

// Path returns the vault file path, or for a vault in PostgreSQL its DSN
// with the password masked.
func (v *Vault) Path() string { return v.path }

// Dir is the folder for the files a process keeps beside its vault (the
// gateway's JSON-lines audit log): the vault file's folder, or for a vault
// in PostgreSQL the default data folder $XDG_DATA_HOME/spgate
// (~/.local/share/spgate), else the working directory.
func (v *Vault) Dir() string {
	if v.d.name() == "sqlite" {
		return filepath.Dir(v.path)
	}
	p, err := defaultPaths(func(k string) string {
		if k == EnvVault {
			return ""
		}
		return os.Getenv(k)
	})
	if err != nil {
		return "."
	}
	return filepath.Dir(p.Vault)
}

// SchemaVersion returns the vault's schema version after migrations.
func (v *Vault) SchemaVersion() int { return v.version }

// LatestSchemaVersion is the schema version this code writes.
func LatestSchemaVersion() int { return latestVersion(migrations) }

// Close releases the database. The Vault must not be used afterwards.
func (v *Vault) Close() error {
	v.rl.close()
	clear0(v.dek)
	clear0(v.macKey)
	clear0(v.tokenNames)
	return v.db.Close()
}

const sqliteMagic = "SQLite format 3\x00"

// checkFile inspects the file before SQLite touches it: size 0 means "not
// initialised"; anything else must carry the SQLite header, and must not be
// shorter than the header says (a truncated copy).
func checkFile(path string) (empty bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if fi.IsDir() {
		return false, newErr(ErrCorrupt, "vault path %s is a directory; point %s at a file", path, EnvVault)
	}
	if fi.Size() == 0 {
		return true, nil
	}
	hdr := make([]byte, 100)
	if _, err := io.ReadFull(f, hdr); err != nil || string(hdr[:16]) != sqliteMagic {
		return false, newErr(ErrCorrupt, "vault file %s is not an spgate vault (not an SQLite database); check %s or restore the file from a backup", path, EnvVault)
	}
	pageSize := int64(binary.BigEndian.Uint16(hdr[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	pages := int64(binary.BigEndian.Uint32(hdr[28:32]))
	changeCounter := binary.BigEndian.Uint32(hdr[24:28])
	validFor := binary.BigEndian.Uint32(hdr[92:96])
	if pageSize < 512 || pageSize&(pageSize-1) != 0 {
		return false, newErr(ErrCorrupt, "vault file %s has a damaged header; restore it from a backup", path)
	}
	if pages > 0 && changeCounter == validFor && fi.Size() < pages*pageSize {
		return false, newErr(ErrCorrupt, "vault file %s is truncated (%d bytes, header says %d); restore it from a backup", path, fi.Size(), pages*pageSize)
	}
	return false, nil
}

// Open opens (or, with opts.Create, creates) the vault at path with key.
// A path starting postgres:// or postgresql:// is a PostgreSQL DSN: the
// same vault, kept in that database (the first schema of its search_path)
// instead of a file; everything below holds for it except the checks of
// files and their permissions.
//
// For a file, Open checks, in this order and before writing anything: that neither the
// file, its directory nor its journal files are writable by group or others
// (ErrVaultPermissions), that the file is an SQLite database of full
// length, that its schema is not newer than this code (ErrTooNew), that key
// matches the key check value (ErrWrongKey), and that the data key unwraps
// (ErrTampered). Only then does it migrate an older schema.
func Open(ctx context.Context, path string, key Key, opts Options) (*Vault, error) {
	if path == "" {
		return nil, invalid("no vault path; set %s or use vault.DefaultPaths", EnvVault)
	}
	if key.IsZero() {
		return nil, newErr(ErrNoKey, "no vault key; set %s or create a key file", EnvMasterKey)
	}
	if IsPostgresDSN(path) {
		return openPostgres(ctx, path, key, opts)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("vault path %s: %w", path, err)
	}
	path = abs
	ms := opts.migrations
	if ms == nil {
		ms = migrations
	}
	if err := checkVaultModes(path); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if !opts.Create {
			return nil, newErr(ErrNoVault, "no vault at %s; create one (spgate app add creates it) or set %s to your vault file", path, EnvVault)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create vault directory: %w", err)
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create vault file: %w", err)
		}
		if f != nil {
			f.Close()
		}
	} else if err != nil {
		return nil, fmt.Errorf("open vault %s: %w", path, err)
	}
	empty, err := checkFile(path)
	if err != nil {
		return nil, err
	}
	if empty && !opts.Create {
		return nil, newErr(ErrNoVault, "vault file %s is empty; create the vault (spgate app add creates it) or restore it from a backup", path)
	}

	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	dsn := path + "?_pragma=" + "busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")" + "&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open vault %s: %w", path, err)
	}
	v := &Vault{db: db, path: path, d: sqliteDialect{}, clk: clock.Or(opts.Clock), actor: opts.Actor, busy: busy}
	if v.actor == "" {
		v.actor = "spgate"
	}
	if err := v.init(ctx, key, opts, ms); err != nil {
		db.Close()
		return nil, err
	}
	return v, nil
}

func (v *Vault) init(ctx context.Context, key Key, opts Options, ms []migration) error {
	c, err := v.db.Conn(ctx)
	if err != nil {
		return v.classify(err, "open vault")
	}
	defer c.Close()
	ver, err := v.d.schemaVersion(ctx, c)
	if err != nil {
		return v.classify(err, "read vault schema version")
	}
	latest := latestVersion(ms)
	if ver > latest {
		return newErr(ErrTooNew, "vault schema version %d is newer than this spgate (%d); upgrade spgate", ver, latest)
	}
	if ver == 0 {
		taken, err := v.d.foreignTables(ctx, c)
		if err != nil {
			return v.classify(err, "inspect vault")
		}
		if taken {
			return v.d.notAVault(v.path)
		}
		if !opts.Create {
			if v.d.name() != "sqlite" {
				return newErr(ErrNoVault, "no vault in %s; create it (spgate app add creates it; spgate vault copy --to copies one) or fix %s", v.path, EnvVault)
			}
			return newErr(ErrNoVault, "vault file %s is empty; create the vault or restore it from a backup", v.path)
		}
		if err := v.d.prepare(ctx, c); err != nil {
			return v.classify(err, "prepare vault")
		}
		if err := migrate(ctx, c, ms, v, nil); err != nil {
			return v.classify(err, "create vault")
		}
		if err := v.initMeta(ctx, c, key, opts, latest); err != nil {
			return err
		}
	}
	// Unlock before any change: a wrong key or a tampered key record leaves
	// the file as it was.
	kek, ver, err := v.unlock(ctx, c, key)
	if err != nil {
		return err
	}
	defer clear0(kek)
	if err := v.d.prepare(ctx, c); err != nil {
		return v.classify(err, "prepare vault")
	}
	if ver < latest {
		if err := migrate(ctx, c, ms, v, kek); err != nil {
			return v.classify(err, "upgrade vault")
		}
	}
	v.version, err = v.d.schemaVersion(ctx, c)
	return v.classify(err, "read vault schema version")
}

// initMeta writes the salt, key check value and wrapped data key of a new
// vault at schema version ver, unless a concurrent creator already did.
func (v *Vault) initMeta(ctx context.Context, c *sql.Conn, key Key, opts Options, ver int) error {
	return v.classify(v.inTx(ctx, c, func() error {
		var n int
		if err := c.QueryRowContext(ctx, `SELECT count(*) FROM meta`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		iter := opts.kdfIter
		if iter <= 0 {
			iter = kdfIterDef
		}
		dek, err := randomBytes(KeySize)
		if err != nil {
			return err
		}
		defer clear0(dek)
		id, err := randomBytes(16)
		if err != nil {
			return err
		}
		rows, err := wrapMeta(key, dek, dekAADPrefixFor(ver)+fmt.Sprintf("%x", id), iter)
		if err != nil {
			return err
		}
		rows["vault_id"] = fmt.Appendf(nil, "%x", id)
		rows["created_at"] = []byte(fmtTime(v.clk.Now()))
		for k, val := range rows {
			if _, err := c.ExecContext(ctx, v.d.q(`INSERT INTO meta(key, value) VALUES (?, ?)`), k, val); err != nil {
				return err
			}
		}
		return nil
	}), "create vault")
}

// wrapMeta derives the KEK for key with a fresh salt and returns the meta
// rows that hold the salt, iteration count, key check value and the DEK
// wrapped with associated data aad (prefix and vault id).
func wrapMeta(key Key, dek []byte, aad string, iter int) (map[string][]byte, error) {
	salt, err := randomBytes(16)
	if err != nil {
		return nil, err
	}
	kek, err := key.kek(salt, iter)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	wrapped, err := seal(aead, dek, aad)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"kdf_salt":  salt,
		"kdf_iter":  []byte(strconv.Itoa(iter)),
		"key_check": keyCheck(kek),
		"dek":       wrapped,
	}, nil
}

// unlock checks key against the vault and unwraps the data key. It reads
// the schema version and the key records in one snapshot and returns both
// the version and the key-encryption key (for a migration that re-wraps
// the data key; the caller clears it). A data key wrapped for a vault with
// record integrity in a vault whose schema says otherwise, or the reverse,
// was put there without spgate: it is refused.
func (v *Vault) unlock(ctx context.Context, c *sql.Conn, key Key) (kek []byte, ver int, err error) {
	meta, ver, err := v.readHeader(ctx, c)
	if err != nil {
		return nil, 0, err
	}
	if kek, err = v.keyEncryptionKey(meta, key); err != nil {
		return nil, 0, err
	}
	if err := v.openDataKey(meta, kek, ver); err != nil {
		clear0(kek)
		return nil, 0, err
	}
	return kek, ver, nil
}

// readHeader reads the schema version and the key records in one snapshot.
func (v *Vault) readHeader(ctx context.Context, c *sql.Conn) (map[string][]byte, int, error) {
	meta := map[string][]byte{}
	var ver int
	err := v.runTx(ctx, c, v.d.beginRead(), func() error {
		n, err := v.d.schemaVersion(ctx, c)
		if err != nil {
			return err
		}
		ver = n
		rows, err := c.QueryContext(ctx, `SELECT key, value FROM meta`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k string
			var val []byte
			if err := rows.Scan(&k, &val); err != nil {
				rows.Close()
				return err
			}
			meta[k] = val
		}
		return rows.Close()
	})
	if err != nil {
		return nil, 0, v.classify(err, "read vault header")
	}
	for _, k := range []string{"kdf_salt", "kdf_iter", "key_check", "dek", "vault_id"} {
		if len(meta[k]) == 0 {
			return nil, 0, newErr(ErrCorrupt, "vault %s is missing its %s record; restore it from a backup", v.path, k)
		}
	}
	return meta, ver, nil
}

// keyEncryptionKey derives the key-encryption key from key and checks it against
// the vault's key_check record.
func (v *Vault) keyEncryptionKey(meta map[string][]byte, key Key) ([]byte, error) {
	iter, err := strconv.Atoi(string(meta["kdf_iter"]))
	if err != nil || iter <= 0 || iter > 100_000_000 {
		return nil, newErr(ErrCorrupt, "vault %s has an invalid kdf_iter record; restore it from a backup", v.path)
	}
	kek, err := key.kek(meta["kdf_salt"], iter)
	if err != nil {
		return nil, err
	}
	kek = append([]byte(nil), kek...) // a raw key is its own KEK: clear a copy, never the key
	if !hmac.Equal(keyCheck(kek), meta["key_check"]) {
		clear0(kek)
		hint := ""
		if key.Source() != EnvMasterKey {
			hint = " (key from " + key.Source() + ")"
		}
		return nil, newErr(ErrWrongKey, "wrong vault key: %s does not match this vault%s; use the key the vault was created with", EnvMasterKey, hint)
	}
	return kek, nil
}

// openDataKey unwraps the data key with kek and checks that its wrapping
// and the schema version agree on whether records carry integrity checks:
// a disagreement was put there without spgate.
func (v *Vault) openDataKey(meta map[string][]byte, kek []byte, ver int) error {
	aead, err := newAEAD(kek)
	if err != nil {
		return err
	}
	id := string(meta["vault_id"])
	protected := true
	dek, err := open(aead, meta["dek"], dekAADPrefixV2+id)
	if err != nil {
		protected = false
		dek, err = open(aead, meta["dek"], dekAADPrefix+id)
	}
	if err != nil || len(dek) != KeySize {
		return newErr(ErrTampered, "vault record dek failed authentication: the vault was tampered with or the key is wrong")
	}
	switch {
	case protected && ver < integrityVersion:
		clear0(dek)
		return newErr(ErrTampered, "vault %s was tampered with: its schema version was set back to %d, below %d, from which its records carry integrity checks; restore it from a backup", v.path, ver, integrityVersion)
	case !protected && ver >= integrityVersion:
		clear0(dek)
		return newErr(ErrTampered, "vault %s was tampered with: its data key record is older than its schema (version %d); restore it from a backup", v.path, ver)
	}
	macKey, err := deriveMACKey(dek)
	if err != nil {
		clear0(dek)
		return err
	}
	if v.tokenSeal, v.tokenNames, err = tokenKeys(dek); err != nil {
		clear0(dek)
		clear0(macKey)
		return err
	}
	v.dek, v.macKey = dek, macKey
	v.aead, err = newAEAD(dek)
	return err
}

// ChangeKey re-wraps the data key under newKey (and a fresh salt). Records
// are not re-encrypted, so this is cheap. The old key stops working when it
// returns nil.
func (v *Vault) ChangeKey(ctx context.Context, newKey Key) error {
	if newKey.IsZero() {
		return newErr(ErrNoKey, "no new vault key given")
	}
	return v.write(ctx, "change vault key", func(t *tx) error {
		var id []byte
		if err := t.queryRow(`SELECT value FROM meta WHERE key='vault_id'`).Scan(&id); err != nil {
			return err
		}
		var iterB []byte
		if err := t.queryRow(`SELECT value FROM meta WHERE key='kdf_iter'`).Scan(&iterB); err != nil {
			return err
		}
		iter, _ := strconv.Atoi(string(iterB))
		if iter <= 0 {
			iter = kdfIterDef
		}
		rows, err := wrapMeta(newKey, v.dek, dekAADPrefixFor(v.version)+string(id), iter)
		if err != nil {
			return err
		}
		for k, val := range rows {
			if _, err := t.exec(`UPDATE meta SET value=? WHERE key=?`, val, k); err != nil {
				return err
			}
		}
		return t.audit("vault", "master_key", ActionRotated, "key from "+newKey.Source())
	})
}

// classify turns database errors into the vault's typed errors.
func (v *Vault) classify(err error, doing string) error {
	if err == nil {
		return nil
	}
	var ve *Error
	if errors.As(err, &ve) {
		return err
	}
	if e := v.d.classify(v, err, doing); e != nil {
		return e
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// inTx runs fn inside a write transaction on c (BEGIN IMMEDIATE … COMMIT
// in SQLite).
func (v *Vault) inTx(ctx context.Context, c *sql.Conn, fn func() error) error {
	return v.runTx(ctx, c, v.d.beginWrite(v.busy), fn)
}

func (v *Vault) runTx(ctx context.Context, c *sql.Conn, begin string, fn func() error) error {
	return beginTx(ctx, c, begin, func() { v.d.beginFailed(ctx, c) }, fn)
}

// runTx runs fn between begin and COMMIT on c (SQLite, whose failed BEGIN
// leaves no transaction behind).
func runTx(ctx context.Context, c *sql.Conn, begin string, fn func() error) error {
	return beginTx(ctx, c, begin, nil, fn)
}

// beginTx runs fn between begin and COMMIT on c; a failed begin calls
// failed. A failed ROLLBACK discards the connection so it never returns to
// the pool mid-transaction.
func beginTx(ctx context.Context, c *sql.Conn, begin string, failed func(), fn func() error) (err error) {
	if _, err := c.ExecContext(ctx, begin); err != nil {
		if failed != nil {
			failed()
		}
		return err
	}
	defer func() {
		if err == nil {
			if _, err = c.ExecContext(ctx, "COMMIT"); err == nil {
				return
			}
		}
		if _, rerr := c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			_ = c.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return fn()
}

// tx is the handle given to transaction bodies.
type tx struct {
	ctx   context.Context
	c     *sql.Conn
	v     *Vault
	now   time.Time
	actor string
}

func (v *Vault) withConn(ctx context.Context, begin, doing string, fn func(*tx) error) error {
	c, err := v.db.Conn(ctx)
	if err != nil {
		return v.classify(err, doing)
	}
	defer c.Close()
	t := &tx{ctx: ctx, c: c, v: v, now: v.clk.Now().UTC(), actor: v.actorOf(ctx)}
	return v.classify(v.runTx(ctx, c, begin, func() error { return fn(t) }), doing)
}

// write runs fn in a write transaction: all of it or none of it lands.
func (v *Vault) write(ctx context.Context, doing string, fn func(*tx) error) error {
	return v.withConn(ctx, v.d.beginWrite(v.busy), doing, fn)
}

// read runs fn in a read transaction (a consistent snapshot).
func (v *Vault) read(ctx context.Context, doing string, fn func(*tx) error) error {
	return v.withConn(ctx, v.d.beginRead(), doing, fn)
}

// exec, queryRow and query take statements with ? placeholders, in the
// SQL both backends accept; the dialect rewrites them for its database.
func (t *tx) exec(q string, args ...any) (sql.Result, error) {
	return t.c.ExecContext(t.ctx, t.v.d.q(q), t.v.d.args(args)...)
}

func (t *tx) queryRow(q string, args ...any) *sql.Row {
	return t.c.QueryRowContext(t.ctx, t.v.d.q(q), t.v.d.args(args)...)
}

func (t *tx) query(q string, args ...any) (*sql.Rows, error) {
	return t.c.QueryContext(t.ctx, t.v.d.q(q), t.v.d.args(args)...)
}

// rowScanner is a *sql.Row or *sql.Rows positioned on a row.
type rowScanner interface{ Scan(...any) error }

// queryAll runs q and turns every row into a T with scan. The rows are
// closed before it returns, so the caller may query again in the same
// transaction.
func queryAll[T any](t *tx, scan func(rowScanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	var out []T
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// scanString scans a one-column text row.
func scanString(sc rowScanner) (string, error) {
	var s string
	err := sc.Scan(&s)
	return s, err
}

// seal encrypts plaintext bound to aad with the data key.
func (v *Vault) seal(plaintext []byte, aad string) ([]byte, error) {
	return seal(v.aead, plaintext, aad)
}

// open decrypts a record; failure names the record, never its content.
func (v *Vault) open(ct []byte, aad string) ([]byte, error) {
	pt, err := open(v.aead, ct, aad)
	if err != nil {
		return nil, newErr(ErrTampered, "vault record %s failed authentication: the vault was tampered with or the key is wrong", aad)
	}
	return pt, nil
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func parseNullTime(s sql.NullString) time.Time {
	if !s.Valid {
		return time.Time{}
	}
	return parseTime(s.String)
}
