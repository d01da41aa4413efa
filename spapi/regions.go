package spapi

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spgate/spgate/marketplace"
)

// Region is an SP-API selling region.
type Region string

// The three selling regions.
const (
	NA Region = marketplace.NA
	EU Region = marketplace.EU
	FE Region = marketplace.FE
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
		// SP-API paths start at the host's root (/orders/v0/…), as do the
		// operation tables on both sides; a prefix would make every call
		// address no operation.
		if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("endpoint %q has a path, query or fragment: give only scheme, host and port, like https://host:port (SP-API paths start at the root)", s)
		}
		u.Path, u.RawPath = "", ""
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

// RegionOf returns the region that serves the marketplaces (ids or country
// codes); they must all be in one region.
func RegionOf(marketplaceIDs ...string) (Region, error) {
	r, err := marketplace.RegionOf(marketplaceIDs...)
	return Region(r), err
}
