package vault

import (
	"fmt"
	"slices"
	"strings"
)

// FieldChange is one field an update changed, with its old and new value.
type FieldChange struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

// String is "field: old → new", "(none)" standing for an empty value.
func (c FieldChange) String() string {
	return fmt.Sprintf("%s: %s → %s", c.Field, fmtValue(c.Old), fmtValue(c.New))
}

func fmtValue(v any) string {
	switch x := v.(type) {
	case []string:
		if len(x) == 0 {
			return "(none)"
		}
		return strings.Join(x, ", ")
	case string:
		if x == "" {
			return "(none)"
		}
		return x
	}
	return fmt.Sprint(v)
}

// NormList trims, drops empty entries and duplicates, and sorts, as the
// vault compares roles and marketplaces.
func NormList(in []string) []string {
	out := []string{}
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// AppUpdate is a change to an app's plain fields, for UpdateApp: a nil
// field (an empty Name) stays as it is.
type AppUpdate struct {
	Roles       *[]string // replaces the roles; an empty list clears them
	Region      *string
	Draft       *bool
	RedirectURI *string
	Name        string
}

// Apply makes u's changes to a and returns them, none when every value
// given is already a's.
func (u AppUpdate) Apply(a *App) []FieldChange {
	var changes []FieldChange
	if u.Roles != nil {
		oldR, newR := NormList(a.Roles), NormList(*u.Roles)
		if !slices.Equal(oldR, newR) {
			changes = append(changes, FieldChange{"roles", oldR, newR})
			a.Roles = newR
		}
	}
	if u.Region != nil && a.Region != *u.Region {
		changes = append(changes, FieldChange{"region", a.Region, *u.Region})
		a.Region = *u.Region
	}
	if u.Draft != nil && a.Draft != *u.Draft {
		changes = append(changes, FieldChange{"draft", a.Draft, *u.Draft})
		a.Draft = *u.Draft
	}
	if u.RedirectURI != nil && a.RedirectURI != *u.RedirectURI {
		changes = append(changes, FieldChange{"redirectUri", a.RedirectURI, *u.RedirectURI})
		a.RedirectURI = *u.RedirectURI
	}
	if u.Name != "" && a.Name != u.Name {
		changes = append(changes, FieldChange{"name", a.Name, u.Name})
		a.Name = u.Name
	}
	return changes
}

// SellerUpdate is a change to a seller, for UpdateSeller: a nil field
// stays as it is.
type SellerUpdate struct {
	Region *string
	// Marketplaces replaces the marketplaces: ids or country codes, which
	// are resolved in the seller's region after the update (see
	// ResolveMarketplaces).
	Marketplaces []string
	Name         *string
}

// RegionMismatchError is Apply's answer to a seller moved to a region its
// marketplaces are not in, without new marketplaces.
type RegionMismatchError struct {
	Seller       string
	Marketplaces []string
	Region       string
}

// Error implements the error interface.
func (e *RegionMismatchError) Error() string {
	return fmt.Sprintf("seller %s sells in %s, which is not in region %s", e.Seller, strings.Join(e.Marketplaces, ","), e.Region)
}

// Apply makes u's changes to s and returns them, none when every value
// given is already s's. A new region keeps the stored marketplaces only
// when they are all in it (else a *RegionMismatchError); marketplaces
// given must be in it (else a *MarketplaceError).
func (u SellerUpdate) Apply(s *Seller) ([]FieldChange, error) {
	region := s.Region
	if u.Region != nil {
		region = *u.Region
	}
	mps := s.Marketplaces
	if u.Marketplaces != nil {
		var err error
		if mps, err = ResolveMarketplaces(region, u.Marketplaces); err != nil {
			return nil, err
		}
	} else if region != s.Region {
		for _, m := range mps {
			if ValidateMarketplace(region, m) != nil {
				return nil, &RegionMismatchError{Seller: s.ID, Marketplaces: mps, Region: region}
			}
		}
	}
	var changes []FieldChange
	if region != s.Region {
		changes = append(changes, FieldChange{"region", s.Region, region})
		s.Region = region
	}
	if oldM, newM := NormList(s.Marketplaces), NormList(mps); !slices.Equal(oldM, newM) {
		changes = append(changes, FieldChange{"marketplaces", oldM, newM})
		s.Marketplaces = mps
	}
	if u.Name != nil && *u.Name != s.Name {
		changes = append(changes, FieldChange{"name", s.Name, *u.Name})
		s.Name = *u.Name
	}
	return changes, nil
}
