package lwa

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Sentinels matched by *Error through errors.Is.
var (
	// ErrClientRejected: LWA answered invalid_client — the client secret
	// (or id) was refused, typically after a missed or half-done rotation.
	ErrClientRejected = errors.New("lwa: client rejected (invalid_client)")
	// ErrGrantRejected: LWA answered invalid_grant — a refresh token that was
	// revoked or is wrong, or an authorization code that expired or was used.
	ErrGrantRejected = errors.New("lwa: grant rejected (invalid_grant)")
	// ErrScopeRejected: LWA answered invalid_scope for a grantless request.
	ErrScopeRejected = errors.New("lwa: scope rejected (invalid_scope)")
	// ErrUnsupportedGrant: LWA answered unsupported_grant_type.
	ErrUnsupportedGrant = errors.New("lwa: unsupported grant type")
	// ErrInvalidRequest: LWA answered invalid_request.
	ErrInvalidRequest = errors.New("lwa: invalid request")
	// ErrUnavailable: LWA could not be reached, timed out, or answered 5xx
	// or 429. Retrying later may succeed.
	ErrUnavailable = errors.New("lwa: token endpoint unavailable")
	// ErrBadResponse: LWA answered something that is not a valid token or
	// error response (HTML, truncated JSON, no access_token, absurd
	// expires_in).
	ErrBadResponse = errors.New("lwa: malformed token response")
)

// LWA error codes (RFC 6749 §5.2) as Amazon sends them.
const (
	CodeInvalidClient        = "invalid_client"
	CodeInvalidGrant         = "invalid_grant"
	CodeInvalidScope         = "invalid_scope"
	CodeInvalidRequest       = "invalid_request"
	CodeUnsupportedGrantType = "unsupported_grant_type"
	CodeUnauthorizedClient   = "unauthorized_client"
	CodeServerError          = "server_error"
	CodeTemporarilyUnavail   = "temporarily_unavailable"
)

type errKind uint8

const (
	kindRejected    errKind = iota // LWA answered with an error code
	kindUnavailable                // transport failure, timeout, 5xx, 429
	kindBadResponse                // unparseable or invalid answer
)

// Error is a failed token request.
type Error struct {
	// Grant is the grant type that was requested: "refresh_token",
	// "client_credentials" or "authorization_code".
	Grant string
	// ClientID is the LWA client id used (not a secret); empty if unknown.
	ClientID string
	// Scope is the requested scope of a client_credentials grant.
	Scope string
	// Status is the HTTP status LWA answered; 0 when no answer arrived.
	Status int
	// Code is LWA's error code ("invalid_client", …); empty when LWA sent
	// none.
	Code string
	// Description is LWA's error_description, with anything that looks like
	// a credential we sent removed.
	Description string
	// Err is the underlying cause (transport or parse error), if any.
	Err error

	kind   errKind
	detail string // what was wrong with a bad response
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the package's sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrClientRejected:
		return e.Code == CodeInvalidClient
	case ErrGrantRejected:
		return e.Code == CodeInvalidGrant
	case ErrScopeRejected:
		return e.Code == CodeInvalidScope
	case ErrUnsupportedGrant:
		return e.Code == CodeUnsupportedGrantType
	case ErrInvalidRequest:
		return e.Code == CodeInvalidRequest
	case ErrUnavailable:
		return e.kind == kindUnavailable
	case ErrBadResponse:
		return e.kind == kindBadResponse
	}
	return false
}

// Retryable reports whether trying the same request again later may
// succeed: LWA was unreachable, overloaded or answered garbage with a
// success or server-error status. Rejections (invalid_client,
// invalid_grant, …) are not retryable; they need a fix.
func (e *Error) Retryable() bool {
	switch e.kind {
	case kindUnavailable:
		return true
	case kindBadResponse:
		return e.Status < 400 || e.Status >= 500
	}
	return false
}

// IsRetryable reports whether err is an *Error that is Retryable.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable()
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("lwa: ")
	b.WriteString(e.Grant)
	b.WriteString(" grant")
	if e.ClientID != "" {
		b.WriteString(" for client ")
		b.WriteString(e.ClientID)
	}
	b.WriteString(": ")
	b.WriteString(e.explain())
	if e.Description != "" && e.kind == kindRejected {
		fmt.Fprintf(&b, " (LWA said: %q)", e.Description)
	}
	return b.String()
}

func (e *Error) explain() string {
	switch e.kind {
	case kindUnavailable:
		if e.Status == 0 {
			return fmt.Sprintf("could not get an answer from LWA: %v; check the network, proxy and token endpoint URL, then try again", e.Err)
		}
		s := fmt.Sprintf("LWA is unavailable (HTTP %d", e.Status)
		if e.Code != "" {
			s += " " + e.Code
		}
		return s + "); try again later"
	case kindBadResponse:
		s := fmt.Sprintf("LWA answered HTTP %d with something that is not a token response: %s", e.Status, e.detail)
		if e.Status >= 400 && e.Status < 500 {
			return s + "; check the token endpoint URL and any proxy in between"
		}
		return s + "; try again later, and check the token endpoint URL if it persists"
	}
	switch e.Code {
	case CodeInvalidClient:
		return "LWA refused the client secret (invalid_client): it was rotated or has expired; run `spgate rotate` or set the new secret with `spgate app set-secret`"
	case CodeInvalidGrant:
		switch e.Grant {
		case GrantAuthorizationCode:
			return "the authorization code expired (5 minutes) or was already used; start the authorization again"
		case GrantRefreshToken:
			return "the seller's refresh token was refused (invalid_grant): it was revoked or is wrong; re-authorize the seller with `spgate seller authorize`"
		}
		return "LWA refused the grant (invalid_grant)"
	case CodeInvalidScope:
		return fmt.Sprintf("LWA refused the scope %q (invalid_scope): grantless scopes are %s, %s and %s; check the scope and that the app may use it",
			e.Scope, ScopeNotifications, ScopeClientCredentialRotation, ScopeMigration)
	case CodeUnsupportedGrantType:
		return "LWA does not accept this grant type (unsupported_grant_type); check the token endpoint URL"
	case CodeInvalidRequest:
		if e.Grant == GrantAuthorizationCode {
			return "LWA rejected the request (invalid_request): a parameter is missing or wrong; check the redirect URI matches one registered for the app"
		}
		return "LWA rejected the request (invalid_request): a parameter is missing or wrong; check the client id and token endpoint URL"
	case CodeUnauthorizedClient:
		return "LWA does not allow this app to use this grant (unauthorized_client); check the app's registration in Seller Central"
	}
	if e.Code != "" {
		return fmt.Sprintf("LWA refused the request with HTTP %d %s", e.Status, e.Code)
	}
	return fmt.Sprintf("LWA refused the request with HTTP %d", e.Status)
}

// tokenShaped matches Amazon credentials by their shape: access, refresh
// and restricted data tokens, and client secrets.
var tokenShaped = regexp.MustCompile(`Atz[a-z.]*\|[^\s"',;]*|amzn1\.oa2-cs\.v1\.[0-9A-Za-z]*`)

// scrub removes the given secrets and anything shaped like an Amazon token
// or client secret from s, limits its length and drops control characters,
// so text from the wire can go into errors and logs.
func scrub(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	s = tokenShaped.ReplaceAllString(s, "[redacted]")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	const maxLen = 300
	if len(s) > maxLen {
		s = strings.ToValidUTF8(s[:maxLen], "") + "…"
	}
	return s
}
