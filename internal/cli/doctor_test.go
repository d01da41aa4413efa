package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

type doctorReport struct {
	Status doctor.Status  `json:"status"`
	Checks []doctor.Check `json:"checks"`
}

func runDoctorJSON(t *testing.T, e *emuEnv, wantCode int, args ...string) doctorReport {
	t.Helper()
	code, out, errOut := run(t, "", append([]string{"doctor", "--json", "--log-level", "debug"}, args...)...)
	if code != wantCode {
		t.Fatalf("doctor exit %d, want %d\n%s\n%s", code, wantCode, out, errOut)
	}
	assertNoSecrets(t, e, out, errOut)
	var r doctorReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	return r
}

// failed returns the failed check with step, or fails the test.
func failedStep(t *testing.T, r doctorReport, status doctor.Status, step, detail string) doctor.Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Status == status && c.Step == step && strings.Contains(c.Detail, detail) {
			if c.Fix == "" {
				t.Errorf("check %s names step %s but no fix", c.Name, step)
			}
			return c
		}
	}
	t.Fatalf("no %s check with step %q and detail %q in %+v", status, step, detail, r.Checks)
	return doctor.Check{}
}

func TestDoctor(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		break_ func(t *testing.T, e *emuEnv) []string // returns extra args
		code   int
		status doctor.Status
		step   string
		detail string
		fix    string
	}{
		{name: "all green", code: 0},
		{name: "revoked refresh token", code: 1, status: doctor.Fail, step: doctor.StepAuthorizeSeller, detail: "invalid_grant",
			break_: func(t *testing.T, e *emuEnv) []string {
				if !e.srv.Revoke(e.demo.Sellers[0].ID, e.demo.AppID) {
					t.Fatal("nothing revoked")
				}
				return []string{"--seller", e.demo.Sellers[0].ID}
			}},
		{name: "expired client secret", code: 1, status: doctor.Fail, step: doctor.StepLWACredentials, detail: "invalid_client", fix: "spgate rotate",
			break_: func(t *testing.T, e *emuEnv) []string {
				if err := e.srv.ExpireClientSecret(e.demo.AppID); err != nil {
					t.Fatal(err)
				}
				return nil
			}},
		{name: "secret expires soon", code: 0, status: doctor.Warn, step: doctor.StepRotateSecret, detail: "expires in",
			break_: func(t *testing.T, e *emuEnv) []string {
				v := e.open(t, false)
				defer v.Close()
				if _, err := v.SetClientSecret(ctx, "main", secret.New(e.demo.ClientSecret), vault.SecretChange{ExpiresAt: time.Now().Add(10*24*time.Hour + time.Hour)}); err != nil {
					t.Fatal(err)
				}
				return nil
			}},
		{name: "current secret refused, previous works", code: 1, status: doctor.Fail, step: doctor.StepRotateSecret, detail: "but accepts the previous one", fix: "spgate rotate --app main",
			break_: func(t *testing.T, e *emuEnv) []string {
				// A rotation stored a secret Amazon does not hold; the
				// fallback to the previous one hides it from every call.
				v := e.open(t, false)
				defer v.Close()
				wrong := secret.New("amzn1.oa2-cs.v1." + strings.Repeat("0f", 32))
				if _, err := v.SetClientSecret(ctx, "main", wrong, vault.SecretChange{PreviousExpiresAt: time.Now().Add(7 * 24 * time.Hour)}); err != nil {
					t.Fatal(err)
				}
				return nil
			}},
		{name: "rotation left unfinished", code: 0, status: doctor.Warn, step: doctor.StepRotateSecret, detail: `stopped after step "requested"`, fix: "--reset",
			break_: func(t *testing.T, e *emuEnv) []string {
				v := e.open(t, false)
				defer v.Close()
				if err := v.SetState(ctx, "rotation/main", []byte(`{"step":"requested","clientId":"`+e.demo.ClientID+`"}`)); err != nil {
					t.Fatal(err)
				}
				return nil
			}},
		{name: "app without the roles it claims", code: 1, status: doctor.Fail, step: doctor.StepRDTRole, detail: amazontest.RoleShipping,
			break_: func(t *testing.T, e *emuEnv) []string {
				a, err := e.srv.AddApp(amazontest.App{RedirectURIs: []string{amazontest.DemoRedirectURI}})
				if err != nil {
					t.Fatal(err)
				}
				s := e.demo.Sellers[0]
				tok, err := e.srv.Authorize(s.ID, a.ID)
				if err != nil {
					t.Fatal(err)
				}
				v := e.open(t, false)
				defer v.Close()
				if err := v.AddApp(ctx, vault.App{Name: "noroles", AppID: a.ID, ClientID: a.ClientID, Roles: []string{amazontest.RoleShipping},
					ClientSecrets: []vault.Secret{{Value: secret.New(a.ClientSecret)}}}); err != nil {
					t.Fatal(err)
				}
				if err := v.SetRefreshToken(ctx, s.ID, "noroles", secret.New(tok), time.Time{}); err != nil {
					t.Fatal(err)
				}
				return []string{"--app", "noroles", "--seller", s.ID}
			}},
		{name: "seller stored in the wrong region", code: 1, status: doctor.Fail, step: doctor.StepRegion, detail: "only in region na",
			break_: func(t *testing.T, e *emuEnv) []string {
				s := e.demo.Sellers[0]
				if s.Region != amazontest.RegionNA {
					t.Fatalf("demo seller 0 is in %s", s.Region)
				}
				v := e.open(t, false)
				defer v.Close()
				if err := v.UpdateSeller(ctx, s.ID, func(sl *vault.Seller) error {
					sl.Region, sl.Marketplaces = "eu", []string{"A1PA6795UKMFR9"}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				return []string{"--seller", s.ID}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEmuEnv(t)
			var args []string
			if tc.break_ != nil {
				args = tc.break_(t, e)
			}
			r := runDoctorJSON(t, e, tc.code, args...)
			if tc.status == "" {
				if r.Status != doctor.OK {
					t.Fatalf("status %s, want ok: %+v", r.Status, r.Checks)
				}
				var names []string
				for _, c := range r.Checks {
					names = append(names, c.Name)
				}
				for _, n := range []string{"formats", "secret-age", "secret-current", "lwa-refresh-grant", "seller-call", "rdt-role"} {
					if !strings.Contains(strings.Join(names, ","), n) {
						t.Errorf("check %s missing from %v", n, names)
					}
				}
				return
			}
			c := failedStep(t, r, tc.status, tc.step, tc.detail)
			if tc.fix != "" && !strings.Contains(c.Fix, tc.fix) {
				t.Errorf("fix %q lacks %q", c.Fix, tc.fix)
			}
		})
	}
}

func TestDoctorTable(t *testing.T) {
	e := newEmuEnv(t)
	e.srv.Revoke(e.demo.Sellers[0].ID, e.demo.AppID)
	code, out, errOut := run(t, "", "doctor", "--seller", e.demo.Sellers[0].ID)
	if code != ExitFailure {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	for _, want := range []string{"✓ format", "✗ lwa", "step: authorize-seller", "fix:", "failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
