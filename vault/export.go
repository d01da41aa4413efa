package vault

import (
	"context"
	"errors"
	"fmt"
)

// Snapshot is the whole credential set of a vault, decrypted: what
// `spgate export` writes and `spgate import` reads. Secret values are
// secret.String, which marshal as a mask: the exporting command must write
// them out explicitly (and should encrypt the file). Gateway clients are not
// part of it (their keys are only stored hashed; create them anew).
type Snapshot struct {
	Apps    []App
	Sellers []Seller
}

// Export reads every app and seller with all secrets decrypted, in one
// consistent read.
func (v *Vault) Export(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	err := v.write(ctx, "export vault", func(t *tx) error {
		names, err := t.column(`SELECT name FROM apps ORDER BY name`)
		if err != nil {
			return err
		}
		for _, n := range names {
			a, err := t.getApp(n)
			if err != nil {
				return err
			}
			if err := t.fillAppSecrets(&a, true); err != nil {
				return err
			}
			snap.Apps = append(snap.Apps, a)
		}
		ids, err := t.column(`SELECT id FROM sellers ORDER BY id`)
		if err != nil {
			return err
		}
		for _, id := range ids {
			s, err := t.getSeller(id)
			if err != nil {
				return err
			}
			if err := t.fillAuthorizations(&s, true); err != nil {
				return err
			}
			snap.Sellers = append(snap.Sellers, s)
		}
		return t.audit("vault", "all", "exported", fmt.Sprintf("%d apps, %d sellers", len(snap.Apps), len(snap.Sellers)))
	})
	return snap, err
}

// Import adds every app and seller of snap in one transaction: either all
// are added or, on the first problem (ErrExists, ErrInvalid…), none. Apps'
// ClientSecrets keep their order (current, previous) and dates; each
// seller's Authorizations name their app by AppID or AppName (apps in the
// snapshot or already in the vault).
func (v *Vault) Import(ctx context.Context, snap Snapshot) error {
	var errs []error
	for i := range snap.Apps {
		a := snap.Apps[i]
		if err := checkNewApp(&a); err != nil {
			errs = append(errs, fmt.Errorf("app %q: %w", a.Name, err))
		}
		snap.Apps[i] = a
	}
	for i := range snap.Sellers {
		s := snap.Sellers[i]
		if err := checkNewSeller(&s); err != nil {
			errs = append(errs, fmt.Errorf("seller %q: %w", s.ID, err))
		}
		snap.Sellers[i] = s
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return v.write(ctx, "import", func(t *tx) error {
		for _, a := range snap.Apps {
			if err := t.addApp(a); err != nil {
				return fmt.Errorf("app %q: %w", a.Name, err)
			}
		}
		for _, s := range snap.Sellers {
			if err := t.addSeller(s); err != nil {
				return fmt.Errorf("seller %q: %w", s.ID, err)
			}
		}
		return nil
	})
}

func (t *tx) column(q string, args ...any) ([]string, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
