package cmdutil

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spgate/spgate/orderpull"
	"github.com/spgate/spgate/vault"
)

// EnvRefreshToken holds a refresh token for seller add and import.
const EnvRefreshToken = "SPGATE_REFRESH_TOKEN"

// AppName checks an app's local name.
func AppName(s string) error { return vault.ValidateName("app", s) }

// SellerName checks a seller's local name.
func SellerName(s string) error { return vault.ValidateName("seller", s) }

// CheckSeller checks a selling partner id (an argument) and --region.
func CheckSeller(id, region string) error {
	return CheckFlags(FlagCheck{"", id, vault.ValidateSellerID, ""}, FlagCheck{"region", region, vault.ValidateRegion, ": na, eu or fe"})
}

// ParseMarketplaces validates --marketplace's ids or country codes against
// region and returns the ids.
func ParseMarketplaces(region string, in []string) ([]string, error) {
	ids, err := vault.ResolveMarketplaces(region, in)
	var me *vault.MarketplaceError
	if errors.As(err, &me) {
		return nil, MarketplaceErr(me, in)
	}
	return ids, err
}

// MarketplaceErr words a refused --marketplace (given) for the flag.
func MarketplaceErr(me *vault.MarketplaceError, given []string) error {
	switch {
	case me.Input != "":
		return InvalidInput(fmt.Errorf("--marketplace %s: %w", me.Input, me.Err))
	case len(given) == 0:
		return UsageErr("--marketplace is required: one or more marketplace ids in region %s, e.g. %s", me.Region, ExampleMarketplaces(me.Region, true))
	}
	return UsageErr("--marketplace is empty: give marketplace ids in region %s, e.g. %s", me.Region, ExampleMarketplaces(me.Region, true))
}

// ExampleMarketplaces lists up to three marketplaces of region: "ID (CC),
// …" for people, or without countries "ID,ID,ID" to paste as --marketplace.
func ExampleMarketplaces(region string, countries bool) string {
	var ex []string
	ms := vault.MarketplacesIn(region)
	for _, m := range ms[:min(3, len(ms))] {
		if countries {
			ex = append(ex, m.ID+" ("+m.Country+")")
		} else {
			ex = append(ex, m.ID)
		}
	}
	if countries {
		return strings.Join(ex, ", ")
	}
	return strings.Join(ex, ",")
}

// PII maps --pii's address and buyer to the data elements of the Orders
// API version api (orderpull.DataElements), worded for the flag.
func PII(api string, pii []string) ([]string, error) {
	des, err := orderpull.DataElements(api, pii)
	if err != nil {
		return nil, fmt.Errorf("--pii: %w", err)
	}
	return des, nil
}
