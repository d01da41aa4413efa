package doctor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

func TestSecretsCurrentIsTheOneLWAAccepts(t *testing.T) {
	srv := amazontest.NewServer(amazontest.WithoutRateLimits())
	defer srv.Close()
	d := srv.Demo()
	now := time.Now()
	good, wrong := secret.New(d.ClientSecret), secret.New("amzn1.oa2-cs.v1."+strings.Repeat("0f", 32))
	app := func(cur, prev secret.String, prevExp time.Time) vault.App {
		a := vault.App{Name: "main", ClientID: d.ClientID, ClientSecrets: []vault.Secret{{Version: 2, Status: vault.StatusCurrent, Value: cur}}}
		if !prev.IsZero() {
			a.ClientSecrets = append(a.ClientSecrets, vault.Secret{Version: 1, Status: vault.StatusPrevious, Value: prev, ExpiresAt: prevExp})
		}
		return a
	}
	verify := rotation.LWAVerifier(srv.TokenURL(), nil, nil)
	tests := []struct {
		name   string
		app    vault.App
		st     rotation.State
		check  string
		status Status
		detail string
	}{
		{"current accepted", app(good, wrong, now.Add(time.Hour)), rotation.State{}, CheckSecretCurrent, OK, "on its own"},
		{"current refused, previous works", app(wrong, good, now.Add(time.Hour)), rotation.State{}, CheckSecretCurrent, Fail, "but accepts the previous one v1"},
		{"both refused", app(wrong, wrong, now.Add(time.Hour)), rotation.State{}, CheckSecretCurrent, Fail, "and the previous one v1 too"},
		{"previous expired", app(wrong, good, now.Add(-time.Hour)), rotation.State{}, CheckSecretCurrent, Fail, "expired on"},
		{"unfinished rotation", app(good, secret.String{}, time.Time{}), rotation.State{Step: rotation.StepRequested}, CheckRotationPending, Warn, `stopped after step "requested"`},
		{"rotation running", app(good, secret.String{}, time.Time{}),
			rotation.State{Step: rotation.StepRequested, Lock: &vault.Lease{Owner: "spgate rotate", PID: 42, Host: "h", Since: now, Expires: now.Add(time.Minute)}},
			CheckRotationPending, Skip, "pid 42 on host h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checks := Secrets(context.Background(), SecretsInput{App: tc.app, Verify: verify, Rotation: tc.st})
			for _, c := range checks {
				if c.Name == tc.check {
					if c.Status != tc.status || !strings.Contains(c.Detail, tc.detail) {
						t.Fatalf("%s %q, want %s with %q", c.Status, c.Detail, tc.status, tc.detail)
					}
					if (c.Status == Fail || c.Status == Warn) && !strings.Contains(c.Fix, "spgate rotate --app main") {
						t.Errorf("fix %q", c.Fix)
					}
					if strings.Contains(c.Detail+c.Fix, d.ClientSecret) {
						t.Error("a secret in the finding")
					}
					return
				}
			}
			t.Fatalf("no %s check in %+v", tc.check, checks)
		})
	}
}
