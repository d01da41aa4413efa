package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// scpNeed is one call the SP-API chain (or its setup) makes: who makes it,
// the action and the resource it acts on.
type scpNeed struct {
	action   string
	resource string
}

// scpNeeds lists what a service control policy must not deny: the user's
// sts:AssumeRole on the role, the role's execute-api:Invoke, the queue
// calls (with the queue option) and the IAM calls Setup makes.
func (k *checker) scpNeeds() []scpNeed {
	needs := []scpNeed{
		{"sts:AssumeRole", k.r.RoleARN},
		{"execute-api:Invoke", ExecuteAPIResource},
	}
	if k.o.Queue {
		qarn := "arn:" + k.c.partition + ":sqs:" + k.c.sqsRegion + ":" + k.c.account + ":" + k.o.QueueName
		for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"} {
			needs = append(needs, scpNeed{a, qarn})
		}
	}
	for _, a := range []string{"CreateUser", "GetUser", "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "PutUserPolicy", "GetUserPolicy"} {
		needs = append(needs, scpNeed{"iam:" + a, k.r.UserARN})
	}
	for _, a := range []string{"CreateRole", "GetRole", "UpdateAssumeRolePolicy", "AttachRolePolicy"} {
		needs = append(needs, scpNeed{"iam:" + a, k.r.RoleARN})
	}
	for _, a := range []string{"CreatePolicy", "GetPolicy", "CreatePolicyVersion", "ListPolicyVersions", "DeletePolicyVersion"} {
		needs = append(needs, scpNeed{"iam:" + a, k.r.PolicyARN})
	}
	return needs
}

// scpSource is one service control policy and where it is attached.
type scpSource struct {
	ID, Name string
	Target   string // account, OU or root id it was found on
	Content  string // the policy JSON
}

// orgsUnreadable is the note for credentials that may not read AWS
// Organizations.
const orgsUnreadable = "SCPs not checked: the credentials cannot read AWS Organizations (run the check from the management account or with organizations:Describe*/List* rights)"

// scps reads the service control policies that apply to the account from
// AWS Organizations and reports those that deny what the chain needs. It
// returns "" when Organizations answered (SCPs checked, or none apply),
// else why the SCPs could not be read, for a note.
func (k *checker) scps(ctx context.Context) string {
	org, err := k.c.org.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if apiCode(err) == "AWSOrganizationsNotInUseException" {
		k.r.Notes = append(k.r.Notes, "no service control policies apply: the account is not in an AWS organization")
		return ""
	}
	if err != nil {
		return orgsFailure(err)
	}
	if org.Organization == nil {
		return "SCPs not checked: AWS Organizations returned no organization"
	}
	if org.Organization.FeatureSet == orgtypes.OrganizationFeatureSetConsolidatedBilling {
		k.r.Notes = append(k.r.Notes, "no service control policies apply: the AWS organization uses consolidated billing only")
		return ""
	}
	pols, err := k.attachedSCPs(ctx)
	if err != nil {
		return orgsFailure(err)
	}
	mgmt := aws.ToString(org.Organization.MasterAccountId) == k.c.account
	for _, f := range scpFindings(pols, k.scpNeeds(), mgmt) {
		k.find(f)
	}
	return ""
}

// orgsFailure turns an Organizations error into a note. An HTTP 403 whose
// body is not Organizations' JSON (some proxies and emulators answer so)
// counts as a denial too.
func orgsFailure(err error) string {
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() == 403 {
		return orgsUnreadable
	}
	switch apiCode(err) {
	case "AccessDenied", "AccessDeniedException", "AccessDeniedForDependencyException", "UnauthorizedOperation":
		return orgsUnreadable
	}
	return "SCPs not checked: AWS Organizations could not be read (" + apiCodeOr(err) + ")"
}

// attachedSCPs lists the SCPs attached to the account and to each of its
// parents up to the root, each policy once.
func (k *checker) attachedSCPs(ctx context.Context) ([]scpSource, error) {
	targets := []string{k.c.account}
	for child := k.c.account; len(targets) < 10; { // OUs nest at most 5 deep
		out, err := k.c.org.ListParents(ctx, &organizations.ListParentsInput{ChildId: aws.String(child)})
		if err != nil {
			return nil, fmt.Errorf("list parents of %s: %w", child, err)
		}
		if len(out.Parents) == 0 {
			break
		}
		child = aws.ToString(out.Parents[0].Id)
		targets = append(targets, child)
		if out.Parents[0].Type == orgtypes.ParentTypeRoot {
			break
		}
	}
	var out []scpSource
	seen := map[string]bool{}
	for _, t := range targets {
		p := organizations.NewListPoliciesForTargetPaginator(k.c.org, &organizations.ListPoliciesForTargetInput{
			TargetId: aws.String(t), Filter: orgtypes.PolicyTypeServiceControlPolicy})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list SCPs of %s: %w", t, err)
			}
			for _, s := range page.Policies {
				id := aws.ToString(s.Id)
				if seen[id] {
					continue
				}
				seen[id] = true
				d, err := k.c.org.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String(id)})
				if err != nil {
					return nil, fmt.Errorf("read SCP %s: %w", id, err)
				}
				src := scpSource{ID: id, Name: aws.ToString(s.Name), Target: t}
				if d.Policy != nil {
					src.Content = aws.ToString(d.Policy.Content)
				}
				out = append(out, src)
			}
		}
	}
	return out, nil
}

// scpFindings reports each Deny statement of pols that covers one of needs:
// Broken when unconditional, Warning when it has a Condition (it may deny).
// In the management account SCPs do not apply, so every finding is a
// Warning there. A policy that cannot be parsed is reported as a Warning.
func scpFindings(pols []scpSource, needs []scpNeed, management bool) []Finding {
	var out []Finding
	for _, p := range pols {
		label := "service control policy " + p.Name + " (" + p.ID + ", attached to " + p.Target + ")"
		fix := "ask the organization's administrator to exempt this account or these actions from " + p.Name + " (AWS Organizations → Policies → " + p.Name + ")"
		stmts, err := scpStatements(p.Content)
		if err != nil {
			out = append(out, Finding{Name: SCPDenies, Severity: Warning, Resource: p.ID,
				Problem: label + " could not be read, so it may deny the chain: " + err.Error(), Fix: fix})
			continue
		}
		for _, s := range stmts {
			if s.st.Effect != "Deny" {
				continue
			}
			var denied []string
			for _, n := range needs {
				if s.st.matchesAction(n.action) && scpResourceCovers(s.st, n.resource) && !slices.Contains(denied, n.action) {
					denied = append(denied, n.action)
				}
			}
			if len(denied) == 0 {
				continue
			}
			f := Finding{Name: SCPDenies, Severity: Broken, Resource: p.ID, Fix: fix,
				Problem: label + " denies " + strings.Join(denied, ", ") + " with the statement " + s.raw}
			if hasCondition(s.st.Condition) {
				f.Severity = Warning
				f.Problem = label + " may deny (conditional) " + strings.Join(denied, ", ") + " with the statement " + s.raw
			}
			if management {
				f.Severity = Warning
				f.Problem += "; this account is the organization's management account, which SCPs do not restrict, so it bites only where the chain runs in a member account"
			}
			out = append(out, f)
		}
	}
	return out
}

type rawStatement struct {
	st  Statement
	raw string // compact JSON, for the finding
}

// scpStatements parses an SCP document, keeping each statement's text.
func scpStatements(doc string) ([]rawStatement, error) {
	if _, err := ParsePolicy(doc); err != nil {
		return nil, err
	}
	var top struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(doc)), &top); err != nil {
		return nil, fmt.Errorf("SCP is not JSON: %w", err)
	}
	var raws []json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(top.Statement), []byte("[")) {
		if err := json.Unmarshal(top.Statement, &raws); err != nil {
			return nil, fmt.Errorf("SCP Statement is not a list: %w", err)
		}
	} else {
		raws = []json.RawMessage{top.Statement}
	}
	out := make([]rawStatement, 0, len(raws))
	for i, r := range raws {
		st, err := parseStatement(r)
		if err != nil {
			return nil, fmt.Errorf("SCP statement %d: %w", i+1, err)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, r); err != nil {
			return nil, errors.New("SCP statement is not JSON")
		}
		out = append(out, rawStatement{st: st, raw: b.String()})
	}
	return out, nil
}

// scpResourceCovers reports whether a statement's Resource/NotResource
// reaches resource. resource may itself hold wildcards (execute-api's
// every-region ARN); a pattern that overlaps it either way counts.
func scpResourceCovers(st Statement, resource string) bool {
	if len(st.NotResource) > 0 {
		return !anyGlob(st.NotResource, resource)
	}
	if len(st.Resource) == 0 {
		return true
	}
	for _, p := range st.Resource {
		if globMatch(p, resource) || globMatch(resource, p) {
			return true
		}
	}
	return false
}

func hasCondition(c json.RawMessage) bool {
	s := strings.TrimSpace(string(c))
	return s != "" && s != "null" && s != "{}"
}
