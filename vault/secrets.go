package vault

import (
	"database/sql"
	"math"
	"strconv"
	"time"

	"github.com/spgate/spgate/secret"
)

// Secret statuses.
const (
	StatusCurrent  = "current"  // the secret in use
	StatusPrevious = "previous" // a replaced client secret, valid until its ExpiresAt
)

// Audit actions.
const (
	ActionAdded    = "added"
	ActionRotated  = "rotated"
	ActionRemoved  = "removed"
	ActionVerified = "verified"
	ActionRevoked  = "revoked"
	ActionChanged  = "changed"
)

// MaxClientSecretLifetime is Amazon's limit: a client secret must be rotated
// at least every 180 days.
const MaxClientSecretLifetime = 180 * 24 * time.Hour

// Secret is one stored secret with its dates. Value is filled only by calls
// that say they decrypt (GetApp, GetSeller, RefreshToken, LWACredentials…);
// List calls leave it zero and fill the rest.
type Secret struct {
	Version    int           // increases with every replacement; bound into the ciphertext
	Status     string        // StatusCurrent or StatusPrevious
	Value      secret.String // zero when not decrypted
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero when the secret does not expire (refresh tokens, AWS keys)
	VerifiedAt time.Time // last time it was proven to work (zero: never)
}

// DaysLeft returns whole days until ExpiresAt (rounded down; negative once
// expired). It returns math.MaxInt for a secret without an expiry.
func (s Secret) DaysLeft(now time.Time) int {
	if s.ExpiresAt.IsZero() {
		return math.MaxInt
	}
	return int(math.Floor(s.ExpiresAt.Sub(now).Hours() / 24))
}

// Expired reports whether the secret has an expiry at or before now.
func (s Secret) Expired(now time.Time) bool {
	return !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt)
}

func secretAAD(ref string, version int) string {
	return "secret|" + ref + "|v" + strconv.Itoa(version)
}

func appSecretRef(appID string) string { return "app|" + appID + "|client_secret" }
func appAWSRef(appID string) string    { return "app|" + appID + "|aws_secret_key" }
func tokenRef(sellerID, appID string) string {
	return "seller|" + sellerID + "|app|" + appID + "|refresh_token"
}

// putSecret stores a new version of ref, with its MAC, and returns its
// metadata.
func (t *tx) putSecret(ref, status string, value secret.String, created, expires time.Time) (Secret, error) {
	var ver int
	if err := t.queryRow(`INSERT INTO secret_versions(ref, last) VALUES (?, 1)
		ON CONFLICT(ref) DO UPDATE SET last = secret_versions.last + 1 RETURNING last`, ref).Scan(&ver); err != nil {
		return Secret{}, err
	}
	ct, err := t.v.seal([]byte(value.Reveal()), secretAAD(ref, ver))
	if err != nil {
		return Secret{}, err
	}
	if created.IsZero() {
		created = t.now
	}
	r := secretRow{ref: ref, version: ver, status: status, created: fmtTime(created), ct: ct}
	if !expires.IsZero() {
		r.expires = sql.NullString{String: fmtTime(expires), Valid: true}
	}
	r.mac = t.v.secretMAC(r)
	if _, err := t.exec(`INSERT INTO secrets(`+secretRowCols+`) VALUES (?,?,?,?,?,?,?,?)`,
		r.ref, r.version, r.status, r.created, r.expires, r.verified, r.ct, r.mac); err != nil {
		return Secret{}, err
	}
	return Secret{Version: ver, Status: status, CreatedAt: created.UTC(), ExpiresAt: expires.UTC()}, nil
}

// loadSecrets returns the versions of ref, current first then newest first;
// decrypt fills Value. Every version's MAC is checked, also when only the
// current one is asked for: a status moved from one version to another
// fails both.
func (t *tx) loadSecrets(ref string, decrypt bool, onlyCurrent bool) ([]Secret, error) {
	rows, err := t.secretRows(ref)
	if err != nil {
		return nil, err
	}
	var out []Secret
	for _, r := range rows {
		if onlyCurrent && r.status != StatusCurrent {
			continue
		}
		s := r.meta()
		if decrypt {
			pt, err := t.v.open(r.ct, secretAAD(ref, r.version))
			if err != nil {
				return nil, err
			}
			s.Value = secret.New(string(pt))
			clear0(pt)
		}
		out = append(out, s)
	}
	return out, nil
}

// updateSecret checks the row of ref at version (0: the current one), lets
// fn change its metadata and saves it with a fresh MAC.
func (t *tx) updateSecret(ref string, version int, fn func(*secretRow)) error {
	rows, err := t.secretRows(ref)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if version == 0 && r.status == StatusCurrent || version != 0 && r.version == version {
			fn(&r)
			return t.saveSecret(r)
		}
	}
	if version == 0 {
		return newErr(ErrNotFound, "no current secret")
	}
	return newErr(ErrNotFound, "no secret version %d", version)
}

func (t *tx) deleteSecrets(ref string) (int64, error) {
	res, err := t.exec(`DELETE FROM secrets WHERE ref=?`, ref)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
