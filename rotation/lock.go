package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spgate/spgate/vault"
)

// leaseTTL is how long a rotation's lock lasts without renewal. The
// rotator renews it at every step and every queue poll (at most 20 s
// apart), so it lapses only when its holder is gone.
const leaseTTL = 3 * time.Minute

// ErrRotationRunning: another process (or goroutine) is rotating the same
// app's secret. errors.As finds a *RunningError with the holder.
var ErrRotationRunning = errors.New("rotation: another rotation of the app is running")

// RunningError says who holds the rotation lock of an app.
type RunningError struct {
	App    string
	Holder vault.Lease
}

// Error implements the error interface.
func (e *RunningError) Error() string {
	h := e.Holder
	return fmt.Sprintf("another rotation of app %s is running (pid %d on host %s, since %s: %s); wait for it to finish, "+
		"or if that process is gone, run this again after %s, when its lock lapses",
		e.App, h.PID, h.Host, h.Since.UTC().Format("2006-01-02 15:04:05 MST"), h.Owner, h.Expires.UTC().Format("2006-01-02 15:04:05 MST"))
}

// Is makes errors.Is(err, ErrRotationRunning) true.
func (e *RunningError) Is(target error) bool { return target == ErrRotationRunning }

// LockName is the vault lease that serialises rotations of the app with
// this app id (ids never change, local names may).
func LockName(appID string) string { return "rotation/" + appID }

// locks are the leases this Rotator holds, by app id.
type locks struct {
	mu   sync.Mutex
	held map[string]vault.Lease
}

var hostname = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
})

// lock takes app's rotation lease for what (e.g. "spgate rotate"); the
// returned func releases it. A lease left by a dead process on this host is
// taken over at once; one from another host is respected until it lapses.
func (r *Rotator) lock(ctx context.Context, app vault.App, what string) (func(), error) {
	name := LockName(app.AppID)
	l := vault.Lease{Name: name, Token: vault.NewLeaseToken(), Owner: what, PID: os.Getpid(), Host: hostname()}
	got, err := r.cfg.Vault.AcquireLease(ctx, l, leaseTTL)
	var held *vault.LeaseHeldError
	if errors.As(err, &held) && held.Holder.Host == l.Host && held.Holder.PID > 0 && held.Holder.PID != l.PID && !processAlive(held.Holder.PID) {
		r.log.Warn("rotation: taking over the lock of a process that is gone", "app", app.Name, "pid", held.Holder.PID, "since", held.Holder.Since)
		if rerr := r.cfg.Vault.ReleaseLease(ctx, name, held.Holder.Token); rerr == nil {
			got, err = r.cfg.Vault.AcquireLease(ctx, l, leaseTTL)
		}
	}
	if errors.As(err, &held) {
		return nil, &RunningError{App: app.Name, Holder: held.Holder}
	}
	if err != nil {
		return nil, fmt.Errorf("rotation: taking the rotation lock of app %s in the vault: %w", app.Name, err)
	}
	r.locks.mu.Lock()
	if r.locks.held == nil {
		r.locks.held = map[string]vault.Lease{}
	}
	r.locks.held[app.AppID] = got
	r.locks.mu.Unlock()
	return func() {
		r.locks.mu.Lock()
		delete(r.locks.held, app.AppID)
		r.locks.mu.Unlock()
		if err := r.cfg.Vault.ReleaseLease(context.WithoutCancel(ctx), name, got.Token); err != nil {
			r.log.Warn("rotation: could not release the rotation lock; it lapses by itself", "app", app.Name, "err", err)
		}
	}, nil
}

// renew extends app's lease when this Rotator holds it. Losing it (it
// lapsed and another process took it) stops the rotation.
func (r *Rotator) renew(ctx context.Context, app vault.App) error {
	r.locks.mu.Lock()
	l, ok := r.locks.held[app.AppID]
	r.locks.mu.Unlock()
	if !ok {
		return nil
	}
	nl, err := r.cfg.Vault.RenewLease(ctx, l, leaseTTL)
	if errors.Is(err, vault.ErrLeaseLost) {
		return fmt.Errorf("rotation: lost the rotation lock of app %s (it lapsed and another process took it); stopping so that two rotations do not run at once: run `spgate rotate --app %s` again: %w", app.Name, app.Name, err)
	}
	if err != nil {
		return fmt.Errorf("rotation: renewing the rotation lock of app %s: %w", app.Name, err)
	}
	r.locks.mu.Lock()
	if _, still := r.locks.held[app.AppID]; still {
		r.locks.held[app.AppID] = nl
	}
	r.locks.mu.Unlock()
	return nil
}

// State is what the vault says about app's rotation, for doctor: the step
// an unfinished rotation reached ("" none) and the lock, when one is held
// (possibly lapsed: compare Expires with the time).
type State struct {
	Step string
	Lock *vault.Lease
}

// Inspect reads app's rotation state and lock without taking the lock.
func Inspect(ctx context.Context, v *vault.Vault, app vault.App) (State, error) {
	var st State
	b, err := v.State(ctx, StateKey(app.Name))
	switch {
	case errors.Is(err, vault.ErrNotFound):
	case err != nil:
		return st, err
	default:
		var rec record
		if json.Unmarshal(b, &rec) != nil {
			st.Step = "unreadable"
		} else {
			st.Step = rec.Step
		}
	}
	l, err := v.GetLease(ctx, LockName(app.AppID))
	switch {
	case errors.Is(err, vault.ErrNotFound):
	case err != nil:
		return st, err
	default:
		st.Lock = &l
	}
	return st, nil
}
