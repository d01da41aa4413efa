package doctorcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func TestPrintChecks(t *testing.T) {
	checks := []doctor.Check{
		{Layer: "format", Name: "app-id", Status: doctor.OK, Detail: "amzn1.sp.solution.…"},
		{Layer: "lwa", Name: "lwa-refresh-grant", Status: doctor.Fail, Detail: "invalid_grant", Step: "authorize-seller", Fix: "spgate seller authorize"},
	}
	var text, js bytes.Buffer
	if err := printChecks(&text, checks, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"✓ format", "✗ lwa", "step: authorize-seller"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, text.String())
		}
	}
	if err := printChecks(&js, checks, true); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Status doctor.Status
		Checks []doctor.Check
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil || got.Status != doctor.Fail || len(got.Checks) != 2 || got.Checks[1].Step != "authorize-seller" {
		t.Errorf("JSON %s (%v)", js.String(), err)
	}
}

// TestRunDoctorUnknownSeller: --seller naming no seller is not found, and
// no client is built for it.
func TestRunDoctorUnknownSeller(t *testing.T) {
	e := cmdtest.New(t)
	e.OpenApp = func(ctx context.Context) (*vault.Vault, vault.App, spapi.Endpoints, error) {
		v, err := e.OpenVault(ctx, true)
		return v, vault.App{Name: "main"}, spapi.Production(), err
	}
	e.NewClient = func(context.Context, *vault.Vault, vault.App, spapi.Endpoints) (*spapi.Client, error) {
		t.Error("a client was built for an unknown seller")
		return nil, nil
	}
	err := runDoctor(context.Background(), &doctorOptions{Factory: e.Factory, Seller: "A3NOSUCHSELLER1"})
	if p, _ := problem.Of(err); p != problem.NotFound || !strings.Contains(err.Error(), "A3NOSUCHSELLER1") {
		t.Fatalf("err = %v (problem %q), want not found", err, p)
	}
}
