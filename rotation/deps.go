package rotation

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/spapi/appmgmt"
	"github.com/spgate/spgate/vault"
)

// Queue is the part of the SQS client the rotator uses; *sqs.Client
// implements it.
type Queue interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// QueueFactory returns the SQS client that reads app's notification queue.
type QueueFactory func(ctx context.Context, app vault.App) (Queue, error)

// Requester asks Amazon for a new client secret
// (rotateApplicationClientSecret). It must not return before Amazon answered.
type Requester func(ctx context.Context, app vault.App) error

// Verifier proves that clientID and s are accepted by LWA. Its error must
// never contain s.
type Verifier func(ctx context.Context, clientID string, s secret.String) error

// SQSQueues returns a QueueFactory for real SQS (or moto with endpoint set):
// credentials are the app's stored IAM user keys when the vault holds them,
// else the AWS default chain (environment, shared config, instance role);
// the region comes from the queue URL (sqs.<region>.amazonaws.com).
func SQSQueues(endpoint string) QueueFactory {
	return SQSQueuesWith(SQSOptions{Endpoint: endpoint})
}

// SQSOptions configure SQSQueuesWith.
type SQSOptions struct {
	// Endpoint overrides the SQS base URL (moto, LocalStack); empty is AWS.
	Endpoint string
	// Region is the queue's AWS region when its URL does not name one
	// (moto's and LocalStack's URLs do not); empty falls back to the URL,
	// then us-east-1.
	Region string
}

// SQSQueuesWith is SQSQueues with a region for queue URLs that do not name
// theirs.
func SQSQueuesWith(o SQSOptions) QueueFactory {
	return func(ctx context.Context, app vault.App) (Queue, error) {
		region := o.Region
		if r, ok := urlRegion(app.SQSQueueURL); ok || region == "" {
			region = r
		}
		var cfg aws.Config
		if app.AWSAccessKeyID != "" && !app.AWSSecretKey.Value.IsZero() {
			cfg = aws.Config{
				Region:      region,
				Credentials: credentials.NewStaticCredentialsProvider(app.AWSAccessKeyID, app.AWSSecretKey.Value.Reveal(), ""),
				HTTPClient:  &http.Client{Timeout: 60 * time.Second},
			}
		} else {
			var err error
			cfg, err = awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
			if err != nil {
				return nil, fmt.Errorf("loading AWS credentials for the SQS queue: %w (store the IAM user's keys with `spgate setup aws` or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)", err)
			}
		}
		if o.Endpoint != "" {
			cfg.BaseEndpoint = aws.String(o.Endpoint)
		}
		return sqs.NewFromConfig(cfg), nil
	}
}

// queueRegion reads the region of https://sqs.<region>.amazonaws.com/…;
// anything else is us-east-1.
func queueRegion(queueURL string) string {
	r, _ := urlRegion(queueURL)
	return r
}

// urlRegion is queueRegion, and whether the URL named the region.
func urlRegion(queueURL string) (string, bool) {
	u, err := url.Parse(queueURL)
	if err == nil {
		parts := strings.Split(u.Hostname(), ".")
		if len(parts) >= 4 && parts[0] == "sqs" && parts[len(parts)-2] == "amazonaws" {
			return parts[1], true
		}
	}
	return "us-east-1", false
}

// Unreachable reports whether err is a failure to reach a service at all
// (DNS, connection refused or reset, TLS, timeout) rather than its answer:
// such errors say nothing about keys or permissions.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var dns *net.DNSError
	var op *net.OpError
	var ne net.Error
	var ue *url.Error
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &dns), errors.As(err, &op), errors.As(err, &cv), errors.As(err, &rh):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	case errors.As(err, &ue):
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return false
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// endpointOf names where an SQS call for queueURL goes.
func endpointOf(queueURL, endpoint string) string {
	if endpoint != "" {
		return endpoint
	}
	if u, err := url.Parse(queueURL); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return queueURL
}

// LWAVerifier checks a client secret with a real LWA grant: client_credentials
// with scope sellingpartnerapi::notifications (no seller needed). An empty
// tokenURL means Amazon's.
func LWAVerifier(tokenURL string, hc *http.Client, clk clock.Clock) Verifier {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return func(ctx context.Context, clientID string, s secret.String) error {
		c := &lwa.Client{TokenURL: tokenURL, HTTPClient: hc, Clock: clk}
		src := lwa.NewGrantlessSource(c, lwa.StaticCredentials{ClientID: clientID, ClientSecret: s}, lwa.ScopeNotifications)
		_, err := src.Token(ctx)
		return err
	}
}

// SPAPIRequester calls rotateApplicationClientSecret through an spapi.Client
// for the app (grantless token, rotation scope), with the app's credentials
// read from v (current secret, previous as fallback). It calls Sending just
// before the request leaves, below rate limiting and authorization.
func SPAPIRequester(v *vault.Vault, ep spapi.Endpoints, base http.RoundTripper, clk clock.Clock, log *slog.Logger) Requester {
	return func(ctx context.Context, app vault.App) error {
		aware(ctx)
		if base == nil {
			t := http.DefaultTransport.(*http.Transport).Clone()
			base = t
		}
		c, err := spapi.New(spapi.Config{
			AppID:       app.AppID,
			Credentials: VaultCredentials{Vault: v, App: app.Name, Clock: clk},
			Endpoints:   ep,
			// Below rate limiting and authorization: the rotation call is
			// recorded as asked only when it is handed to the network.
			Base:        wireTransport{next: base},
			Clock:       clk,
			Logger:      log,
			MaxAttempts: 3,
		})
		if err != nil {
			return err
		}
		region := spapi.Region(app.Region)
		if region == "" {
			region = spapi.NA
		}
		return appmgmt.New(c).RotateClientSecret(ctx, region)
	}
}

// VaultCredentials is an lwa.CredentialsProvider that re-reads the app's
// secrets from the vault on every token request: the current secret, and
// the previous one (until its expiry) as Fallback. Calls made while a
// rotation replaces the secret therefore keep working.
type VaultCredentials struct {
	Vault *vault.Vault
	App   string
	Clock clock.Clock
}

// Credentials reads the app's client id, current and previous secret.
func (c VaultCredentials) Credentials(ctx context.Context) (lwa.Credentials, error) {
	a, err := c.Vault.GetApp(ctx, c.App)
	if err != nil {
		return lwa.Credentials{}, fmt.Errorf("reading app %s's client secret from the vault: %w", c.App, err)
	}
	cur, ok := a.CurrentSecret()
	if !ok {
		return lwa.Credentials{}, fmt.Errorf("app %s has no client secret: store one with `spgate app set-secret %s`: %w", c.App, c.App, lwa.ErrNoCredentials)
	}
	cr := lwa.Credentials{ClientID: a.ClientID, ClientSecret: cur.Value}
	if prev, ok := a.PreviousSecret(); ok && !prev.Expired(clock.Or(c.Clock).Now()) {
		cr.Fallback = prev.Value
	}
	return cr, nil
}

// definiteAnswer reports whether err is Amazon's answer (so the request is
// known to have failed), not a lost connection after which Amazon may or may
// not have rotated.
func definiteAnswer(err error) bool {
	var ae *spapi.APIError
	if errors.As(err, &ae) {
		return ae.Status >= 400 && ae.Status < 500
	}
	var le *lwa.Error
	return errors.As(err, &le) && !le.Retryable()
}
