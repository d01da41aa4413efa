package doctor_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/spgate/spgate/awsauth"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/provision"
	"github.com/spgate/spgate/secret"
)

// chain is one provisioned setup on the test's moto server.
type chain struct {
	keys     awsauth.UserKeys
	roleARN  string
	queueURL string
	opts     provision.Options
}

func provisionChain(t *testing.T, srv *mototest.Server, prefix string) chain {
	t.Helper()
	cfg := srv.AdminConfig()
	opts := provision.Options{
		Config:              &cfg,
		Endpoint:            srv.Endpoint,
		Region:              mototest.Region,
		UserName:            prefix + "User",
		RoleName:            prefix + "Role",
		PolicyName:          prefix + "Policy",
		InlinePolicyName:    prefix + "AssumeRole",
		Queue:               true,
		QueueName:           prefix + "-queue",
		QueueReadPolicyName: prefix + "QueueRead",
	}
	rep, err := provision.Setup(context.Background(), opts)
	if err != nil {
		t.Fatalf("provision.Setup: %v", err)
	}
	if rep.NewAccessKey == nil {
		t.Fatal("provision.Setup created no access key")
	}
	return chain{
		keys:     awsauth.UserKeys{AccessKeyID: rep.NewAccessKey.AccessKeyID, SecretAccessKey: rep.NewAccessKey.SecretAccessKey},
		roleARN:  rep.RoleARN,
		queueURL: rep.QueueURL,
		opts:     opts,
	}
}

func byName(checks []doctor.Check) map[string]doctor.Check {
	m := map[string]doctor.Check{}
	for _, c := range checks {
		m[c.Name] = c
	}
	return m
}

// assertClean fails on any check that leaks the secret or has the wrong layer.
func assertClean(t *testing.T, checks []doctor.Check, secrets ...secret.String) {
	t.Helper()
	b, _ := json.Marshal(checks)
	for _, s := range secrets {
		if !s.IsZero() && strings.Contains(string(b), s.Reveal()) {
			t.Fatal("a check contains the IAM user's secret access key")
		}
	}
	for _, c := range checks {
		if c.Layer != "aws" {
			t.Errorf("check %s has layer %q, want aws", c.Name, c.Layer)
		}
		if c.Status == doctor.Fail && (c.Step != doctor.StepAWSSetup || c.Fix == "") {
			t.Errorf("failed check %s names no step or fix: %+v", c.Name, c)
		}
	}
	if len(checks) == 0 || checks[0].Name != doctor.CheckAWSSigV4 || !strings.Contains(checks[0].Detail, "2023") || !strings.Contains(checks[0].Detail, "SQS") {
		t.Errorf("first check is not the SigV4 note: %+v", checks)
	}
}

func dump(checks []doctor.Check) string {
	var b strings.Builder
	for _, c := range checks {
		b.WriteString("\n  " + c.Name + " " + string(c.Status) + ": " + c.Detail)
	}
	return b.String()
}

func TestAWS(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	admin := srv.AdminConfig()

	healthy := provisionChain(t, srv, "Healthy")
	broken := provisionChain(t, srv, "Broken")
	c := iam.NewFromConfig(admin)
	if _, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(broken.opts.UserName), PolicyName: aws.String(broken.opts.InlinePolicyName)}); err != nil {
		t.Fatal(err)
	}

	type want map[string]doctor.Status
	tests := []struct {
		name  string
		in    doctor.AWSInput
		want  want
		worst doctor.Status
	}{
		{"healthy with admin", doctor.AWSInput{UserKeys: healthy.keys, RoleARN: healthy.roleARN, QueueURL: healthy.queueURL, AdminConfig: &admin},
			want{doctor.CheckAWSKeys: doctor.OK, doctor.CheckAWSAssumeRole: doctor.OK, doctor.CheckAWSUser: doctor.OK, doctor.CheckAWSRolePolicy: doctor.OK,
				doctor.CheckAWSTrust: doctor.OK, doctor.CheckAWSUserPolicy: doctor.OK, doctor.CheckAWSQueue: doctor.OK, doctor.CheckAWSQueueRead: doctor.OK}, doctor.OK},
		{"healthy, user keys only", doctor.AWSInput{UserKeys: healthy.keys, RoleARN: healthy.roleARN, QueueURL: healthy.queueURL},
			want{doctor.CheckAWSKeys: doctor.OK, doctor.CheckAWSAssumeRole: doctor.OK, doctor.CheckAWSRolePolicy: doctor.Skip, doctor.CheckAWSQueueRead: doctor.OK}, doctor.OK},
		{"inline policy removed", doctor.AWSInput{UserKeys: broken.keys, RoleARN: broken.roleARN, AdminConfig: &admin},
			want{doctor.CheckAWSKeys: doctor.OK, doctor.CheckAWSAssumeRole: doctor.Fail, doctor.CheckAWSUserPolicy: doctor.Fail, doctor.CheckAWSRolePolicy: doctor.OK}, doctor.Fail},
		{"wrong secret", doctor.AWSInput{UserKeys: awsauth.UserKeys{AccessKeyID: healthy.keys.AccessKeyID, SecretAccessKey: secret.New(strings.Repeat("x", 40))}, RoleARN: healthy.roleARN, AdminConfig: &admin},
			want{doctor.CheckAWSKeys: doctor.Fail, doctor.CheckAWSAssumeRole: doctor.Skip, doctor.CheckAWSUser: doctor.OK}, doctor.Fail},
		{"malformed role ARN", doctor.AWSInput{UserKeys: healthy.keys, RoleARN: "arn:aws:iam::12345:role/x"},
			want{doctor.CheckAWSKeys: doctor.OK, doctor.CheckAWSRoleARN: doctor.Fail}, doctor.Fail},
		{"nothing stored", doctor.AWSInput{},
			want{doctor.CheckAWSKeys: doctor.Skip, doctor.CheckAWSAssumeRole: doctor.Skip}, doctor.OK},
		{"role but no keys", doctor.AWSInput{RoleARN: healthy.roleARN},
			want{doctor.CheckAWSKeys: doctor.Fail}, doctor.Fail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Endpoint = srv.Endpoint
			tc.in.Region = mototest.Region
			tc.in.App = "main"
			checks := doctor.AWS(ctx, tc.in)
			assertClean(t, checks, healthy.keys.SecretAccessKey, broken.keys.SecretAccessKey)
			got := byName(checks)
			for name, st := range tc.want {
				if got[name].Status != st {
					t.Errorf("%s: status %q, want %q%s", name, got[name].Status, st, dump(checks))
				}
			}
			if w := doctor.Worst(checks); w != tc.worst {
				t.Errorf("worst %q, want %q%s", w, tc.worst, dump(checks))
			}
		})
	}

	t.Run("failure names the deviation", func(t *testing.T) {
		checks := doctor.AWS(ctx, doctor.AWSInput{UserKeys: broken.keys, RoleARN: broken.roleARN, AdminConfig: &admin, Endpoint: srv.Endpoint, Region: mototest.Region, App: "main"})
		got := byName(checks)
		if d := got[doctor.CheckAWSUserPolicy].Detail; !strings.Contains(d, provision.InlinePolicyMissing) {
			t.Errorf("user policy check does not name %s: %q", provision.InlinePolicyMissing, d)
		}
		if f := got[doctor.CheckAWSAssumeRole].Fix; !strings.Contains(f, "spgate setup aws --app main") {
			t.Errorf("assume-role fix %q does not say how to repair", f)
		}
	})
}

// TestAWSUnreachableIsNotABadKey: an STS endpoint that does not answer is
// its own finding, naming the endpoint, and never advice to create new
// IAM keys.
func TestAWSUnreachableIsNotABadKey(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	checks := doctor.AWS(context.Background(), doctor.AWSInput{
		UserKeys: awsauth.UserKeys{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: secret.New(strings.Repeat("x", 40))},
		Endpoint: endpoint, Region: "us-east-1", App: "main",
	})
	got := byName(checks)
	reach, ok := got["reach-aws"]
	if !ok || reach.Status != doctor.Fail || !strings.Contains(reach.Detail, "cannot reach") || !strings.Contains(reach.Detail, ln.Addr().String()) {
		t.Errorf("no cannot-reach finding naming %s:%s", endpoint, dump(checks))
	}
	if k, ok := got[doctor.CheckAWSKeys]; ok && k.Status == doctor.Fail {
		t.Errorf("the key was blamed for an endpoint that does not answer: %+v", k)
	}
	for _, c := range checks {
		if strings.Contains(c.Fix, "new key") {
			t.Errorf("advice to create a new key: %+v", c)
		}
	}
}
