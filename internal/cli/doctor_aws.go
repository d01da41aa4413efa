package cli

import (
	"context"
	"os"
	"strings"

	"github.com/spgate/spgate/awsauth"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// doctorSecrets checks that LWA accepts the vault's current client secret
// on its own, and reports an unfinished or running rotation.
func doctorSecrets(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) []doctor.Check {
	st, err := rotation.Inspect(ctx, v, app)
	if err != nil {
		st = rotation.State{}
	}
	return doctor.Secrets(ctx, doctor.SecretsInput{App: app, Verify: rotation.LWAVerifier(ep.TokenURL, nil, nil), Rotation: st})
}

// doctorAWS checks the app's AWS chain (IAM user, role, notification queue),
// which matters for rotation by SQS and for apps that still sign.
func doctorAWS(ctx context.Context, v *vault.Vault, app vault.App) []doctor.Check {
	if app.AWSAccessKeyID == "" && app.RoleARN == "" && app.SQSQueueURL == "" {
		return nil
	}
	return doctor.AWS(ctx, doctor.AWSInput{
		UserKeys: awsauth.UserKeys{AccessKeyID: app.AWSAccessKeyID, SecretAccessKey: app.AWSSecretKey.Value},
		RoleARN:  app.RoleARN,
		QueueURL: app.SQSQueueURL,
		Endpoint: strings.TrimSpace(os.Getenv(EnvAWSEndpoint)),
		App:      app.Name,
	})
}
