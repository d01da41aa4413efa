package appcmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

const (
	appID    = "amzn1.sp.solution.1a2b3c4d-0000-4000-8000-1234567890ab"
	clientID = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
	secret1  = "amzn1.oa2-cs.v1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	secret2  = "amzn1.oa2-cs.v1.fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	secret3  = "amzn1.oa2-cs.v1.00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
)

// addApp runs app add for main with secret1 in e's vault.
func addApp(t *testing.T, e *cmdtest.Env) {
	t.Helper()
	e.Secrets["client secret"] = secret1
	if err := runAppAdd(context.Background(), &appAddOptions{Factory: e.Factory, Name: "main", AppID: appID, ClientID: clientID, Region: "eu"}); err != nil {
		t.Fatal(err)
	}
	e.Out.Reset()
}

// TestRunAppAdd: the first add creates the vault and stores the secret
// dated by the clock; bad ids or secrets are refused before the vault is
// touched, and never echoed.
func TestRunAppAdd(t *testing.T) {
	for name, tc := range map[string]struct {
		o      appAddOptions
		secret string
		want   string
	}{
		"a bad name":         {appAddOptions{Name: "a b", AppID: appID, ClientID: clientID}, secret1, "app"},
		"a bad app id":       {appAddOptions{Name: "main", AppID: "amzn1.sp.solution.x", ClientID: clientID}, secret1, "--app-id"},
		"no client id":       {appAddOptions{Name: "main", AppID: appID}, secret1, "--client-id is required"},
		"a bad region":       {appAddOptions{Name: "main", AppID: appID, ClientID: clientID, Region: "xx"}, secret1, "--region"},
		"a malformed secret": {appAddOptions{Name: "main", AppID: appID, ClientID: clientID}, "not-a-secret-at-all", ""},
	} {
		e := cmdtest.New(t)
		e.Secrets["client secret"] = tc.secret
		e.OpenVault = func(context.Context, bool) (*vault.Vault, error) {
			t.Errorf("%s: the vault was opened", name)
			return nil, errors.New("not for bad input")
		}
		tc.o.Factory = e.Factory
		err := runAppAdd(context.Background(), &tc.o)
		if _, code := problem.Of(err); code != problem.ExitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (exit %d), want exit %d with %q", name, err, code, problem.ExitUsage, tc.want)
		} else if strings.Contains(err.Error(), tc.secret) {
			t.Errorf("%s: the error shows the secret", name)
		}
	}

	e := cmdtest.New(t)
	addApp(t, e)
	v := e.Vault(t)
	defer v.Close()
	a, err := v.GetApp(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := a.CurrentSecret()
	if cur.Value.Reveal() != secret1 || !cur.CreatedAt.Equal(e.Clock.Now()) || a.Region != "eu" {
		t.Errorf("stored %+v with secret created %v", a, cur.CreatedAt)
	}
	if p, _ := problem.Of(runAppAdd(context.Background(), &appAddOptions{Factory: e.Factory, Name: "main", AppID: appID, ClientID: clientID})); p != problem.Exists {
		t.Errorf("a second add of main: problem %q, want %q", p, problem.Exists)
	}
}

// TestRunAppSetSecret: a secret the verifier refuses is not stored (exit
// 1); one it accepts replaces the current secret, which stays as the
// previous one; --no-verify skips the verifier.
func TestRunAppSetSecret(t *testing.T) {
	e := cmdtest.New(t)
	addApp(t, e)
	e.Secrets["client secret"] = secret2
	verified := 0
	refuse := errors.New("invalid_client")
	set := func(noVerify bool, verdict error) error {
		return runAppSetSecret(context.Background(), &appSetSecretOptions{Factory: e.Factory, Name: "main", NoVerify: noVerify,
			Verify: func(_ context.Context, id string, s secret.String) error {
				if id != clientID || s.Reveal() != e.Secrets["client secret"] {
					t.Errorf("verified %s with another secret", id)
				}
				verified++
				return verdict
			}})
	}
	current := func() string {
		v := e.Vault(t)
		defer v.Close()
		a, err := v.GetApp(context.Background(), "main")
		if err != nil {
			t.Fatal(err)
		}
		cur, _ := a.CurrentSecret()
		return cur.Value.Reveal()
	}
	if _, code := problem.Of(set(false, refuse)); code != problem.ExitFailure || current() != secret1 {
		t.Fatalf("a refused secret: exit %d, current secret changed: %v", code, current() != secret1)
	}
	if err := set(false, nil); err != nil || current() != secret2 || !strings.Contains(e.Out.String(), "verified with LWA") {
		t.Fatalf("an accepted secret: %v, stdout %q", err, e.Out.String())
	}
	e.Secrets["client secret"] = secret3
	if err := set(true, refuse); err != nil || verified != 2 || current() != secret3 || !strings.Contains(e.Out.String(), "NOT verified") {
		t.Fatalf("--no-verify: %v after %d verifications, stdout %q", err, verified, e.Out.String())
	}
	if p, _ := problem.Of(runAppSetSecret(context.Background(), &appSetSecretOptions{Factory: e.Factory, Name: "other", NoVerify: true})); p != problem.NotFound {
		t.Errorf("set-secret of an unknown app: problem %q", p)
	}
}

// TestRunAppUpdate: contradicting or missing flags are bad input; an
// update prints each change.
func TestRunAppUpdate(t *testing.T) {
	e := cmdtest.New(t)
	addApp(t, e)
	for name, o := range map[string]appUpdateOptions{
		"draft and published":   {Draft: true, Published: true},
		"clear and set roles":   {ClearRoles: true, roles: true, Roles: []string{"Tax Invoicing"}},
		"an empty role":         {roles: true, Roles: []string{" "}},
		"nothing":               {},
		"a bad region":          {setRegion: true, Region: "xx"},
		"a bad name for rename": {Rename: "a b"},
	} {
		o.Factory, o.Ref = e.Factory, "main"
		if _, code := problem.Of(runAppUpdate(context.Background(), &o, "spgate app update")); code != problem.ExitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, problem.ExitUsage)
		}
	}
	o := appUpdateOptions{Factory: e.Factory, Ref: "main", setRegion: true, Region: "na", Published: true}
	if err := runAppUpdate(context.Background(), &o, "spgate app update"); err != nil || !strings.Contains(e.Out.String(), "updated app main:") ||
		!strings.Contains(e.Out.String(), "region") {
		t.Fatalf("update: %v, stdout %q", err, e.Out.String())
	}
}
