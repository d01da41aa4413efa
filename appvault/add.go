package appvault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// SellerAdded says what AddSeller did.
type SellerAdded struct {
	// Existed: the seller was already stored, and only its refresh token
	// for the app was stored; Seller is the seller as it was stored, and
	// Given the seller as given.
	Existed       bool
	Seller, Given vault.Seller
	// KeptMarketplaces and KeptName: the seller existed with other
	// marketplaces or another name than given, which stay as they were.
	KeptMarketplaces, KeptName bool
}

// Note says which of the fields given were left as stored, and how to
// change them (spgate seller update, which keeps the refresh tokens); ""
// when none were.
func (r SellerAdded) Note() string {
	var kept []string
	if mps := strings.Join(r.Given.Marketplaces, ","); r.KeptMarketplaces {
		kept = append(kept, fmt.Sprintf("its marketplaces stay %s (to store %s: `spgate seller update %s --marketplace %s`)",
			strings.Join(r.Seller.Marketplaces, ","), mps, r.Seller.ID, mps))
	}
	if r.KeptName {
		kept = append(kept, fmt.Sprintf("its name stays %q (to rename it: `spgate seller update %s --name %s`)", r.Seller.Name, r.Seller.ID, r.Given.Name))
	}
	if len(kept) == 0 {
		return ""
	}
	return fmt.Sprintf("seller %s was already stored: %s; seller update keeps the refresh tokens", r.Seller.ID, strings.Join(kept, "; "))
}

// RegionConflictError is AddSeller's answer for a seller stored in another
// region than the one given.
type RegionConflictError struct {
	Seller, Stored, Given string
}

// Error names both regions.
func (e *RegionConflictError) Error() string {
	return fmt.Sprintf("seller %s is stored in region %s, not %s", e.Seller, e.Stored, e.Given)
}

// AddSeller stores seller s with the refresh token it granted to app (its
// name in the vault). A seller already stored keeps its region,
// marketplaces and name and gets only the token: vault.UpdateSeller changes
// those and keeps every app's token, where removing the seller and adding
// it again would not. A stored seller in another region than s.Region is a
// *RegionConflictError, and nothing is stored.
func AddSeller(ctx context.Context, v *vault.Vault, s vault.Seller, app string, token secret.String) (SellerAdded, error) {
	s.Authorizations = []vault.Authorization{{AppName: app, RefreshToken: vault.Secret{Value: token}}}
	err := v.AddSeller(ctx, s)
	if err == nil || !errors.Is(err, vault.ErrExists) {
		return SellerAdded{Seller: s}, err
	}
	stored, gerr := v.GetSeller(ctx, s.ID)
	if gerr != nil {
		return SellerAdded{}, err // the name, not the id, is taken
	}
	if stored.Region != s.Region {
		return SellerAdded{}, &RegionConflictError{Seller: s.ID, Stored: stored.Region, Given: s.Region}
	}
	if err := v.SetRefreshToken(ctx, s.ID, app, token, time.Time{}); err != nil {
		return SellerAdded{}, err
	}
	return SellerAdded{Existed: true, Seller: stored, Given: s,
		KeptMarketplaces: !slices.Equal(vault.NormList(stored.Marketplaces), vault.NormList(s.Marketplaces)),
		KeptName:         s.Name != "" && s.Name != stored.Name,
	}, nil
}

// CreateClient registers a gateway client whose sellers (ids or names, or
// "*") must all be in the vault, and returns its key, to be shown once. A
// seller not in the vault is an error matching vault.ErrNotFound; a client
// of that name, vault.ErrExists.
func CreateClient(ctx context.Context, v *vault.Vault, c vault.Client) (secret.String, error) {
	for _, s := range c.Sellers {
		if s = strings.TrimSpace(s); s == "*" {
			continue
		}
		if _, err := v.GetSeller(ctx, s); err != nil {
			if errors.Is(err, vault.ErrNotFound) {
				return secret.String{}, &vault.Error{Kind: vault.ErrNotFound, Msg: fmt.Sprintf("no seller %q in the vault", s)}
			}
			return secret.String{}, err
		}
	}
	return v.CreateClient(ctx, c)
}
