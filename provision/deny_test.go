package provision_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spgate/spgate/provision"
)

// An explicit Deny anywhere on the chain (the user, its group, the role,
// the trust policy, the queue) breaks it, and an Allow or Deny whose
// Condition spgate cannot evaluate is "cannot verify", never "matches".
func TestCheckEvaluatesDenyAndConditions(t *testing.T) {
	ctx := context.Background()
	putUser := func(e *env, doc string) error {
		_, err := e.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &e.opts.UserName, PolicyName: aws.String("extra"), PolicyDocument: &doc})
		return err
	}
	setQueue := func(e *env, r *provision.Report, doc string) error {
		_, err := e.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &r.QueueURL, Attributes: map[string]string{"Policy": doc}})
		return err
	}
	amazonAllow := func(r *provision.Report) string {
		return `{"Sid":"AllowSellingPartnerAPINotifications","Effect":"Allow","Principal":{"AWS":"` + provision.AmazonNotificationsPrincipal + `"},"Action":["sqs:SendMessage","sqs:GetQueueAttributes"],"Resource":"` + r.QueueARN + `"}`
	}
	cases := []struct {
		name     string
		want     string
		severity provision.Severity
		brk      func(e *env, r *provision.Report) error
	}{
		{name: "deny on the user", want: provision.AssumeRoleDenied, severity: provision.Broken, brk: func(e *env, r *provision.Report) error {
			return putUser(e, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:*","Resource":"*"}]}`)
		}},
		{name: "deny on the user's group", want: provision.AssumeRoleDenied, severity: provision.Broken, brk: func(e *env, r *provision.Report) error {
			g := e.opts.UserName + "Group"
			if _, err := e.iam.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: &g}); err != nil {
				return err
			}
			if _, err := e.iam.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: &g, PolicyName: aws.String("no-roles"),
				PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}]}`)}); err != nil {
				return err
			}
			_, err := e.iam.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: &g, UserName: &e.opts.UserName})
			return err
		}},
		{name: "deny without MFA on the user", want: provision.AssumeRoleDenied, severity: provision.Broken, brk: func(e *env, r *provision.Report) error {
			// The classic "require MFA" policy: access keys carry no MFA.
			return putUser(e, `{"Version":"2012-10-17","Statement":[{"Sid":"RequireMFA","Effect":"Deny","NotAction":"iam:*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`)
		}},
		{name: "deny on the role", want: provision.PolicyDenied, severity: provision.Broken, brk: func(e *env, r *provision.Report) error {
			_, err := e.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &e.opts.RoleName, PolicyName: aws.String("no-eu"),
				PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:eu-west-1:*:*"}]}`)})
			return err
		}},
		{name: "deny in the trust policy", want: provision.TrustDenied, severity: provision.Broken, brk: func(e *env, r *provision.Report) error {
			doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + r.UserARN + `"},"Action":"sts:AssumeRole"},` +
				`{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`
			_, err := e.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: &e.opts.RoleName, PolicyDocument: &doc})
			return err
		}},
		{name: "trust with a source-IP condition", want: provision.TrustUnverified, severity: provision.Unverified, brk: func(e *env, r *provision.Report) error {
			doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + r.UserARN + `"},"Action":"sts:AssumeRole","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}`
			_, err := e.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: &e.opts.RoleName, PolicyDocument: &doc})
			return err
		}},
		{name: "queue denies everyone sending", want: provision.QueuePolicyDeniesAmazon, severity: provision.Broken, brk: func(e *env, r *provision.Report) error {
			return setQueue(e, r, `{"Version":"2012-10-17","Statement":[`+amazonAllow(r)+`,{"Effect":"Deny","Principal":"*","Action":"sqs:SendMessage","Resource":"`+r.QueueARN+`"}]}`)
		}},
		{name: "queue admits Amazon only from a source ARN", want: provision.QueuePolicyUnverified, severity: provision.Unverified, brk: func(e *env, r *provision.Report) error {
			st := strings.TrimSuffix(amazonAllow(r), "}") + `,"Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:437568002678:*"}}}`
			return setQueue(e, r, `{"Version":"2012-10-17","Statement":[`+st+`]}`)
		}},
		{name: "queue denies the user reading", want: provision.QueueReadDenied, severity: provision.Broken, brk: func(e *env, r *provision.Report) error {
			return setQueue(e, r, `{"Version":"2012-10-17","Statement":[`+amazonAllow(r)+`,{"Effect":"Deny","Principal":{"AWS":"`+r.UserARN+`"},"Action":"sqs:ReceiveMessage","Resource":"`+r.QueueARN+`"}]}`)
		}},
		{name: "a condition that holds is no deviation", brk: func(e *env, r *provision.Report) error {
			return putUser(e, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "Deny"+string(rune('A'+i)))
			e.opts.Queue = true
			r, err := provision.Setup(ctx, e.opts)
			if err != nil {
				t.Fatal(err)
			}
			e.opts.HeldAccessKeyID = r.AccessKeyID
			if err := tc.brk(e, r); err != nil {
				t.Fatal(err)
			}
			chk, err := provision.Check(ctx, e.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(chk.Findings) != 0 {
					t.Fatalf("findings %v:\n%s", chk.Names(), chk.Text())
				}
				return
			}
			if !chk.Has(tc.want) {
				t.Fatalf("findings = %v, want %s\n%s", chk.Names(), tc.want, chk.Text())
			}
			for _, f := range chk.Findings {
				if f.Name == tc.want && (f.Severity != tc.severity || f.Fix == "" || f.Problem == "") {
					t.Errorf("finding %+v, want severity %s with problem and fix", f, tc.severity)
				}
			}
			if strings.Contains(chk.Text(), "matches Amazon's setup guide") {
				t.Errorf("report says the chain matches:\n%s", chk.Text())
			}
		})
	}
}

// Setup adds its statement to a queue policy that has others, instead of
// replacing the policy.
func TestSetupMergesQueuePolicy(t *testing.T) {
	e := newEnv(t, "Merge")
	e.opts.Queue = true
	ctx := context.Background()
	out, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &e.opts.QueueName})
	if err != nil {
		t.Fatal(err)
	}
	other := `{"Sid":"FromOurTopic","Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"*"}`
	if _, err := e.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: out.QueueUrl,
		Attributes: map[string]string{"Policy": `{"Version":"2012-10-17","Id":"ours","Statement":[` + other + `]}`}}); err != nil {
		t.Fatal(err)
	}
	r, err := provision.Setup(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, r, map[string]provision.Status{"queue": provision.Unchanged, "queue-policy": provision.Updated})
	attrs, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypesName{"Policy"}})
	if err != nil {
		t.Fatal(err)
	}
	pol := attrs.Attributes["Policy"]
	for _, want := range []string{"FromOurTopic", "sns.amazonaws.com", "AllowSellingPartnerAPINotifications", `"ours"`} {
		if !strings.Contains(pol, want) {
			t.Errorf("merged policy lacks %s: %s", want, pol)
		}
	}
	e.opts.HeldAccessKeyID = r.AccessKeyID
	if chk, err := provision.Check(ctx, e.opts); err != nil || len(chk.Findings) != 0 {
		t.Fatalf("check after merge: %v %v", err, chk.Names())
	}
	r2, err := provision.Setup(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, r2, map[string]provision.Status{"queue-policy": provision.Unchanged})
}

// The fix a finding gives repeats the names in use, so running it repairs
// the same resources.
func TestCheckFixRepeatsCustomNames(t *testing.T) {
	e := newEnv(t, "Named")
	e.opts.Queue = true
	e.opts.SetupCommand = "spgate setup aws --app main"
	ctx := context.Background()
	r, err := provision.Setup(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.opts.HeldAccessKeyID = r.AccessKeyID
	if _, err := e.iam.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: &e.opts.UserName, PolicyName: aws.String(provision.DefaultInlinePolicyName)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &r.QueueURL}); err != nil {
		t.Fatal(err)
	}
	chk, err := provision.Check(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	want := "spgate setup aws --app main --user-name NamedUser --role-name NamedRole --policy-name NamedPolicy --queue --queue-name Named-queue"
	for _, f := range chk.Findings {
		if !strings.Contains(f.Fix, want) {
			t.Errorf("%s: fix %q lacks %q", f.Name, f.Fix, want)
		}
	}
	if len(chk.Findings) < 2 {
		t.Fatalf("findings %v", chk.Names())
	}
}

// A teardown that stops partway has reported each deletion as it
// happened, so the caller can forget the deleted key before the error.
func TestTeardownReportsEachDeletion(t *testing.T) {
	e := newEnv(t, "Partway")
	ctx := context.Background()
	r, err := provision.Setup(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	// Something setup did not create keeps the role: IAM refuses to delete it.
	if _, err := e.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &e.opts.RoleName, PolicyName: aws.String("someone-elses"),
		PolicyDocument: aws.String(provision.ExecuteAPIPolicy)}); err != nil {
		t.Fatal(err)
	}
	var seen []provision.Step
	o := e.opts
	o.OnStep = func(st provision.Step) error { seen = append(seen, st); return nil }
	if _, err := provision.Teardown(ctx, o); err == nil {
		t.Fatal("teardown of a role with a foreign policy succeeded")
	}
	deletedKey := false
	for _, st := range seen {
		if st.ID == "access-key" && st.Status == provision.Deleted && st.Resource == r.AccessKeyID {
			deletedKey = true
		}
		if st.ID == "role" {
			t.Errorf("the failed role deletion was reported: %+v", st)
		}
	}
	if !deletedKey {
		t.Fatalf("the deleted access key was not reported before the failure: %+v", seen)
	}
	// A failing recorder stops the teardown before the next deletion.
	e2 := newEnv(t, "Stops")
	if _, err := provision.Setup(ctx, e2.opts); err != nil {
		t.Fatal(err)
	}
	o2 := e2.opts
	o2.OnStep = func(st provision.Step) error {
		if st.Status == provision.Deleted {
			return errTest
		}
		return nil
	}
	if _, err := provision.Teardown(ctx, o2); err == nil || !strings.Contains(err.Error(), "stopped before the next deletion") {
		t.Fatalf("err = %v", err)
	}
	if _, err := e2.iam.GetUser(ctx, &iam.GetUserInput{UserName: &e2.opts.UserName}); err != nil {
		t.Errorf("teardown went on after the recorder failed: %v", err)
	}
}

type testErr string

func (e testErr) Error() string { return string(e) }

const errTest = testErr("cannot record")

type sqstypesName = sqstypes.QueueAttributeName
