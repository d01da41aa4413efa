package doctor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/awsauth"
	"github.com/spgate/spgate/provision"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// AppInput is what App checks: an app in the vault, as `spgate doctor`
// and the console's Setup page check it.
type AppInput struct {
	Vault *vault.Vault
	// App is the vault's app with its secrets decrypted (vault.GetApp).
	App vault.App
	// Sellers are the sellers to check (vault.GetSeller); nil checks every
	// seller that authorized App.
	Sellers []vault.Seller
	// Client calls SP-API for App.
	Client    *spapi.Client
	Endpoints spapi.Endpoints
	// AWSEndpoint overrides the AWS base URL for IAM, STS and SQS (a
	// moto_server).
	AWSEndpoint string
	// Version is the running spgate's, compared with the replicas'
	// (Replicas).
	Version string
}

// App runs every check of an app in the vault: the SP-API layers for its
// sellers (Run, with the vault's credentials), its client secret and
// rotation (Secrets), its AWS chain (AWS), a vault in PostgreSQL
// (Database) and the gateways serving from the vault (Replicas). Its error is the vault's, listing the sellers.
func App(ctx context.Context, in AppInput) ([]Check, error) {
	v, app := in.Vault, in.App
	sellers := in.Sellers
	if sellers == nil {
		var err error
		if sellers, err = authorizedSellers(ctx, v, app.Name); err != nil {
			return nil, err
		}
	}
	checks := Run(ctx, Input{App: app, Sellers: sellers, Client: in.Client,
		Credentials: rotation.VaultCredentials{Vault: v, App: app.Name}, Endpoints: in.Endpoints})
	st, err := rotation.Inspect(ctx, v, app)
	if err != nil {
		st = rotation.State{}
	}
	checks = append(checks, Secrets(ctx, SecretsInput{App: app, Verify: rotation.LWAVerifier(in.Endpoints.TokenURL, nil, nil), Rotation: st})...)
	checks = append(checks, appAWS(ctx, v, app, in.AWSEndpoint)...)
	checks = append(checks, Database(ctx, v)...)
	return append(checks, Replicas(ctx, v, in.Version)...), nil
}

// authorizedSellers lists the vault's sellers that authorized app, with
// their refresh tokens.
func authorizedSellers(ctx context.Context, v *vault.Vault, app string) ([]vault.Seller, error) {
	list, err := v.ListSellers(ctx)
	if err != nil {
		return nil, err
	}
	var sellers []vault.Seller
	for _, s := range list {
		if _, ok := s.Authorization(app); !ok {
			continue
		}
		full, err := v.GetSeller(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		sellers = append(sellers, full)
	}
	return sellers, nil
}

// appAWS checks the app's AWS chain (IAM user, role, notification queue),
// which matters for rotation by SQS and for apps that still sign, with the
// names and region its setup stored. The role's and the queue's policies
// are read with administrator credentials from the environment when there
// are any, else with the app's own keys; when neither may read IAM, the
// checks say which they skipped and why.
func appAWS(ctx context.Context, v *vault.Vault, app vault.App, endpoint string) []Check {
	if app.AWSAccessKeyID == "" && app.RoleARN == "" && app.SQSQueueURL == "" {
		return nil
	}
	rec, _ := appvault.LoadAWSSetup(ctx, v, app)
	in := AWSInput{
		UserKeys: awsauth.UserKeys{AccessKeyID: app.AWSAccessKeyID, SecretAccessKey: app.AWSSecretKey.Value},
		RoleARN:  app.RoleARN,
		QueueURL: app.SQSQueueURL,
		Endpoint: endpoint,
		Region:   rec.Region,
		App:      app.Name,
		Names: provision.Options{UserName: rec.UserName, RoleName: rec.RoleName, PolicyName: rec.PolicyName,
			InlinePolicyName: rec.InlinePolicyName, QueueName: rec.QueueName},
	}
	in.AdminConfig, in.AdminSource, in.NoAdmin = adminConfig(ctx, app, rec.Region)
	return AWS(ctx, in)
}

// adminConfig finds credentials to read the IAM chain with: the AWS
// credentials of the environment or shared config (not the instance
// metadata service), else the app's IAM user keys. It returns the config,
// whose they are, and why no administrator credentials were found.
func adminConfig(ctx context.Context, app vault.App, region string) (*aws.Config, string, string) {
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

// mark is a status's sign in WriteText's table.
func mark(s Status) string {
	switch s {
	case OK:
		return "✓"
	case Skip:
		return "-"
	case Warn:
		return "!"
	case Fail:
		return "✗"
	}
	return "?"
}

// WriteText writes checks as a table for a terminal: a line per check
// (mark, layer, name, detail), the step and fix under each failure and
// warning, and the counts.
func WriteText(w io.Writer, checks []Check) error {
	for _, c := range checks {
		if _, err := fmt.Fprintf(w, "%s %-7s %-20s %s\n", mark(c.Status), c.Layer, c.Name, c.Detail); err != nil {
			return err
		}
		if c.Status == Fail || c.Status == Warn {
			if c.Step != "" {
				fmt.Fprintf(w, "    step: %s\n", c.Step)
			}
			if c.Fix != "" {
				fmt.Fprintf(w, "    fix:  %s\n", c.Fix)
			}
		}
	}
	n := map[Status]int{}
	for _, c := range checks {
		n[c.Status]++
	}
	_, err := fmt.Fprintf(w, "\n%d ok, %d warnings, %d failed, %d skipped\n", n[OK], n[Warn], n[Fail], n[Skip])
	return err
}
