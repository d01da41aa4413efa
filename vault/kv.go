package vault

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

func checkpointAAD(seller, job string) string { return "checkpoint|" + seller + "|" + job }
func stateAAD(key string) string              { return "state|" + key }

// Checkpoint is a saved job position.
type Checkpoint struct {
	Seller    string
	Job       string
	Value     []byte
	UpdatedAt time.Time
}

// SetCheckpoint stores value (opaque, e.g. JSON) for (seller, job),
// replacing the previous one atomically. Values are encrypted.
func (v *Vault) SetCheckpoint(ctx context.Context, seller, job string, value []byte) error {
	if seller == "" || job == "" {
		return invalid("a checkpoint needs a seller and a job name")
	}
	ct, err := v.seal(value, checkpointAAD(seller, job))
	if err != nil {
		return err
	}
	return v.write(ctx, "save checkpoint", func(t *tx) error {
		_, err := t.exec(`INSERT INTO checkpoints(seller, job, ct, updated_at) VALUES (?,?,?,?)
			ON CONFLICT(seller, job) DO UPDATE SET ct=excluded.ct, updated_at=excluded.updated_at`, seller, job, ct, fmtTime(t.now))
		return err
	})
}

// GetCheckpoint returns the checkpoint for (seller, job), or ErrNotFound.
func (v *Vault) GetCheckpoint(ctx context.Context, seller, job string) (Checkpoint, error) {
	cp := Checkpoint{Seller: seller, Job: job}
	err := v.read(ctx, "read checkpoint", func(t *tx) error {
		var ct []byte
		var at string
		err := t.queryRow(`SELECT ct, updated_at FROM checkpoints WHERE seller=? AND job=?`, seller, job).Scan(&ct, &at)
		if errors.Is(err, sql.ErrNoRows) {
			return newErr(ErrNotFound, "no checkpoint for job %q of seller %s", clip(job), clip(seller))
		}
		if err != nil {
			return err
		}
		cp.UpdatedAt = parseTime(at)
		cp.Value, err = v.open(ct, checkpointAAD(seller, job))
		return err
	})
	return cp, err
}

// DeleteCheckpoint removes a checkpoint (no error if there is none).
func (v *Vault) DeleteCheckpoint(ctx context.Context, seller, job string) error {
	return v.write(ctx, "delete checkpoint", func(t *tx) error {
		_, err := t.exec(`DELETE FROM checkpoints WHERE seller=? AND job=?`, seller, job)
		return err
	})
}

// ListCheckpoints returns checkpoint keys and times (values not decrypted)
// for seller, or for all sellers when seller is "".
func (v *Vault) ListCheckpoints(ctx context.Context, seller string) ([]Checkpoint, error) {
	var out []Checkpoint
	err := v.read(ctx, "list checkpoints", func(t *tx) error {
		rows, err := t.query(`SELECT seller, job, updated_at FROM checkpoints WHERE ?='' OR seller=? ORDER BY seller, job`, seller, seller)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c Checkpoint
			var at string
			if err := rows.Scan(&c.Seller, &c.Job, &at); err != nil {
				return err
			}
			c.UpdatedAt = parseTime(at)
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// SetState stores an encrypted value under key (for resumable work such as
// a rotation in progress: step, pending new secret, message receipt).
// Use prefixes to namespace keys, e.g. "rotation/main".
func (v *Vault) SetState(ctx context.Context, key string, value []byte) error {
	if key == "" {
		return invalid("state key is empty")
	}
	ct, err := v.seal(value, stateAAD(key))
	if err != nil {
		return err
	}
	return v.write(ctx, "save state", func(t *tx) error {
		_, err := t.exec(`INSERT INTO state(key, ct, updated_at) VALUES (?,?,?)
			ON CONFLICT(key) DO UPDATE SET ct=excluded.ct, updated_at=excluded.updated_at`, key, ct, fmtTime(t.now))
		return err
	})
}

// State returns the value stored under key, or ErrNotFound.
func (v *Vault) State(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := v.read(ctx, "read state", func(t *tx) error {
		var ct []byte
		err := t.queryRow(`SELECT ct FROM state WHERE key=?`, key).Scan(&ct)
		if errors.Is(err, sql.ErrNoRows) {
			return newErr(ErrNotFound, "no state %q", clip(key))
		}
		if err != nil {
			return err
		}
		out, err = v.open(ct, stateAAD(key))
		return err
	})
	return out, err
}

// DeleteState removes key (no error if absent).
func (v *Vault) DeleteState(ctx context.Context, key string) error {
	return v.write(ctx, "delete state", func(t *tx) error {
		_, err := t.exec(`DELETE FROM state WHERE key=?`, key)
		return err
	})
}

// StateKeys lists the state keys starting with prefix.
func (v *Vault) StateKeys(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	err := v.read(ctx, "list state", func(t *tx) error {
		rows, err := t.query(`SELECT key FROM state ORDER BY key`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			if strings.HasPrefix(k, prefix) {
				out = append(out, k)
			}
		}
		return rows.Err()
	})
	return out, err
}
