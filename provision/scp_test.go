package provision_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/provision"
)

// TestCheckSCPs runs Check against an organization in its own moto server
// (moto keeps one organization per account, which would leak into the other
// tests' checks on the shared server). The steps build on each other: no
// organization, the default FullAWSAccess only, then one deny at a time.
func TestCheckSCPs(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	cfg := srv.AdminConfig()
	org := organizations.NewFromConfig(cfg)
	ic := iam.NewFromConfig(cfg)
	opts := provision.Options{Config: &cfg, UserName: "OrgUser", RoleName: "OrgRole", PolicyName: "OrgPolicy"}
	if _, err := provision.Setup(ctx, opts); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, o provision.Options) *provision.CheckReport {
		t.Helper()
		r, err := provision.Check(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// deny creates an SCP, attaches it to target and returns its detach.
	deny := func(t *testing.T, name, doc, target string) {
		t.Helper()
		p, err := org.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String(name), Description: aws.String("test"),
			Type: orgtypes.PolicyTypeServiceControlPolicy, Content: aws.String(doc)})
		must(t, err)
		id := p.Policy.PolicySummary.Id
		_, err = org.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: id, TargetId: aws.String(target)})
		must(t, err)
		t.Cleanup(func() {
			_, _ = org.DetachPolicy(ctx, &organizations.DetachPolicyInput{PolicyId: id, TargetId: aws.String(target)})
		})
	}
	onlySCP := func(t *testing.T, r *provision.CheckReport, policyName string, sev provision.Severity, words ...string) {
		t.Helper()
		if got := r.Names(); !slices.Equal(got, []string{provision.SCPDenies}) {
			t.Fatalf("findings = %v, want [%s]\n%s", got, provision.SCPDenies, r.Text())
		}
		f := r.Findings[0]
		if f.Severity != sev || !strings.Contains(f.Problem, policyName) || f.Fix == "" {
			t.Errorf("finding = %+v, want severity %s naming %s", f, sev, policyName)
		}
		for _, w := range words {
			if !strings.Contains(f.Problem, w) {
				t.Errorf("problem lacks %q: %s", w, f.Problem)
			}
		}
	}

	t.Run("no organization", func(t *testing.T) {
		r := check(t, opts)
		if len(r.Findings) != 0 || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "not in an AWS organization") || r.SCPsUnchecked != "" {
			t.Fatalf("want one note and no finding:\n%s", r.Text())
		}
	})

	_, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll})
	must(t, err)
	roots, err := org.ListRoots(ctx, &organizations.ListRootsInput{})
	must(t, err)
	rootID := aws.ToString(roots.Roots[0].Id)

	t.Run("FullAWSAccess only", func(t *testing.T) {
		r := check(t, opts)
		if len(r.Findings) != 0 || len(r.Notes) != 0 {
			t.Fatalf("want a clean report:\n%s", r.Text())
		}
	})
	t.Run("deny sts:AssumeRole on the account", func(t *testing.T) {
		deny(t, "DenyAssumeRoleScp", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}]}`, mototest.AccountID)
		r := check(t, opts)
		// moto's account is the organization's management account, where
		// SCPs do not apply: the finding is a warning that says so.
		onlySCP(t, r, "DenyAssumeRoleScp", provision.Warning, "denies sts:AssumeRole", `"Action":"sts:AssumeRole"`, "management account")
	})
	t.Run("deny sts:* on the account's OU", func(t *testing.T) {
		ou, err := org.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{ParentId: &rootID, Name: aws.String("ScpOU")})
		must(t, err)
		ouID := aws.ToString(ou.OrganizationalUnit.Id)
		_, err = org.MoveAccount(ctx, &organizations.MoveAccountInput{AccountId: aws.String(mototest.AccountID), SourceParentId: &rootID, DestinationParentId: &ouID})
		must(t, err)
		t.Cleanup(func() {
			_, _ = org.MoveAccount(ctx, &organizations.MoveAccountInput{AccountId: aws.String(mototest.AccountID), SourceParentId: &ouID, DestinationParentId: &rootID})
		})
		deny(t, "DenyStsWildcardScp", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["sts:*"],"Resource":"*"}]}`, ouID)
		r := check(t, opts)
		onlySCP(t, r, "DenyStsWildcardScp", provision.Warning, "attached to "+ouID, "sts:AssumeRole")
	})
	t.Run("deny on another role only", func(t *testing.T) {
		deny(t, "DenyOtherRoleScp", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/SomethingElse"}]}`, mototest.AccountID)
		if r := check(t, opts); len(r.Findings) != 0 {
			t.Fatalf("a deny on another role is not a finding:\n%s", r.Text())
		}
	})
	t.Run("conditional deny", func(t *testing.T) {
		deny(t, "DenyOutsideRegionScp", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":["iam:*","organizations:*"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["eu-west-1"]}}}]}`, rootID)
		r := check(t, opts)
		onlySCP(t, r, "DenyOutsideRegionScp", provision.Warning, "may deny (conditional)", "execute-api:Invoke", "sts:AssumeRole")
		if strings.Contains(r.Findings[0].Problem, "iam:CreateUser") {
			t.Errorf("NotAction iam:* must spare the IAM calls: %s", r.Findings[0].Problem)
		}
	})
	t.Run("credentials without Organizations rights", func(t *testing.T) {
		_, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ScpIamOnly")})
		must(t, err)
		_, err = ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("ScpIamOnly"), PolicyName: aws.String("iam-sts-sqs"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","sts:*","sqs:*"],"Resource":"*"}]}`)})
		must(t, err)
		k, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ScpIamOnly")})
		must(t, err)
		ucfg := srv.Config(aws.Credentials{AccessKeyID: aws.ToString(k.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k.AccessKey.SecretAccessKey)})
		o := opts
		o.Config = &ucfg
		// A deny exists, but these credentials cannot see it: a note, not a pass.
		deny(t, "DenyHiddenScp", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`, mototest.AccountID)
		r := check(t, o)
		if len(r.Findings) != 0 {
			t.Errorf("findings = %v", r.Names())
		}
		if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "SCPs not checked: the credentials cannot read AWS Organizations") {
			t.Fatalf("notes = %q", r.Notes)
		}
		if r.SCPsUnchecked != r.Notes[0] {
			t.Errorf("SCPsUnchecked = %q, want the note", r.SCPsUnchecked)
		}
	})
}
