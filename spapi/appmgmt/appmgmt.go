// Package appmgmt calls the Application Management API:
// rotateApplicationClientSecret, a grantless call with the rotation scope.
package appmgmt

import (
	"context"

	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/spapi"
)

// Client calls Application Management.
type Client struct{ c *spapi.Client }

// New returns an Application Management client.
func New(c *spapi.Client) *Client { return &Client{c: c} }

// RotateClientSecret asks Amazon to make a new client secret. The new secret
// is not in the answer: Amazon sends it to the app's SQS queue as an
// APPLICATION_OAUTH_CLIENT_NEW_SECRET notification. region picks the
// endpoint (any region serves the app).
func (c *Client) RotateClientSecret(ctx context.Context, region spapi.Region) error {
	op := operations.MustByID("application-management", "2023-11-30", "rotateApplicationClientSecret")
	_, err := c.c.Do(ctx, spapi.Call{Operation: op, Region: region})
	return err
}
