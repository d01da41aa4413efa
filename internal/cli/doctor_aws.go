package cli

import (
	"context"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/awsauth"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/provision"
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
// which matters for rotation by SQS and for apps that still sign. The
// role's and the queue's policies are read with administrator credentials
// from the environment when there are any, else with the app's own keys;
// when neither may read IAM, doctor says which checks it skipped and why.
func doctorAWS(ctx context.Context, v *vault.Vault, app vault.App) []doctor.Check {
	if app.AWSAccessKeyID == "" && app.RoleARN == "" && app.SQSQueueURL == "" {
		return nil
	}
	rec, _ := appvault.LoadAWSSetup(ctx, v, app)
	in := doctor.AWSInput{
		UserKeys: awsauth.UserKeys{AccessKeyID: app.AWSAccessKeyID, SecretAccessKey: app.AWSSecretKey.Value},
		RoleARN:  app.RoleARN,
		QueueURL: app.SQSQueueURL,
		Endpoint: strings.TrimSpace(os.Getenv(EnvAWSEndpoint)),
		Region:   rec.Region,
		App:      app.Name,
		Names: provision.Options{UserName: rec.UserName, RoleName: rec.RoleName, PolicyName: rec.PolicyName,
			InlinePolicyName: rec.InlinePolicyName, QueueName: rec.QueueName},
	}
	in.AdminConfig, in.AdminSource, in.NoAdmin = doctorAdminConfig(ctx, app, rec.Region)
	return doctor.AWS(ctx, in)
}

// doctorAdminConfig finds credentials to read the IAM chain with: the AWS
// credentials of the environment or shared config (not the instance
// metadata service), else the app's IAM user keys. It returns the config,
// whose they are, and why no administrator credentials were found.
func doctorAdminConfig(ctx context.Context, app vault.App, region string) (*aws.Config, string, string) {
	if region == "" {
		region = "us-east-1"
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cfg, err := awsconfig.LoadDefaultConfig(lctx, awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled), awsconfig.WithRegion(region))
	if err == nil && cfg.Credentials != nil {
		if creds, err := cfg.Credentials.Retrieve(lctx); err == nil && creds.AccessKeyID != app.AWSAccessKeyID {
			cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
			return &cfg, "the AWS credentials of the environment (" + creds.AccessKeyID + ")", ""
		}
	}
	why := "no administrator credentials in the environment (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
	if app.AWSAccessKeyID == "" || app.AWSSecretKey.Value.IsZero() {
		return nil, "", why
	}
	uc := aws.Config{Region: region, HTTPClient: &http.Client{Timeout: 30 * time.Second},
		Credentials: credentials.NewStaticCredentialsProvider(app.AWSAccessKeyID, app.AWSSecretKey.Value.Reveal(), "")}
	return &uc, "the app's IAM user keys (" + app.AWSAccessKeyID + ")", why
}
