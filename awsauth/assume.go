// Package awsauth is the seed's AWS chain for SP-API: the IAM user's keys
// assume the SP-API role through STS, and the temporary credentials sign
// requests with SigV4 (service execute-api, the endpoint's region) in an
// http.RoundTripper layer.
//
// Since October 2023 SP-API disregards SigV4 signatures, so the caller wraps
// its transport with NewSigner only for apps whose profile asks for signing.
package awsauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/spgate/spgate/secret"
)

// DefaultSessionName names the role sessions spgate opens (visible in
// CloudTrail).
const DefaultSessionName = "spgate"

// UserKeys are an IAM user's long-term access key.
type UserKeys struct {
	AccessKeyID     string
	SecretAccessKey secret.String
}

// Provider returns a credentials provider for the keys.
func (k UserKeys) Provider() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey.Reveal(), "")
}

// STSOptions says how to reach STS.
type STSOptions struct {
	// Region of the STS endpoint; default us-east-1.
	Region string
	// Endpoint overrides the STS URL (e.g. a moto_server), for tests.
	Endpoint string
	// HTTPClient defaults to a client with a 30-second timeout.
	HTTPClient *http.Client
}

func (o STSOptions) client(creds aws.CredentialsProvider) *sts.Client {
	cfg := aws.Config{Region: o.Region, Credentials: creds}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	// Assign only a non-nil client: a nil *http.Client in the interface
	// field would not read as nil.
	if o.HTTPClient != nil {
		cfg.HTTPClient = o.HTTPClient
	} else {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(o.Endpoint)
	}
	return sts.NewFromConfig(cfg)
}

// AssumeRoleOptions configures the role session.
type AssumeRoleOptions struct {
	STSOptions
	// RoleARN is the SP-API role, arn:aws:iam::<account>:role/<name>.
	RoleARN string
	// User are the IAM user's keys (the role's trust policy admits this user).
	User UserKeys
	// SessionName defaults to "spgate".
	SessionName string
	// Duration of each session; default (and AWS's default) one hour.
	Duration time.Duration
	// ExpiryWindow: refresh this long before expiry; default 5 minutes.
	ExpiryWindow time.Duration
}

// NewAssumeRoleProvider returns cached credentials from sts:AssumeRole with
// the user's keys, refreshed before they expire (aws.CredentialsCache:
// concurrent callers share one refresh).
func NewAssumeRoleProvider(opts AssumeRoleOptions) (*aws.CredentialsCache, error) {
	if opts.RoleARN == "" {
		return nil, errors.New("awsauth: no role ARN: set the app's IAM role ARN (arn:aws:iam::<12 digits>:role/<name>), e.g. from `spgate setup aws`")
	}
	if opts.User.AccessKeyID == "" || opts.User.SecretAccessKey.IsZero() {
		return nil, errors.New("awsauth: no IAM user access key: store the user's key with the app (spgate setup aws creates one)")
	}
	client := opts.client(opts.User.Provider())
	p := stscreds.NewAssumeRoleProvider(client, opts.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = opts.SessionName
		if o.RoleSessionName == "" {
			o.RoleSessionName = DefaultSessionName
		}
		if opts.Duration > 0 {
			o.Duration = opts.Duration
		}
	})
	window := opts.ExpiryWindow
	if window == 0 {
		window = 5 * time.Minute
	}
	return aws.NewCredentialsCache(&explainingProvider{p: p, role: opts.RoleARN}, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = window
		o.ExpiryWindowJitterFrac = 0.1
	}), nil
}

// explainingProvider turns STS refusals into errors that say which setup
// step to fix.
type explainingProvider struct {
	p    aws.CredentialsProvider
	role string
}

func (e *explainingProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := e.p.Retrieve(ctx)
	if err != nil {
		return c, explainAssume(err, e.role)
	}
	return c, nil
}

func explainAssume(err error, role string) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDenied":
			return fmt.Errorf("awsauth: STS refused to let the IAM user assume %s (%s): the user's inline policy must allow sts:AssumeRole on exactly this role and the role's trust policy must admit the user; run `spgate doctor` or `spgate setup aws`: %w", role, ae.ErrorCode(), err)
		case "InvalidClientTokenId", "SignatureDoesNotMatch":
			return fmt.Errorf("awsauth: AWS rejected the IAM user's access key (%s): it was deleted, deactivated or its secret is wrong; create a new key with `spgate setup aws`: %w", ae.ErrorCode(), err)
		}
	}
	return fmt.Errorf("awsauth: assume role %s: %w", role, err)
}

// Identity is who AWS says the credentials belong to.
type Identity struct {
	Account string
	ARN     string
	UserID  string
}

// CallerIdentity asks STS who creds belong to (sts:GetCallerIdentity needs
// no permission, so it tests only that the key and secret are valid).
func CallerIdentity(ctx context.Context, creds aws.CredentialsProvider, opts STSOptions) (Identity, error) {
	out, err := opts.client(creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "InvalidClientTokenId" || ae.ErrorCode() == "SignatureDoesNotMatch") {
			return Identity{}, fmt.Errorf("awsauth: AWS rejected the access key (%s): it was deleted, deactivated or its secret is wrong: %w", ae.ErrorCode(), err)
		}
		return Identity{}, fmt.Errorf("awsauth: sts:GetCallerIdentity: %w", err)
	}
	return Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn), UserID: aws.ToString(out.UserId)}, nil
}

// CanAssume assumes the role once (no cache) and returns the session's
// identity (an assumed-role ARN), for doctor.
func CanAssume(ctx context.Context, opts AssumeRoleOptions) (Identity, error) {
	p, err := NewAssumeRoleProvider(opts)
	if err != nil {
		return Identity{}, err
	}
	if _, err := p.Retrieve(ctx); err != nil {
		return Identity{}, err
	}
	return CallerIdentity(ctx, p, opts.STSOptions)
}
