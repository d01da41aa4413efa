package provision

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Stable names of the deviations Check reports.
const (
	UserMissing            = "user-missing"
	AccessKeyMissing       = "access-key-missing"
	AccessKeyInactive      = "access-key-inactive"
	RoleMissing            = "role-missing"
	TrustNotLockedToUser   = "trust-not-locked-to-user"
	TrustExcludesUser      = "trust-excludes-user"
	PolicyMissing          = "policy-missing"
	PolicyNotAttached      = "policy-not-attached"
	PolicyWrongAction      = "policy-wrong-action"
	PolicyWrongResource    = "policy-wrong-resource"
	InlinePolicyMissing    = "inline-policy-missing"
	InlinePolicyWrongRole  = "inline-policy-wrong-role"
	InlinePolicyTooBroad   = "inline-policy-too-broad"
	QueueMissing           = "queue-missing"
	QueuePolicyNoAmazon    = "queue-policy-missing-amazon"
	QueueReadPolicyMissing = "queue-read-policy-missing"
	SCPDenies              = "scp-denies"
)

// Severity of a finding.
type Severity string

// Severities.
const (
	// Broken: the chain does not work as is.
	Broken Severity = "broken"
	// Warning: it works, but wider than Amazon's guide or spgate intend.
	Warning Severity = "warning"
)

// Finding is one deviation from the guide's setup.
type Finding struct {
	Name     string   `json:"name"` // stable, e.g. "trust-not-locked-to-user"
	Severity Severity `json:"severity"`
	Resource string   `json:"resource,omitempty"`
	Problem  string   `json:"problem"`
	Fix      string   `json:"fix"`
}

// CheckReport is the result of Check.
type CheckReport struct {
	AccountID string    `json:"account_id"`
	UserARN   string    `json:"user_arn"`
	RoleARN   string    `json:"role_arn"`
	PolicyARN string    `json:"policy_arn"`
	Findings  []Finding `json:"findings"`
	// Notes name checks that could not run (e.g. the policy simulator is
	// not available to these credentials).
	Notes []string `json:"notes,omitempty"`
	// SCPsUnchecked says why service control policies could not be
	// checked (also one of Notes); empty when they were, or none apply.
	SCPsUnchecked string `json:"scps_unchecked,omitempty"`
}

// OK reports whether nothing is broken (warnings allowed).
func (r *CheckReport) OK() bool {
	return !slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Severity == Broken })
}

// Has reports whether a finding with that name was made.
func (r *CheckReport) Has(name string) bool {
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Name == name })
}

// Names lists the findings' names in order.
func (r *CheckReport) Names() []string {
	out := make([]string, len(r.Findings))
	for i, f := range r.Findings {
		out[i] = f.Name
	}
	return out
}

// Text renders the report for a terminal.
func (r *CheckReport) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "AWS account %s, user %s, role %s:\n", r.AccountID, r.UserARN, r.RoleARN)
	if len(r.Findings) == 0 {
		b.WriteString("  the IAM chain matches Amazon's setup guide\n")
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  [%s] %s: %s\n      fix: %s\n", f.Severity, f.Name, f.Problem, f.Fix)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	return b.String()
}

const fixBySetup = "run `spgate setup aws` (it corrects this without touching the rest)"

// Check reads an existing (possibly hand-made) setup with the names in opts
// and reports each deviation from the guide with a stable name and a fix. It
// changes nothing. An error means the account could not be read at all.
func Check(ctx context.Context, opts Options) (*CheckReport, error) {
	o, c, err := connect(ctx, opts)
	if err != nil {
		return nil, err
	}
	k := &checker{o: o, c: c, r: &CheckReport{AccountID: c.account,
		UserARN:   iamARN(c.partition, c.account, "user", o.UserName),
		RoleARN:   iamARN(c.partition, c.account, "role", o.RoleName),
		PolicyARN: iamARN(c.partition, c.account, "policy", o.PolicyName),
	}}
	userOK, err := k.user(ctx)
	if err != nil {
		return nil, err
	}
	roleOK, err := k.role(ctx)
	if err != nil {
		return nil, err
	}
	if roleOK {
		if err := k.policies(ctx); err != nil {
			return nil, err
		}
	} else if err := k.policyExists(ctx); err != nil {
		return nil, err
	}
	if userOK {
		if err := k.inline(ctx); err != nil {
			return nil, err
		}
	}
	if o.Queue {
		if err := k.queue(ctx, userOK); err != nil {
			return nil, err
		}
	}
	// Service control policies: AWS Organizations when it answers, else
	// IAM's policy simulator (which weighs SCPs too) as a fallback.
	if why := k.scps(ctx); why != "" {
		if userOK && roleOK {
			if simErr := k.simulate(ctx); simErr == "" {
				why = ""
			} else {
				why += "; the IAM policy simulator could not be used either (" + simErr + ")"
			}
		}
		if why != "" {
			k.r.SCPsUnchecked = why
			k.r.Notes = append(k.r.Notes, why)
		}
	}
	return k.r, nil
}

type checker struct {
	o Options
	c *clients
	r *CheckReport
}

func (k *checker) find(f Finding) {
	if f.Severity == "" {
		f.Severity = Broken
	}
	k.r.Findings = append(k.r.Findings, f)
	k.o.Logger.Debug("provision check finding", "name", f.Name, "resource", f.Resource)
}

func (k *checker) user(ctx context.Context) (bool, error) {
	_, err := k.c.iam.GetUser(ctx, &iam.GetUserInput{UserName: &k.o.UserName})
	if isNotFound(err) {
		k.find(Finding{Name: UserMissing, Resource: k.r.UserARN,
			Problem: "IAM user " + k.o.UserName + " does not exist",
			Fix:     fixBySetup + ", or pass the name of the user you created"})
		return false, nil
	}
	if err != nil {
		return false, explain(err, "read IAM user "+k.o.UserName, "")
	}
	out, err := k.c.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: &k.o.UserName})
	if err != nil {
		return true, explain(err, "list access keys of "+k.o.UserName, "")
	}
	keys := out.AccessKeyMetadata
	fixNew := "create a key with `spgate setup aws` (it stores the secret) or `aws iam create-access-key --user-name " + k.o.UserName + "`"
	if held := k.o.HeldAccessKeyID; held != "" {
		i := slices.IndexFunc(keys, func(m iamtypes.AccessKeyMetadata) bool { return aws.ToString(m.AccessKeyId) == held })
		switch {
		case i < 0:
			k.find(Finding{Name: AccessKeyMissing, Resource: held,
				Problem: "the access key you hold (" + held + ") is not one of " + k.o.UserName + "'s keys: it was deleted or belongs to another user",
				Fix:     fixNew})
		case keys[i].Status != iamtypes.StatusTypeActive:
			k.find(Finding{Name: AccessKeyInactive, Resource: held,
				Problem: "the access key you hold (" + held + ") is inactive, so AWS rejects its signatures",
				Fix:     fixBySetup + " or `aws iam update-access-key --user-name " + k.o.UserName + " --access-key-id " + held + " --status Active`"})
		}
		return true, nil
	}
	if len(keys) == 0 {
		k.find(Finding{Name: AccessKeyMissing, Resource: k.r.UserARN,
			Problem: "IAM user " + k.o.UserName + " has no access key", Fix: fixNew})
	} else if !slices.ContainsFunc(keys, func(m iamtypes.AccessKeyMetadata) bool { return m.Status == iamtypes.StatusTypeActive }) {
		k.find(Finding{Name: AccessKeyInactive, Resource: aws.ToString(keys[0].AccessKeyId),
			Problem: "every access key of " + k.o.UserName + " is inactive",
			Fix:     "activate the key you hold: `aws iam update-access-key --user-name " + k.o.UserName + " --access-key-id <id> --status Active`"})
	}
	return true, nil
}

func (k *checker) role(ctx context.Context) (bool, error) {
	out, err := k.c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &k.o.RoleName})
	if isNotFound(err) {
		k.find(Finding{Name: RoleMissing, Resource: k.r.RoleARN,
			Problem: "role " + k.o.RoleName + " does not exist", Fix: fixBySetup + ", or pass the name of the role you created"})
		return false, nil
	}
	if err != nil {
		return false, explain(err, "read role "+k.o.RoleName, "")
	}
	fix := fixBySetup + ", or set the role's trust policy to " + TrustPolicy(k.r.UserARN)
	trust, err := ParsePolicy(aws.ToString(out.Role.AssumeRolePolicyDocument))
	if err != nil {
		k.find(Finding{Name: TrustExcludesUser, Resource: k.r.RoleARN, Problem: "the role's trust policy cannot be read: " + err.Error(), Fix: fix})
		return true, nil
	}
	principals := trust.TrustedAWSPrincipals()
	if !slices.Contains(principals, k.r.UserARN) {
		problem := "the role's trust policy does not admit " + k.r.UserARN + " (it admits " + listOrNone(principals) + ")"
		if slices.ContainsFunc(principals, func(p string) bool { return strings.HasPrefix(p, "AIDA") }) {
			problem += "; an id like AIDA… means the trusted user was deleted (and perhaps recreated under the same name)"
		}
		if trustAdmitsAccount(principals, k.c.account) {
			// Wide trust: the user can assume the role if its own policy allows it.
			k.find(Finding{Name: TrustNotLockedToUser, Resource: k.r.RoleARN, Problem: "the role's trust policy admits " + listOrNone(principals) + ", not only " + k.r.UserARN, Fix: fix})
			return true, nil
		}
		k.find(Finding{Name: TrustExcludesUser, Resource: k.r.RoleARN, Problem: problem, Fix: fix})
		return true, nil
	}
	if len(principals) > 1 {
		k.find(Finding{Name: TrustNotLockedToUser, Resource: k.r.RoleARN,
			Problem: "the role's trust policy admits " + listOrNone(principals) + ", not only " + k.r.UserARN, Fix: fix})
	}
	return true, nil
}

func trustAdmitsAccount(principals []string, account string) bool {
	for _, p := range principals {
		if p == "*" || p == account || p == "arn:aws:iam::"+account+":root" {
			return true
		}
	}
	return false
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "no AWS principal"
	}
	return strings.Join(l, ", ")
}

type candidate struct {
	name     string
	doc      *Policy
	attached bool
}

func (k *checker) policyExists(ctx context.Context) error {
	_, err := k.c.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &k.r.PolicyARN})
	if isNotFound(err) {
		k.find(Finding{Name: PolicyMissing, Resource: k.r.PolicyARN,
			Problem: "managed policy " + k.o.PolicyName + " does not exist", Fix: fixBySetup})
		return nil
	}
	if err != nil {
		return explain(err, "read policy "+k.r.PolicyARN, "")
	}
	return nil
}

func (k *checker) policies(ctx context.Context) error {
	var cands []candidate
	namedAttached := false
	p := iam.NewListAttachedRolePoliciesPaginator(k.c.iam, &iam.ListAttachedRolePoliciesInput{RoleName: &k.o.RoleName})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return explain(err, "list policies of role "+k.o.RoleName, "")
		}
		for _, a := range page.AttachedPolicies {
			doc, _, err := defaultPolicyDoc(ctx, k.c.iam, aws.ToString(a.PolicyArn))
			if err != nil {
				return explain(err, "read policy "+aws.ToString(a.PolicyArn), "")
			}
			if aws.ToString(a.PolicyArn) == k.r.PolicyARN {
				namedAttached = true
			}
			if pol, err := ParsePolicy(doc); err == nil {
				cands = append(cands, candidate{name: aws.ToString(a.PolicyArn), doc: pol, attached: true})
			}
		}
	}
	inl, err := k.c.iam.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: &k.o.RoleName})
	if err != nil {
		return explain(err, "list inline policies of role "+k.o.RoleName, "")
	}
	for _, n := range inl.PolicyNames {
		out, err := k.c.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &k.o.RoleName, PolicyName: &n})
		if err != nil {
			return explain(err, "read inline policy "+n+" of role "+k.o.RoleName, "")
		}
		if pol, err := ParsePolicy(aws.ToString(out.PolicyDocument)); err == nil {
			cands = append(cands, candidate{name: "inline " + n, doc: pol, attached: true})
		}
	}
	namedExists := namedAttached
	if !namedAttached {
		doc, _, err := defaultPolicyDoc(ctx, k.c.iam, k.r.PolicyARN)
		switch {
		case err == nil:
			namedExists = true
			if pol, err := ParsePolicy(doc); err == nil {
				cands = append(cands, candidate{name: k.r.PolicyARN, doc: pol})
			}
		case !isNotFound(err):
			return explain(err, "read policy "+k.r.PolicyARN, "")
		}
	}
	allows := func(c candidate) bool { return c.doc.Allows("execute-api:Invoke", ExecuteAPIResource) }
	if slices.ContainsFunc(cands, func(c candidate) bool { return c.attached && allows(c) }) {
		return nil
	}
	if i := slices.IndexFunc(cands, allows); i >= 0 {
		k.find(Finding{Name: PolicyNotAttached, Resource: cands[i].name,
			Problem: "policy " + cands[i].name + " allows execute-api:Invoke but is not attached to role " + k.o.RoleName,
			Fix:     fixBySetup + " or `aws iam attach-role-policy --role-name " + k.o.RoleName + " --policy-arn " + cands[i].name + "`"})
		return nil
	}
	if !namedExists && !slices.ContainsFunc(cands, func(c candidate) bool { return c.attached }) {
		k.find(Finding{Name: PolicyMissing, Resource: k.r.PolicyARN,
			Problem: "no policy allowing execute-api:Invoke exists for role " + k.o.RoleName, Fix: fixBySetup})
		return nil
	}
	fixDoc := fixBySetup + ", or make the policy exactly " + ExecuteAPIPolicy
	// Which half is wrong? Look for a statement with the right action (then
	// the resource is wrong), else one with the right resource.
	for _, c := range cands {
		for _, st := range c.doc.Statement {
			if st.Effect == "Allow" && st.matchesAction("execute-api:Invoke") {
				k.find(Finding{Name: PolicyWrongResource, Resource: c.name,
					Problem: "policy " + c.name + " allows execute-api:Invoke only on " + listOrNone(st.Resource) + ", not on " + ExecuteAPIResource + " (every SP-API region)",
					Fix:     fixDoc})
				return nil
			}
		}
	}
	name := k.r.PolicyARN
	if i := slices.IndexFunc(cands, func(c candidate) bool { return c.attached }); i >= 0 {
		name = cands[i].name
	}
	k.find(Finding{Name: PolicyWrongAction, Resource: name,
		Problem: "no policy of role " + k.o.RoleName + " allows the action execute-api:Invoke", Fix: fixDoc})
	return nil
}

func (k *checker) userPolicies(ctx context.Context) ([]candidate, error) {
	var out []candidate
	names, err := k.c.iam.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: &k.o.UserName})
	if err != nil {
		return nil, explain(err, "list inline policies of "+k.o.UserName, "")
	}
	for _, n := range names.PolicyNames {
		p, err := k.c.iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: &k.o.UserName, PolicyName: &n})
		if err != nil {
			return nil, explain(err, "read inline policy "+n+" of "+k.o.UserName, "")
		}
		if pol, err := ParsePolicy(aws.ToString(p.PolicyDocument)); err == nil {
			out = append(out, candidate{name: n, doc: pol, attached: true})
		}
	}
	return out, nil
}

func (k *checker) inline(ctx context.Context) error {
	pols, err := k.userPolicies(ctx)
	if err != nil {
		return err
	}
	fix := fixBySetup + ", or put this inline policy on " + k.o.UserName + ": " + AssumeRolePolicy(k.r.RoleARN)
	other := "arn:aws:iam::" + k.c.account + ":role/spgate-probe-not-the-role"
	for _, p := range pols {
		if p.doc.Allows("sts:AssumeRole", k.r.RoleARN) {
			if p.doc.Allows("sts:AssumeRole", other) {
				k.find(Finding{Name: InlinePolicyTooBroad, Severity: Warning, Resource: k.r.UserARN,
					Problem: "inline policy " + p.name + " lets " + k.o.UserName + " assume any role, not only " + k.r.RoleARN, Fix: fix})
			}
			return nil
		}
	}
	for _, p := range pols {
		for _, st := range p.doc.Statement {
			if st.Effect == "Allow" && st.matchesAction("sts:AssumeRole") {
				k.find(Finding{Name: InlinePolicyWrongRole, Resource: k.r.UserARN,
					Problem: "inline policy " + p.name + " allows sts:AssumeRole on " + listOrNone(st.Resource) + ", not on " + k.r.RoleARN, Fix: fix})
				return nil
			}
		}
	}
	k.find(Finding{Name: InlinePolicyMissing, Resource: k.r.UserARN,
		Problem: k.o.UserName + " has no inline policy allowing sts:AssumeRole on " + k.r.RoleARN, Fix: fix})
	return nil
}

func (k *checker) queue(ctx context.Context, userOK bool) error {
	u, err := k.c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &k.o.QueueName})
	if isNotFound(err) {
		k.find(Finding{Name: QueueMissing, Resource: k.o.QueueName, Problem: "SQS queue " + k.o.QueueName + " does not exist in " + k.c.sqsRegion, Fix: fixBySetup + " with the queue option"})
		return nil
	}
	if err != nil {
		return explain(err, "look up queue "+k.o.QueueName, "")
	}
	attrs, err := k.c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: u.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNamePolicy, sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return explain(err, "read attributes of queue "+k.o.QueueName, "")
	}
	qarn := attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	pol, perr := ParsePolicy(attrs.Attributes[string(sqstypes.QueueAttributeNamePolicy)])
	if perr != nil || !queueAdmitsAmazon(pol, qarn) {
		k.find(Finding{Name: QueuePolicyNoAmazon, Resource: qarn,
			Problem: "the queue policy does not let Amazon's notification service (account 437568002678) send messages and read attributes, so notifications are silently dropped",
			Fix:     fixBySetup + " with the queue option, or set the queue policy to " + QueuePolicy(qarn)})
	}
	if userOK {
		pols, err := k.userPolicies(ctx)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(pols, func(c candidate) bool {
			return c.doc.Allows("sqs:ReceiveMessage", qarn) && c.doc.Allows("sqs:DeleteMessage", qarn)
		}) {
			k.find(Finding{Name: QueueReadPolicyMissing, Resource: qarn,
				Problem: k.o.UserName + " may not receive and delete messages on " + qarn + ", so the new client secret cannot be picked up",
				Fix:     fixBySetup + " with the queue option, or put this inline policy on " + k.o.UserName + ": " + QueueReadPolicy(qarn)})
		}
	}
	return nil
}

func queueAdmitsAmazon(p *Policy, queueARN string) bool {
	for _, action := range []string{"sqs:SendMessage", "sqs:GetQueueAttributes"} {
		ok := false
		for _, st := range p.Statement {
			if st.Effect != "Allow" || !st.matchesAction(action) || !(len(st.Resource) == 0 || anyGlob(st.Resource, queueARN)) {
				continue
			}
			for _, pr := range st.Principal["AWS"] {
				if pr == "*" || pr == "437568002678" || pr == AmazonNotificationsPrincipal {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// simulate asks IAM's policy simulator whether the user may assume the role
// and the role may invoke execute-api; it includes service control policies
// of the organization, which no read of the account's own policies shows.
// Best effort: without the simulator (or the permission for it) it returns
// why, and the caller notes that SCPs were not checked.
func (k *checker) simulate(ctx context.Context) string {
	for _, q := range []struct{ principal, action, resource string }{
		{k.r.UserARN, "sts:AssumeRole", k.r.RoleARN},
		{k.r.RoleARN, "execute-api:Invoke", ExecuteAPIResource},
	} {
		out, err := k.c.iam.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: &q.principal, ActionNames: []string{q.action}, ResourceArns: []string{q.resource}})
		if err != nil {
			return apiCodeOr(err)
		}
		for _, res := range out.EvaluationResults {
			if od := res.OrganizationsDecisionDetail; od != nil && !od.AllowedByOrganizations {
				k.find(Finding{Name: SCPDenies, Resource: q.principal,
					Problem: "a service control policy of the AWS organization denies " + q.action + " to " + q.principal,
					Fix:     "ask the organization's administrator to allow " + q.action + " for this account (AWS Organizations → Policies)"})
			}
		}
	}
	return ""
}

func apiCodeOr(err error) string {
	if c := apiCode(err); c != "" {
		return c
	}
	return err.Error()
}
