package lwa

import (
	"context"
	"errors"

	"github.com/spgate/spgate/secret"
)

// Credentials are an LWA application's client credentials.
type Credentials struct {
	// ClientID is the app's LWA client id
	// (amzn1.application-oa2-client.<32 hex>). It is not a secret.
	ClientID string
	// ClientSecret is the current client secret.
	ClientSecret secret.String
	// Fallback, when set, is the previous client secret. During a rotation
	// Amazon keeps the old secret valid for about a week; when LWA refuses
	// ClientSecret with invalid_client, the request is tried once more with
	// Fallback.
	Fallback secret.String
}

// CredentialsProvider supplies the current credentials on every token
// request, so a rotated client secret takes effect without rebuilding token
// sources. Implementations must be safe for concurrent use.
type CredentialsProvider interface {
	Credentials(ctx context.Context) (Credentials, error)
}

// StaticCredentials is a CredentialsProvider that always returns itself.
type StaticCredentials Credentials

// Credentials returns c.
func (c StaticCredentials) Credentials(context.Context) (Credentials, error) {
	return Credentials(c), nil
}

// CredentialsFunc adapts a function to CredentialsProvider.
type CredentialsFunc func(ctx context.Context) (Credentials, error)

// Credentials calls f.
func (f CredentialsFunc) Credentials(ctx context.Context) (Credentials, error) { return f(ctx) }

// ErrNoCredentials reports that a token request could not be made because a
// client id, client secret, refresh token or code is missing locally.
var ErrNoCredentials = errors.New("lwa: credentials missing")
