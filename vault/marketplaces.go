package vault

import (
	"slices"
	"strings"
)

// MarketplaceError is a seller's marketplace, given as an id or a country
// code, that is unknown or not in the seller's region; or, with an empty
// Input, the lack of any marketplace. It matches ErrInvalid.
type MarketplaceError struct {
	Input  string // as given, trimmed; "" when none was given
	Region string // the seller's region
	Err    error
}

// Error names the marketplace as given.
func (e *MarketplaceError) Error() string {
	if e.Input == "" {
		return e.Err.Error()
	}
	return e.Input + ": " + e.Err.Error()
}

// Unwrap returns the validation error.
func (e *MarketplaceError) Unwrap() error { return e.Err }

// ResolveMarketplaces turns marketplace ids or country codes (US, DE…)
// into the marketplace ids they name, in the order given and without
// repeats; blank entries are skipped. Every one must be in region, and at
// least one must be given.
func ResolveMarketplaces(region string, in []string) ([]string, error) {
	var ids []string
	for _, m := range in {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		id := m
		if mp, ok := LookupMarketplace(m); ok {
			id = mp.ID
		}
		if err := ValidateMarketplace(region, id); err != nil {
			return nil, &MarketplaceError{Input: m, Region: region, Err: err}
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, &MarketplaceError{Region: region, Err: invalid("no marketplace given for region %s", clip(region))}
	}
	return ids, nil
}

// MarketplacesIn returns the marketplaces of region, as Amazon lists them.
func MarketplacesIn(region string) []Marketplace {
	var out []Marketplace
	for _, m := range Marketplaces() {
		if m.Region == region {
			out = append(out, m)
		}
	}
	return out
}
