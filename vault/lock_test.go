package vault

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Two handles on one vault file (two processes) race for a lease: exactly
// one wins, the other learns who holds it.
func TestLeaseOneHolderAcrossHandles(t *testing.T) {
	f := newVault(t)
	ctx := context.Background()
	other, err := Open(ctx, f.path, f.key, testOpts(f.clk))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		v := f.v
		if i%2 == 1 {
			v = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = v.AcquireLease(ctx, Lease{Name: "rotation/main", Token: NewLeaseToken(), Owner: "test", PID: i, Host: "h"}, time.Minute)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		var held *LeaseHeldError
		switch {
		case err == nil:
			won++
		case errors.As(err, &held):
			if held.Holder.Host != "h" || held.Holder.Expires.IsZero() {
				t.Errorf("holder %+v", held.Holder)
			}
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d holders, want 1", won)
	}
}

func TestLeaseLapsesRenewsAndReleases(t *testing.T) {
	f := newVault(t)
	ctx := context.Background()
	a, err := f.v.AcquireLease(ctx, Lease{Name: "x", Token: "a"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Since.Equal(t0) || !a.Expires.Equal(t0.Add(time.Minute)) {
		t.Fatalf("lease %+v", a)
	}
	// The holder renews; before the new expiry nobody else gets it.
	f.clk.Advance(50 * time.Second)
	if a, err = f.v.RenewLease(ctx, a, time.Minute); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(50 * time.Second)
	if _, err := f.v.AcquireLease(ctx, Lease{Name: "x", Token: "b"}, time.Minute); err == nil {
		t.Fatal("took a renewed lease")
	}
	// Not renewed: it lapses and another takes it; the first has lost it.
	f.clk.Advance(11 * time.Second)
	b, err := f.v.AcquireLease(ctx, Lease{Name: "x", Token: "b"}, time.Minute)
	if err != nil {
		t.Fatalf("lapsed lease not taken: %v", err)
	}
	if _, err := f.v.RenewLease(ctx, a, time.Minute); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("renew after losing it: %v", err)
	}
	if err := f.v.ReleaseLease(ctx, "x", "a"); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("release by a former holder: %v", err)
	}
	if err := f.v.ReleaseLease(ctx, "x", b.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.GetLease(ctx, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after release: %v", err)
	}
	if err := f.v.ReleaseLease(ctx, "x", b.Token); err != nil {
		t.Errorf("second release: %v", err)
	}
}
