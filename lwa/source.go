package lwa

import (
	"context"
	"sync"
	"time"

	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/tokencache"
)

// Source supplies access tokens. Implementations are safe for concurrent
// use.
type Source interface {
	// Token returns a token that is valid now, fetching one if needed.
	Token(ctx context.Context) (Token, error)
	// Invalidate drops the cached token if it is still accessToken, e.g.
	// after Amazon answered "The access token you provided has expired.",
	// so the next Token call fetches a fresh one. Tokens other than the
	// cached one are ignored, so many callers reporting the same stale
	// token cause one refresh, not many.
	Invalidate(accessToken string)
}

// staleHoldoff is how long a still-valid cached token is served without
// another refresh attempt after a refresh inside the margin failed
// transiently, so an LWA outage is not hammered at request rate.
const staleHoldoff = 5 * time.Second

// CachedSource caches one token and refreshes it before it expires.
//
//   - A token is refreshed when it enters the refresh margin (see
//     Client.RefreshMargin).
//   - One refresh at a time: concurrent callers share it.
//   - The shared refresh runs detached from the callers' contexts, bounded
//     by Client.FetchTimeout; a caller whose context ends returns ctx.Err()
//     at once while the refresh goes on for the others.
//   - Failures are never cached: the next call tries again. The one
//     exception protects LWA, not the caller: when a refresh inside the
//     margin fails with a retryable error while the cached token is still
//     valid, callers get the cached token (it still works) and no new
//     refresh starts for a few seconds. Rejections (invalid_client,
//     invalid_grant) are returned at once even then: they need a fix, and
//     hiding them until the token runs out helps nobody.
//
// With a shared cache (WithShared), a refresh first asks it: another
// process's token is taken as it is, and of all the processes sharing the
// cache one asks LWA. The token in memory is still served without asking
// the shared cache, and Invalidate drops the token there too.
type CachedSource struct {
	c     *Client
	label string // for logs: grant and scope
	fetch func(ctx context.Context) (Token, error)

	shared    tokencache.Shared // nil: this process alone
	sharedKey string

	mu        sync.Mutex
	tok       Token
	has       bool
	refreshAt time.Time
	holdUntil time.Time // serve the stale token without refreshing until then
	inflight  *call
}

type call struct {
	done chan struct{}
	tok  Token
	err  error
}

var _ Source = (*CachedSource)(nil)

// SourceOption adjusts a CachedSource.
type SourceOption func(*CachedSource)

// WithShared makes the source share its tokens with other processes
// through shared, under key. The key must name what the token grants —
// the app, the seller and a digest of the refresh token, or the app and
// the grantless scope — so that a replaced refresh token never gets the
// old one's token; it must not contain a secret. A nil shared is ignored.
func WithShared(shared tokencache.Shared, key string) SourceOption {
	return func(s *CachedSource) {
		if shared != nil && key != "" {
			s.shared, s.sharedKey = shared, key
		}
	}
}

// NewRefreshTokenSource returns a source of seller-scoped tokens from the
// refresh_token grant. creds is asked for the app's credentials on every
// refresh.
func NewRefreshTokenSource(c *Client, creds CredentialsProvider, refreshToken secret.String, opts ...SourceOption) *CachedSource {
	return newSource(c, GrantRefreshToken, func(ctx context.Context) (Token, error) {
		return c.refresh(ctx, creds, refreshToken)
	}, opts)
}

// NewGrantlessSource returns a source of grantless tokens from the
// client_credentials grant for scope (one of the Scope constants).
func NewGrantlessSource(c *Client, creds CredentialsProvider, scope string, opts ...SourceOption) *CachedSource {
	return newSource(c, GrantClientCredentials+" "+scope, func(ctx context.Context) (Token, error) {
		return c.grantless(ctx, creds, scope)
	}, opts)
}

func newSource(c *Client, label string, fetch func(ctx context.Context) (Token, error), opts []SourceOption) *CachedSource {
	s := &CachedSource{c: c, label: label, fetch: fetch}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Token returns the cached token, or waits for the shared refresh.
func (s *CachedSource) Token(ctx context.Context) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	now := s.c.clock().Now()
	s.mu.Lock()
	if s.has && (now.Before(s.refreshAt) || (now.Before(s.holdUntil) && now.Before(s.tok.Expiry))) {
		t := s.tok
		s.mu.Unlock()
		return t, nil
	}
	cl := s.inflight
	if cl == nil {
		cl = &call{done: make(chan struct{})}
		s.inflight = cl
		go s.run(context.WithoutCancel(ctx), cl)
	}
	s.mu.Unlock()

	select {
	case <-cl.done:
	case <-ctx.Done():
		return Token{}, ctx.Err()
	}
	if cl.err == nil {
		return cl.tok, nil
	}
	if IsRetryable(cl.err) {
		s.mu.Lock()
		now = s.c.clock().Now()
		if s.has && now.Before(s.tok.Expiry) {
			t := s.tok
			s.mu.Unlock()
			return t, nil
		}
		s.mu.Unlock()
	}
	return Token{}, cl.err
}

// run performs one shared refresh and publishes its result.
func (s *CachedSource) run(ctx context.Context, cl *call) {
	ctx, cancel := context.WithTimeout(ctx, s.c.fetchTimeout())
	defer cancel()
	tok, refreshAt, err := s.get(ctx)

	s.mu.Lock()
	now := s.c.clock().Now()
	if err == nil {
		s.tok, s.has = tok, true
		s.refreshAt = refreshAt
		s.holdUntil = time.Time{}
	} else if s.has && now.Before(s.tok.Expiry) && IsRetryable(err) {
		s.holdUntil = now.Add(staleHoldoff)
		s.c.logger().WarnContext(ctx, "LWA token refresh failed; using the cached token until it expires",
			"source", s.label, "expires_in", s.tok.Expiry.Sub(now).Round(time.Second), "err", err)
	}
	cl.tok, cl.err = tok, err
	s.inflight = nil
	s.mu.Unlock()
	close(cl.done)
}

// get fetches a token — through the shared cache when there is one — and
// says when to refresh it.
func (s *CachedSource) get(ctx context.Context) (Token, time.Time, error) {
	if s.shared == nil {
		tok, err := s.fetch(ctx)
		return tok, s.refreshTime(tok), err
	}
	st, err := s.shared.Get(ctx, s.sharedKey, func(ctx context.Context) (tokencache.Token, error) {
		tok, err := s.fetch(ctx)
		if err != nil {
			return tokencache.Token{}, err
		}
		return tokencache.Token{Value: tok.AccessToken, Expiry: tok.Expiry, RefreshAt: s.refreshTime(tok)}, nil
	})
	if err != nil {
		return Token{}, time.Time{}, err
	}
	refreshAt := st.RefreshAt
	if refreshAt.IsZero() {
		refreshAt = s.refreshTime(Token{Expiry: st.Expiry})
	}
	return Token{AccessToken: st.Value, Expiry: st.Expiry}, refreshAt, nil
}

// refreshTime is when a token just issued enters the refresh margin.
func (s *CachedSource) refreshTime(tok Token) time.Time {
	life := tok.Expiry.Sub(s.c.clock().Now())
	return tok.Expiry.Add(-s.c.margin(life))
}

// Invalidate drops the cached token if it is accessToken — in the shared
// cache first, so that a concurrent refresh here cannot take it back from
// there.
func (s *CachedSource) Invalidate(accessToken string) {
	if accessToken == "" {
		return
	}
	s.mu.Lock()
	held := s.has && s.tok.AccessToken.Reveal() == accessToken
	s.mu.Unlock()
	if !held {
		return
	}
	if s.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.c.fetchTimeout())
		s.shared.Invalidate(ctx, s.sharedKey, accessToken)
		cancel()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.has && s.tok.AccessToken.Reveal() == accessToken {
		s.has = false
		s.tok = Token{}
		s.holdUntil = time.Time{}
		s.c.logger().Debug("LWA token invalidated", "source", s.label)
	}
}
