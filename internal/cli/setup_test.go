package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/awsauth"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/provision"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

const (
	setupTestKey      = "0101010101010101010101010101010101010101010101010101010101010101"
	setupTestAppID    = "amzn1.sp.solution.8f6b1d2e-3c4a-4b5d-9e6f-7a8b9c0d1e2f"
	setupTestClientID = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
)

// setupEnv is a vault with one app and a moto_server whose administrator's
// keys are in the environment, as a user would run spgate setup aws.
type setupEnv struct {
	t     *testing.T
	srv   *mototest.Server
	vpath string
	out   bytes.Buffer // every byte spgate printed, for the leak check
}

func newSetupEnv(t *testing.T) *setupEnv {
	srv := mototest.Start(t)
	e := &setupEnv{t: t, srv: srv, vpath: filepath.Join(t.TempDir(), "vault.db")}
	t.Setenv(vault.EnvMasterKey, setupTestKey)
	t.Setenv(vault.EnvVault, e.vpath)
	t.Setenv(cmdutil.EnvAWSEndpoint, srv.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.Admin.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.Admin.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", mototest.Region)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	v := e.vault()
	defer v.Close()
	if err := v.AddApp(context.Background(), vault.App{Name: "main", AppID: setupTestAppID, ClientID: setupTestClientID, Region: vault.RegionNA}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *setupEnv) vault() *vault.Vault {
	e.t.Helper()
	key, err := vault.ParseKey(setupTestKey, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := vault.Open(context.Background(), e.vpath, key, vault.Options{Create: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *setupEnv) app() vault.App {
	e.t.Helper()
	v := e.vault()
	defer v.Close()
	a, err := v.GetApp(context.Background(), "main")
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// run runs spgate with args and returns the exit code, stdout and stderr.
func (e *setupEnv) run(args ...string) (int, string, string) {
	e.t.Helper()
	var out, errw bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errw)
	e.out.WriteString(out.String())
	e.out.WriteString(errw.String())
	return code, out.String(), errw.String()
}

func (e *setupEnv) mustRun(want int, args ...string) (string, string) {
	e.t.Helper()
	code, out, errs := e.run(args...)
	if code != want {
		e.t.Fatalf("spgate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errs)
	}
	return out, errs
}

func (e *setupEnv) iam() *iam.Client { return iam.NewFromConfig(e.srv.AdminConfig()) }

func TestSetupAWS(t *testing.T) {
	e := newSetupEnv(t)
	ctx := context.Background()

	t.Run("validation", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			msg  string
		}{
			{[]string{"setup", "aws"}, "--app is required"},
			{[]string{"setup", "aws", "--app", "main", "--role-name", "bad role!"}, "role"},
			{[]string{"setup", "aws", "--app", "main", "--user-name", strings.Repeat("u", 65)}, "user"},
			{[]string{"setup", "aws", "--app", "main", "--queue", "--queue-name", "no.dots"}, "queue"},
			{[]string{"setup", "aws", "--app", "main", "--policy-name", "a/b"}, "policy"},
			{[]string{"setup", "aws", "--app", "main", "--check", "--teardown"}, "exclude"},
			{[]string{"setup", "aws", "--app", "main", "--yes"}, "--teardown"},
			{[]string{"setup", "aws", "--app", "main", "--endpoint-url", "ftp://x"}, "endpoint"},
			{[]string{"setup", "aws", "--app", "nosuch"}, "no app"},
		} {
			code, _, errs := e.run(tc.args...)
			if code != ExitUsage || !strings.Contains(strings.ToLower(errs), strings.ToLower(tc.msg)) {
				t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, errs, tc.msg)
			}
		}
	})

	t.Run("dry run shows the exact policy and changes nothing", func(t *testing.T) {
		out, _ := e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--queue", "--dry-run")
		if !strings.Contains(out, provision.ExecuteAPIPolicy) {
			t.Errorf("dry run does not show the exact policy %s:\n%s", provision.ExecuteAPIPolicy, out)
		}
		if !strings.Contains(out, "Dry run") || !strings.Contains(out, string(provision.WouldCreate)) {
			t.Errorf("dry run output:\n%s", out)
		}
		if a := e.app(); a.AWSAccessKeyID != "" || a.RoleARN != "" {
			t.Errorf("dry run stored %q / %q", a.AWSAccessKeyID, a.RoleARN)
		}
		if _, err := e.iam().GetUser(ctx, &iam.GetUserInput{UserName: aws.String(provision.DefaultUserName)}); err == nil {
			t.Error("dry run created the IAM user")
		}
	})

	var roleARN string
	var userSecret secret.String
	t.Run("setup stores the key in the vault", func(t *testing.T) {
		out, _ := e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--queue")
		a := e.app()
		if err := vault.ValidateAccessKeyID(a.AWSAccessKeyID); err != nil || a.AWSSecretKey.Value.IsZero() {
			t.Fatalf("vault holds key %q (secret stored: %v)", a.AWSAccessKeyID, !a.AWSSecretKey.Value.IsZero())
		}
		if _, err := provision.ValidateRoleARN(a.RoleARN); err != nil || a.SQSQueueURL == "" {
			t.Fatalf("app role %q queue %q", a.RoleARN, a.SQSQueueURL)
		}
		roleARN, userSecret = a.RoleARN, a.AWSSecretKey.Value
		for _, want := range []string{a.AWSAccessKeyID, "Seller Central", a.RoleARN, "Next", "2023"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		// The stored key is the user's, and works.
		id, err := awsauth.CallerIdentity(ctx, awsauth.UserKeys{AccessKeyID: a.AWSAccessKeyID, SecretAccessKey: a.AWSSecretKey.Value}.Provider(),
			awsauth.STSOptions{Endpoint: e.srv.Endpoint})
		if err != nil || !strings.HasSuffix(id.ARN, ":user/"+provision.DefaultUserName) {
			t.Fatalf("stored key: identity %+v, %v", id, err)
		}
	})

	t.Run("re-run changes nothing", func(t *testing.T) {
		before := e.app()
		out, _ := e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--queue")
		if !strings.Contains(out, "Nothing changed") {
			t.Errorf("re-run output:\n%s", out)
		}
		after := e.app()
		if after.AWSAccessKeyID != before.AWSAccessKeyID || !after.AWSSecretKey.Value.Equal(before.AWSSecretKey.Value) || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Error("re-run changed the app in the vault")
		}
		keys, err := e.iam().ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(provision.DefaultUserName)})
		if err != nil || len(keys.AccessKeyMetadata) != 1 {
			t.Errorf("user has %d keys after re-run (%v), want 1", len(keys.AccessKeyMetadata), err)
		}
	})

	t.Run("json", func(t *testing.T) {
		out, _ := e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--queue", "--json")
		var res appvault.AWSResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if res.Report == nil || res.Report.Changed() || res.Report.RoleARN != roleARN || res.StoredAccessKeyID != e.app().AWSAccessKeyID {
			t.Errorf("JSON result %+v", res)
		}
	})

	t.Run("check on a healthy setup is clean", func(t *testing.T) {
		out, _ := e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--check")
		if strings.Contains(out, "broken") {
			t.Errorf("check output:\n%s", out)
		}
	})

	t.Run("doctor on the healthy setup", func(t *testing.T) {
		a := e.app()
		admin := e.srv.AdminConfig()
		checks := doctor.AWS(ctx, doctor.AWSInput{UserKeys: awsauth.UserKeys{AccessKeyID: a.AWSAccessKeyID, SecretAccessKey: a.AWSSecretKey.Value},
			RoleARN: a.RoleARN, QueueURL: a.SQSQueueURL, Endpoint: e.srv.Endpoint, Region: mototest.Region, AdminConfig: &admin, App: a.Name})
		for _, c := range checks {
			if c.Status != doctor.OK {
				t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
			}
		}
	})

	t.Run("signing", func(t *testing.T) {
		if f, err := cmdutil.Signer(e.app()); err != nil || f != nil {
			t.Fatalf("an app without signing got a signer (%v)", err)
		}
		e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--queue", "--enable-signing")
		a := e.app()
		if !a.Signing {
			t.Fatal("--enable-signing did not turn signing on")
		}
		sign, err := cmdutil.Signer(a)
		if err != nil || sign == nil {
			t.Fatalf("signerFor: %v", err)
		}
		var auth, token string
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			auth, token = r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token")
		}))
		defer ts.Close()
		client := &http.Client{Transport: sign(spapi.EU, http.DefaultTransport)}
		resp, err := client.Get(ts.URL + "/orders/v0/orders")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=ASIA") || !strings.Contains(auth, "/eu-west-1/execute-api/aws4_request") || token == "" {
			t.Errorf("request not signed with the role's session in eu-west-1: %q", auth)
		}
	})

	t.Run("check names a deviation", func(t *testing.T) {
		if _, err := e.iam().DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(provision.DefaultUserName), PolicyName: aws.String(provision.DefaultInlinePolicyName)}); err != nil {
			t.Fatal(err)
		}
		out, errs := e.mustRun(ExitFailure, "setup", "aws", "--app", "main", "--check")
		if !strings.Contains(out, provision.InlinePolicyMissing) || !strings.Contains(errs, provision.InlinePolicyMissing) {
			t.Errorf("check does not name %s:\n%s\n%s", provision.InlinePolicyMissing, out, errs)
		}
		a := e.app()
		checks := doctor.AWS(ctx, doctor.AWSInput{UserKeys: awsauth.UserKeys{AccessKeyID: a.AWSAccessKeyID, SecretAccessKey: a.AWSSecretKey.Value},
			RoleARN: a.RoleARN, Endpoint: e.srv.Endpoint, Region: mototest.Region, App: a.Name})
		for _, c := range checks {
			if c.Name == doctor.CheckAWSAssumeRole && c.Status != doctor.Fail {
				t.Errorf("doctor: AssumeRole without the inline policy is %s: %s", c.Status, c.Detail)
			}
		}
		// Setup repairs it without a new key.
		keyBefore := a.AWSAccessKeyID
		e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--queue")
		e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--check")
		if e.app().AWSAccessKeyID != keyBefore {
			t.Error("repair replaced the access key")
		}
	})

	t.Run("teardown needs confirmation", func(t *testing.T) {
		_, errs := e.mustRun(ExitUsage, "setup", "aws", "--app", "main", "--teardown")
		if !strings.Contains(errs, "--yes") {
			t.Errorf("refusal does not say how to confirm: %s", errs)
		}
		if _, err := e.iam().GetUser(ctx, &iam.GetUserInput{UserName: aws.String(provision.DefaultUserName)}); err != nil {
			t.Errorf("unconfirmed teardown removed the user: %v", err)
		}
	})

	t.Run("teardown --yes leaves nothing", func(t *testing.T) {
		e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--teardown", "--yes")
		a := e.app()
		if a.AWSAccessKeyID != "" || a.HasAWSSecretKey() || a.RoleARN != "" || a.SQSQueueURL != "" || a.Signing {
			t.Errorf("app after teardown: key %q role %q queue %q signing %v", a.AWSAccessKeyID, a.RoleARN, a.SQSQueueURL, a.Signing)
		}
		c := e.iam()
		_, uerr := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(provision.DefaultUserName)})
		_, rerr := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(provision.DefaultRoleName)})
		for _, err := range []error{uerr, rerr} {
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchEntity" {
				t.Errorf("after teardown: %v, want NoSuchEntity", err)
			}
		}
		out, _ := e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--teardown", "--yes")
		if strings.Contains(out, string(provision.Deleted)) {
			t.Errorf("second teardown deleted something:\n%s", out)
		}
	})

	// The secrets never reached the terminal.
	out := e.out.String()
	if userSecret.IsZero() {
		t.Fatal("no user secret was captured")
	}
	if strings.Contains(out, userSecret.Reveal()) {
		t.Error("the IAM user's secret access key was printed")
	}
	if strings.Contains(out, e.srv.Admin.SecretAccessKey) {
		t.Error("the administrator's secret key was printed")
	}
}

// A non-default region is stored with the app: --check, doctor and
// --teardown find the queue there without --region.
func TestSetupRegionIsKeptWithTheApp(t *testing.T) {
	e := newSetupEnv(t)
	ctx := context.Background()
	e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--queue", "--region", "eu-west-1")
	e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--check")
	r := doctorJSON(t, e, "doctor", "--json", "--app", "main")
	if c := findCheck(r, doctor.CheckAWSQueueRead); c.Status != doctor.OK {
		t.Errorf("doctor reads the queue in the wrong region: %+v", c)
	}
	e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--teardown", "--yes")
	eu := e.srv.AdminConfig()
	eu.Region = "eu-west-1"
	if _, err := sqs.NewFromConfig(eu).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(provision.DefaultQueueName)}); err == nil {
		t.Error("teardown left the queue in eu-west-1")
	}
}

// Custom names are stored too; the fixes --check prints repeat them, so
// running the fix repairs the same resources.
func TestSetupFixRepeatsCustomNames(t *testing.T) {
	e := newSetupEnv(t)
	ctx := context.Background()
	e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--queue", "--user-name", "svc-spgate", "--role-name", "svc-spgate-role", "--queue-name", "svc-q")
	if _, err := e.iam().DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("svc-spgate"), PolicyName: aws.String(provision.DefaultInlinePolicyName)}); err != nil {
		t.Fatal(err)
	}
	out, errs := e.mustRun(ExitFailure, "setup", "aws", "--app", "main", "--check")
	want := "spgate setup aws --app main --user-name svc-spgate --role-name svc-spgate-role --queue --queue-name svc-q"
	if !strings.Contains(out, want) || !strings.Contains(errs, want) || !strings.Contains(out, provision.InlinePolicyMissing) {
		t.Fatalf("check does not repeat the names (%s):\n%s\n%s", want, out, errs)
	}
	if strings.Contains(out, provision.UserMissing) {
		t.Fatalf("check looked for the default user:\n%s", out)
	}
	args := append(strings.Fields(strings.TrimPrefix(want, "spgate ")), "--json")
	e.mustRun(ExitOK, args...)
	e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--check")
}

// A teardown IAM stops partway (a policy setup did not create keeps the
// role) has already removed the deleted access key from the vault.
func TestSetupTeardownRecordsEachDeletion(t *testing.T) {
	e := newSetupEnv(t)
	ctx := context.Background()
	e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--queue")
	if _, err := e.iam().PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(provision.DefaultRoleName), PolicyName: aws.String("someone-elses"),
		PolicyDocument: aws.String(provision.ExecuteAPIPolicy)}); err != nil {
		t.Fatal(err)
	}
	_, errs := e.mustRun(ExitFailure, "setup", "aws", "--app", "main", "--teardown", "--yes")
	if !strings.Contains(errs, "stopped") {
		t.Errorf("stderr: %s", errs)
	}
	a := e.app()
	if a.AWSAccessKeyID != "" || a.HasAWSSecretKey() {
		t.Fatalf("the deleted access key %s is still stored with the app", a.AWSAccessKeyID)
	}
	if a.RoleARN == "" {
		t.Error("the role was not deleted, yet its ARN was forgotten")
	}
}

// doctor checks the role's and the queue's policies when it can read IAM,
// and says which checks it skipped, and why, when it cannot.
func TestDoctorChecksPoliciesWhenItCanReadIAM(t *testing.T) {
	e := newSetupEnv(t)
	ctx := context.Background()
	e.mustRun(ExitOK, "setup", "aws", "--app", "main", "--queue")
	a := e.app()
	out, err := sqs.NewFromConfig(e.srv.AdminConfig()).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &a.SQSQueueURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	arn := out.Attributes["QueueArn"]
	if _, err := sqs.NewFromConfig(e.srv.AdminConfig()).SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &a.SQSQueueURL,
		Attributes: map[string]string{"Policy": strings.ReplaceAll(provision.QueuePolicy(arn), "437568002678", "111122223333")}}); err != nil {
		t.Fatal(err)
	}
	r := doctorJSON(t, e, "doctor", "--json", "--app", "main")
	if c := findCheck(r, doctor.CheckAWSQueue); c.Status != doctor.Fail || !strings.Contains(c.Detail, provision.QueuePolicyNoAmazon) {
		t.Fatalf("queue policy without Amazon: %+v", c)
	}
	if c := findCheck(r, doctor.CheckAWSRolePolicy); c.Status != doctor.OK {
		t.Errorf("role policy: %+v", c)
	}
	// Without administrator credentials (only the app's own keys, which
	// may not read IAM), each check it could not run is named, with why.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	r = doctorJSON(t, e, "doctor", "--json", "--app", "main")
	for _, name := range []string{doctor.CheckAWSUser, doctor.CheckAWSRolePolicy, doctor.CheckAWSTrust, doctor.CheckAWSUserPolicy, doctor.CheckAWSQueue} {
		c := findCheck(r, name)
		if c.Status != doctor.Skip || !strings.Contains(c.Detail, "not checked") || !strings.Contains(c.Detail, "no administrator credentials") ||
			!strings.Contains(c.Detail, "may not read IAM") || c.Fix == "" {
			t.Errorf("%s: %+v", name, c)
		}
	}
	if c := findCheck(r, doctor.CheckAWSQueueRead); c.Status != doctor.OK {
		t.Errorf("the user's own keys read the queue: %+v", c)
	}
}

func doctorJSON(t *testing.T, e *setupEnv, args ...string) doctorReport {
	t.Helper()
	_, out, errs := e.run(args...)
	var r doctorReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("doctor --json: %v\n%s\n%s", err, out, errs)
	}
	return r
}

func findCheck(r doctorReport, name string) doctor.Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return doctor.Check{Name: name, Status: "missing"}
}
