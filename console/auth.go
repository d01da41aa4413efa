package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/vault"
)

// LoginTokenTTL is how long a sign-in link works (once).
const LoginTokenTTL = 15 * time.Minute

// Session lifetimes.
const (
	sessionIdle   = time.Hour
	sessionMax    = 12 * time.Hour
	maxSessions   = 32
	loginStateKey = "console/login/"
	urlStateKey   = "console/url"
)

// loginPrefix starts every sign-in token, so one is recognisable (and
// scrubbed) wherever it ends up.
const loginPrefix = "spc_"

func randomToken(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("console: reading random bytes: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

type loginRecord struct {
	Expires time.Time `json:"expires"`
}

// IssueLoginToken makes a one-time sign-in token valid for LoginTokenTTL
// and keeps its SHA-256 in the vault, so a console serving this vault
// (in this process or another) accepts it once. Expired tokens are
// dropped on the way. Give the person LoginURL(base, token).
func IssueLoginToken(ctx context.Context, v *vault.Vault, clk clock.Clock) (string, error) {
	now := clock.Or(clk).Now()
	keys, err := v.StateKeys(ctx, loginStateKey)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		b, err := v.State(ctx, k)
		var rec loginRecord
		if err != nil || json.Unmarshal(b, &rec) != nil || !now.Before(rec.Expires) {
			_ = v.DeleteState(ctx, k)
		}
	}
	tok, err := randomToken(loginPrefix)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(loginRecord{Expires: now.Add(LoginTokenTTL)})
	if err := v.SetState(ctx, loginStateKey+tokenHash(tok), b); err != nil {
		return "", err
	}
	return tok, nil
}

// LoginURL is the sign-in link for token on the console at base.
func LoginURL(base, token string) string {
	return strings.TrimRight(base, "/") + "/login?token=" + token
}

// PublishURL records the console's base URL in the vault, for `spgate
// console link` run in another process.
func PublishURL(ctx context.Context, v *vault.Vault, base string) error {
	return v.SetState(ctx, urlStateKey, []byte(base))
}

// PublishedURL returns the base URL a running console recorded.
func PublishedURL(ctx context.Context, v *vault.Vault) (string, error) {
	b, err := v.State(ctx, urlStateKey)
	if errors.Is(err, vault.ErrNotFound) {
		return "", nil
	}
	return string(b), err
}

// consumeLogin reports whether tok is a valid sign-in token, and makes it
// unusable.
func (c *Console) consumeLogin(ctx context.Context, tok string) bool {
	if !strings.HasPrefix(tok, loginPrefix) || len(tok) > 100 {
		return false
	}
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	key := loginStateKey + tokenHash(tok)
	b, err := c.cfg.Vault.State(ctx, key)
	if err != nil {
		return false
	}
	if err := c.cfg.Vault.DeleteState(ctx, key); err != nil {
		return false
	}
	var rec loginRecord
	return json.Unmarshal(b, &rec) == nil && c.clk.Now().Before(rec.Expires)
}

func (c *Console) handleLogin(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if !c.consumeLogin(r.Context(), tok) {
		c.audit(r.Context(), "sign-in", "console", false, "an unknown, used or expired sign-in link")
		c.render(w, r, http.StatusForbidden, "signin", nil, map[string]bool{"Failed": true})
		return
	}
	id, _, err := c.sess.create()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: c.cookie, Value: id, Path: "/", HttpOnly: true, Secure: c.cfg.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionMax / time.Second)})
	c.audit(r.Context(), "sign-in", "console", true, "signed in with a one-time link")
	http.Redirect(w, r, "/setup", http.StatusSeeOther)
}

func (c *Console) handleLogout(w http.ResponseWriter, r *http.Request, s *session) {
	c.sess.drop(r, c.cookie)
	http.SetCookie(w, &http.Cookie{Name: c.cookie, Value: "", Path: "/", HttpOnly: true, Secure: c.cfg.TLS, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	c.audit(r.Context(), "sign-out", "console", true, "")
	c.render(w, r, http.StatusOK, "message", nil, messageData{Title: "Signed out", Text: "You are signed out. Sign in again with a new link: `spgate console link`."})
}

// session is one signed-in browser.
type session struct {
	csrf    string
	created time.Time
	seen    time.Time
}

// sessions live in memory, keyed by the SHA-256 of the cookie value: a
// restart signs everyone out.
type sessions struct {
	mu  sync.Mutex
	clk clock.Clock
	m   map[string]*session
}

func newSessions(clk clock.Clock) *sessions {
	return &sessions{clk: clk, m: map[string]*session{}}
}

func (ss *sessions) create() (string, *session, error) {
	id, err := randomToken("")
	if err != nil {
		return "", nil, err
	}
	csrf, err := randomToken("")
	if err != nil {
		return "", nil, err
	}
	now := ss.clk.Now()
	s := &session{csrf: csrf, created: now, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.pruneLocked(now)
	for len(ss.m) >= maxSessions {
		var oldest string
		for k, v := range ss.m {
			if oldest == "" || v.seen.Before(ss.m[oldest].seen) {
				oldest = k
			}
		}
		delete(ss.m, oldest)
	}
	ss.m[tokenHash(id)] = s
	return id, s, nil
}

func (ss *sessions) pruneLocked(now time.Time) {
	for k, s := range ss.m {
		if !ss.alive(s, now) {
			delete(ss.m, k)
		}
	}
}

func (ss *sessions) alive(s *session, now time.Time) bool {
	return now.Sub(s.seen) < sessionIdle && now.Sub(s.created) < sessionMax
}

// get returns the request's live session, or nil.
func (ss *sessions) get(r *http.Request, name string) *session {
	ck, err := r.Cookie(name)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil
	}
	now := ss.clk.Now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	k := tokenHash(ck.Value)
	s := ss.m[k]
	if s == nil {
		return nil
	}
	if !ss.alive(s, now) {
		delete(ss.m, k)
		return nil
	}
	s.seen = now
	return s
}

func (ss *sessions) drop(r *http.Request, name string) {
	if ck, err := r.Cookie(name); err == nil {
		ss.mu.Lock()
		delete(ss.m, tokenHash(ck.Value))
		ss.mu.Unlock()
	}
}
