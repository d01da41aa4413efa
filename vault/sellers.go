package vault

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spgate/spgate/secret"
)

// Seller is a selling partner and its authorizations.
type Seller struct {
	ID           string   // selling partner id (merchant token), e.g. A2VYDBAL8BMVQK
	Name         string   // optional local handle, unique
	Region       string   // na, eu or fe
	Marketplaces []string // marketplace ids, all in Region
	// Authorizations: one per app the seller authorized, sorted by app name.
	// RefreshToken.Value is zero unless decrypted (GetSeller).
	Authorizations []Authorization
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Authorization is a seller's grant to one app.
type Authorization struct {
	AppName      string
	AppID        string
	AuthorizedAt time.Time
	RefreshToken Secret
}

// Authorization returns the seller's grant to app (name or app id).
func (s Seller) Authorization(app string) (Authorization, bool) {
	for _, a := range s.Authorizations {
		if a.AppName == app || a.AppID == app {
			return a, true
		}
	}
	return Authorization{}, false
}

func (s *Seller) validate() error {
	s.Marketplaces = normStrings(s.Marketplaces)
	errs := []error{ValidateSellerID(s.ID), ValidateRegion(s.Region)}
	if s.Name != "" {
		errs = append(errs, ValidateName("seller", s.Name))
	}
	if s.Region != "" && ValidateRegion(s.Region) == nil {
		for _, m := range s.Marketplaces {
			errs = append(errs, ValidateMarketplace(s.Region, m))
		}
	}
	return errors.Join(errs...)
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const sellerCols = `id, name, region, marketplaces, created_at, updated_at`

func scanSeller(sc rowScanner) (Seller, error) {
	var s Seller
	var name sql.NullString
	var mps, created, updated string
	if err := sc.Scan(&s.ID, &name, &s.Region, &mps, &created, &updated); err != nil {
		return s, err
	}
	s.Name = name.String
	_ = json.Unmarshal([]byte(mps), &s.Marketplaces)
	s.CreatedAt, s.UpdatedAt = parseTime(created), parseTime(updated)
	return s, nil
}

func (t *tx) getSeller(ref string) (Seller, error) {
	s, err := scanSeller(t.queryRow(`SELECT `+sellerCols+` FROM sellers WHERE id=? OR name=? ORDER BY id=? DESC LIMIT 1`, ref, ref, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return s, newErr(ErrNotFound, "no seller %q in the vault; see spgate seller list", clip(ref))
	}
	return s, err
}

// authorizations lists the seller's grants without their refresh tokens.
func (t *tx) authorizations(sellerID string) ([]Authorization, error) {
	return queryAll(t, func(sc rowScanner) (Authorization, error) {
		var z Authorization
		var at string
		err := sc.Scan(&z.AppName, &z.AppID, &at)
		z.AuthorizedAt = parseTime(at)
		return z, err
	}, `SELECT a.name, a.app_id, z.authorized_at FROM authorizations z JOIN apps a ON a.app_id = z.app_id WHERE z.seller_id=? ORDER BY a.name`, sellerID)
}

// fillAuthorizations sets s.Authorizations with their refresh tokens'
// metadata (checked) and, with decrypt, values.
func (t *tx) fillAuthorizations(s *Seller, decrypt bool) error {
	auths, err := t.authorizations(s.ID)
	if err != nil {
		return err
	}
	s.Authorizations = auths
	for i := range s.Authorizations {
		ss, err := t.loadSecrets(tokenRef(s.ID, s.Authorizations[i].AppID), decrypt, true)
		if err != nil {
			return err
		}
		if len(ss) > 0 {
			s.Authorizations[i].RefreshToken = ss[0]
		}
	}
	return nil
}

// AddSeller stores a new seller. Authorizations whose RefreshToken.Value is
// set are stored too (for import); AppName or AppID names the app.
func (v *Vault) AddSeller(ctx context.Context, s Seller) error {
	if err := checkNewSeller(&s); err != nil {
		return err
	}
	return v.write(ctx, "add seller "+s.ID, func(t *tx) error { return t.addSeller(s) })
}

// sellers is how the vault reads, lists and updates sellers.
var sellers = &record[Seller]{
	kind: "seller", get: (*tx).getSeller, scan: scanSeller,
	list: `SELECT ` + sellerCols + ` FROM sellers ORDER BY id`,
	fill: (*tx).fillAuthorizations,
	clone: func(s Seller) Seller {
		s.Marketplaces = append([]string(nil), s.Marketplaces...)
		return s
	},
	save: (*tx).saveSeller,
}

// GetSeller returns the seller (by id or name) with its refresh tokens decrypted.
func (v *Vault) GetSeller(ctx context.Context, ref string) (Seller, error) {
	return getRecord(ctx, v, sellers, ref)
}

// ListSellers returns every seller sorted by id, with authorization
// metadata but no refresh tokens decrypted.
func (v *Vault) ListSellers(ctx context.Context) ([]Seller, error) {
	return listRecords(ctx, v, sellers)
}

// UpdateSeller lets fn change the seller's name, region and marketplaces.
// The id cannot change; token changes go through SetRefreshToken.
func (v *Vault) UpdateSeller(ctx context.Context, ref string, fn func(*Seller) error) error {
	return updateRecord(ctx, v, sellers, ref, fn)
}

// saveSeller writes s's name, region and marketplaces over old's.
func (t *tx) saveSeller(old, s *Seller) error {
	if s.ID != old.ID {
		return invalid("the id of seller %s cannot change; add the other seller separately", old.ID)
	}
	if err := s.validate(); err != nil {
		return err
	}
	if s.Name != "" {
		var n int
		if err := t.queryRow(`SELECT count(*) FROM sellers WHERE id<>? AND name=?`, s.ID, s.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return newErr(ErrExists, "another seller is already named %q", s.Name)
		}
	}
	if _, err := t.exec(`UPDATE sellers SET name=?, region=?, marketplaces=?, updated_at=? WHERE id=?`,
		nullStr(s.Name), s.Region, jsonList(s.Marketplaces), fmtTime(t.now), s.ID); err != nil {
		return err
	}
	return t.audit("seller:"+s.ID, "seller", ActionChanged, "")
}

// RemoveSeller deletes the seller, its refresh tokens and its checkpoints.
func (v *Vault) RemoveSeller(ctx context.Context, ref string) error {
	return v.write(ctx, "remove seller", func(t *tx) error {
		s, err := t.getSeller(ref)
		if err != nil {
			return err
		}
		// The tokens are deleted unread, so that a seller whose token
		// record fails its integrity check can be removed.
		auths, err := t.authorizations(s.ID)
		if err != nil {
			return err
		}
		for _, z := range auths {
			if _, err := t.deleteSecrets(tokenRef(s.ID, z.AppID)); err != nil {
				return err
			}
			if err := t.audit("seller:"+s.ID, "refresh_token", ActionRemoved, "app "+z.AppName); err != nil {
				return err
			}
		}
		for _, q := range []string{`DELETE FROM authorizations WHERE seller_id=?`, `DELETE FROM checkpoints WHERE seller=?`, `DELETE FROM sellers WHERE id=?`} {
			if _, err := t.exec(q, s.ID); err != nil {
				return err
			}
		}
		return t.audit("seller:"+s.ID, "seller", ActionRemoved, s.Name)
	})
}

func (t *tx) setRefreshToken(sellerID, app string, token secret.String, authorizedAt time.Time) error {
	a, err := t.getApp(app)
	if err != nil {
		return err
	}
	if authorizedAt.IsZero() {
		authorizedAt = t.now
	}
	ref := tokenRef(sellerID, a.AppID)
	n, err := t.deleteSecrets(ref)
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO authorizations(seller_id, app_id, authorized_at) VALUES (?,?,?)
		ON CONFLICT(seller_id, app_id) DO UPDATE SET authorized_at=excluded.authorized_at`, sellerID, a.AppID, fmtTime(authorizedAt)); err != nil {
		return err
	}
	if _, err := t.putSecret(ref, StatusCurrent, token, t.now, time.Time{}); err != nil {
		return err
	}
	action := ActionAdded
	if n > 0 {
		action = ActionRotated
	}
	return t.audit("seller:"+sellerID, "refresh_token", action, "app "+a.Name)
}

// SetRefreshToken stores the seller's refresh token for app (name, app id or
// client id), replacing any earlier one. A zero authorizedAt means now.
func (v *Vault) SetRefreshToken(ctx context.Context, seller, app string, token secret.String, authorizedAt time.Time) error {
	if err := ValidateRefreshToken(token.Reveal()); err != nil {
		return err
	}
	return v.write(ctx, "set refresh token", func(t *tx) error {
		s, err := t.getSeller(seller)
		if err != nil {
			return err
		}
		return t.setRefreshToken(s.ID, app, token, authorizedAt)
	})
}

// sellerAndApp looks up a seller (by id or name) and an app (by name, app
// id or client id) together.
func (t *tx) sellerAndApp(seller, app string) (Seller, App, error) {
	s, err := t.getSeller(seller)
	if err != nil {
		return Seller{}, App{}, err
	}
	a, err := t.getApp(app)
	return s, a, err
}

// RefreshToken decrypts the seller's refresh token for app and nothing else.
func (v *Vault) RefreshToken(ctx context.Context, seller, app string) (secret.String, error) {
	var out secret.String
	err := v.read(ctx, "read refresh token", func(t *tx) error {
		s, a, err := t.sellerAndApp(seller, app)
		if err != nil {
			return err
		}
		ss, err := t.loadSecrets(tokenRef(s.ID, a.AppID), true, true)
		if err != nil {
			return err
		}
		if len(ss) == 0 {
			return newErr(ErrNotFound, "seller %s has not authorized app %s (no refresh token); authorize it in Seller Central and run spgate seller add", s.ID, a.Name)
		}
		out = ss[0].Value
		return nil
	})
	return out, err
}

// RemoveRefreshToken deletes the seller's authorization of app.
func (v *Vault) RemoveRefreshToken(ctx context.Context, seller, app string) error {
	return v.write(ctx, "remove refresh token", func(t *tx) error {
		s, a, err := t.sellerAndApp(seller, app)
		if err != nil {
			return err
		}
		res, err := t.exec(`DELETE FROM authorizations WHERE seller_id=? AND app_id=?`, s.ID, a.AppID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return newErr(ErrNotFound, "seller %s has no authorization for app %s", s.ID, a.Name)
		}
		if _, err := t.deleteSecrets(tokenRef(s.ID, a.AppID)); err != nil {
			return err
		}
		return t.audit("seller:"+s.ID, "refresh_token", ActionRemoved, "app "+a.Name)
	})
}

// MarkRefreshTokenVerified records that the seller's token for app worked.
func (v *Vault) MarkRefreshTokenVerified(ctx context.Context, seller, app string) error {
	return v.write(ctx, "mark refresh token verified", func(t *tx) error {
		s, a, err := t.sellerAndApp(seller, app)
		if err != nil {
			return err
		}
		_, err = t.markVerified(tokenRef(s.ID, a.AppID), 0)
		if errors.Is(err, ErrNotFound) {
			return newErr(ErrNotFound, "seller %s has no refresh token for app %s", s.ID, a.Name)
		}
		if err != nil {
			return err
		}
		return t.audit("seller:"+s.ID, "refresh_token", ActionVerified, "app "+a.Name)
	})
}

func (t *tx) addSeller(s Seller) error {
	var n int
	if err := t.queryRow(`SELECT count(*) FROM sellers WHERE id=? OR (name IS NOT NULL AND name=?)`, s.ID, s.Name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return newErr(ErrExists, "seller %s (or the name %q) is already in the vault; see spgate seller list", s.ID, s.Name)
	}
	if _, err := t.exec(`INSERT INTO sellers(`+sellerCols+`) VALUES (?,?,?,?,?,?)`,
		s.ID, nullStr(s.Name), s.Region, jsonList(s.Marketplaces), fmtTime(t.now), fmtTime(t.now)); err != nil {
		return err
	}
	if err := t.audit("seller:"+s.ID, "seller", ActionAdded, s.Name); err != nil {
		return err
	}
	for _, z := range s.Authorizations {
		app := z.AppID
		if app == "" {
			app = z.AppName
		}
		if err := t.setRefreshToken(s.ID, app, z.RefreshToken.Value, z.AuthorizedAt); err != nil {
			return err
		}
	}
	return nil
}

func checkNewSeller(s *Seller) error {
	if err := s.validate(); err != nil {
		return err
	}
	for _, z := range s.Authorizations {
		if err := ValidateRefreshToken(z.RefreshToken.Value.Reveal()); err != nil {
			return fmt.Errorf("seller %s, app %s: %w", s.ID, z.AppName+z.AppID, err)
		}
	}
	return nil
}
