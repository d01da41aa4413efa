package appvault

import (
	"context"

	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// NewRotator returns the rotator of app's client secret (rotation.New)
// wired to what the vault and the endpoints give it: Amazon's rotation
// request through SP-API, the app's notification queue at sqsEndpoint
// (AWS when empty) in the region its AWS setup stored, for a queue URL that
// does not name one, and LWA to verify each secret. cfg supplies the rest
// (Logger, Owner, Timeout, ExpiryThreshold, Progress).
func NewRotator(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints, sqsEndpoint string, cfg rotation.Config) (*rotation.Rotator, error) {
	rec, _ := LoadAWSSetup(ctx, v, app) // unreadable: the queue URL's own region
	cfg.Vault = v
	cfg.Request = rotation.SPAPIRequester(v, ep, nil, nil, cfg.Logger)
	cfg.Queues = rotation.SQSQueuesWith(rotation.SQSOptions{Endpoint: sqsEndpoint, Region: rec.Region})
	cfg.Verify = rotation.LWAVerifier(ep.TokenURL, nil, nil)
	return rotation.New(cfg)
}
