package demo

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func vaultClient(_ context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) (*spapi.Client, error) {
	return spapi.New(spapi.Config{AppID: app.AppID, Endpoints: ep, Credentials: rotation.VaultCredentials{Vault: v, App: app.Name},
		Sellers: appvault.NewSellers(v, app.Name, time.Minute, nil)})
}

// TestTour pulls every demo seller's orders with addresses into files of
// their own and tells what happened; a failed doctor stops it as the bug
// it is.
func TestTour(t *testing.T) {
	ctx := context.Background()
	e, err := Start(ctx, Options{Actor: "test", Amazon: amazontest.Config{Seed: 1, OrdersPerSeller: 15, Sellers: 2, TimeScale: 600, TokenLifetime: 12 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	green := func(context.Context, *vault.Vault, vault.App, spapi.Endpoints) ([]doctor.Check, error) {
		return []doctor.Check{{Layer: "lwa", Name: "grant", Status: doctor.OK}}, nil
	}
	var out, prog bytes.Buffer
	sum, err := Tour(ctx, e, TourOptions{TimeScale: 600, Out: &out, Progress: &prog, Reader: "test:tour", NewClient: vaultClient, Doctor: green})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Files) != 2 || sum.Orders == 0 || sum.WithAddress != sum.Orders || sum.RDTs == 0 || sum.Calls == 0 {
		t.Fatalf("summary %+v", sum)
	}
	for _, f := range sum.Files {
		if n, err := CountFullAddresses(f.Path); err != nil || n != f.Orders {
			t.Errorf("%s: %d full addresses (%v), summary says %d orders", f.Path, n, err, f.Orders)
		}
	}
	for _, want := range []string{"$ spgate doctor", "✓ lwa", "orders pulled", "deleted now"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the narration lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(prog.String(), "checkpoint: page 1") {
		t.Errorf("no progress lines: %s", prog.String())
	}
	ev, err := e.Vault.AccessLog(ctx, vault.AccessFilter{})
	if err != nil || len(ev) == 0 || ev[0].Client != "test:tour" {
		t.Errorf("the pulls' personal data was not recorded for the reader: %+v (%v)", ev, err)
	}

	red := func(context.Context, *vault.Vault, vault.App, spapi.Endpoints) ([]doctor.Check, error) {
		return []doctor.Check{{Name: "grant", Status: doctor.Fail}}, nil
	}
	if _, err := Tour(ctx, e, TourOptions{NewClient: vaultClient, Doctor: red}); !errors.Is(err, ErrDoctorFailed) {
		t.Fatalf("a failed doctor: %v", err)
	}
}
