// Package tokens calls the Tokens API explicitly. Most programs never need
// it: the spapi client gets Restricted Data Tokens on its own.
package tokens

import (
	"context"
	"time"

	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/rdt"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
)

// Client calls the Tokens API.
type Client struct{ c *spapi.Client }

// New returns a Tokens client.
func New(c *spapi.Client) *Client { return &Client{c: c} }

// CreateRestrictedDataToken asks for an RDT covering the resources (at most
// rdt.MaxResources).
func (c *Client) CreateRestrictedDataToken(ctx context.Context, seller, targetApplication string, resources []rdt.Resource) (rdt.Token, error) {
	op := operations.MustByID("tokens", "2021-03-01", "createRestrictedDataToken")
	body := struct {
		TargetApplication   string         `json:"targetApplication,omitempty"`
		RestrictedResources []rdt.Resource `json:"restrictedResources"`
	}{targetApplication, resources}
	var out struct {
		RestrictedDataToken string `json:"restrictedDataToken"`
		ExpiresIn           int    `json:"expiresIn"`
	}
	start := time.Now()
	if err := c.c.DoJSON(ctx, spapi.Call{Operation: op, Seller: seller, Body: body}, &out); err != nil {
		return rdt.Token{}, err
	}
	return rdt.Token{Value: secret.New(out.RestrictedDataToken), Expiry: start.Add(time.Duration(out.ExpiresIn) * time.Second)}, nil
}
