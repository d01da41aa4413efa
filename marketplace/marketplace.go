// Package marketplace lists the Amazon marketplaces the Selling Partner API
// serves and the selling region each belongs to. It is a leaf package (the
// standard library only) so that the client side (spapi) and the vault share
// one list of facts.
package marketplace

import (
	"fmt"
	"strings"
)

// The three selling regions, as lower-case codes.
const (
	NA = "na" // North America (and Brazil); sellingpartnerapi-na, us-east-1
	EU = "eu" // Europe, Middle East, India, South Africa; eu-west-1
	FE = "fe" // Far East: Japan, Australia, Singapore; us-west-2
)

// Regions lists the valid region codes.
func Regions() []string { return []string{NA, EU, FE} }

// Marketplace is one Amazon marketplace.
type Marketplace struct {
	ID      string // e.g. ATVPDKIKX0DER
	Country string // ISO 3166 two-letter code, e.g. US, GB
	Region  string // na, eu or fe
}

var list = []Marketplace{
	{"ATVPDKIKX0DER", "US", NA}, {"A2EUQ1WTGCTBG2", "CA", NA}, {"A1AM78C64UM0Y8", "MX", NA}, {"A2Q3Y263D00KWC", "BR", NA},
	{"A1F83G8C2ARO7P", "GB", EU}, {"A1PA6795UKMFR9", "DE", EU}, {"A13V1IB3VIYZZH", "FR", EU}, {"APJ6JRA9NG5V4", "IT", EU},
	{"A1RKKUPIHCS9HS", "ES", EU}, {"A1805IZSGTT6HS", "NL", EU}, {"A2NODRKZP88ZB9", "SE", EU}, {"A1C3SOZRARQ6R3", "PL", EU},
	{"AMEN7PMS3EDWL", "BE", EU}, {"A28R8C7NBKEWEA", "IE", EU}, {"A33AVAJ2PDY3EV", "TR", EU}, {"A2VIGQ35RCS4UG", "AE", EU},
	{"A17E79C6D8DWNP", "SA", EU}, {"ARBP9OOSHTCHU", "EG", EU}, {"A21TJRUUN4KGV", "IN", EU}, {"AE08WJ6YKNBMC", "ZA", EU},
	{"A1VC38T7YXB528", "JP", FE}, {"A39IBJ37TRP1C6", "AU", FE}, {"A19VAU5U5O7RUS", "SG", FE},
}

// All returns every marketplace, grouped by region (a copy).
func All() []Marketplace { return append([]Marketplace(nil), list...) }

// ByID finds a marketplace by its exact id.
func ByID(id string) (Marketplace, bool) {
	for _, m := range list {
		if m.ID == id {
			return m, true
		}
	}
	return Marketplace{}, false
}

// Lookup finds a marketplace by id or by country code, ignoring case and
// surrounding space. "UK" is accepted for GB, as Amazon's own tables write it.
func Lookup(idOrCountry string) (Marketplace, bool) {
	s := strings.ToUpper(strings.TrimSpace(idOrCountry))
	if s == "UK" {
		s = "GB"
	}
	for _, m := range list {
		if m.ID == s || m.Country == s {
			return m, true
		}
	}
	return Marketplace{}, false
}

// RegionOf returns the region that serves the marketplaces (ids or country
// codes, as Lookup takes); they must all be in one region.
func RegionOf(idsOrCountries ...string) (string, error) {
	var r string
	for _, id := range idsOrCountries {
		m, ok := Lookup(id)
		if !ok {
			return "", fmt.Errorf("unknown marketplace %q: give an id such as ATVPDKIKX0DER (US) or A1PA6795UKMFR9 (DE), or a country code", id)
		}
		if r != "" && m.Region != r {
			return "", fmt.Errorf("marketplaces %v span regions %s and %s: a call goes to one region's endpoint; split them", idsOrCountries, r, m.Region)
		}
		r = m.Region
	}
	if r == "" {
		return "", fmt.Errorf("no marketplace given")
	}
	return r, nil
}
