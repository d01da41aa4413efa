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

	// An explicit Deny (in any policy of the principal or on the resource)
	// breaks the chain.
	PolicyDenied            = "policy-denied"
	TrustDenied             = "trust-denies-user"
	AssumeRoleDenied        = "assume-role-denied"
	QueuePolicyDeniesAmazon = "queue-policy-denies-amazon"
	QueueReadDenied         = "queue-read-denied"

	// A statement that may decide has a Condition spgate cannot settle:
	// the link is reported as not verified, never as matching the guide.
	PolicyUnverified      = "policy-unverified"
	TrustUnverified       = "trust-unverified"
	AssumeRoleUnverified  = "assume-role-unverified"
	QueuePolicyUnverified = "queue-policy-unverified"
	QueueReadUnverified   = "queue-read-unverified"
)

// Severity of a finding.
type Severity string

// Severities.
const (
	// Broken: the chain does not work as is.
	Broken Severity = "broken"
	// Warning: it works, but wider than Amazon's guide or spgate intend.
	Warning Severity = "warning"
	// Unverified: whether it works depends on a Condition spgate cannot
	// evaluate; check it by hand.
	Unverified Severity = "cannot verify"
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

// Verdict says what the findings make of the setup: "" without any,
// "deviates from the guide", or, when every finding is a condition that
// cannot be evaluated, "could not be verified in full (Conditions spgate
// cannot evaluate)".
func (r *CheckReport) Verdict() string {
	switch {
	case len(r.Findings) == 0:
		return ""
	case !slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Severity != Unverified }):
		return "could not be verified in full (Conditions spgate cannot evaluate)"
	}
	return "deviates from the guide"
}

// Text renders the report for a terminal.
func (r *CheckReport) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "AWS account %s, user %s, role %s:\n", r.AccountID, r.UserARN, r.RoleARN)
	switch {
	case len(r.Findings) == 0:
		b.WriteString("  the IAM chain matches Amazon's setup guide\n")
	case !slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Severity != Unverified }):
		b.WriteString("  nothing deviates from Amazon's setup guide, but some links cannot be verified:\n")
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  [%s] %s: %s\n      fix: %s\n", f.Severity, f.Name, f.Problem, f.Fix)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	return b.String()
}

// fixBySetup is the fix that re-runs setup with the names and region in
// use.
func (k *checker) fixBySetup() string {
	return "run `" + k.o.SetupCommandLine() + "` (it corrects this without touching the rest)"
}

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
			Fix:     k.fixBySetup() + ", or pass the name of the user you created"})
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
				Fix:     k.fixBySetup() + " or `aws iam update-access-key --user-name " + k.o.UserName + " --access-key-id " + held + " --status Active`"})
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
			Problem: "role " + k.o.RoleName + " does not exist", Fix: k.fixBySetup() + ", or pass the name of the role you created"})
		return false, nil
	}
	if err != nil {
		return false, explain(err, "read role "+k.o.RoleName, "")
	}
	fix := k.fixBySetup() + ", or set the role's trust policy to " + TrustPolicy(k.r.UserARN)
	trust, err := ParsePolicy(aws.ToString(out.Role.AssumeRolePolicyDocument))
	if err != nil {
		k.find(Finding{Name: TrustExcludesUser, Resource: k.r.RoleARN, Problem: "the role's trust policy cannot be read: " + err.Error(), Fix: fix})
		return true, nil
	}
	v := Evaluate(Request{Action: "sts:AssumeRole", Resource: k.r.RoleARN, Principal: k.r.UserARN, Account: k.c.account,
		Context: userContext(k.r.UserARN, k.c.account, k.o.UserName)},
		[]NamedPolicy{{Name: "the trust policy of role " + k.o.RoleName, Doc: trust, ResourceBased: true}})
	switch v.Decision {
	case ExplicitDeny:
		k.find(Finding{Name: TrustDenied, Resource: k.r.RoleARN,
			Problem: "a Deny in " + v.By + " refuses sts:AssumeRole to " + k.r.UserARN, Fix: "remove that Deny statement, or " + fix})
		return true, nil
	case Unverifiable:
		k.find(Finding{Name: TrustUnverified, Severity: Unverified, Resource: k.r.RoleARN,
			Problem: "cannot verify that " + k.r.UserARN + " may assume the role: " + v.By + " has " + strings.TrimPrefix(strings.TrimPrefix(v.Why, "an Allow with "), "a Deny with "),
			Fix:     "check that Condition by hand, or " + fix})
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
	if v.Decision == ImplicitDeny {
		k.find(Finding{Name: TrustExcludesUser, Resource: k.r.RoleARN,
			Problem: "the trust policy names " + k.r.UserARN + ", but " + v.By + " admits it only under a Condition its calls do not meet (" + strings.TrimPrefix(v.Why, "its ") + ")", Fix: fix})
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
	managed  bool // a managed or group policy, not the user's or role's inline one
}

func (k *checker) policyExists(ctx context.Context) error {
	_, err := k.c.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &k.r.PolicyARN})
	if isNotFound(err) {
		k.find(Finding{Name: PolicyMissing, Resource: k.r.PolicyARN,
			Problem: "managed policy " + k.o.PolicyName + " does not exist", Fix: k.fixBySetup()})
		return nil
	}
	if err != nil {
		return explain(err, "read policy "+k.r.PolicyARN, "")
	}
	return nil
}

// policies checks that the role's policies let it call execute-api:Invoke
// in every SP-API region, and reports what is wrong if not.
func (k *checker) policies(ctx context.Context) error {
	cands, namedExists, err := k.rolePolicies(ctx)
	if err != nil {
		return err
	}
	if k.regionFinding(cands) {
		return nil
	}
	k.invokeFinding(cands, namedExists)
	return nil
}

// rolePolicies are the role's attached and inline policies and, when it is
// not attached, the policy Setup names; namedExists says whether that policy
// exists at all.
func (k *checker) rolePolicies(ctx context.Context) (cands []candidate, namedExists bool, err error) {
	namedAttached := false
	p := iam.NewListAttachedRolePoliciesPaginator(k.c.iam, &iam.ListAttachedRolePoliciesInput{RoleName: &k.o.RoleName})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, false, explain(err, "list policies of role "+k.o.RoleName, "")
		}
		for _, a := range page.AttachedPolicies {
			doc, _, err := defaultPolicyDoc(ctx, k.c.iam, aws.ToString(a.PolicyArn))
			if err != nil {
				return nil, false, explain(err, "read policy "+aws.ToString(a.PolicyArn), "")
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
		return nil, false, explain(err, "list inline policies of role "+k.o.RoleName, "")
	}
	for _, n := range inl.PolicyNames {
		out, err := k.c.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &k.o.RoleName, PolicyName: &n})
		if err != nil {
			return nil, false, explain(err, "read inline policy "+n+" of role "+k.o.RoleName, "")
		}
		if pol, err := ParsePolicy(aws.ToString(out.PolicyDocument)); err == nil {
			cands = append(cands, candidate{name: "inline " + n, doc: pol, attached: true})
		}
	}
	namedExists = namedAttached
	if !namedAttached {
		doc, _, err := defaultPolicyDoc(ctx, k.c.iam, k.r.PolicyARN)
		switch {
		case err == nil:
			namedExists = true
			if pol, err := ParsePolicy(doc); err == nil {
				cands = append(cands, candidate{name: k.r.PolicyARN, doc: pol})
			}
		case !isNotFound(err):
			return nil, false, explain(err, "read policy "+k.r.PolicyARN, "")
		}
	}
	return cands, namedExists, nil
}

// regionFinding evaluates the attached policies for a call in a few SP-API
// regions, as IAM would, and reports a Deny, an unverifiable Condition or an
// unmet one. It stops at the first region that is simply not allowed: the
// statements alone then tell what is wrong (see invokeFinding).
func (k *checker) regionFinding(cands []candidate) bool {
	var attached []NamedPolicy
	for _, c := range cands {
		if c.attached {
			attached = append(attached, NamedPolicy{Name: "policy " + c.name, Doc: c.doc})
		}
	}
	for _, region := range []string{"us-east-1", "eu-west-1", "us-west-2"} {
		v := Evaluate(Request{Action: "execute-api:Invoke", Resource: "arn:aws:execute-api:" + region + ":*:*", Principal: k.r.RoleARN, Account: k.c.account,
			Context: roleContext(k.r.RoleARN, k.c.account)}, attached)
		switch v.Decision {
		case ExplicitDeny:
			k.find(Finding{Name: PolicyDenied, Resource: k.r.RoleARN,
				Problem: "a Deny in " + v.By + " refuses execute-api:Invoke to role " + k.o.RoleName + " (SP-API region " + region + ")",
				Fix:     "remove that Deny statement from the role's policies"})
			return true
		case Unverifiable:
			k.find(Finding{Name: PolicyUnverified, Severity: Unverified, Resource: k.r.RoleARN,
				Problem: "cannot verify that role " + k.o.RoleName + " may call execute-api:Invoke in " + region + ": " + v.By + " has " + condPart(v.Why),
				Fix:     "check that Condition by hand, or make the policy exactly " + ExecuteAPIPolicy})
			return true
		case Allowed:
			continue
		}
		if v.By != "" {
			k.find(Finding{Name: PolicyWrongAction, Resource: k.r.RoleARN,
				Problem: v.By + " allows execute-api:Invoke only under a Condition the role's calls do not meet (" + condPart(v.Why) + ")",
				Fix:     k.fixBySetup() + ", or make the policy exactly " + ExecuteAPIPolicy})
			return true
		}
		break
	}
	return false
}

// invokeFinding reports, unless an attached policy allows the call, what is
// missing: the attachment, the policy, or the right action or resource.
func (k *checker) invokeFinding(cands []candidate, namedExists bool) {
	allows := func(c candidate) bool { return c.doc.Allows("execute-api:Invoke", ExecuteAPIResource) }
	if slices.ContainsFunc(cands, func(c candidate) bool { return c.attached && allows(c) }) {
		return
	}
	if i := slices.IndexFunc(cands, allows); i >= 0 {
		k.find(Finding{Name: PolicyNotAttached, Resource: cands[i].name,
			Problem: "policy " + cands[i].name + " allows execute-api:Invoke but is not attached to role " + k.o.RoleName,
			Fix:     k.fixBySetup() + " or `aws iam attach-role-policy --role-name " + k.o.RoleName + " --policy-arn " + cands[i].name + "`"})
		return
	}
	if !namedExists && !slices.ContainsFunc(cands, func(c candidate) bool { return c.attached }) {
		k.find(Finding{Name: PolicyMissing, Resource: k.r.PolicyARN,
			Problem: "no policy allowing execute-api:Invoke exists for role " + k.o.RoleName, Fix: k.fixBySetup()})
		return
	}
	fixDoc := k.fixBySetup() + ", or make the policy exactly " + ExecuteAPIPolicy
	// Which half is wrong? Look for a statement with the right action (then
	// the resource is wrong), else one with the right resource.
	for _, c := range cands {
		for _, st := range c.doc.Statement {
			if st.Effect == "Allow" && st.matchesAction("execute-api:Invoke") {
				k.find(Finding{Name: PolicyWrongResource, Resource: c.name,
					Problem: "policy " + c.name + " allows execute-api:Invoke only on " + listOrNone(st.Resource) + ", not on " + ExecuteAPIResource + " (every SP-API region)",
					Fix:     fixDoc})
				return
			}
		}
	}
	name := k.r.PolicyARN
	if i := slices.IndexFunc(cands, func(c candidate) bool { return c.attached }); i >= 0 {
		name = cands[i].name
	}
	k.find(Finding{Name: PolicyWrongAction, Resource: name,
		Problem: "no policy of role " + k.o.RoleName + " allows the action execute-api:Invoke", Fix: fixDoc})
}

// userPolicies are every identity policy of the user: its inline and
// attached policies and those of its groups (a Deny in any of them counts).
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
	managed := func(arns []string, whose string) error {
		for _, arn := range arns {
			doc, _, err := defaultPolicyDoc(ctx, k.c.iam, arn)
			if err != nil {
				return explain(err, "read policy "+arn+" of "+whose, "")
			}
			if pol, err := ParsePolicy(doc); err == nil {
				out = append(out, candidate{name: arn, doc: pol, attached: true, managed: true})
			}
		}
		return nil
	}
	att, err := k.c.iam.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: &k.o.UserName})
	if err != nil {
		return nil, explain(err, "list attached policies of "+k.o.UserName, "")
	}
	var arns []string
	for _, a := range att.AttachedPolicies {
		arns = append(arns, aws.ToString(a.PolicyArn))
	}
	if err := managed(arns, k.o.UserName); err != nil {
		return nil, err
	}
	groups, err := k.c.iam.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: &k.o.UserName})
	if err != nil {
		return nil, explain(err, "list groups of "+k.o.UserName, "")
	}
	for _, g := range groups.Groups {
		gname := aws.ToString(g.GroupName)
		gp, err := k.c.iam.ListGroupPolicies(ctx, &iam.ListGroupPoliciesInput{GroupName: &gname})
		if err != nil {
			return nil, explain(err, "list policies of group "+gname, "")
		}
		for _, n := range gp.PolicyNames {
			p, err := k.c.iam.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: &gname, PolicyName: &n})
			if err != nil {
				return nil, explain(err, "read policy "+n+" of group "+gname, "")
			}
			if pol, err := ParsePolicy(aws.ToString(p.PolicyDocument)); err == nil {
				out = append(out, candidate{name: "group " + gname + "'s " + n, doc: pol, attached: true, managed: true})
			}
		}
		ga, err := k.c.iam.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: &gname})
		if err != nil {
			return nil, explain(err, "list attached policies of group "+gname, "")
		}
		arns = arns[:0]
		for _, a := range ga.AttachedPolicies {
			arns = append(arns, aws.ToString(a.PolicyArn))
		}
		if err := managed(arns, "group "+gname); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func named(cands []candidate, resource *NamedPolicy) []NamedPolicy {
	var out []NamedPolicy
	for _, c := range cands {
		n := "policy " + c.name
		if !c.managed {
			n = "inline policy " + c.name
		}
		out = append(out, NamedPolicy{Name: n, Doc: c.doc})
	}
	if resource != nil {
		out = append(out, *resource)
	}
	return out
}

// condPart is the Condition part of a Verdict's Why.
func condPart(why string) string {
	for _, p := range []string{"an Allow with ", "a Deny with ", "its "} {
		why = strings.TrimPrefix(why, p)
	}
	return why
}

func (k *checker) inline(ctx context.Context) error {
	pols, err := k.userPolicies(ctx)
	if err != nil {
		return err
	}
	fix := k.fixBySetup() + ", or put this inline policy on " + k.o.UserName + ": " + AssumeRolePolicy(k.r.RoleARN)
	uctx := userContext(k.r.UserARN, k.c.account, k.o.UserName)
	v := Evaluate(Request{Action: "sts:AssumeRole", Resource: k.r.RoleARN, Principal: k.r.UserARN, Account: k.c.account, Context: uctx}, named(pols, nil))
	switch v.Decision {
	case ExplicitDeny:
		k.find(Finding{Name: AssumeRoleDenied, Resource: k.r.UserARN,
			Problem: "a Deny in " + v.By + " refuses sts:AssumeRole on " + k.r.RoleARN + " to " + k.o.UserName, Fix: "remove that Deny statement"})
		return nil
	case Unverifiable:
		k.find(Finding{Name: AssumeRoleUnverified, Severity: Unverified, Resource: k.r.UserARN,
			Problem: "cannot verify that " + k.o.UserName + " may assume " + k.r.RoleARN + ": " + v.By + " has " + condPart(v.Why),
			Fix:     "check that Condition by hand, or " + fix})
		return nil
	case Allowed:
		other := "arn:aws:iam::" + k.c.account + ":role/spgate-probe-not-the-role"
		if Evaluate(Request{Action: "sts:AssumeRole", Resource: other, Principal: k.r.UserARN, Account: k.c.account, Context: uctx}, named(pols, nil)).Decision == Allowed {
			k.find(Finding{Name: InlinePolicyTooBroad, Severity: Warning, Resource: k.r.UserARN,
				Problem: "the policies of " + k.o.UserName + " let it assume any role, not only " + k.r.RoleARN + " (" + v.By + ")", Fix: fix})
		}
		return nil
	}
	if v.By != "" {
		k.find(Finding{Name: InlinePolicyWrongRole, Resource: k.r.UserARN,
			Problem: v.By + " allows sts:AssumeRole on " + k.r.RoleARN + " only under a Condition the user's calls do not meet (" + condPart(v.Why) + ")", Fix: fix})
		return nil
	}
	for _, p := range pols {
		for _, st := range p.doc.Statement {
			if st.Effect == "Allow" && st.matchesAction("sts:AssumeRole") {
				k.find(Finding{Name: InlinePolicyWrongRole, Resource: k.r.UserARN,
					Problem: "policy " + p.name + " allows sts:AssumeRole on " + listOrNone(st.Resource) + ", not on " + k.r.RoleARN, Fix: fix})
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
		k.find(Finding{Name: QueueMissing, Resource: k.o.QueueName, Problem: "SQS queue " + k.o.QueueName + " does not exist in " + k.c.sqsRegion, Fix: k.fixBySetup()})
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
	var qp *NamedPolicy
	if perr == nil {
		qp = &NamedPolicy{Name: "the policy of queue " + k.o.QueueName, Doc: pol, ResourceBased: true}
	}
	amazon := AmazonVerdict(pol, qarn)
	switch amazon.Decision {
	case ExplicitDeny:
		k.find(Finding{Name: QueuePolicyDeniesAmazon, Resource: qarn,
			Problem: "a Deny in " + amazon.By + " refuses Amazon's notification service (account 437568002678), so notifications are silently dropped",
			Fix:     "remove that Deny statement from the queue policy"})
	case Unverifiable:
		k.find(Finding{Name: QueuePolicyUnverified, Severity: Unverified, Resource: qarn,
			Problem: "cannot verify that Amazon's notification service (account 437568002678) may send to the queue: " + amazon.By + " has " + condPart(amazon.Why),
			Fix:     "check that Condition by hand, or " + k.fixBySetup()})
	case ImplicitDeny:
		k.find(Finding{Name: QueuePolicyNoAmazon, Resource: qarn,
			Problem: "the queue policy does not let Amazon's notification service (account 437568002678) send messages and read attributes, so notifications are silently dropped",
			Fix:     k.fixBySetup() + " (it adds its statement and keeps the others), or add this statement to the queue policy: " + QueuePolicy(qarn)})
	}
	if userOK {
		pols, err := k.userPolicies(ctx)
		if err != nil {
			return err
		}
		v := worst(qarn, []string{"sqs:ReceiveMessage", "sqs:DeleteMessage"}, func(action string) Verdict {
			return Evaluate(Request{Action: action, Resource: qarn, Principal: k.r.UserARN, Account: k.c.account,
				Context: userContext(k.r.UserARN, k.c.account, k.o.UserName)}, named(pols, qp))
		})
		switch v.Decision {
		case ExplicitDeny:
			k.find(Finding{Name: QueueReadDenied, Resource: qarn,
				Problem: "a Deny in " + v.By + " refuses " + k.o.UserName + " receiving or deleting messages on " + qarn + ", so the new client secret cannot be picked up",
				Fix:     "remove that Deny statement"})
		case Unverifiable:
			k.find(Finding{Name: QueueReadUnverified, Severity: Unverified, Resource: qarn,
				Problem: "cannot verify that " + k.o.UserName + " may receive and delete messages on " + qarn + ": " + v.By + " has " + condPart(v.Why),
				Fix:     "check that Condition by hand, or " + k.fixBySetup()})
		case ImplicitDeny:
			k.find(Finding{Name: QueueReadPolicyMissing, Resource: qarn,
				Problem: k.o.UserName + " may not receive and delete messages on " + qarn + ", so the new client secret cannot be picked up",
				Fix:     k.fixBySetup() + ", or put this inline policy on " + k.o.UserName + ": " + QueueReadPolicy(qarn)})
		}
	}
	return nil
}

// worst evaluates each action and returns the worst verdict: a deny, then
// an unverifiable one, then an implicit deny, then allowed.
func worst(_ string, actions []string, eval func(string) Verdict) Verdict {
	rank := map[Decision]int{Allowed: 0, ImplicitDeny: 1, Unverifiable: 2, ExplicitDeny: 3}
	var w Verdict
	for i, a := range actions {
		v := eval(a)
		if i == 0 || rank[v.Decision] > rank[w.Decision] {
			w = v
		}
	}
	return w
}

// AmazonVerdict decides whether queue policy p (nil: none) lets Amazon's
// notification service send to queueARN and read its attributes.
func AmazonVerdict(p *Policy, queueARN string) Verdict {
	pols := []NamedPolicy{{Name: "the queue policy", Doc: p, ResourceBased: true}}
	return worst(queueARN, []string{"sqs:SendMessage", "sqs:GetQueueAttributes"}, func(action string) Verdict {
		return Evaluate(Request{Action: action, Resource: queueARN, Principal: AmazonNotificationsPrincipal, Account: AmazonAccountID,
			Context: amazonContext()}, pols)
	})
}

// AmazonAccountID is the account of Amazon's notification service.
const AmazonAccountID = "437568002678"

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
