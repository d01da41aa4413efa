package lwa

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spgate/spgate/secret"
)

// grantCalls runs each grant once against the env's client.
var grantCalls = []struct {
	grant string
	call  func(e *env) error
}{
	{GrantRefreshToken, func(e *env) error { _, err := e.refreshSource().Token(context.Background()); return err }},
	{GrantClientCredentials, func(e *env) error {
		_, err := NewGrantlessSource(e.c, e.creds, ScopeNotifications).Token(context.Background())
		return err
	}},
	{GrantAuthorizationCode, func(e *env) error {
		_, _, err := e.c.ExchangeCode(context.Background(), e.creds, testCode, testRedirect)
		return err
	}},
}

func respondWith(status int, contentType, body string) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
		return true
	}
}

// TestAmazonAnswersGarbage: whatever LWA answers, every grant returns a
// classified error, never panics, never caches, never leaks a token.
func TestAmazonAnswersGarbage(t *testing.T) {
	const js = "application/json;charset=UTF-8"
	tests := []struct {
		name      string
		status    int
		ct, body  string
		is        error
		retryable bool
	}{
		{"html 200", 200, "text/html", "<html><body>Service Unavailable</body></html>", ErrBadResponse, true},
		{"truncated json with token", 200, js, `{"access_token":"Atza|LEAKED-TOKEN","token_type":"bea`, ErrBadResponse, true},
		{"empty body", 200, js, "", ErrBadResponse, true},
		{"json null", 200, js, "null", ErrBadResponse, true},
		{"json array", 200, js, `["Atza|LEAK"]`, ErrBadResponse, true},
		{"no access_token", 200, js, `{"token_type":"bearer","expires_in":3600,"refresh_token":"Atzr|LEAK"}`, ErrBadResponse, true},
		{"empty access_token", 200, js, `{"access_token":"","expires_in":3600,"refresh_token":"Atzr|LEAK"}`, ErrBadResponse, true},
		{"numeric access_token", 200, js, `{"access_token":12345,"expires_in":3600,"refresh_token":"Atzr|LEAK"}`, ErrBadResponse, true},
		{"no expires_in", 200, js, `{"access_token":"Atza|LEAK","refresh_token":"Atzr|LEAK"}`, ErrBadResponse, true},
		{"expires_in 0", 200, js, `{"access_token":"Atza|LEAK","expires_in":0,"refresh_token":"Atzr|LEAK"}`, ErrBadResponse, true},
		{"expires_in negative", 200, js, `{"access_token":"Atza|LEAK","expires_in":-60,"refresh_token":"Atzr|LEAK"}`, ErrBadResponse, true},
		{"expires_in absurd", 200, js, `{"access_token":"Atza|LEAK","expires_in":1000000000000,"refresh_token":"Atzr|LEAK"}`, ErrBadResponse, true},
		{"expires_in exponent", 200, js, `{"access_token":"Atza|LEAK","expires_in":1e300,"refresh_token":"Atzr|LEAK"}`, ErrBadResponse, true},
		{"expires_in text", 200, js, `{"access_token":"Atza|LEAK","expires_in":"soon","refresh_token":"Atzr|LEAK"}`, ErrBadResponse, true},
		{"error code on 200", 200, js, `{"error":"invalid_client","error_description":"Client authentication failed"}`, ErrClientRejected, false},
		{"502 html", 502, "text/html", "<html>Bad Gateway</html>", ErrUnavailable, true},
		{"503 empty", 503, "", "", ErrUnavailable, true},
		{"429", 429, js, `{"error":"too_many_requests"}`, ErrUnavailable, true},
		{"500 server_error", 500, js, `{"error":"server_error","error_description":"Internal"}`, ErrUnavailable, true},
		{"400 html", 400, "text/html", "<html>Bad Request</html>", ErrBadResponse, false},
		{"403 empty", 403, "", "", ErrBadResponse, false},
		{"description echoes secrets", 400, js, `{"error":"invalid_grant","error_description":"bad token ` + testRefresh + ` for ` + testSecret + `, issued Atza|LEAK-1 and Atz.sprdt|LEAK-2"}`, ErrGrantRejected, false},
	}
	for _, g := range grantCalls {
		for _, tt := range tests {
			t.Run(g.grant+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t)
				e.f.respond = respondWith(tt.status, tt.ct, tt.body)
				err := g.call(e)
				if !errors.Is(err, tt.is) {
					t.Fatalf("err = %v, want %v", err, tt.is)
				}
				var le *Error
				if !errors.As(err, &le) || le.Grant != g.grant {
					t.Fatalf("err %T grant %q, want *Error for %s", err, le.Grant, g.grant)
				}
				if got := IsRetryable(err); got != tt.retryable {
					t.Errorf("retryable = %v, want %v (%v)", got, tt.retryable, err)
				}
				assertNoSecrets(t, "error", err.Error(), e.f)
				assertNoSecrets(t, "error %+v", strings.ReplaceAll(errorDump(le), "Atza|LEAK", "LEAK"), e.f)
				// Not cached: the next call reaches Amazon again and succeeds.
				e.f.respond = nil
				before := e.f.requests.Load()
				if err := g.call(e); err != nil {
					t.Fatalf("after a healthy answer: %v", err)
				}
				if e.f.requests.Load() == before {
					t.Fatal("second call sent no request")
				}
			})
		}
	}
}

func errorDump(e *Error) string {
	return e.Error() + " " + e.Description + " " + e.detail
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		grant, code string
		status      int
		is          error
		want        string
	}{
		{GrantRefreshToken, "invalid_client", 401, ErrClientRejected, "LWA refused the client secret (invalid_client): it was rotated or has expired; run `spgate rotate` or set the new secret with `spgate app set-secret`"},
		{GrantRefreshToken, "invalid_grant", 400, ErrGrantRejected, "the seller's refresh token was refused (invalid_grant): it was revoked or is wrong; re-authorize the seller with `spgate seller authorize`"},
		{GrantAuthorizationCode, "invalid_grant", 400, ErrGrantRejected, "the authorization code expired (5 minutes) or was already used; start the authorization again"},
		{GrantClientCredentials, "invalid_scope", 400, ErrScopeRejected, "invalid_scope"},
		{GrantRefreshToken, "unsupported_grant_type", 400, ErrUnsupportedGrant, "unsupported_grant_type"},
		{GrantRefreshToken, "invalid_request", 400, ErrInvalidRequest, "invalid_request"},
		{GrantRefreshToken, "server_error", 500, ErrUnavailable, "try again later"},
	}
	for _, tt := range tests {
		t.Run(tt.grant+"/"+tt.code, func(t *testing.T) {
			_, err := parseResponse(tt.status, "application/json", []byte(`{"error":"`+tt.code+`","error_description":"x"}`))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v", err)
			}
			e.Grant = tt.grant
			if !errors.Is(err, tt.is) {
				t.Errorf("not %v", tt.is)
			}
			for _, other := range []error{ErrClientRejected, ErrGrantRejected, ErrScopeRejected, ErrUnsupportedGrant, ErrInvalidRequest, ErrUnavailable, ErrBadResponse} {
				if other != tt.is && errors.Is(err, other) {
					t.Errorf("also matches %v", other)
				}
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("message %q lacks %q", err.Error(), tt.want)
			}
		})
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	for _, g := range grantCalls {
		t.Run(g.grant, func(t *testing.T) {
			e := newEnv(t)
			e.c.TokenURL = url
			err := g.call(e)
			if !errors.Is(err, ErrUnavailable) || !IsRetryable(err) {
				t.Fatalf("err = %v, want retryable ErrUnavailable", err)
			}
			if !strings.Contains(err.Error(), "check the network") {
				t.Errorf("message lacks the fix: %v", err)
			}
		})
	}
}

func TestExchangeCode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok, refresh, err := e.c.ExchangeCode(ctx, e.creds, testCode, testRedirect)
	if err != nil {
		t.Fatalf("ExchangeCode: %v", err)
	}
	if tok.AccessToken.Reveal() != e.f.lastIssued() || !strings.HasPrefix(refresh.Reveal(), "Atzr|") {
		t.Fatalf("got access %v refresh hint %s", tok.AccessToken, refresh.Hint())
	}
	if !tok.Expiry.Equal(t0.Add(3600e9)) {
		t.Errorf("expiry %v, want fake now + 1h", tok.Expiry)
	}
	form := e.f.forms[0]
	for k, v := range map[string]string{"grant_type": "authorization_code", "code": testCode, "redirect_uri": testRedirect, "client_id": testClientID, "client_secret": testSecret} {
		if len(form[k]) != 1 || form[k][0] != v {
			t.Errorf("form %s = %q, want %q", k, form[k], v)
		}
	}

	// The new refresh token works with a refresh-token source.
	e.f.mu.Lock()
	e.f.refresh[refresh.Reveal()] = true
	e.f.mu.Unlock()
	if _, err := NewRefreshTokenSource(e.c, e.creds, refresh).Token(ctx); err != nil {
		t.Fatalf("refresh token from the exchange refused: %v", err)
	}

	// A code works once.
	_, again, err := e.c.ExchangeCode(ctx, e.creds, testCode, testRedirect)
	if !errors.Is(err, ErrGrantRejected) || !strings.Contains(err.Error(), "start the authorization again") || !again.IsZero() {
		t.Fatalf("reused code: err = %v", err)
	}
	if got := e.c.Counters().AuthorizationCode.Requests.Load(); got != 2 {
		t.Errorf("authorization_code requests = %d, want 2", got)
	}
}

func TestExchangeCodeRejections(t *testing.T) {
	tests := []struct {
		name         string
		code, redir  string
		creds        StaticCredentials
		is           error
		wantRequests int64
	}{
		{"wrong redirect", testCode, "https://evil.example/cb", StaticCredentials{ClientID: testClientID, ClientSecret: secret.New(testSecret)}, ErrInvalidRequest, 1},
		{"wrong secret", testCode, testRedirect, StaticCredentials{ClientID: testClientID, ClientSecret: secret.New(testSecret2)}, ErrClientRejected, 1},
		{"empty code", "", testRedirect, StaticCredentials{ClientID: testClientID, ClientSecret: secret.New(testSecret)}, ErrNoCredentials, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, _, err := e.c.ExchangeCode(context.Background(), tt.creds, tt.code, tt.redir)
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if got := e.f.requests.Load(); got != tt.wantRequests {
				t.Errorf("requests = %d, want %d", got, tt.wantRequests)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	tests := []struct{ in, want string }{
		{"code " + testCode + " used", "code [redacted] used"},
		{"token Atza|IwEB-abc123, again", "token [redacted], again"},
		{"rdt Atz.sprdt|xyz end", "rdt [redacted] end"},
		{"secret amzn1.oa2-cs.v1.0123abcd.", "secret [redacted]."},
		{"line\nbreak\x00", "line break "},
		{strings.Repeat("x", 400), strings.Repeat("x", 300) + "…"},
	}
	for _, tt := range tests {
		if got := scrub(tt.in, []string{testCode, ""}); got != tt.want {
			t.Errorf("scrub(%.20q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
