// Package sellers calls the Sellers API v1: getMarketplaceParticipations
// and getAccount.
package sellers

import (
	"context"
	"encoding/json"

	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/spapi"
)

// Client calls the Sellers API.
type Client struct{ c *spapi.Client }

// New returns a Sellers client.
func New(c *spapi.Client) *Client { return &Client{c: c} }

// Marketplace is a marketplace the seller participates in.
type Marketplace struct {
	ID                  string `json:"id"`
	Name                string `json:"name"`
	CountryCode         string `json:"countryCode"`
	DefaultCurrencyCode string `json:"defaultCurrencyCode"`
	DefaultLanguageCode string `json:"defaultLanguageCode"`
	DomainName          string `json:"domainName"`
}

// Participation says whether the seller sells there.
type Participation struct {
	Marketplace   Marketplace `json:"marketplace"`
	Participation struct {
		IsParticipating      bool `json:"isParticipating"`
		HasSuspendedListings bool `json:"hasSuspendedListings"`
	} `json:"participation"`
	StoreName string `json:"storeName,omitempty"`
}

// MarketplaceParticipations is the cheapest seller call: doctor uses it to
// prove a seller's token works.
func (c *Client) MarketplaceParticipations(ctx context.Context, seller string) ([]Participation, error) {
	op := operations.MustByID("sellers", "v1", "getMarketplaceParticipations")
	var out struct {
		Payload []Participation `json:"payload"`
	}
	if err := c.c.DoJSON(ctx, spapi.Call{Operation: op, Seller: seller}, &out); err != nil {
		return nil, err
	}
	return out.Payload, nil
}

// Account returns getAccount's payload as raw JSON (business details vary
// by country).
func (c *Client) Account(ctx context.Context, seller string) (json.RawMessage, error) {
	op := operations.MustByID("sellers", "v1", "getAccount")
	var out struct {
		Payload json.RawMessage `json:"payload"`
	}
	if err := c.c.DoJSON(ctx, spapi.Call{Operation: op, Seller: seller}, &out); err != nil {
		return nil, err
	}
	return out.Payload, nil
}
