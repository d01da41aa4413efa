package appvault_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/provision"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// newAWSVault is a vault holding one app without any AWS chain.
func newAWSVault(t *testing.T) *vault.Vault {
	t.Helper()
	ctx := context.Background()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, filepath.Join(t.TempDir(), "vault.db"), key, vault.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	if err := v.AddApp(ctx, vault.App{Name: "main", AppID: "amzn1.sp.solution.8f6b1d2e-3c4a-4b5d-9e6f-7a8b9c0d1e2f",
		ClientID: "amzn1.application-oa2-client." + strings.Repeat("c", 32), Region: vault.RegionNA}); err != nil {
		t.Fatal(err)
	}
	return v
}

func getApp(t *testing.T, v *vault.Vault) vault.App {
	t.Helper()
	a, err := v.GetApp(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAWSSetupIsKeptWithTheApp runs setup and teardown against moto_server:
// the key, role, queue and the names used are stored with the app; a second
// setup resumes from them without flags and changes nothing; teardown
// forgets them all.
func TestAWSSetupIsKeptWithTheApp(t *testing.T) {
	m := mototest.Start(t)
	ctx := context.Background()
	v := newAWSVault(t)
	cfg := m.AdminConfig()
	base := provision.Options{Config: &cfg, UserName: "kept-user", RoleName: "kept-role", Queue: true, QueueName: "kept-queue"}

	o, prev, err := appvault.AWSOptions(ctx, v, getApp(t, v), base, provision.Given{UserName: true, RoleName: true, QueueName: true})
	if err != nil || prev != (provision.Saved{}) || o.SetupCommand != "spgate setup aws --app main" {
		t.Fatalf("AWSOptions on a fresh app: %+v, %+v, %v", o, prev, err)
	}
	res, err := appvault.SetupAWS(ctx, v, getApp(t, v), prev, o, false)
	if err != nil {
		t.Fatal(err)
	}
	a := getApp(t, v)
	if a.AWSAccessKeyID == "" || !a.HasAWSSecretKey() || a.RoleARN != res.Report.RoleARN || a.SQSQueueURL == "" || !res.AppChanged ||
		res.StoredAccessKeyID != a.AWSAccessKeyID {
		t.Fatalf("after setup: app %+v, result %+v", a, res)
	}
	if strings.Contains(res.Text(o, false), a.AWSSecretKey.Value.Reveal()) {
		t.Fatal("the setup text shows the user's secret key")
	}

	// Without the flags, the next run finds the same resources.
	o, prev, err = appvault.AWSOptions(ctx, v, a, provision.Options{Config: &cfg, UserName: provision.DefaultUserName, RoleName: provision.DefaultRoleName}, provision.Given{})
	if err != nil || prev.UserName != "kept-user" || o.UserName != "kept-user" || o.RoleName != "kept-role" || !o.Queue || o.QueueName != "kept-queue" || o.HeldAccessKeyID != a.AWSAccessKeyID {
		t.Fatalf("resumed options %+v from %+v (%v)", o, prev, err)
	}
	res, err = appvault.SetupAWS(ctx, v, a, prev, o, false)
	if err != nil || res.AppChanged || res.Report.Changed() || res.Report.NewAccessKey != nil {
		t.Fatalf("a second setup changed something: %+v, %v", res, err)
	}
	if after := getApp(t, v); !after.UpdatedAt.Equal(a.UpdatedAt) {
		t.Error("a second setup wrote the app")
	}

	errNo := errors.New("not now")
	if _, err := appvault.TeardownAWS(ctx, v, a, o, func(plan *provision.Report) error {
		if !plan.DryRun || !plan.Changed() {
			t.Errorf("the plan to confirm: %+v", plan)
		}
		return errNo
	}); !errors.Is(err, errNo) {
		t.Fatalf("a teardown not confirmed: %v", err)
	}
	if after := getApp(t, v); after.RoleARN != a.RoleARN || after.AWSAccessKeyID != a.AWSAccessKeyID {
		t.Fatal("a teardown not confirmed removed something")
	}
	res, err = appvault.TeardownAWS(ctx, v, a, o, func(*provision.Report) error { return nil })
	if err != nil || !res.AppChanged {
		t.Fatalf("teardown: %+v, %v", res, err)
	}
	a = getApp(t, v)
	if a.AWSAccessKeyID != "" || a.HasAWSSecretKey() || a.RoleARN != "" || a.SQSQueueURL != "" {
		t.Fatalf("after teardown the app keeps key %q, role %q, queue %q", a.AWSAccessKeyID, a.RoleARN, a.SQSQueueURL)
	}
	if saved, err := appvault.LoadAWSSetup(ctx, v, a); err != nil || saved != (provision.Saved{}) {
		t.Fatalf("after teardown the saved setup is %+v (%v)", saved, err)
	}
}

// TestSigner: an app that does not sign gets no hook; one that signs
// without a usable role or key is told to run setup.
func TestSigner(t *testing.T) {
	tests := []struct {
		name string
		app  vault.App
		want string // "" : no error
		hook bool
	}{
		{"not signing", vault.App{Name: "main"}, "", false},
		{"no role", vault.App{Name: "main", Signing: true}, "role ARN is not usable", false},
		{"no key", vault.App{Name: "main", Signing: true, RoleARN: "arn:aws:iam::123456789012:role/SellingPartnerAPIRole"}, "no IAM user access key", false},
	}
	for _, tc := range tests {
		sign, err := appvault.Signer(tc.app, "")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "spgate setup aws --app main")):
			t.Errorf("%s: %v, want %q and the fix", tc.name, err, tc.want)
		case (sign != nil) != tc.hook:
			t.Errorf("%s: hook %v, want %v", tc.name, sign != nil, tc.hook)
		}
	}
}

// A signing app's calls carry a SigV4 signature made with the role's
// temporary credentials, for the call's region.
func TestSignerSigns(t *testing.T) {
	m := mototest.Start(t)
	ctx := context.Background()
	v := newAWSVault(t)
	cfg := m.AdminConfig()
	o, prev, err := appvault.AWSOptions(ctx, v, getApp(t, v), provision.Options{Config: &cfg, UserName: provision.DefaultUserName,
		RoleName: provision.DefaultRoleName, PolicyName: provision.DefaultPolicyName, InlinePolicyName: provision.DefaultInlinePolicyName}, provision.Given{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := appvault.SetupAWS(ctx, v, getApp(t, v), prev, o, true); err != nil {
		t.Fatal(err)
	}
	sign, err := appvault.Signer(getApp(t, v), m.Endpoint)
	if err != nil || sign == nil {
		t.Fatalf("Signer: %v", err)
	}
	var auth string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { auth = r.Header.Get("Authorization") }))
	defer ts.Close()
	resp, err := (&http.Client{Transport: sign(spapi.EU, http.DefaultTransport)}).Get(ts.URL + "/orders/v0/orders")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=ASIA") || !strings.Contains(auth, "/eu-west-1/execute-api/aws4_request") {
		t.Errorf("request not signed with the role's session in eu-west-1: %q", auth)
	}
}
