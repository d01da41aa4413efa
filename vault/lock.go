package vault

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Lease is a lock on a named piece of work (e.g. the rotation of one app's
// client secret) held by one process until Expires. It lives in the state
// table (encrypted like every state value) under "lease/<name>", so every
// process on the vault sees it; taking, renewing and releasing it are each
// one write transaction that compares and sets.
type Lease struct {
	Name string `json:"name"`
	// Token identifies the holder; only it renews or releases the lease.
	Token string `json:"token"`
	// Owner describes the holder for people: what it is doing.
	Owner string    `json:"owner,omitempty"`
	PID   int       `json:"pid,omitempty"`
	Host  string    `json:"host,omitempty"`
	Since time.Time `json:"since"`
	// Expires is when the lease lapses unless renewed.
	Expires time.Time `json:"expires"`
}

// LeaseHeldError reports a lease another holder has and that has not
// lapsed. Holder says who and until when.
type LeaseHeldError struct{ Holder Lease }

// Error implements the error interface.
func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("%s is held by %s (pid %d on host %s) since %s, until %s",
		e.Holder.Name, e.Holder.Owner, e.Holder.PID, e.Holder.Host,
		e.Holder.Since.UTC().Format(time.RFC3339), e.Holder.Expires.UTC().Format(time.RFC3339))
}

// ErrLeaseLost reports a renewal or release by a holder whose lease lapsed
// and was taken by someone else (or removed).
var ErrLeaseLost = errors.New("vault: the lease was lost")

func leaseKey(name string) string { return "lease/" + name }

// NewLeaseToken returns a random holder token.
func NewLeaseToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AcquireLease takes the lease l.Name for l.Token until now+ttl, in one
// transaction: when nobody holds it, its holder's lease has lapsed, or
// l.Token already holds it (a renewal), it is written and returned with
// Since and Expires set; otherwise a *LeaseHeldError names the holder.
func (v *Vault) AcquireLease(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	if l.Name == "" || l.Token == "" || ttl <= 0 {
		return Lease{}, invalid("a lease needs a name, a token and a positive duration")
	}
	key := leaseKey(l.Name)
	err := v.write(ctx, "take lease", func(t *tx) error {
		cur, found, err := t.lease(key)
		if err != nil {
			return err
		}
		switch {
		case found && cur.Token == l.Token:
			l.Since = cur.Since
		case found && t.now.Before(cur.Expires):
			return &LeaseHeldError{Holder: cur}
		default:
			l.Since = t.now
		}
		l.Expires = t.now.Add(ttl)
		return t.putLease(key, l)
	})
	if err != nil {
		var held *LeaseHeldError
		if errors.As(err, &held) {
			return Lease{}, held
		}
		return Lease{}, err
	}
	return l, nil
}

// RenewLease extends the lease l (as returned by AcquireLease) to now+ttl,
// if l.Token still holds it; ErrLeaseLost otherwise.
func (v *Vault) RenewLease(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	key := leaseKey(l.Name)
	err := v.write(ctx, "renew lease", func(t *tx) error {
		cur, found, err := t.lease(key)
		if err != nil {
			return err
		}
		if !found || cur.Token != l.Token {
			return ErrLeaseLost
		}
		l.Since, l.Expires = cur.Since, t.now.Add(ttl)
		return t.putLease(key, l)
	})
	if errors.Is(err, ErrLeaseLost) {
		return l, ErrLeaseLost
	}
	return l, err
}

// ReleaseLease removes the lease name if token holds it. Releasing a lease
// that is gone is no error; one held by another token is ErrLeaseLost.
func (v *Vault) ReleaseLease(ctx context.Context, name, token string) error {
	key := leaseKey(name)
	err := v.write(ctx, "release lease", func(t *tx) error {
		cur, found, err := t.lease(key)
		if err != nil || !found {
			return err
		}
		if cur.Token != token {
			return ErrLeaseLost
		}
		_, err = t.exec(`DELETE FROM state WHERE key=?`, key)
		return err
	})
	if errors.Is(err, ErrLeaseLost) {
		return ErrLeaseLost
	}
	return err
}

// GetLease returns the lease name as stored (lapsed or not), or ErrNotFound.
func (v *Vault) GetLease(ctx context.Context, name string) (Lease, error) {
	var out Lease
	err := v.read(ctx, "read lease", func(t *tx) error {
		l, found, err := t.lease(leaseKey(name))
		if err != nil {
			return err
		}
		if !found {
			return newErr(ErrNotFound, "no lease %q", clip(name))
		}
		out = l
		return nil
	})
	return out, err
}

func (t *tx) lease(key string) (Lease, bool, error) {
	var ct []byte
	err := t.queryRow(`SELECT ct FROM state WHERE key=?`, key).Scan(&ct)
	if errors.Is(err, sql.ErrNoRows) {
		return Lease{}, false, nil
	}
	if err != nil {
		return Lease{}, false, err
	}
	pt, err := t.v.open(ct, stateAAD(key))
	if err != nil {
		return Lease{}, false, err
	}
	var l Lease
	if err := json.Unmarshal(pt, &l); err != nil {
		// An unreadable lease protects nothing: treat it as lapsed.
		return Lease{}, false, nil
	}
	return l, true, nil
}

func (t *tx) putLease(key string, l Lease) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	ct, err := t.v.seal(b, stateAAD(key))
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO state(key, ct, updated_at) VALUES (?,?,?)
		ON CONFLICT(key) DO UPDATE SET ct=excluded.ct, updated_at=excluded.updated_at`, key, ct, fmtTime(t.now))
	return err
}
