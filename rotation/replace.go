package rotation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// ReplaceOptions are the choices of Replace.
type ReplaceOptions struct {
	// Verify proves the new secret with LWA before it is stored (see
	// LWAVerifier); nil stores it unchecked.
	Verify Verifier
	// KeepOld keeps the replaced secret as the previous one, LWA's
	// fallback, for this long (Amazon keeps an old secret valid for a while
	// after a rotation); 0 discards it.
	KeepOld time.Duration
	Clock   clock.Clock
}

// Replaced says what Replace stored. It holds no secret value.
type Replaced struct {
	App      vault.App    // the app, as it was before
	Secret   vault.Secret // the new current secret's metadata
	Verified bool         // LWA accepted the secret before it was stored
}

// SameSecretError is Replace's answer for the secret the app already uses.
type SameSecretError struct {
	App     string
	Version int
}

// Error says nothing changes.
func (e *SameSecretError) Error() string {
	return fmt.Sprintf("that client secret is already app %s's current secret (v%d); nothing to change", e.App, e.Version)
}

// Unwrap returns vault.ErrInvalid: the secret is no replacement.
func (e *SameSecretError) Unwrap() error { return vault.ErrInvalid }

// RejectedError is Replace's answer when LWA did not accept the new
// secret: nothing was stored.
type RejectedError struct {
	ClientID string
	Err      error
}

// Error says why LWA did not accept the secret.
func (e *RejectedError) Error() string {
	return fmt.Sprintf("LWA did not accept the new client secret for client id %s: %v", e.ClientID, e.Err)
}

// Unwrap returns the verifier's error.
func (e *RejectedError) Unwrap() error { return e.Err }

// Replace makes s the current client secret of the app appRef names: a
// secret obtained outside a rotation, such as one generated in Seller
// Central. With Verify it first asks LWA for a grantless token with s, so
// a mistyped secret never replaces a working one.
func Replace(ctx context.Context, v *vault.Vault, appRef string, s secret.String, o ReplaceOptions) (Replaced, error) {
	a, err := v.GetApp(ctx, appRef)
	if err != nil {
		return Replaced{}, err
	}
	if cur, ok := a.CurrentSecret(); ok && cur.Value.Equal(s) {
		return Replaced{}, &SameSecretError{App: a.Name, Version: cur.Version}
	}
	r := Replaced{App: a}
	if o.Verify != nil {
		if err := o.Verify(ctx, a.ClientID, s); err != nil {
			return Replaced{}, &RejectedError{ClientID: a.ClientID, Err: explainRejection(a.ClientID, err)}
		}
		r.Verified = true
	}
	ch := vault.SecretChange{Verified: r.Verified}
	if o.KeepOld > 0 {
		ch.PreviousExpiresAt = clock.Or(o.Clock).Now().Add(o.KeepOld)
	}
	if r.Secret, err = v.SetClientSecret(ctx, a.Name, s, ch); err != nil {
		return Replaced{}, err
	}
	return r, nil
}

// explainRejection says what LWA's refusal of a new secret means.
func explainRejection(clientID string, err error) error {
	if errors.Is(err, lwa.ErrClientRejected) {
		return fmt.Errorf("LWA refused client id %s with this secret (invalid_client): copy the current secret from Seller Central → Develop Apps → View and try again: %w", clientID, err)
	}
	return fmt.Errorf("checking the client secret with LWA: %w", err)
}
