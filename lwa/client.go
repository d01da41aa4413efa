package lwa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/secret"
)

// DefaultTokenURL is Amazon's LWA token endpoint, the same for every region.
const DefaultTokenURL = "https://api.amazon.com/auth/o2/token"

// Grant types.
const (
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
)

// Grantless scopes for the client_credentials grant.
const (
	ScopeNotifications            = "sellingpartnerapi::notifications"
	ScopeClientCredentialRotation = "sellingpartnerapi::client_credential:rotation"
	ScopeMigration                = "sellingpartnerapi::migration"
)

// Defaults for Client fields left zero.
const (
	DefaultRefreshMargin = 5 * time.Minute
	DefaultFetchTimeout  = 30 * time.Second
)

// MaxExpiresIn bounds the lifetime LWA may claim for a token. LWA issues
// tokens for 3600 s; anything above a day is treated as a malformed answer
// rather than cached for that long.
const MaxExpiresIn = 24 * 60 * 60

// maxBody bounds how much of LWA's answer is read.
const maxBody = 64 << 10

// Token is an LWA access token.
type Token struct {
	AccessToken secret.String
	// Expiry is when LWA stops accepting the token, by the Client's clock.
	Expiry time.Time
}

// Client requests tokens from the LWA token endpoint. The zero value is
// ready to use against Amazon; set fields before first use and do not copy
// a Client after that.
type Client struct {
	// TokenURL is the token endpoint; empty means DefaultTokenURL.
	TokenURL string
	// HTTPClient sends the requests; nil means a client over
	// http.DefaultTransport whose Timeout is DefaultFetchTimeout, so no
	// token request (ExchangeCode with a context that never ends included)
	// waits on a stalled connection forever.
	HTTPClient *http.Client
	// Clock stamps token expiry; nil means the wall clock.
	Clock clock.Clock
	// Logger receives debug lines for each token request and warnings for
	// failures; nil discards them. Secrets never reach it.
	Logger *slog.Logger
	// RefreshMargin is how long before expiry a cached token is refreshed;
	// zero means DefaultRefreshMargin. It never exceeds half the token's
	// lifetime, so short-lived tokens are still reused.
	RefreshMargin time.Duration
	// FetchTimeout bounds one shared refresh, which runs detached from the
	// callers' contexts; zero means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// OnRequest, when set, is called after every token request (each
	// attempt, including a retry with the fallback secret).
	OnRequest func(RequestEvent)

	counters Counters
}

// RequestEvent describes one token request for metrics.
type RequestEvent struct {
	Grant    string
	ClientID string
	Status   int // 0 when no answer arrived
	Duration time.Duration
	Fallback bool  // the previous client secret was used
	Err      error // nil on success
}

// Counters count token requests. Read them with Load; they only grow.
type Counters struct {
	RefreshToken      GrantCounters
	ClientCredentials GrantCounters
	AuthorizationCode GrantCounters
	// FallbackAccepted counts requests that succeeded only with the
	// previous client secret.
	FallbackAccepted atomic.Int64
}

// GrantCounters count requests of one grant type.
type GrantCounters struct {
	Requests atomic.Int64 // HTTP requests sent
	Failures atomic.Int64 // requests that did not yield a token
}

// Counters returns the client's live counters.
func (c *Client) Counters() *Counters { return &c.counters }

func (c *Client) grantCounters(grant string) *GrantCounters {
	switch grant {
	case GrantRefreshToken:
		return &c.counters.RefreshToken
	case GrantClientCredentials:
		return &c.counters.ClientCredentials
	default:
		return &c.counters.AuthorizationCode
	}
}

// Endpoint describes the token endpoint for golang.org/x/oauth2: LWA wants
// client_id and client_secret in the form body.
func (c *Client) Endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{TokenURL: c.tokenURL(), AuthStyle: oauth2.AuthStyleInParams}
}

func (c *Client) tokenURL() string {
	if c.TokenURL == "" {
		return DefaultTokenURL
	}
	return c.TokenURL
}

// defaultHTTPClient is the HTTPClient when none is set.
var defaultHTTPClient = &http.Client{Timeout: DefaultFetchTimeout}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient == nil {
		return defaultHTTPClient
	}
	return c.HTTPClient
}

func (c *Client) clock() clock.Clock { return clock.Or(c.Clock) }

func (c *Client) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Client) margin(lifetime time.Duration) time.Duration {
	m := c.RefreshMargin
	if m <= 0 {
		m = DefaultRefreshMargin
	}
	return min(m, lifetime/2)
}

func (c *Client) fetchTimeout() time.Duration {
	if c.FetchTimeout <= 0 {
		return DefaultFetchTimeout
	}
	return c.FetchTimeout
}

// tokenResponse is a validated successful answer.
type tokenResponse struct {
	accessToken  string
	refreshToken string
	expiresIn    time.Duration
}

// request is one grant to perform with the app's credentials.
type request struct {
	grant   string
	scope   string
	secrets []string // values to scrub from anything LWA echoes
	// send performs the HTTP exchange with one client secret.
	send func(ctx context.Context, clientID, clientSecret string) (tokenResponse, int, error)
}

// do runs r with the current credentials and, when LWA refuses the client
// with invalid_client and a fallback secret is configured, once more with
// the fallback.
func (c *Client) do(ctx context.Context, creds CredentialsProvider, r request) (tokenResponse, error) {
	if creds == nil {
		return tokenResponse{}, fmt.Errorf("lwa: %s grant: no credentials provider: %w", r.grant, ErrNoCredentials)
	}
	cr, err := creds.Credentials(ctx)
	if err != nil {
		return tokenResponse{}, fmt.Errorf("lwa: %s grant: reading the app's client credentials: %w", r.grant, err)
	}
	if cr.ClientID == "" || cr.ClientSecret.IsZero() {
		return tokenResponse{}, fmt.Errorf("lwa: %s grant: the app has no client id or client secret; set them with `spgate app add` or `spgate app set-secret`: %w", r.grant, ErrNoCredentials)
	}
	r.secrets = append(r.secrets, cr.ClientSecret.Reveal(), cr.Fallback.Reveal())
	tr, err := c.attempt(ctx, cr.ClientID, cr.ClientSecret, false, r)
	if err == nil || cr.Fallback.IsZero() || cr.Fallback.Equal(cr.ClientSecret) || !errors.Is(err, ErrClientRejected) {
		return tr, err
	}
	tr, ferr := c.attempt(ctx, cr.ClientID, cr.Fallback, true, r)
	if ferr != nil {
		return tr, err // the current secret's refusal is the one to fix
	}
	c.counters.FallbackAccepted.Add(1)
	c.logger().WarnContext(ctx, "LWA refused the current client secret but accepted the previous one; finish the rotation before the previous secret expires",
		"grant", r.grant, "client_id", cr.ClientID)
	return tr, nil
}

func (c *Client) attempt(ctx context.Context, clientID string, clientSecret secret.String, fallback bool, r request) (tokenResponse, error) {
	gc := c.grantCounters(r.grant)
	gc.Requests.Add(1)
	start := time.Now()
	tr, status, err := r.send(ctx, clientID, clientSecret.Reveal())
	took := time.Since(start)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Grant, e.ClientID, e.Scope = r.grant, clientID, r.scope
			e.Description = scrub(e.Description, r.secrets)
		}
		gc.Failures.Add(1)
	}
	log := c.logger()
	if err != nil {
		log.WarnContext(ctx, "LWA token request failed", "grant", r.grant, "client_id", clientID, "status", status, "fallback_secret", fallback, "duration", took, "err", err)
	} else {
		log.DebugContext(ctx, "LWA token request", "grant", r.grant, "client_id", clientID, "status", status, "fallback_secret", fallback, "duration", took, "expires_in", tr.expiresIn)
	}
	if c.OnRequest != nil {
		c.OnRequest(RequestEvent{Grant: r.grant, ClientID: clientID, Status: status, Duration: took, Fallback: fallback, Err: err})
	}
	return tr, err
}

// post sends a form to the token endpoint and parses the answer strictly.
func (c *Client) post(ctx context.Context, form url.Values) (tokenResponse, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return tokenResponse{}, 0, &Error{kind: kindBadResponse, detail: "invalid token endpoint URL", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return tokenResponse{}, 0, &Error{kind: kindUnavailable, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return tokenResponse{}, resp.StatusCode, &Error{kind: kindUnavailable, Status: resp.StatusCode, Err: fmt.Errorf("reading LWA's answer: %w", err)}
	}
	tr, err := parseResponse(resp.StatusCode, resp.Header.Get("Content-Type"), body)
	return tr, resp.StatusCode, err
}

// wireResponse is LWA's JSON answer, success or failure.
type wireResponse struct {
	AccessToken      *string      `json:"access_token"`
	RefreshToken     string       `json:"refresh_token"`
	TokenType        string       `json:"token_type"`
	ExpiresIn        *json.Number `json:"expires_in"`
	Error            string       `json:"error"`
	ErrorDescription string       `json:"error_description"`
}

// parseResponse turns LWA's answer into a token or an *Error. It never
// includes the body in an error: a half-valid body may hold a token.
func parseResponse(status int, contentType string, body []byte) (tokenResponse, error) {
	ok := status >= 200 && status < 300
	var w wireResponse
	jerr := json.Unmarshal(body, &w)
	if jerr == nil && w.Error != "" {
		e := &Error{Status: status, Code: w.Error, Description: w.ErrorDescription}
		if status >= 500 || status == http.StatusTooManyRequests || w.Error == CodeServerError || w.Error == CodeTemporarilyUnavail {
			e.kind = kindUnavailable
		}
		return tokenResponse{}, e
	}
	if !ok && (status >= 500 || status == http.StatusTooManyRequests) {
		return tokenResponse{}, &Error{kind: kindUnavailable, Status: status}
	}
	if jerr != nil {
		mt, _, _ := mime.ParseMediaType(contentType)
		if mt == "" {
			mt = "no content type"
		}
		return tokenResponse{}, &Error{kind: kindBadResponse, Status: status, detail: fmt.Sprintf("%s body of %d bytes that is not LWA's JSON (%s)", mt, len(body), jsonProblem(jerr))}
	}
	if !ok {
		return tokenResponse{}, &Error{kind: kindBadResponse, Status: status, detail: "an error status without an error code"}
	}
	return validate(valueOr(w.AccessToken), w.RefreshToken, w.ExpiresIn)
}

func valueOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// jsonProblem describes a decoding error without quoting the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has a %s instead of a %s", te.Field, te.Value, te.Type)
	case errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected end of JSON input"):
		return "truncated JSON"
	}
	return "undecodable JSON"
}

func validate(access, refresh string, expiresIn *json.Number) (tokenResponse, error) {
	if access == "" {
		return tokenResponse{}, &Error{kind: kindBadResponse, Status: 200, detail: "no access_token"}
	}
	if expiresIn == nil {
		return tokenResponse{}, &Error{kind: kindBadResponse, Status: 200, detail: "no expires_in"}
	}
	n, err := expiresIn.Int64()
	if err != nil {
		f, ferr := expiresIn.Float64()
		if ferr != nil || f != f {
			return tokenResponse{}, &Error{kind: kindBadResponse, Status: 200, detail: "expires_in is not a number"}
		}
		n = int64(min(max(f, -1), MaxExpiresIn+1))
	}
	return validateSeconds(access, refresh, n)
}

func validateSeconds(access, refresh string, n int64) (tokenResponse, error) {
	if n <= 0 || n > MaxExpiresIn {
		return tokenResponse{}, &Error{kind: kindBadResponse, Status: 200, detail: fmt.Sprintf("expires_in %d is outside 1…%d seconds", n, MaxExpiresIn)}
	}
	return tokenResponse{accessToken: access, refreshToken: refresh, expiresIn: time.Duration(n) * time.Second}, nil
}

// refresh performs the refresh_token grant.
func (c *Client) refresh(ctx context.Context, creds CredentialsProvider, refreshToken secret.String) (Token, error) {
	if refreshToken.IsZero() {
		return Token{}, fmt.Errorf("lwa: refresh_token grant: the seller has no refresh token; authorize the seller with `spgate seller authorize`: %w", ErrNoCredentials)
	}
	start := c.clock().Now()
	tr, err := c.do(ctx, creds, request{
		grant:   GrantRefreshToken,
		secrets: []string{refreshToken.Reveal()},
		send: func(ctx context.Context, id, sec string) (tokenResponse, int, error) {
			return c.post(ctx, url.Values{
				"grant_type":    {GrantRefreshToken},
				"refresh_token": {refreshToken.Reveal()},
				"client_id":     {id},
				"client_secret": {sec},
			})
		},
	})
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: secret.New(tr.accessToken), Expiry: start.Add(tr.expiresIn)}, nil
}

// grantless performs the client_credentials grant for scope.
func (c *Client) grantless(ctx context.Context, creds CredentialsProvider, scope string) (Token, error) {
	start := c.clock().Now()
	tr, err := c.do(ctx, creds, request{
		grant: GrantClientCredentials,
		scope: scope,
		send: func(ctx context.Context, id, sec string) (tokenResponse, int, error) {
			return c.post(ctx, url.Values{
				"grant_type":    {GrantClientCredentials},
				"scope":         {scope},
				"client_id":     {id},
				"client_secret": {sec},
			})
		},
	})
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: secret.New(tr.accessToken), Expiry: start.Add(tr.expiresIn)}, nil
}

// ExchangeCode performs the authorization_code grant of the OAuth website
// flow: code is the spapi_oauth_code Amazon passed to redirectURI, which
// must be the redirect URI the flow used. It returns the first access token
// and the seller's refresh token, which the caller stores. A code is valid
// for 5 minutes and only once.
func (c *Client) ExchangeCode(ctx context.Context, creds CredentialsProvider, code, redirectURI string) (Token, secret.String, error) {
	if code == "" {
		return Token{}, secret.String{}, fmt.Errorf("lwa: authorization_code grant: the authorization code is empty; pass the spapi_oauth_code from the redirect: %w", ErrNoCredentials)
	}
	start := c.clock().Now()
	tr, err := c.do(ctx, creds, request{
		grant:   GrantAuthorizationCode,
		secrets: []string{code},
		send: func(ctx context.Context, id, sec string) (tokenResponse, int, error) {
			return c.exchange(ctx, id, sec, code, redirectURI)
		},
	})
	if err != nil {
		return Token{}, secret.String{}, err
	}
	return Token{AccessToken: secret.New(tr.accessToken), Expiry: start.Add(tr.expiresIn)}, secret.New(tr.refreshToken), nil
}

// exchange uses x/oauth2's Config.Exchange, the standard authorization-code
// exchange, and maps its results onto this package's strict rules.
func (c *Client) exchange(ctx context.Context, clientID, clientSecret, code, redirectURI string) (tokenResponse, int, error) {
	cfg := &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: c.Endpoint(), RedirectURL: redirectURI}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.httpClient())
	tok, err := cfg.Exchange(ctx, code)
	if err != nil {
		e := fromOAuth2Error(err)
		return tokenResponse{}, e.Status, e
	}
	tr, verr := validateSeconds(tok.AccessToken, tok.RefreshToken, tok.ExpiresIn)
	if verr != nil {
		return tokenResponse{}, http.StatusOK, verr
	}
	if tr.refreshToken == "" {
		return tokenResponse{}, http.StatusOK, &Error{kind: kindBadResponse, Status: http.StatusOK, detail: "no refresh_token in the answer to an authorization code"}
	}
	return tr, http.StatusOK, nil
}

// fromOAuth2Error classifies an error from x/oauth2. Its own messages may
// quote the response body, so they are never passed on verbatim.
func fromOAuth2Error(err error) *Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		ct := ""
		if re.Response != nil {
			status = re.Response.StatusCode
			ct = re.Response.Header.Get("Content-Type")
		}
		if re.ErrorCode == "" {
			// Not an OAuth error body: classify by status as the own path does.
			_, perr := parseResponse(status, ct, re.Body)
			var e *Error
			if errors.As(perr, &e) {
				return e
			}
			return &Error{kind: kindBadResponse, Status: status, detail: "an error status without an error code"}
		}
		e := &Error{Status: status, Code: re.ErrorCode, Description: re.ErrorDescription}
		if status >= 500 || status == http.StatusTooManyRequests || re.ErrorCode == CodeServerError || re.ErrorCode == CodeTemporarilyUnavail {
			e.kind = kindUnavailable
		}
		return e
	}
	var ue *url.Error
	if errors.As(err, &ue) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{kind: kindUnavailable, Err: err}
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "missing access_token"):
		return &Error{kind: kindBadResponse, Status: http.StatusOK, detail: "no access_token"}
	case strings.Contains(msg, "cannot fetch token"):
		// x/oauth2 failed reading the body: the connection broke.
		return &Error{kind: kindUnavailable, Err: errors.New("the connection broke while reading LWA's answer")}
	}
	return &Error{kind: kindBadResponse, Status: http.StatusOK, detail: "a body that is not LWA's JSON"}
}
