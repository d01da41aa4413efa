package vault

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spgate/spgate/secret"
)

// The shared token cache: one row per cache key (an LWA access token of a
// seller and refresh token, an RDT of a resource) that every process using
// the vault reads, so N gateway replicas make one token request where each
// would make its own. appvault.TokenCache runs the protocol over these
// rows: read the slot; on a miss take its lease (compare-and-set on what
// was read), fetch, put the token; meanwhile the others poll the slot.
//
// Tokens are sealed with AES-256-GCM under their own subkey of the data key,
// the cache key as associated data, so a token moved to another row, or
// any row written without the master key, fails to open and is treated as
// no token at all. Rows are named by an HMAC of the cache key under another
// subkey: the table shows neither sellers nor resources. Dates and leases
// are plaintext: whoever forges them can only make processes fetch again
// or wait out a lease (bounded by maxTokenLease).

// sharedTokensVersion is the schema version that adds the token cache and
// the replicas' heartbeats.
const sharedTokensVersion = 5

// HKDF labels of the token cache's subkeys.
const (
	tokenSealLabel = "spgate/vault/token-cache/seal/v1"
	tokenNameLabel = "spgate/vault/token-cache/name/v1"
)

// maxTokenLease bounds how far ahead a fetch lease may run: a lease dated
// further (a forged row, a holder whose clock runs far ahead) counts as
// lapsed, so nobody waits on it for long.
const maxTokenLease = time.Minute

// tokenPruneEvery is how often a handle deletes expired rows, on a put.
const tokenPruneEvery = time.Minute

// tokenKeys derives the token cache's sealing key and row-naming key from
// the data key.
func tokenKeys(dek []byte) (cipher.AEAD, []byte, error) {
	sk, err := hkdf.Key(sha256.New, dek, nil, tokenSealLabel, KeySize)
	if err != nil {
		return nil, nil, fmt.Errorf("derive the token cache's key: %w", err)
	}
	defer clear0(sk)
	aead, err := newAEAD(sk)
	if err != nil {
		return nil, nil, err
	}
	nk, err := hkdf.Key(sha256.New, dek, nil, tokenNameLabel, sha256.Size)
	if err != nil {
		return nil, nil, fmt.Errorf("derive the token cache's naming key: %w", err)
	}
	return aead, nk, nil
}

// CachedToken is a token in the vault's shared cache.
type CachedToken struct {
	Value secret.String
	// Expiry is when Amazon stops accepting it; RefreshAt when processes
	// stop handing it out (zero: Expiry).
	Expiry, RefreshAt time.Time
}

// TokenSlot is a cache key's row as read.
type TokenSlot struct {
	// Token is the cached token; valid with Has.
	Token CachedToken
	Has   bool
	// Damaged: the row holds a token that does not authenticate under
	// this key (written without the master key, or moved from another
	// row). It counts as no token: it is never handed out.
	Damaged bool
	// Leased: a process holds the lease to fetch the key's token until
	// LeaseUntil (by the vault's clock).
	Leased     bool
	LeaseUntil time.Time
	// Now is the vault's clock when the slot was read.
	Now time.Time

	ct []byte // the row's ciphertext as read (empty: none), compared on TakeTokenLease
}

// Fresh reports whether the slot's token may be handed out at Now.
func (s TokenSlot) Fresh() bool {
	if !s.Has || s.Token.Value.IsZero() {
		return false
	}
	end := s.Token.RefreshAt
	if end.IsZero() {
		end = s.Token.Expiry
	}
	return s.Now.Before(end)
}

// tokenPayload is what a row's ciphertext holds.
type tokenPayload struct {
	Value     string `json:"v"`
	Expiry    int64  `json:"e"`
	RefreshAt int64  `json:"r"`
}

func tokenAAD(key string) string { return "token|" + key }

// tokenRow names key's row.
func (v *Vault) tokenRow(key string) string {
	m := hmac.New(sha256.New, v.tokenNames)
	m.Write([]byte(key))
	return hex.EncodeToString(m.Sum(nil))
}

func (v *Vault) sealToken(key string, t CachedToken) ([]byte, error) {
	b, err := json.Marshal(tokenPayload{Value: t.Value.Reveal(), Expiry: toNanos(t.Expiry), RefreshAt: toNanos(t.RefreshAt)})
	if err != nil {
		return nil, fmt.Errorf("encode a cached token: %w", err)
	}
	defer clear0(b)
	return seal(v.tokenSeal, b, tokenAAD(key))
}

func (v *Vault) openToken(key string, ct []byte) (CachedToken, bool) {
	pt, err := open(v.tokenSeal, ct, tokenAAD(key))
	if err != nil {
		return CachedToken{}, false
	}
	defer clear0(pt)
	var p tokenPayload
	if err := json.Unmarshal(pt, &p); err != nil || p.Value == "" {
		return CachedToken{}, false
	}
	return CachedToken{Value: secret.New(p.Value), Expiry: fromNanos(p.Expiry), RefreshAt: fromNanos(p.RefreshAt)}, true
}

func checkTokenKey(key string) error {
	if key == "" {
		return invalid("a cached token needs a key")
	}
	return nil
}

// TokenSlot reads key's row of the shared token cache: one indexed read
// and, when it holds a token, one decryption.
func (v *Vault) TokenSlot(ctx context.Context, key string) (TokenSlot, error) {
	if err := checkTokenKey(key); err != nil {
		return TokenSlot{}, err
	}
	s := TokenSlot{Now: v.clk.Now()}
	var holder string
	var until int64
	err := v.db.QueryRowContext(ctx, v.d.q(`SELECT ct, holder, lease_until FROM token_cache WHERE key = ?`), v.tokenRow(key)).
		Scan(&s.ct, &holder, &until)
	if errors.Is(err, sql.ErrNoRows) {
		s.ct = []byte{}
		return s, nil
	}
	if err != nil {
		return TokenSlot{}, v.classify(err, "read the shared token cache")
	}
	if holder != "" && leaseLive(until, s.Now) {
		s.Leased, s.LeaseUntil = true, fromNanos(until)
	}
	if len(s.ct) == 0 {
		s.ct = []byte{}
		return s, nil
	}
	s.Token, s.Has = v.openToken(key, s.ct)
	s.Damaged = !s.Has
	return s, nil
}

// leaseLive reports whether a lease until the Unix nanosecond until is
// held at now: not lapsed, and not dated implausibly far ahead.
func leaseLive(until int64, now time.Time) bool {
	n := now.UnixNano()
	return until > n && until <= now.Add(maxTokenLease).UnixNano()
}

// TakeTokenLease takes the lease to fetch key's token for holder until
// ttl (at most a minute) from now, and reports whether it got it. It
// gets it when the row is still as seen (nothing was stored or removed
// since) and nobody's lease is live, or when holder holds it already (a
// renewal). One statement: of several processes racing for it, one wins.
func (v *Vault) TakeTokenLease(ctx context.Context, key, holder string, seen TokenSlot, ttl time.Duration) (bool, error) {
	if err := checkTokenKey(key); err != nil {
		return false, err
	}
	if holder == "" || ttl <= 0 || ttl > maxTokenLease {
		return false, invalid("a token lease needs a holder and a duration of at most %s", maxTokenLease)
	}
	seenCT := seen.ct
	if seenCT == nil {
		seenCT = []byte{}
	}
	now := v.clk.Now()
	res, err := v.db.ExecContext(ctx, v.d.q(`INSERT INTO token_cache(key, ct, expires_at, holder, lease_until) VALUES (?, ?, 0, ?, ?)
		ON CONFLICT(key) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
		WHERE token_cache.holder = excluded.holder
			OR (token_cache.ct = ? AND (token_cache.holder = '' OR token_cache.lease_until <= ? OR token_cache.lease_until > ?))`),
		v.tokenRow(key), []byte{}, holder, toNanos(now.Add(ttl)), seenCT, now.UnixNano(), now.Add(maxTokenLease).UnixNano())
	if err != nil {
		return false, v.classify(err, "take a token lease")
	}
	n, err := res.RowsAffected()
	return n > 0, v.classify(err, "take a token lease")
}

// PutToken stores tok under key, replacing what is there, and ends
// holder's lease on it (another holder's lease stays). Expired rows are
// deleted now and then on the way.
func (v *Vault) PutToken(ctx context.Context, key, holder string, tok CachedToken) error {
	if err := checkTokenKey(key); err != nil {
		return err
	}
	if tok.Value.IsZero() || tok.Expiry.IsZero() {
		return invalid("a cached token needs a value and an expiry")
	}
	ct, err := v.sealToken(key, tok)
	if err != nil {
		return err
	}
	_, err = v.db.ExecContext(ctx, v.d.q(`INSERT INTO token_cache(key, ct, expires_at, holder, lease_until) VALUES (?, ?, ?, '', 0)
		ON CONFLICT(key) DO UPDATE SET ct = excluded.ct, expires_at = excluded.expires_at,
			holder = CASE WHEN token_cache.holder = ? THEN '' ELSE token_cache.holder END,
			lease_until = CASE WHEN token_cache.holder = ? THEN 0 ELSE token_cache.lease_until END`),
		v.tokenRow(key), ct, toNanos(tok.Expiry), holder, holder)
	if err != nil {
		return v.classify(err, "store a token in the shared cache")
	}
	v.pruneTokens(ctx)
	return nil
}

// pruneTokens deletes the rows of expired tokens (and of failed fetches)
// that nobody holds, at most once per tokenPruneEvery per handle. A
// failure waits for the next turn: the rows harm nobody meanwhile.
func (v *Vault) pruneTokens(ctx context.Context) {
	now := v.clk.Now()
	last := v.tokenPruned.Load()
	if now.UnixNano()-last < int64(tokenPruneEvery) || !v.tokenPruned.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	_, _ = v.db.ExecContext(ctx, v.d.q(`DELETE FROM token_cache WHERE expires_at < ? AND (holder = '' OR lease_until < ?)`),
		now.UnixNano(), now.UnixNano())
}

// ReleaseTokenLease ends holder's lease on key without storing a token
// (its fetch failed), so a waiting process takes over at once.
func (v *Vault) ReleaseTokenLease(ctx context.Context, key, holder string) error {
	if err := checkTokenKey(key); err != nil {
		return err
	}
	_, err := v.db.ExecContext(ctx, v.d.q(`UPDATE token_cache SET holder = '', lease_until = 0 WHERE key = ? AND holder = ?`), v.tokenRow(key), holder)
	return v.classify(err, "release a token lease")
}

// DropToken deletes key's cached token if its value is value (Amazon
// refused it), and reports whether it did. A token stored since under
// key is left alone.
func (v *Vault) DropToken(ctx context.Context, key, value string) (bool, error) {
	s, err := v.TokenSlot(ctx, key)
	if err != nil || !s.Has || subtle.ConstantTimeCompare([]byte(s.Token.Value.Reveal()), []byte(value)) != 1 {
		return false, err
	}
	res, err := v.db.ExecContext(ctx, v.d.q(`DELETE FROM token_cache WHERE key = ? AND ct = ?`), v.tokenRow(key), s.ct)
	if err != nil {
		return false, v.classify(err, "drop a cached token")
	}
	n, err := res.RowsAffected()
	return n > 0, v.classify(err, "drop a cached token")
}
