// Package credstate keeps one credential state per seller of an app: the
// seller's refresh token as the vault holds it now, the access token it
// yields, and whether Amazon still accepts the authorization and the app's
// client secret. The library (spapi), the gateway, its readiness probe and
// its metrics read the same state, so they agree on what is true.
//
// It follows the vault: Reload (called when the vault's change counter
// moves, see vault.WatchChanges) re-reads the refresh tokens it holds and
// starts afresh for any seller whose token changed or was removed.
//
// It follows Amazon: an invalid_grant answer marks the seller's
// authorization revoked, an invalid_client answer (after the previous
// secret was tried too) marks the app's secret invalid. Either is
// remembered and retried with exponential backoff — one LWA request per
// backoff window, however many calls arrive — instead of per call.
package credstate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/tokencache"
)

// Status is what is known of a seller's authorization.
type Status string

// Statuses, from best to worst.
const (
	// Unknown: no token was requested yet (or the refresh token changed).
	Unknown Status = "unknown"
	// Live: LWA issued a token for the current refresh token.
	Live Status = "live"
	// Unreachable: the last refresh failed for a reason that may pass
	// (LWA down, timeout); calls keep trying.
	Unreachable Status = "unreachable"
	// Revoked: LWA refused the refresh token (invalid_grant): the seller
	// must authorize the app again.
	Revoked Status = "authorization_revoked"
	// SecretInvalid: LWA refused the app's client secret (invalid_client),
	// the previous secret included: rotate or replace it.
	SecretInvalid Status = "app_secret_invalid"
)

// Errors matched by *DeadError through errors.Is.
var (
	ErrAuthorizationRevoked = errors.New("credstate: the seller's authorization is revoked")
	ErrAppSecretInvalid     = errors.New("credstate: the app's client secret is refused")
)

// DeadError says a token cannot be had until someone fixes the
// authorization or the secret. Cause is LWA's answer that established it.
type DeadError struct {
	Seller  string
	Status  Status // Revoked or SecretInvalid
	Cause   error
	RetryAt time.Time // when LWA will be asked again
}

// Error implements the error interface.
func (e *DeadError) Error() string {
	if e.Status == SecretInvalid {
		return fmt.Sprintf("LWA refuses the app's client secret (invalid_client), the previous one too: it expired or was rotated elsewhere; run `spgate rotate` or store the new secret with `spgate app set-secret` (LWA is asked again at %s)",
			e.RetryAt.UTC().Format(time.TimeOnly))
	}
	return fmt.Sprintf("seller %s's authorization of the app is revoked or its refresh token is wrong (invalid_grant): the seller must authorize the app again (`spgate seller authorize`) or its new refresh token be stored (`spgate seller add`); LWA is asked again at %s",
		e.Seller, e.RetryAt.UTC().Format(time.TimeOnly))
}

// Is matches ErrAuthorizationRevoked or ErrAppSecretInvalid.
func (e *DeadError) Is(target error) bool {
	return e.Status == Revoked && target == ErrAuthorizationRevoked ||
		e.Status == SecretInvalid && target == ErrAppSecretInvalid
}

// Unwrap returns LWA's answer.
func (e *DeadError) Unwrap() error { return e.Cause }

// RefreshTokenFunc returns the seller's current refresh token for the app
// (from the vault). An error wrapping ErrNoSeller means the seller is gone.
type RefreshTokenFunc func(ctx context.Context, seller string) (secret.String, error)

// ErrNoSeller is wrapped by a RefreshTokenFunc error when the seller (or
// its authorization of the app) does not exist.
var ErrNoSeller = errors.New("credstate: no such seller authorization")

// Options configure a Store. LWA, Credentials and RefreshToken are required.
type Options struct {
	LWA          *lwa.Client
	Credentials  lwa.CredentialsProvider
	RefreshToken RefreshTokenFunc
	Clock        clock.Clock
	Logger       *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between LWA requests for a
	// dead authorization or secret (defaults 1 minute and 30 minutes).
	MinBackoff, MaxBackoff time.Duration
	// Shared, when set, shares the sellers' access tokens with the other
	// processes using it (appvault.TokenCache: every spgate process on
	// the vault), so that they make one refresh per seller and token
	// lifetime among them. Nil keeps them in this process. The in-memory
	// token is still served without asking it.
	Shared tokencache.Shared
	// App is the app id; with Shared it is part of every token's key, so
	// apps sharing a cache never share a token. Required with Shared.
	App string
}

// Store holds the credential state of an app's sellers. It is safe for
// concurrent use.
type Store struct {
	o   Options
	clk clock.Clock
	log *slog.Logger

	mu      sync.Mutex
	sellers map[string]*entry
	app     deadness          // the client secret's state
	appHash [sha256.Size]byte // hash of the credentials app was judged on
}

// deadness is a remembered refusal and its backoff.
type deadness struct {
	status  Status // "" while alive
	since   time.Time
	nextTry time.Time
	backoff time.Duration
	probing bool // a caller is asking LWA again
	cause   error
}

type entry struct {
	seller  string
	token   secret.String // the refresh token src was built from
	src     *lwa.CachedSource
	status  Status
	since   time.Time
	lastErr string
	dead    deadness
}

// New returns a Store.
func New(o Options) *Store {
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Minute
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Minute, o.MinBackoff)
	}
	s := &Store{o: o, clk: clock.Or(o.Clock), log: o.Logger, sellers: map[string]*entry{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if o.Shared != nil && o.App == "" {
		// Keys without the app would mix apps' tokens: share nothing.
		s.o.Shared = nil
		s.log.Warn("credstate: a shared token cache without Options.App is not used; tokens stay in this process")
	}
	return s
}

// Token returns an access token for the seller: the cached one, a fresh
// one, or at once a *DeadError while the seller's authorization or the
// app's secret is known to be refused and its next check is not due.
func (s *Store) Token(ctx context.Context, seller string) (lwa.Token, error) {
	e, err := s.entry(ctx, seller)
	if err != nil {
		return lwa.Token{}, err
	}
	now := s.clk.Now()
	s.mu.Lock()
	probeApp, derr := s.admit(&s.app, seller, now)
	if derr != nil {
		s.mu.Unlock()
		return lwa.Token{}, derr
	}
	probeSeller, derr := s.admit(&e.dead, seller, now)
	if derr != nil {
		if probeApp {
			s.app.probing = false
		}
		s.mu.Unlock()
		return lwa.Token{}, derr
	}
	src := e.src
	s.mu.Unlock()

	tok, err := src.Token(ctx)
	s.settle(e, probeApp, probeSeller, err)
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case s.app.status != "":
			return lwa.Token{}, s.app.err(seller)
		case e.dead.status != "" && e.src == src:
			return lwa.Token{}, e.dead.err(seller)
		}
		return lwa.Token{}, err
	}
	return tok, nil
}

// Err returns the *DeadError a call for the seller would get now without
// asking LWA — its authorization or the app's secret is known refused and
// the next check is not due — or nil. Callers check it before spending a
// rate-limit slot on a call that cannot be authorized.
func (s *Store) Err(seller string) error {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := &s.app; d.status != "" && (d.probing || now.Before(d.nextTry)) {
		return d.err(seller)
	}
	if e := s.sellers[seller]; e != nil {
		if d := &e.dead; d.status != "" && (d.probing || now.Before(d.nextTry)) {
			return d.err(seller)
		}
	}
	return nil
}

// admit decides whether a call may ask LWA given d. While d is dead and
// its next check is not due, it returns d's error; when the check is due,
// the caller becomes the one probe of this window (probe true).
func (s *Store) admit(d *deadness, seller string, now time.Time) (probe bool, err error) {
	if d.status == "" {
		return false, nil
	}
	if d.probing || now.Before(d.nextTry) {
		return false, d.err(seller)
	}
	d.probing = true
	return true, nil
}

func (d *deadness) err(seller string) error {
	return &DeadError{Seller: seller, Status: d.status, Cause: d.cause, RetryAt: d.nextTry}
}

// settle records the outcome of a token request.
func (s *Store) settle(e *entry, probeApp, probeSeller bool, err error) {
	now := s.clk.Now()
	var hash [sha256.Size]byte
	if errors.Is(err, lwa.ErrClientRejected) {
		hash = s.credentialsHash()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if probeApp {
		s.app.probing = false
	}
	if probeSeller {
		e.dead.probing = false
	}
	switch {
	case err == nil:
		if s.app.status != "" {
			s.log.Info("LWA accepts the app's client secret again")
		}
		s.app = deadness{}
		if e.dead.status != "" {
			s.log.Info("LWA accepts the seller's refresh token again", "seller", e.seller)
		}
		e.dead = deadness{}
		s.setStatus(e, Live, "", now)
	case errors.Is(err, lwa.ErrClientRejected):
		if s.app.kill(err, now, s.o.MinBackoff, s.o.MaxBackoff, probeApp) {
			s.log.Error("LWA refuses the app's client secret; token requests pause", "retry_at", s.app.nextTry, "error", err.Error())
		}
		s.appHash = hash
		s.setStatus(e, SecretInvalid, err.Error(), now)
	case errors.Is(err, lwa.ErrGrantRejected):
		if e.dead.kill(err, now, s.o.MinBackoff, s.o.MaxBackoff, probeSeller) {
			s.log.Error("LWA refuses the seller's refresh token; token requests for it pause", "seller", e.seller, "retry_at", e.dead.nextTry, "error", err.Error())
		}
		s.setStatus(e, Revoked, err.Error(), now)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller gave up; nothing learnt about the credentials.
	default:
		s.setStatus(e, Unreachable, err.Error(), now)
	}
}

// kill marks d dead (or, for a failed probe, doubles its backoff) and
// reports whether it was alive before.
func (d *deadness) kill(cause error, now time.Time, minB, maxB time.Duration, probe bool) bool {
	wasAlive := d.status == ""
	switch {
	case wasAlive:
		d.status, d.since, d.backoff = statusOf(cause), now, minB
	case probe:
		d.backoff = min(2*d.backoff, maxB)
	default:
		return false // many callers shared the request that failed
	}
	d.cause, d.nextTry = cause, now.Add(d.backoff)
	return wasAlive
}

func statusOf(err error) Status {
	if errors.Is(err, lwa.ErrClientRejected) {
		return SecretInvalid
	}
	return Revoked
}

func (s *Store) setStatus(e *entry, st Status, msg string, now time.Time) {
	if e.status != st {
		e.status, e.since = st, now
	}
	e.lastErr = msg
}

// Invalidate drops the seller's cached access token if it is accessToken
// (Amazon answered that it expired, was revoked or is invalid), so the
// next Token call gets a fresh one.
func (s *Store) Invalidate(seller, accessToken string) {
	s.mu.Lock()
	e := s.sellers[seller]
	s.mu.Unlock()
	if e != nil {
		e.src.Invalidate(accessToken)
	}
}

// Forget drops what is known of the seller; the next call reads its
// refresh token again.
func (s *Store) Forget(seller string) {
	s.mu.Lock()
	delete(s.sellers, seller)
	s.mu.Unlock()
}

// entry returns the seller's state, reading its refresh token on first use.
func (s *Store) entry(ctx context.Context, seller string) (*entry, error) {
	s.mu.Lock()
	e := s.sellers[seller]
	s.mu.Unlock()
	if e != nil {
		return e, nil
	}
	tok, err := s.o.RefreshToken(ctx, seller)
	if err != nil {
		return nil, err
	}
	if tok.IsZero() {
		return nil, fmt.Errorf("seller %s has no refresh token for this app: authorize it with `spgate seller authorize` or `spgate seller add`: %w", seller, ErrNoSeller)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.sellers[seller]; e != nil {
		return e, nil
	}
	e = s.newEntry(seller, tok)
	s.sellers[seller] = e
	return e, nil
}

func (s *Store) newEntry(seller string, tok secret.String) *entry {
	src := lwa.NewRefreshTokenSource(s.o.LWA, s.o.Credentials, tok, lwa.WithShared(s.o.Shared, SharedKey(s.o.App, seller, tok)))
	return &entry{seller: seller, token: tok, src: src, status: Unknown, since: s.clk.Now()}
}

// SharedKey is the shared token cache's key of the access token that
// refreshToken yields for the seller and the app: a digest of the refresh
// token, not the token, so a replaced refresh token never gets the old
// one's access token and the key shows no secret.
func SharedKey(app, seller string, refreshToken secret.String) string {
	d := sha256.Sum256([]byte(refreshToken.Reveal()))
	return "lwa|" + app + "|" + seller + "|" + hex.EncodeToString(d[:16])
}

// Reload re-reads the refresh token of every seller it holds: a seller
// whose token changed starts afresh (its revoked state forgotten), a
// seller gone from the vault is dropped. When the app's credentials
// changed, a refused secret is asked about again at the next call. Call
// it when the vault changed.
func (s *Store) Reload(ctx context.Context) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.sellers))
	for id := range s.sellers {
		ids = append(ids, id)
	}
	appDead := s.app.status != ""
	s.mu.Unlock()
	if appDead && s.credentialsHash() != s.appHash {
		s.mu.Lock()
		s.app = deadness{}
		s.mu.Unlock()
		s.log.Info("the app's client secret changed in the vault; LWA will be asked again")
	}
	for _, id := range ids {
		tok, err := s.o.RefreshToken(ctx, id)
		s.mu.Lock()
		e := s.sellers[id]
		switch {
		case e == nil:
		case errors.Is(err, ErrNoSeller) || err == nil && tok.IsZero():
			delete(s.sellers, id)
		case err != nil:
			// Keep what we have; the vault may be busy.
		case !tok.Equal(e.token):
			s.sellers[id] = s.newEntry(id, tok)
			s.log.Info("the seller's refresh token changed in the vault; using the new one", "seller", id)
		}
		s.mu.Unlock()
	}
}

// credentialsHash identifies the app's current credentials without
// keeping them.
func (s *Store) credentialsHash() [sha256.Size]byte {
	cr, err := s.o.Credentials.Credentials(context.Background())
	if err != nil {
		return [sha256.Size]byte{}
	}
	return sha256.Sum256([]byte(cr.ClientID + "\x00" + cr.ClientSecret.Reveal() + "\x00" + cr.Fallback.Reveal()))
}

// SellerState is one seller's credential state.
type SellerState struct {
	Seller string    `json:"seller"`
	Status Status    `json:"status"`
	Since  time.Time `json:"since"`
	// RetryAt is when LWA will next be asked, for a revoked authorization
	// or a refused secret.
	RetryAt time.Time `json:"retryAt,omitzero"`
	// Reason is the last failure, for logs and operators (never a secret).
	Reason string `json:"reason,omitempty"`
}

// Sellers returns the state of every seller the store holds, by id.
func (s *Store) Sellers() []SellerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SellerState, 0, len(s.sellers))
	for _, e := range s.sellers {
		out = append(out, s.stateLocked(e))
	}
	slices.SortFunc(out, func(a, b SellerState) int { return strings.Compare(a.Seller, b.Seller) })
	return out
}

// Seller returns one seller's state (Unknown when the store holds none).
func (s *Store) Seller(seller string) SellerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.sellers[seller]; e != nil {
		return s.stateLocked(e)
	}
	return SellerState{Seller: seller, Status: Unknown}
}

// stateLocked is e's state, the app's refused secret taking precedence.
func (s *Store) stateLocked(e *entry) SellerState {
	st := SellerState{Seller: e.seller, Status: e.status, Since: e.since, Reason: e.lastErr}
	switch {
	case s.app.status != "":
		st.Status, st.RetryAt = SecretInvalid, s.app.nextTry
	case e.dead.status != "":
		st.RetryAt = e.dead.nextTry
	}
	return st
}

// AppSecretRefused reports whether LWA refuses the app's client secret.
func (s *Store) AppSecretRefused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.app.status != ""
}
