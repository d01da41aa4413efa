package spapi

import (
	"fmt"
	"net/url"
	"strings"
)

// Region is an SP-API selling region.
type Region string

// The three selling regions.
const (
	NA Region = "na"
	EU Region = "eu"
	FE Region = "fe"
)

// ParseRegion accepts "na", "eu", "fe" in any case (and "us-east-1" style AWS
// regions, which people copy from old setup guides).
func ParseRegion(s string) (Region, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "na", "us-east-1":
		return NA, nil
	case "eu", "eu-west-1":
		return EU, nil
	case "fe", "us-west-2":
		return FE, nil
	}
	return "", fmt.Errorf("unknown region %q: use na (North America), eu (Europe, Middle East, India) or fe (Far East)", s)
}

// AWSRegion is the AWS region Amazon signs the region's endpoint in.
func (r Region) AWSRegion() string {
	switch r {
	case EU:
		return "eu-west-1"
	case FE:
		return "us-west-2"
	}
	return "us-east-1"
}

// Endpoints says where a client sends its calls.
type Endpoints struct {
	// SPAPI returns the base URL (scheme and host, no path) for a region.
	SPAPI func(Region) *url.URL
	// TokenURL is the LWA token endpoint.
	TokenURL string
	// Name is shown in diagnostics ("production", "sandbox", a URL).
	Name string
}

// Production is Amazon's live SP-API.
func Production() Endpoints {
	return Endpoints{
		Name:     "production",
		TokenURL: "https://api.amazon.com/auth/o2/token",
		SPAPI: func(r Region) *url.URL {
			return &url.URL{Scheme: "https", Host: "sellingpartnerapi-" + string(r) + ".amazon.com"}
		},
	}
}

// Sandbox is Amazon's static sandbox: it answers only the models' canned
// arguments.
func Sandbox() Endpoints {
	return Endpoints{
		Name:     "sandbox",
		TokenURL: "https://api.amazon.com/auth/o2/token",
		SPAPI: func(r Region) *url.URL {
			return &url.URL{Scheme: "https", Host: "sandbox.sellingpartnerapi-" + string(r) + ".amazon.com"}
		},
	}
}

// Custom sends every region to the given base URLs (for amazontest or a
// proxy). perRegion may be nil or name only some regions; base serves the
// rest. tokenURL defaults to base + "/auth/o2/token".
func Custom(base string, perRegion map[Region]string, tokenURL string) (Endpoints, error) {
	parse := func(s string) (*url.URL, error) {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("endpoint %q is not an http(s) base URL like https://host:port", s)
		}
		u.Path = strings.TrimRight(u.Path, "/")
		return u, nil
	}
	b, err := parse(base)
	if err != nil {
		return Endpoints{}, err
	}
	m := map[Region]*url.URL{}
	for r, s := range perRegion {
		u, err := parse(s)
		if err != nil {
			return Endpoints{}, err
		}
		m[r] = u
	}
	if tokenURL == "" {
		tokenURL = b.String() + "/auth/o2/token"
	}
	return Endpoints{
		Name:     base,
		TokenURL: tokenURL,
		SPAPI: func(r Region) *url.URL {
			if u, ok := m[r]; ok {
				c := *u
				return &c
			}
			c := *b
			return &c
		},
	}, nil
}

// Marketplace is an Amazon marketplace.
type Marketplace struct {
	ID      string
	Country string // ISO 3166 two-letter code
	Region  Region
}

// Marketplaces lists every marketplace SP-API serves, by region.
var Marketplaces = []Marketplace{
	{"ATVPDKIKX0DER", "US", NA}, {"A2EUQ1WTGCTBG2", "CA", NA}, {"A1AM78C64UM0Y8", "MX", NA}, {"A2Q3Y263D00KWC", "BR", NA},
	{"A1F83G8C2ARO7P", "GB", EU}, {"A1PA6795UKMFR9", "DE", EU}, {"A13V1IB3VIYZZH", "FR", EU}, {"APJ6JRA9NG5V4", "IT", EU},
	{"A1RKKUPIHCS9HS", "ES", EU}, {"A1805IZSGTT6HS", "NL", EU}, {"A2NODRKZP88ZB9", "SE", EU}, {"A1C3SOZRARQ6R3", "PL", EU},
	{"AMEN7PMS3EDWL", "BE", EU}, {"A28R8C7NBKEWEA", "IE", EU}, {"A33AVAJ2PDY3EV", "TR", EU}, {"A2VIGQ35RCS4UG", "AE", EU},
	{"A17E79C6D8DWNP", "SA", EU}, {"ARBP9OOSHTCHU", "EG", EU}, {"A21TJRUUN4KGV", "IN", EU}, {"AE08WJ6YKNBMC", "ZA", EU},
	{"A1VC38T7YXB528", "JP", FE}, {"A39IBJ37TRP1C6", "AU", FE}, {"A19VAU5U5O7RUS", "SG", FE},
}

// LookupMarketplace finds a marketplace by id or by country code ("DE", "UK").
func LookupMarketplace(idOrCountry string) (Marketplace, error) {
	s := strings.ToUpper(strings.TrimSpace(idOrCountry))
	if s == "UK" {
		s = "GB"
	}
	for _, m := range Marketplaces {
		if m.ID == s || m.Country == s {
			return m, nil
		}
	}
	return Marketplace{}, fmt.Errorf("unknown marketplace %q: give an id such as ATVPDKIKX0DER (US) or A1PA6795UKMFR9 (DE), or a country code", idOrCountry)
}

// RegionOf returns the region that serves the marketplaces; they must all be
// in one region.
func RegionOf(marketplaceIDs ...string) (Region, error) {
	var r Region
	for _, id := range marketplaceIDs {
		m, err := LookupMarketplace(id)
		if err != nil {
			return "", err
		}
		if r != "" && m.Region != r {
			return "", fmt.Errorf("marketplaces %v span regions %s and %s: a call goes to one region's endpoint; split them", marketplaceIDs, r, m.Region)
		}
		r = m.Region
	}
	if r == "" {
		return "", fmt.Errorf("no marketplace given")
	}
	return r, nil
}
