package provision_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spgate/spgate/provision"
)

// Each case builds the guide's setup, breaks one thing by hand, and expects
// Check to name exactly that deviation; Setup must then repair it.
func TestCheckDiagnosesEachDeviation(t *testing.T) {
	mustDo := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		want     string
		queue    bool
		noRepair bool
		brk      func(t *testing.T, e *env, r *provision.Report)
	}{
		{name: "trust admits the whole account", want: provision.TrustNotLockedToUser, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.iam.UpdateAssumeRolePolicy(context.Background(), &iam.UpdateAssumeRolePolicyInput{RoleName: &e.opts.RoleName,
				PolicyDocument: aws.String(provision.TrustPolicy("arn:aws:iam::123456789012:root"))})
			mustDo(t, err)
		}},
		{name: "trust admits the user and another", want: provision.TrustNotLockedToUser, brk: func(t *testing.T, e *env, r *provision.Report) {
			doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["` + r.UserARN + `","` + e.srv.Admin.AccessKeyID + `x"]},"Action":"sts:AssumeRole"}]}`
			doc = strings.Replace(doc, e.srv.Admin.AccessKeyID+"x", e.arn("user", e.srv.AdminUser), 1)
			_, err := e.iam.UpdateAssumeRolePolicy(context.Background(), &iam.UpdateAssumeRolePolicyInput{RoleName: &e.opts.RoleName, PolicyDocument: &doc})
			mustDo(t, err)
		}},
		{name: "trust names another user", want: provision.TrustExcludesUser, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.iam.UpdateAssumeRolePolicy(context.Background(), &iam.UpdateAssumeRolePolicyInput{RoleName: &e.opts.RoleName,
				PolicyDocument: aws.String(provision.TrustPolicy(e.arn("user", e.srv.AdminUser)))})
			mustDo(t, err)
		}},
		{name: "inline policy deleted", want: provision.InlinePolicyMissing, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.iam.DeleteUserPolicy(context.Background(), &iam.DeleteUserPolicyInput{UserName: &e.opts.UserName, PolicyName: aws.String(provision.DefaultInlinePolicyName)})
			mustDo(t, err)
		}},
		{name: "inline policy on another role", want: provision.InlinePolicyWrongRole, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.iam.PutUserPolicy(context.Background(), &iam.PutUserPolicyInput{UserName: &e.opts.UserName, PolicyName: aws.String(provision.DefaultInlinePolicyName),
				PolicyDocument: aws.String(provision.AssumeRolePolicy(e.arn("role", "SomeOtherRole")))})
			mustDo(t, err)
		}},
		{name: "inline policy on every role", want: provision.InlinePolicyTooBroad, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.iam.PutUserPolicy(context.Background(), &iam.PutUserPolicyInput{UserName: &e.opts.UserName, PolicyName: aws.String(provision.DefaultInlinePolicyName),
				PolicyDocument: aws.String(provision.AssumeRolePolicy("*"))})
			mustDo(t, err)
		}},
		{name: "policy detached", want: provision.PolicyNotAttached, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.iam.DetachRolePolicy(context.Background(), &iam.DetachRolePolicyInput{RoleName: &e.opts.RoleName, PolicyArn: &r.PolicyARN})
			mustDo(t, err)
		}},
		{name: "policy deleted", want: provision.PolicyMissing, brk: func(t *testing.T, e *env, r *provision.Report) {
			ctx := context.Background()
			_, err := e.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &e.opts.RoleName, PolicyArn: &r.PolicyARN})
			mustDo(t, err)
			_, err = e.iam.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: &r.PolicyARN})
			mustDo(t, err)
		}},
		{name: "policy allows the wrong action", want: provision.PolicyWrongAction, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.iam.CreatePolicyVersion(context.Background(), &iam.CreatePolicyVersionInput{PolicyArn: &r.PolicyARN, SetAsDefault: true,
				PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:ManageConnections","Resource":"arn:aws:execute-api:*:*:*"}]}`)})
			mustDo(t, err)
		}},
		{name: "policy limited to one region", want: provision.PolicyWrongResource, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.iam.CreatePolicyVersion(context.Background(), &iam.CreatePolicyVersionInput{PolicyArn: &r.PolicyARN, SetAsDefault: true,
				PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:*:*"}]}`)})
			mustDo(t, err)
		}},
		{name: "role deleted", want: provision.RoleMissing, brk: func(t *testing.T, e *env, r *provision.Report) {
			ctx := context.Background()
			_, err := e.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &e.opts.RoleName, PolicyArn: &r.PolicyARN})
			mustDo(t, err)
			_, err = e.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &e.opts.RoleName})
			mustDo(t, err)
		}},
		{name: "held key deactivated", want: provision.AccessKeyInactive, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.iam.UpdateAccessKey(context.Background(), &iam.UpdateAccessKeyInput{UserName: &e.opts.UserName, AccessKeyId: &r.AccessKeyID, Status: iamtypes.StatusTypeInactive})
			mustDo(t, err)
		}},
		{name: "held key deleted", want: provision.AccessKeyMissing, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.iam.DeleteAccessKey(context.Background(), &iam.DeleteAccessKeyInput{UserName: &e.opts.UserName, AccessKeyId: &r.AccessKeyID})
			mustDo(t, err)
		}},
		{name: "queue without Amazon in its policy", want: provision.QueuePolicyNoAmazon, queue: true, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.sqs.SetQueueAttributes(context.Background(), &sqs.SetQueueAttributesInput{QueueUrl: &r.QueueURL,
				Attributes: map[string]string{"Policy": strings.ReplaceAll(provision.QueuePolicy(r.QueueARN), "437568002678", "111122223333")}})
			mustDo(t, err)
		}},
		{name: "queue read policy deleted", want: provision.QueueReadPolicyMissing, queue: true, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.iam.DeleteUserPolicy(context.Background(), &iam.DeleteUserPolicyInput{UserName: &e.opts.UserName, PolicyName: aws.String(provision.DefaultQueueReadPolicyName)})
			mustDo(t, err)
		}},
		{name: "queue deleted", want: provision.QueueMissing, queue: true, brk: func(t *testing.T, e *env, r *provision.Report) {
			_, err := e.sqs.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: &r.QueueURL})
			mustDo(t, err)
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // moto_server answers concurrently; names are per case
			e := newEnv(t, "Chk"+string(rune('A'+i)))
			e.opts.Queue = tc.queue
			ctx := context.Background()
			r, err := provision.Setup(ctx, e.opts)
			if err != nil {
				t.Fatal(err)
			}
			e.opts.HeldAccessKeyID = r.AccessKeyID
			tc.brk(t, e, r)
			chk, err := provision.Check(ctx, e.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := chk.Names(); !slices.Equal(got, []string{tc.want}) {
				t.Fatalf("findings = %v, want [%s]\n%s", got, tc.want, chk.Text())
			}
			if f := chk.Findings[0]; f.Fix == "" || f.Problem == "" {
				t.Errorf("finding without problem or fix: %+v", f)
			}
			// Setup repairs it.
			r2, err := provision.Setup(ctx, e.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !r2.Changed() {
				t.Errorf("setup saw nothing to repair:\n%s", r2.Text())
			}
			if r2.NewAccessKey != nil {
				e.opts.HeldAccessKeyID = r2.NewAccessKey.AccessKeyID
			}
			chk2, err := provision.Check(ctx, e.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(chk2.Findings) != 0 {
				t.Errorf("after repair: %s", chk2.Text())
			}
		})
	}
}

func TestCheckMissingUser(t *testing.T) {
	e := newEnv(t, "Nobody")
	chk, err := provision.Check(context.Background(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{provision.UserMissing, provision.RoleMissing, provision.PolicyMissing} {
		if !chk.Has(n) {
			t.Errorf("missing finding %s in %v", n, chk.Names())
		}
	}
	if chk.OK() {
		t.Error("OK() with nothing set up")
	}
}

func TestCheckNotesNoOrganization(t *testing.T) {
	// The shared server's account is in no organization (the SCP tests use
	// their own server), so Check must say no SCPs apply.
	e := newEnv(t, "Scp")
	ctx := context.Background()
	if _, err := provision.Setup(ctx, e.opts); err != nil {
		t.Fatal(err)
	}
	chk, err := provision.Check(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(chk.Notes) != 1 || !strings.Contains(chk.Notes[0], "not in an AWS organization") {
		t.Errorf("notes = %v", chk.Notes)
	}
}

func TestCheckReportVerdict(t *testing.T) {
	tests := []struct {
		findings []provision.Finding
		want     string
	}{
		{nil, ""},
		{[]provision.Finding{{Severity: provision.Unverified}}, "could not be verified in full (Conditions spgate cannot evaluate)"},
		{[]provision.Finding{{Severity: provision.Unverified}, {Severity: provision.Broken}}, "deviates from the guide"},
	}
	for _, tc := range tests {
		if got := (&provision.CheckReport{Findings: tc.findings}).Verdict(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.findings, got, tc.want)
		}
	}
}
