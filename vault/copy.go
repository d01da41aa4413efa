package vault

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// CopyOptions tune Copy.
type CopyOptions struct {
	// Replace lets Copy overwrite a target vault that changed since it
	// was last copied to (it is in use: what it recorded is then lost).
	Replace bool
	// BusyTimeout is how long to wait for the target's writers;
	// 0 means DefaultBusyTimeout.
	BusyTimeout time.Duration
}

// CopyReport says what Copy copied; every table it names was verified.
type CopyReport struct {
	// Target is the DSN copied to, its password masked.
	Target string `json:"target"`
	// Created is true when the target held no vault before.
	Created bool `json:"created"`
	// Tables lists the tables copied, in order, with their rows.
	Tables []CopiedTable `json:"tables"`
}

// CopiedTable is one table of a CopyReport.
type CopiedTable struct {
	Table string `json:"table"`
	Rows  int    `json:"rows"`
}

// ActionCopied is the audit action of a vault copied elsewhere.
const ActionCopied = "copied"

// copyTable is a table Copy copies: key orders its rows the same way in
// every backend (primary key columns, never NULL); where selects the rows
// copied and replaced.
type copyTable struct {
	name, key, where string
}

// copyTables are the tables of the vault, parents before children. Not
// copied: the schema version (each side has its own, equal), the change
// counter (the target's moves with the copy, so its replicas reload), the
// rate-limit buckets, the leases, the shared token cache and the replicas'
// heartbeats (runtime state of the processes on each side).
var copyTables = []copyTable{
	{"meta", "key", "key <> '" + copyDigestKey + "'"},
	{"apps", "name", ""},
	{"sellers", "id", ""},
	{"authorizations", "seller_id, app_id", ""},
	{"secret_versions", "ref", ""},
	{"secrets", "ref, version", ""},
	{"clients", "name", ""},
	{"checkpoints", "seller, job", ""},
	{"state", "key", "key NOT LIKE 'lease/%'"},
	{"audit", "id", ""},
	{"access_log", "id", ""},
}

// copyDigestKey is the target's meta record of what the last copy wrote
// there (a digest of every copied table), so that the next copy can tell
// whether the target changed since.
const copyDigestKey = "copy_digest"

// copyColumn is a column of a copied table, as the target declares it.
type copyColumn struct {
	name  string
	bytes bool // BYTEA: every value is passed and compared as bytes
}

// copyBatch is how many rows one INSERT carries.
const copyBatch = 200

// Copy copies the vault src into the PostgreSQL database (and schema) that
// dsn names, as it is: every record, secret and audit entry, with the
// same data key wrapped by the same master key, so secrets cross over
// encrypted and never decrypted, and key opens the copy. The target is
// either empty (the vault's tables are created), or holds the same vault
// from an earlier copy (it is made equal to src again: Copy can be run
// again until the replicas switch over); any other vault there is refused
// with ErrExists, as is a target that has been used since the last copy
// unless opts.Replace. The copy is one transaction on the target:
// all of it lands or none.
//
// It is then verified: the copy opens with key, every record in it
// authenticates (Verify), and every table holds exactly src's rows. The
// copy is noted in src's audit log. Processes using the target while it
// is copied to may make the verification fail: copy before they start.
func Copy(ctx context.Context, src *Vault, dsn string, key Key, opts CopyOptions) (CopyReport, error) {
	rep := CopyReport{Target: RedactDSN(dsn)}
	if !IsPostgresDSN(dsn) {
		return rep, invalid("a vault is copied into PostgreSQL: give a DSN, postgres://user:password@host:5432/database")
	}
	if key.IsZero() {
		return rep, newErr(ErrNoKey, "no vault key to open the copy with; set %s", EnvMasterKey)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if err := src.checkKey(ctx, key); err != nil {
		return rep, err
	}
	dst, created, err := copyTarget(ctx, src, dsn, key, opts)
	if err != nil {
		return rep, err
	}
	defer dst.db.Close()
	rep.Created = created
	cols, err := dst.copyColumns(ctx)
	if err != nil {
		return rep, err
	}
	err = src.read(ctx, "read the vault to copy", func(st *tx) error {
		return dst.write(ctx, "copy the vault into "+rep.Target, func(dt *tx) error {
			if !created && !opts.Replace {
				if err := changedSinceCopy(dt, cols, rep.Target); err != nil {
					return err
				}
			}
			for i := len(copyTables) - 1; i >= 0; i-- {
				tbl := copyTables[i]
				if _, err := dt.exec(`DELETE FROM ` + tbl.name + whereOf(tbl, " WHERE ")); err != nil {
					return err
				}
			}
			rep.Tables = rep.Tables[:0]
			for _, tbl := range copyTables {
				n, err := copyRows(st, dt, tbl, cols[tbl.name])
				if err != nil {
					return fmt.Errorf("copy table %s: %w", tbl.name, err)
				}
				rep.Tables = append(rep.Tables, CopiedTable{Table: tbl.name, Rows: n})
			}
			// New audit and access records continue after the copied ids.
			for _, t := range []string{"audit", "access_log"} {
				if _, err := dt.exec(`SELECT setval(pg_get_serial_sequence('` + t + `', 'id'), COALESCE((SELECT max(id) FROM ` + t + `), 0) + 1, false)`); err != nil {
					return err
				}
			}
			sum, err := vaultDigest(dt, cols)
			if err != nil {
				return err
			}
			_, err = dt.exec(`INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, copyDigestKey, []byte(sum))
			return err
		})
	})
	if err != nil {
		return rep, err
	}
	if err := verifyCopy(ctx, src, dsn, key, opts, cols); err != nil {
		return rep, err
	}
	err = src.write(ctx, "note the copy in the audit log", func(t *tx) error {
		return t.audit("vault", "vault", ActionCopied, "copied to "+rep.Target)
	})
	return rep, err
}

func whereOf(t copyTable, prefix string) string {
	if t.where == "" {
		return ""
	}
	return prefix + t.where
}

// copyTarget connects to the target and makes sure it can take src: an
// empty schema gets the vault's tables (no key records yet: the copy
// brings src's); a vault there must be src's own, from an earlier copy,
// and is brought to the current schema by opening it with key.
func copyTarget(ctx context.Context, src *Vault, dsn string, key Key, opts CopyOptions) (*Vault, bool, error) {
	srcID, err := src.vaultID(ctx)
	if err != nil {
		return nil, false, err
	}
	dst, err := connectPostgres(ctx, dsn, Options{Create: true, BusyTimeout: opts.BusyTimeout, Clock: src.clk, Actor: src.actor})
	if err != nil {
		return nil, false, err
	}
	created, err := dst.prepareCopyTarget(ctx, srcID, dsn, key, opts)
	if err != nil {
		dst.db.Close()
		return nil, false, err
	}
	return dst, created, nil
}

// checkKey makes sure key is the vault's master key (the one its copy
// will be opened with).
func (v *Vault) checkKey(ctx context.Context, key Key) error {
	var salt, iterB, check []byte
	err := v.read(ctx, "read the vault's key check", func(t *tx) error {
		if err := t.queryRow(`SELECT value FROM meta WHERE key='kdf_salt'`).Scan(&salt); err != nil {
			return err
		}
		if err := t.queryRow(`SELECT value FROM meta WHERE key='kdf_iter'`).Scan(&iterB); err != nil {
			return err
		}
		return t.queryRow(`SELECT value FROM meta WHERE key='key_check'`).Scan(&check)
	})
	if err != nil {
		return err
	}
	iter, err := strconv.Atoi(string(iterB))
	if err != nil || iter <= 0 {
		return newErr(ErrCorrupt, "vault %s has an invalid kdf_iter record; restore it from a backup", v.path)
	}
	kek, err := key.kek(salt, iter)
	if err != nil {
		return err
	}
	ok := hmac.Equal(keyCheck(kek), check)
	if !key.IsPassphrase() {
		kek = nil // the raw key itself: not ours to clear
	}
	clear0(kek)
	if !ok {
		return newErr(ErrWrongKey, "wrong vault key: %s does not match the vault at %s; the copy is opened with the key the vault was created with", EnvMasterKey, v.path)
	}
	return nil
}

func (v *Vault) vaultID(ctx context.Context) (string, error) {
	var id []byte
	err := v.read(ctx, "read the vault id", func(t *tx) error {
		return t.queryRow(`SELECT value FROM meta WHERE key='vault_id'`).Scan(&id)
	})
	return string(id), err
}

func (v *Vault) prepareCopyTarget(ctx context.Context, srcID, dsn string, key Key, opts CopyOptions) (bool, error) {
	c, err := v.db.Conn(ctx)
	if err != nil {
		return false, v.classify(err, "open the copy's target")
	}
	defer c.Close()
	ver, err := v.d.schemaVersion(ctx, c)
	if err != nil {
		return false, v.classify(err, "read the target's schema version")
	}
	latest := latestVersion(migrations)
	switch {
	case ver > latest:
		return false, newErr(ErrTooNew, "the vault in %s has schema version %d, newer than this spgate (%d); upgrade spgate", v.path, ver, latest)
	case ver == 0:
		taken, err := v.d.foreignTables(ctx, c)
		if err != nil {
			return false, v.classify(err, "inspect the copy's target")
		}
		if taken {
			return false, v.d.notAVault(v.path)
		}
		return true, v.classify(migrate(ctx, c, migrations, v, nil), "create the vault's tables in "+v.path)
	}
	var id []byte
	err = c.QueryRowContext(ctx, `SELECT value FROM meta WHERE key='vault_id'`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		// The tables of a first copy that did not land.
		return true, v.classify(migrate(ctx, c, migrations, v, nil), "create the vault's tables in "+v.path)
	}
	if err != nil {
		return false, v.classify(err, "read the target's vault id")
	}
	if string(id) != srcID {
		return false, newErr(ErrExists, "%s holds another vault (id %s, this one is %s); copy into an empty database or schema (?search_path=…), or drop that vault first", v.path, id, srcID)
	}
	if ver < latest {
		// Opening it with the key migrates it (and proves the key).
		old, err := Open(ctx, dsn, key, Options{BusyTimeout: opts.BusyTimeout, Clock: v.clk, Actor: v.actor})
		if err != nil {
			return false, err
		}
		old.Close()
	}
	return false, nil
}

// changedSinceCopy refuses a target that is not as the last copy left it:
// something used it since, and copying again would drop what it wrote.
func changedSinceCopy(dt *tx, cols map[string][]copyColumn, target string) error {
	var was []byte
	err := dt.queryRow(`SELECT value FROM meta WHERE key = ?`, copyDigestKey).Scan(&was)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	now, err := vaultDigest(dt, cols)
	if err != nil {
		return err
	}
	if string(was) != now {
		return newErr(ErrExists, "the vault in %s has changed since it was copied (replicas use it?): copying again would drop those changes; pass --replace to copy anyway", target)
	}
	return nil
}

// vaultDigest is a digest of every copied table.
func vaultDigest(t *tx, cols map[string][]copyColumn) (string, error) {
	h := sha256.New()
	for _, tbl := range copyTables {
		n, d, err := tableDigest(t, tbl, cols[tbl.name])
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d %s\n", tbl.name, n, d)

	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyColumns reads the columns of the copied tables as the target
// declares them.
func (v *Vault) copyColumns(ctx context.Context) (map[string][]copyColumn, error) {
	out := map[string][]copyColumn{}
	err := v.read(ctx, "read the target's tables", func(t *tx) error {
		rows, err := t.query(`SELECT table_name, column_name, data_type FROM information_schema.columns
			WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var tbl, col, typ string
			if err := rows.Scan(&tbl, &col, &typ); err != nil {
				return err
			}
			out[tbl] = append(out[tbl], copyColumn{name: col, bytes: typ == "bytea"})
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	for _, tbl := range copyTables {
		if len(out[tbl.name]) == 0 {
			return nil, fmt.Errorf("the target has no table %s", tbl.name)
		}
	}
	return out, nil
}

func columnList(cols []copyColumn) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// selectRows reads tbl's copied rows in key order.
func selectRows(t *tx, tbl copyTable, cols []copyColumn, each func(vals []any) error) (int, error) {
	rows, err := t.query(`SELECT ` + columnList(cols) + ` FROM ` + tbl.name + whereOf(tbl, " WHERE ") + ` ORDER BY ` + tbl.key)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, c := range cols {
			vals[i] = normalize(vals[i], c.bytes)
		}
		if err := each(vals); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// normalize gives a value the same Go type whichever database it came
// from: bytes for a BYTEA column, a string for text.
func normalize(v any, bytes bool) any {
	switch x := v.(type) {
	case string:
		if bytes {
			return []byte(x)
		}
	case []byte:
		if !bytes {
			return string(x)
		}
	case int32:
		return int64(x)
	case int:
		return int64(x)
	}
	return v
}

func copyRows(st, dt *tx, tbl copyTable, cols []copyColumn) (int, error) {
	var batch []any
	rowsIn := 0
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	flush := func() error {
		if rowsIn == 0 {
			return nil
		}
		q := `INSERT INTO ` + tbl.name + ` (` + columnList(cols) + `) VALUES ` + strings.TrimSuffix(strings.Repeat(one+", ", rowsIn), ", ")
		_, err := dt.exec(q, batch...)
		batch, rowsIn = batch[:0], 0
		return err
	}
	n, err := selectRows(st, tbl, cols, func(vals []any) error {
		batch = append(batch, vals...)
		if rowsIn++; rowsIn == copyBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, flush()
}

// verifyCopy opens the copy with key, checks every record in it, and
// compares every copied table with src's, row by row (by digest).
func verifyCopy(ctx context.Context, src *Vault, dsn string, key Key, opts CopyOptions, cols map[string][]copyColumn) error {
	fail := func(err error) error {
		return fmt.Errorf("the copy in %s failed verification (the source is unchanged; run the copy again): %w", RedactDSN(dsn), err)
	}
	dst, err := Open(ctx, dsn, key, Options{BusyTimeout: opts.BusyTimeout, Clock: src.clk, Actor: src.actor})
	if err != nil {
		return fail(err)
	}
	defer dst.Close()
	if err := dst.Verify(ctx); err != nil {
		return fail(err)
	}
	return src.read(ctx, "verify the copy", func(st *tx) error {
		return dst.read(ctx, "verify the copy", func(dt *tx) error {
			for _, tbl := range copyTables {
				n1, d1, err := tableDigest(st, tbl, cols[tbl.name])
				if err != nil {
					return err
				}
				n2, d2, err := tableDigest(dt, tbl, cols[tbl.name])
				if err != nil {
					return err
				}
				if n1 != n2 || d1 != d2 {
					return fail(newErr(ErrCorrupt, "table %s differs: %d rows here, %d in the copy", tbl.name, n1, n2))
				}
			}
			return nil
		})
	})
}

// tableDigest hashes tbl's copied rows in key order.
func tableDigest(t *tx, tbl copyTable, cols []copyColumn) (int, string, error) {
	h := sha256.New()
	n, err := selectRows(t, tbl, cols, func(vals []any) error {
		for _, v := range vals {
			writeValue(h, v)
		}
		h.Write([]byte{'\n'})
		return nil
	})
	return n, hex.EncodeToString(h.Sum(nil)), err
}

func writeValue(h hash.Hash, v any) {
	var s string
	switch x := v.(type) {
	case nil:
		s = "n"
	case int64:
		s = "i" + strconv.FormatInt(x, 10)
	case float64:
		s = "f" + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		s = "i0"
		if x {
			s = "i1"
		}
	case []byte:
		s = "b" + hex.EncodeToString(x)
	case string:
		s = "s" + strconv.Quote(x)
	default:
		s = fmt.Sprintf("?%T:%v", v, v)
	}
	h.Write([]byte(strconv.Itoa(len(s)) + ":" + s))
}
