package vault

import (
	"context"
	"errors"
)

// record describes one kind of record the vault keeps with its secrets
// (apps, sellers), so that reading one, listing every one and updating one
// are written once for all kinds.
type record[T any] struct {
	kind string                             // "app", "seller": names the transaction
	get  func(t *tx, ref string) (T, error) // one record by its name, id or other handle
	list string                             // the SELECT of every record, sorted
	scan func(rowScanner) (T, error)        // one row of list
	// fill loads the record's secrets: metadata always, values only with
	// decrypt.
	fill func(t *tx, r *T, decrypt bool) error
	// clone copies a record deep enough that changing the copy leaves the
	// original as it was.
	clone func(T) T
	// save checks the updated record against the stored one and writes it.
	save func(t *tx, old, r *T) error
}

// getRecord returns the record ref names with its secrets decrypted.
func getRecord[T any](ctx context.Context, v *Vault, rec *record[T], ref string) (T, error) {
	var r T
	err := v.read(ctx, "read "+rec.kind, func(t *tx) (err error) {
		if r, err = rec.get(t, ref); err != nil {
			return err
		}
		return rec.fill(t, &r, true)
	})
	return r, err
}

// listRecords returns every record with its secrets' metadata, nothing
// decrypted.
func listRecords[T any](ctx context.Context, v *Vault, rec *record[T]) ([]T, error) {
	var out []T
	err := v.read(ctx, "list "+rec.kind+"s", func(t *tx) (err error) {
		if out, err = queryAll(t, rec.scan, rec.list); err != nil {
			return err
		}
		for i := range out {
			if err := rec.fill(t, &out[i], false); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// updateRecord loads the record ref names, lets fn change a copy of it and
// saves the copy, in one transaction.
func updateRecord[T any](ctx context.Context, v *Vault, rec *record[T], ref string, fn func(*T) error) error {
	return v.write(ctx, "update "+rec.kind, func(t *tx) error {
		old, err := rec.get(t, ref)
		if err != nil {
			return err
		}
		r := rec.clone(old)
		if err := fn(&r); err != nil {
			return err
		}
		return rec.save(t, &old, &r)
	})
}

// ErrUnchanged is what an update function returns to write nothing: every
// value it was given is already stored. UpdateAppWith and UpdateSellerWith
// report it as no change, not as an error.
var ErrUnchanged = errors.New("nothing changed")

// UpdateAppWith makes u's changes to the app ref names and returns them
// with the app as stored afterwards; no changes when every value given is
// already the app's (then nothing is written).
func (v *Vault) UpdateAppWith(ctx context.Context, ref string, u AppUpdate) (App, []FieldChange, error) {
	var changes []FieldChange
	name := ref
	err := v.UpdateApp(ctx, ref, func(a *App) error {
		changes, name = u.Apply(a), a.Name
		return unchangedIf(changes)
	})
	if err != nil && !errors.Is(err, ErrUnchanged) {
		return App{}, nil, err
	}
	a, err := v.GetApp(ctx, name)
	return a, changes, err
}

// UpdateSellerWith makes u's changes to the seller ref names and returns
// them with the seller as stored afterwards; no changes when every value
// given is already the seller's (then nothing is written).
func (v *Vault) UpdateSellerWith(ctx context.Context, ref string, u SellerUpdate) (Seller, []FieldChange, error) {
	var changes []FieldChange
	var applyErr error
	id := ref
	err := v.UpdateSeller(ctx, ref, func(s *Seller) error {
		id = s.ID
		if changes, applyErr = u.Apply(s); applyErr != nil {
			return applyErr
		}
		return unchangedIf(changes)
	})
	if applyErr != nil {
		return Seller{}, nil, applyErr // as Apply said it, without the transaction's name
	}
	if err != nil && !errors.Is(err, ErrUnchanged) {
		return Seller{}, nil, err
	}
	s, err := v.GetSeller(ctx, id)
	return s, changes, err
}

func unchangedIf(changes []FieldChange) error {
	if len(changes) == 0 {
		return ErrUnchanged
	}
	return nil
}
