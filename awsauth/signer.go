package awsauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/spgate/spgate/clock"
)

// DefaultService is the SigV4 service name SP-API used.
const DefaultService = "execute-api"

// RegionForHost maps an SP-API host to the AWS region its requests are
// signed in: sellingpartnerapi-na → us-east-1, -eu → eu-west-1, -fe →
// us-west-2 (sandbox hosts too).
func RegionForHost(host string) (string, bool) {
	host = strings.ToLower(host)
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	for code, region := range map[string]string{"na": "us-east-1", "eu": "eu-west-1", "fe": "us-west-2"} {
		if strings.Contains(host, "sellingpartnerapi-"+code+".") {
			return region, true
		}
	}
	return "", false
}

// SignerOptions configures NewSigner.
type SignerOptions struct {
	// Region to sign in; when empty it is derived from the request's host
	// (RegionForHost), and a host it cannot map is an error.
	Region string
	// Service defaults to execute-api.
	Service string
	// Clock is the local time source; default the wall clock.
	Clock clock.Clock
	// SkewThreshold: a response Date this far from local time (after the
	// current correction) adjusts the correction; default 5 minutes, AWS's
	// own tolerance.
	SkewThreshold time.Duration
	// Logger receives clock-skew corrections at info level.
	Logger *slog.Logger
}

// Signer is an http.RoundTripper that signs each request with SigV4 before
// passing it on, and corrects for local clock skew when AWS says so.
type Signer struct {
	next   http.RoundTripper
	creds  aws.CredentialsProvider
	opts   SignerOptions
	signer *v4.Signer

	mu     sync.Mutex
	offset time.Duration // server time minus local time
}

// NewSigner wraps next (nil: http.DefaultTransport) so every request is
// signed with creds (typically NewAssumeRoleProvider's cache).
func NewSigner(next http.RoundTripper, creds aws.CredentialsProvider, opts SignerOptions) *Signer {
	if next == nil {
		next = http.DefaultTransport
	}
	if opts.Service == "" {
		opts.Service = DefaultService
	}
	opts.Clock = clock.Or(opts.Clock)
	if opts.SkewThreshold <= 0 {
		opts.SkewThreshold = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Signer{next: next, creds: creds, opts: opts, signer: v4.NewSigner()}
}

// ClockOffset is the correction currently applied to the local clock when
// signing (server time minus local time).
func (s *Signer) ClockOffset() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset
}

// RoundTrip signs a copy of req and sends it. The body is read once to hash
// it and handed on intact; req itself is not modified. When AWS answers that
// the signature's time is off (RequestTimeTooSkewed, "Signature expired")
// it corrects the clock from the response's Date header and retries once.
func (s *Signer) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("awsauth: read request body to sign it: %w", err)
		}
	}
	region := s.opts.Region
	if region == "" {
		host := req.Host
		if host == "" {
			host = req.URL.Host
		}
		var ok bool
		if region, ok = RegionForHost(host); !ok {
			return nil, fmt.Errorf("awsauth: cannot tell which AWS region to sign %s in: set the signer's region (us-east-1 for NA, eu-west-1 for EU, us-west-2 for FE)", host)
		}
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])

	resp, err := s.send(req, body, hash, region)
	if err != nil {
		return nil, err
	}
	if s.learnSkew(resp) {
		resp.Body.Close()
		return s.send(req, body, hash, region)
	}
	return resp, nil
}

func (s *Signer) send(req *http.Request, body []byte, hash, region string) (*http.Response, error) {
	ctx := req.Context()
	out := req.Clone(ctx)
	if body != nil {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		out.ContentLength = int64(len(body))
	}
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		out.Header.Del(h)
	}
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("awsauth: credentials for signing: %w", err)
	}
	at := s.opts.Clock.Now().Add(s.ClockOffset()).UTC()
	if err := s.signer.SignHTTP(ctx, creds, out, hash, s.opts.Service, region, at); err != nil {
		return nil, fmt.Errorf("awsauth: sign request: %w", err)
	}
	return s.next.RoundTrip(out)
}

// learnSkew updates the clock correction from resp and reports whether the
// request failed because of the time and should be retried.
func (s *Signer) learnSkew(resp *http.Response) bool {
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return false
	}
	now := s.opts.Clock.Now()
	observed := date.Sub(now)
	skewErr := false
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		if err == nil {
			text := string(b)
			skewErr = strings.Contains(text, "RequestTimeTooSkewed") || strings.Contains(text, "Signature expired") ||
				strings.Contains(text, "Signature not yet current") || strings.Contains(text, "RequestExpired")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	drift := observed - s.offset
	if drift < 0 {
		drift = -drift
	}
	// Date has one-second resolution; below that there is nothing to learn.
	if !skewErr && drift <= s.opts.SkewThreshold || drift < time.Second {
		return false
	}
	s.opts.Logger.Info("awsauth: correcting for local clock skew", "offset", observed.Round(time.Second).String(), "after_error", skewErr)
	s.offset = observed
	return skewErr
}

var _ http.RoundTripper = (*Signer)(nil)
