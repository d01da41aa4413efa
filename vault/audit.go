package vault

import (
	"context"
	"errors"
	"math"
	"time"
)

// AuditEvent is one recorded change to the vault. It never holds a secret.
type AuditEvent struct {
	ID      int64
	Time    time.Time
	Actor   string // who: Options.Actor or WithActor
	Subject string // what: "app:<name>", "seller:<id>", "client:<name>", "vault"
	Field   string // "client_secret", "refresh_token", "aws_secret_key", "app", "key", …
	Action  string // ActionAdded, ActionRotated, ActionRemoved, ActionVerified, …
	Detail  string // version, expiry, app name; never a secret
}

func (t *tx) audit(subject, field, action, detail string) error {
	_, err := t.exec(`INSERT INTO audit(at, actor, subject, field, action, detail) VALUES (?,?,?,?,?,?)`,
		fmtTime(t.now), t.actor, subject, field, action, detail)
	return err
}

// AuditFilter selects audit events. Zero fields select everything.
type AuditFilter struct {
	Subject string    // exact subject, e.g. "app:main"
	Since   time.Time // events at or after
	Limit   int       // newest N; 0 means all
}

// AuditLog returns audit events oldest first.
func (v *Vault) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	var out []AuditEvent
	err := v.read(ctx, "read audit log", func(t *tx) error {
		rows, err := t.query(`SELECT id, at, actor, subject, field, action, detail FROM (
			SELECT * FROM audit WHERE (?='' OR subject=?) AND at >= ? ORDER BY id DESC LIMIT ?) AS newest ORDER BY id`,
			f.Subject, f.Subject, sinceText(f.Since), limitOf(f.Limit))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e AuditEvent
			var at string
			if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Subject, &e.Field, &e.Action, &e.Detail); err != nil {
				return err
			}
			e.Time = parseTime(at)
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// AccessEvent is one gateway call on behalf of a seller, for the PII access
// log Amazon's Data Protection Policy asks for.
type AccessEvent struct {
	ID        int64
	Time      time.Time // zero: now
	Client    string
	Seller    string
	Operation string
	PII       bool // the call could return personal data
	Status    int  // HTTP status returned to the client
	RequestID string
}

// RecordAccess appends an access event. Each call is its own small write
// transaction; a gateway with a high call rate may prefer batching or a
// JSONL file and keep only PII calls here.
func (v *Vault) RecordAccess(ctx context.Context, e AccessEvent) error {
	return v.write(ctx, "record access", func(t *tx) error {
		at := e.Time
		if at.IsZero() {
			at = t.now
		}
		_, err := t.exec(`INSERT INTO access_log(at, client, seller, operation, pii, status, request_id) VALUES (?,?,?,?,?,?,?)`,
			fmtTime(at), e.Client, e.Seller, e.Operation, e.PII, e.Status, e.RequestID)
		return err
	})
}

// AccessFilter selects access events. Zero fields select everything.
type AccessFilter struct {
	Client  string
	Seller  string
	PIIOnly bool
	Since   time.Time
	Limit   int // newest N; 0 means all
}

// AccessLog returns access events oldest first.
func (v *Vault) AccessLog(ctx context.Context, f AccessFilter) ([]AccessEvent, error) {
	var out []AccessEvent
	err := v.read(ctx, "read access log", func(t *tx) error {
		rows, err := t.query(`SELECT id, at, client, seller, operation, pii, status, request_id FROM (
			SELECT * FROM access_log WHERE (?='' OR client=?) AND (?='' OR seller=?) AND (?=0 OR pii=1) AND at >= ?
			ORDER BY id DESC LIMIT ?) AS newest ORDER BY id`,
			f.Client, f.Client, f.Seller, f.Seller, f.PIIOnly, sinceText(f.Since), limitOf(f.Limit))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e AccessEvent
			var at string
			if err := rows.Scan(&e.ID, &at, &e.Client, &e.Seller, &e.Operation, &e.PII, &e.Status, &e.RequestID); err != nil {
				return err
			}
			e.Time = parseTime(at)
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// sinceText is the lower bound on stored times for a filter's Since: every
// stored time is at or after "" (no bound).
func sinceText(since time.Time) string {
	if since.IsZero() {
		return ""
	}
	return fmtTime(since)
}

// limitOf is a filter's Limit as SQL's LIMIT: 0 means all rows.
func limitOf(n int) int64 {
	if n <= 0 {
		return math.MaxInt64
	}
	return int64(n)
}

// PruneAccessLog deletes access events older than before and returns how
// many it removed.
func (v *Vault) PruneAccessLog(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := v.write(ctx, "prune access log", func(t *tx) error {
		res, err := t.exec(`DELETE FROM access_log WHERE at < ?`, fmtTime(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// Verify checks the whole vault: SQLite's quick_check (for a vault file),
// that every gateway
// client and secret record passes its integrity check, and that every
// encrypted record authenticates under the data key. It returns nil, or an
// error joining one ErrCorrupt / ErrTampered (*IntegrityError for a record
// that fails its integrity check) error per problem (for spgate doctor).
// Decrypted values are discarded at once.
func (v *Vault) Verify(ctx context.Context) error {
	var problems []error
	err := v.read(ctx, "verify vault", func(t *tx) error {
		msgs, err := v.d.check(t)
		if err != nil {
			return err
		}
		for _, msg := range msgs {
			problems = append(problems, newErr(ErrCorrupt, "vault file %s: %s", v.path, msg))
		}
		clients, err := queryAll(t, scanClientRow, `SELECT `+clientRowCols+` FROM clients ORDER BY name`)
		if err != nil {
			return err
		}
		for _, r := range clients {
			if err := v.checkClient(r); err != nil {
				problems = append(problems, err)
			}
		}
		secrets, err := queryAll(t, scanSecretRow, `SELECT `+secretRowCols+` FROM secrets ORDER BY ref, version`)
		if err != nil {
			return err
		}
		for _, r := range secrets {
			if err := t.checkSecret(r); err != nil {
				problems = append(problems, err)
			}
		}
		type rec struct {
			aad string
			ct  []byte
		}
		var recs []rec
		collect := func(q string, aad func(a, b string, n int) string) error {
			rows, err := t.query(q)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var a, b string
				var n int
				var ct []byte
				if err := rows.Scan(&a, &b, &n, &ct); err != nil {
					return err
				}
				recs = append(recs, rec{aad(a, b, n), ct})
			}
			return rows.Err()
		}
		if err := errors.Join(
			collect(`SELECT ref, '', version, ct FROM secrets`, func(a, _ string, n int) string { return secretAAD(a, n) }),
			collect(`SELECT seller, job, 0, ct FROM checkpoints`, func(a, b string, _ int) string { return checkpointAAD(a, b) }),
			collect(`SELECT key, '', 0, ct FROM state`, func(a, _ string, _ int) string { return stateAAD(a) }),
		); err != nil {
			return err
		}
		for _, r := range recs {
			pt, err := v.open(r.ct, r.aad)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			clear0(pt)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return errors.Join(problems...)
}
