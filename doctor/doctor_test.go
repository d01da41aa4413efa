package doctor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func TestSecretAge(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		left   time.Duration
		status Status
		detail string
	}{
		{left: 170 * 24 * time.Hour, status: OK},
		{left: 31 * 24 * time.Hour, status: OK},
		{left: 30*24*time.Hour + time.Hour, status: Warn, detail: "30 day(s) or less"},
		{left: 14*24*time.Hour + time.Hour, status: Warn, detail: "14 day(s) or less"},
		{left: 10 * 24 * time.Hour, status: Warn, detail: "14 day(s) or less"},
		{left: 7*24*time.Hour + time.Hour, status: Warn, detail: "7 day(s) or less"},
		{left: 20 * time.Hour, status: Warn, detail: "1 day(s) or less"},
		{left: -time.Hour, status: Fail, detail: "expired"},
	}
	for _, tc := range tests {
		app := vault.App{Name: "main", ClientSecrets: []vault.Secret{{Status: vault.StatusCurrent, ExpiresAt: now.Add(tc.left)}}}
		got := secretAge(app, now)[0]
		if got.Status != tc.status || !strings.Contains(got.Detail, tc.detail) {
			t.Errorf("%s left: %s %q, want %s with %q", tc.left, got.Status, got.Detail, tc.status, tc.detail)
		}
		if got.Status != OK && (got.Step != StepRotateSecret || !strings.Contains(got.Fix, "spgate rotate")) {
			t.Errorf("%s left: step %q fix %q", tc.left, got.Step, got.Fix)
		}
	}
	if c := secretAge(vault.App{}, now)[0]; c.Status != Skip {
		t.Errorf("no secret: %s", c.Status)
	}
}

func TestFormatChecks(t *testing.T) {
	good := vault.App{Name: "main", AppID: "amzn1.sp.solution.1a2b3c4d-0000-4000-8000-1234567890ab",
		ClientID: "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef",
		ClientSecrets: []vault.Secret{{Status: vault.StatusCurrent,
			Value: secret.New("amzn1.oa2-cs.v1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")}}}
	seller := vault.Seller{ID: "A2VYDBAL8BMVQK", Region: "na", Marketplaces: []string{"ATVPDKIKX0DER"}}
	tests := []struct {
		name   string
		mod    func(a *vault.App, s *vault.Seller)
		check  string
		step   string
		status Status
	}{
		{name: "good", mod: func(*vault.App, *vault.Seller) {}, check: "formats", status: OK},
		{name: "app id", mod: func(a *vault.App, _ *vault.Seller) { a.AppID = "amzn1.sp.solution.nope" }, check: "app-id", step: StepAppRegistration, status: Fail},
		{name: "client id", mod: func(a *vault.App, _ *vault.Seller) { a.ClientID = "amzn1.application-oa2-client.XYZ" }, check: "client-id", step: StepAppRegistration, status: Fail},
		{name: "client secret", mod: func(a *vault.App, _ *vault.Seller) { a.ClientSecrets[0].Value = secret.New("hunter2") }, check: "client-secret", step: StepLWACredentials, status: Fail},
		{name: "seller id", mod: func(_ *vault.App, s *vault.Seller) { s.ID = "b-seller" }, check: "seller-id", step: StepAuthorizeSeller, status: Fail},
		{name: "marketplace of another region", mod: func(_ *vault.App, s *vault.Seller) { s.Marketplaces = []string{"A1PA6795UKMFR9"} }, check: "seller-marketplaces", step: StepRegion, status: Fail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, s := good, seller
			a.ClientSecrets = append([]vault.Secret(nil), good.ClientSecrets...)
			tc.mod(&a, &s)
			var found bool
			for _, c := range formatChecks(Input{App: a, Sellers: []vault.Seller{s}}) {
				if c.Name == tc.check && c.Status == tc.status && c.Step == tc.step {
					found = true
				}
				if strings.Contains(c.Detail, "hunter2") {
					t.Errorf("detail reveals the secret: %s", c.Detail)
				}
			}
			if !found {
				t.Errorf("no %s check %s with step %q", tc.status, tc.check, tc.step)
			}
		})
	}
}

// TestRunLoopback runs every check against the offline Amazon: green, then
// with the client secret expired (one failure naming lwa-credentials, the
// other sellers skipped rather than failing the same way).
func TestRunLoopback(t *testing.T) {
	srv := amazontest.NewServer(amazontest.WithSeed(3))
	defer srv.Close()
	d := srv.Demo()
	ep, err := spapi.Custom(srv.URL, map[spapi.Region]string{
		spapi.EU: srv.RegionURL(amazontest.RegionEU), spapi.FE: srv.RegionURL(amazontest.RegionFE)}, "")
	if err != nil {
		t.Fatal(err)
	}
	app := vault.App{Name: "main", AppID: d.AppID, ClientID: d.ClientID, Roles: []string{amazontest.RoleShipping},
		ClientSecrets: []vault.Secret{{Status: vault.StatusCurrent, Value: secret.New(d.ClientSecret), ExpiresAt: time.Now().Add(170 * 24 * time.Hour)}}}
	var sellers []vault.Seller
	var static spapi.StaticSellers
	for _, s := range d.Sellers {
		sellers = append(sellers, vault.Seller{ID: s.ID, Region: string(s.Region), Marketplaces: s.Marketplaces,
			Authorizations: []vault.Authorization{{AppName: "main", AppID: d.AppID, RefreshToken: vault.Secret{Value: secret.New(s.RefreshToken)}}}})
		static = append(static, spapi.Seller{ID: s.ID, Region: spapi.Region(s.Region), RefreshToken: secret.New(s.RefreshToken)})
	}
	creds := lwa.StaticCredentials{ClientID: d.ClientID, ClientSecret: secret.New(d.ClientSecret)}
	c, err := spapi.New(spapi.Config{AppID: d.AppID, Credentials: creds, Sellers: static, Endpoints: ep})
	if err != nil {
		t.Fatal(err)
	}
	in := Input{App: app, Sellers: sellers, Client: c, Endpoints: ep}
	checks := Run(context.Background(), in)
	if Worst(checks) != OK {
		t.Fatalf("not green: %+v", checks)
	}
	if n := len(checks); n != 2+3*3 { // formats, secret age, 3 × (grant, call, rdt)
		t.Errorf("%d checks: %+v", n, checks)
	}

	if err := srv.ExpireClientSecret(d.AppID); err != nil {
		t.Fatal(err)
	}
	checks = Run(context.Background(), in)
	var fails, skips int
	for _, ch := range checks {
		switch ch.Status {
		case Fail:
			fails++
			if ch.Step != StepLWACredentials || ch.Name != "lwa-client-secret" {
				t.Errorf("failure %+v, want lwa-client-secret / lwa-credentials", ch)
			}
		case Skip:
			skips++
		}
	}
	if fails != 1 || skips != 2 {
		t.Errorf("%d failures and %d skips, want 1 and 2: %+v", fails, skips, checks)
	}
}
