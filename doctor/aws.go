package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/spgate/spgate/awsauth"
	"github.com/spgate/spgate/provision"
)

// Names of the checks AWS reports (layer "aws").
const (
	CheckAWSSigV4       = "aws-sigv4-not-required"
	CheckAWSKeys        = "aws-user-keys"
	CheckAWSAssumeRole  = "aws-assume-role"
	CheckAWSRoleARN     = "aws-role-arn"
	CheckAWSUser        = "aws-user"
	CheckAWSRolePolicy  = "aws-role-policy"
	CheckAWSTrust       = "aws-trust"
	CheckAWSUserPolicy  = "aws-user-policy"
	CheckAWSQueue       = "aws-queue"
	CheckAWSQueueRead   = "aws-queue-read"
	CheckAWSOrgPolicies = "aws-org-policies"
	CheckAWSAccount     = "aws-admin-read"
)

// StepAWSSetup is the setup step every AWS failure points to.
const StepAWSSetup = "aws-setup"

// AWSInput is what the AWS checks look at. Everything is optional; what is
// missing is reported as skipped.
type AWSInput struct {
	// UserKeys are the IAM user's access key as stored with the app.
	UserKeys awsauth.UserKeys
	// RoleARN is the SP-API role (only needed when the app signs).
	RoleARN string
	// QueueURL is the SQS queue new client secrets arrive on.
	QueueURL string
	// Endpoint overrides the AWS base URL (a moto_server), for tests.
	Endpoint string
	// Region is the AWS region of STS and SQS; default us-east-1.
	Region string
	// AdminConfig are administrator credentials; with them the whole chain
	// is read (provision.Check): the role's policy, its trust policy, the
	// user's inline policies and the queue's policy.
	AdminConfig *aws.Config
	// App names the app in the fixes ("spgate setup aws --app NAME");
	// default "NAME".
	App string
	// Names are the resource names setup used when not the guide's
	// (UserName, RoleName, PolicyName, InlinePolicyName, QueueName,
	// QueueReadPolicyName); the chain is read with them and the fixes
	// repeat them.
	Names provision.Options
	// AdminSource says whose credentials AdminConfig holds, for messages
	// ("the administrator credentials in the environment").
	AdminSource string
	// NoAdmin says why no administrator credentials were found; with
	// AdminConfig nil the IAM and queue-policy checks are reported as
	// skipped for this reason.
	NoAdmin string
}

// AWS checks the legacy AWS chain: the user's keys, that they can assume the
// role, and (with administrator credentials) that the role carries the
// SP-API policy and trusts only the user; plus whether the user's keys can
// read the notification queue. The first check always says what of the
// chain still matters since SP-API dropped SigV4.
func AWS(ctx context.Context, in AWSInput) []Check {
	a := awsChecker{in: in}
	if a.in.Region == "" {
		a.in.Region = "us-east-1"
	}
	if a.in.App == "" {
		a.in.App = "NAME"
	}
	if a.in.AdminSource == "" {
		a.in.AdminSource = "the administrator credentials"
	}
	a.add(Check{Name: CheckAWSSigV4, Status: OK, Detail: "Since 2 October 2023 SP-API no longer needs IAM or AWS Signature V4: " +
		"the LWA access token alone authorizes calls and a signature is accepted but disregarded. " +
		"The IAM role and signing matter only to integrations that still sign; " +
		"the IAM user's keys still matter because they read the SQS queue that new client secrets arrive on (secret rotation)."})

	sts := awsauth.STSOptions{Region: a.in.Region, Endpoint: in.Endpoint, HTTPClient: &http.Client{Timeout: 30 * time.Second}}
	userName, keysOK := a.userKeys(ctx, sts)
	roleName := a.assumeRole(ctx, sts, keysOK)
	if in.AdminConfig != nil {
		a.chain(ctx, userName, roleName)
	} else {
		a.withoutAdmin()
	}
	a.queueRead(ctx, keysOK)
	return a.out
}

// userKeys checks the user's stored access key with STS; keysOK says it
// works, and userName is the user it belongs to when STS says so.
func (a *awsChecker) userKeys(ctx context.Context, sts awsauth.STSOptions) (userName string, keysOK bool) {
	in := a.in
	switch {
	case in.UserKeys.AccessKeyID == "" && in.UserKeys.SecretAccessKey.IsZero():
		st := Skip
		detail := "no IAM user access key is stored for the app"
		if in.RoleARN != "" || in.QueueURL != "" {
			st, detail = Fail, detail+", but the app has a role ARN or queue URL that need it"
		}
		a.add(Check{Name: CheckAWSKeys, Status: st, Detail: detail, Step: stepIf(st), Fix: a.fixIf(st, "")})
	case in.UserKeys.AccessKeyID == "" || in.UserKeys.SecretAccessKey.IsZero():
		a.add(Check{Name: CheckAWSKeys, Status: Fail, Detail: "the stored IAM user access key is incomplete (id or secret missing)", Step: StepAWSSetup, Fix: a.fix("")})
	default:
		id, err := awsauth.CallerIdentity(ctx, in.UserKeys.Provider(), sts)
		if why, endpoint, ok := unreachable(err); ok {
			// No answer says nothing about the key: do not send the user
			// to create a new one.
			if endpoint == "" {
				endpoint = "AWS STS (" + stsEndpointHint() + ")"
			}
			a.add(cannotReach("reach-aws", "AWS STS", endpoint, why, ""))
			break
		}
		if err != nil {
			a.add(Check{Name: CheckAWSKeys, Status: Fail, Detail: fmt.Sprintf("access key %s: %v", in.UserKeys.AccessKeyID, err), Step: StepAWSSetup,
				Fix: a.fix("") + " (creates a new key for the user and stores it)"})
			break
		}
		keysOK = true
		if arn, err := provision.ParseARN(id.ARN); err == nil && strings.HasPrefix(arn.Resource, "user/") {
			userName = path.Base(arn.Resource)
		}
		a.add(Check{Name: CheckAWSKeys, Status: OK, Detail: fmt.Sprintf("access key %s is valid and belongs to %s", in.UserKeys.AccessKeyID, id.ARN)})
	}
	return userName, keysOK
}

// assumeRole checks the role ARN and, when the user's key works, that the
// user can assume the role; it returns the role's name when the ARN is
// valid.
func (a *awsChecker) assumeRole(ctx context.Context, sts awsauth.STSOptions, keysOK bool) (roleName string) {
	in := a.in
	if in.RoleARN == "" {
		a.add(Check{Name: CheckAWSAssumeRole, Status: Skip, Detail: "no IAM role ARN is set for the app (needed only for SigV4 signing)"})
		return ""
	}
	roleName, err := provision.ValidateRoleARN(in.RoleARN)
	if err != nil {
		a.add(Check{Name: CheckAWSRoleARN, Status: Fail, Detail: err.Error(), Step: StepAWSSetup, Fix: a.fix("")})
		return ""
	}
	if !keysOK {
		a.add(Check{Name: CheckAWSAssumeRole, Status: Skip, Detail: "not tried: the user's access key does not work"})
		return roleName
	}
	opts := awsauth.AssumeRoleOptions{STSOptions: sts, RoleARN: in.RoleARN, User: in.UserKeys}
	if id, err := awsauth.CanAssume(ctx, opts); err != nil {
		a.add(Check{Name: CheckAWSAssumeRole, Status: Fail, Detail: err.Error(), Step: StepAWSSetup,
			Fix: a.fix("") + " (restores the user's inline sts:AssumeRole policy and the role's trust policy); `spgate setup aws --app " + a.in.App + " --check` names what differs"})
	} else {
		a.add(Check{Name: CheckAWSAssumeRole, Status: OK, Detail: "the user can assume " + in.RoleARN + " (session " + id.ARN + ")"})
	}
	return roleName
}

type awsChecker struct {
	in  AWSInput
	out []Check
}

func (a *awsChecker) add(c Check) {
	c.Layer = "aws"
	a.out = append(a.out, c)
}

func (a *awsChecker) fix(extra string) string {
	return a.setupOptions().SetupCommandLine() + extra
}

// setupOptions are the names and region setup used, for reading the chain
// and for the fixes.
func (a *awsChecker) setupOptions() provision.Options {
	o := a.in.Names
	o.SetupCommand = "spgate setup aws --app " + a.in.App
	if a.in.QueueURL != "" {
		o.Queue = true
		if o.QueueName == "" {
			o.QueueName = queueName(a.in.QueueURL)
		}
	}
	if o.Region == "" && a.in.Region != "us-east-1" {
		o.Region = a.in.Region
	}
	if o.RoleName == "" && a.in.RoleARN != "" {
		if n, err := provision.ValidateRoleARN(a.in.RoleARN); err == nil {
			o.RoleName = n
		}
	}
	return o
}

func (a *awsChecker) fixIf(st Status, extra string) string {
	if st == OK || st == Skip {
		return ""
	}
	return a.fix(extra)
}

func stepIf(st Status) string {
	if st == OK || st == Skip {
		return ""
	}
	return StepAWSSetup
}

// queueName returns the queue's name: the last segment of its URL.
func queueName(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return path.Base(strings.TrimSuffix(p.Path, "/"))
}

// chain reads the whole setup with administrator credentials.
func (a *awsChecker) chain(ctx context.Context, userName, roleName string) {
	if rep, ok := a.readChain(ctx, userName, roleName); ok {
		a.chainChecks(rep, roleName)
	}
}

// readChain runs provision.Check as the administrator; when it cannot, it
// adds why and returns false.
func (a *awsChecker) readChain(ctx context.Context, userName, roleName string) (*provision.CheckReport, bool) {
	if userName == "" && a.in.UserKeys.AccessKeyID != "" {
		// The key may be dead; IAM still knows whose it is (or was).
		cfg := a.in.AdminConfig.Copy()
		if a.in.Endpoint != "" {
			cfg.BaseEndpoint = aws.String(a.in.Endpoint)
		}
		if out, err := iam.NewFromConfig(cfg).GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(a.in.UserKeys.AccessKeyID)}); err == nil {
			userName = aws.ToString(out.UserName)
		}
	}
	opts := a.setupOptions()
	opts.Config, opts.Endpoint, opts.HeldAccessKeyID = a.in.AdminConfig, a.in.Endpoint, a.in.UserKeys.AccessKeyID
	opts.Region = a.in.Region
	if userName != "" {
		opts.UserName = userName
	}
	if roleName != "" {
		opts.RoleName = roleName
	}
	rep, err := provision.Check(ctx, opts)
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && strings.Contains(ae.ErrorCode(), "AccessDenied") || errors.As(err, &ae) && ae.ErrorCode() == "UnauthorizedOperation" {
			why := a.in.AdminSource + " may not read IAM and SQS (" + ae.ErrorCode() + ": " + ae.ErrorMessage() + ")"
			if a.in.NoAdmin != "" {
				why = a.in.NoAdmin + ", and " + why
			}
			a.skipped(roleName, why)
			return nil, false
		}
		a.add(Check{Name: CheckAWSAccount, Status: Fail, Detail: "could not read the AWS setup with " + a.in.AdminSource + ": " + err.Error(),
			Step: StepAWSSetup, Fix: "check the administrator credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), then `" + a.fix(" --check") + "`"})
		return nil, false
	}
	return rep, true
}

// chainChecks groups the report's findings into one check per link of the
// chain; a link without findings passes, unless there is nothing to check.
// Findings of no group go into one aws-chain check.
func (a *awsChecker) chainChecks(rep *provision.CheckReport, roleName string) {
	groups := []struct {
		name  string
		what  string
		finds []string
		skip  bool
	}{
		{CheckAWSUser, "the IAM user " + rep.UserARN + " exists with an active access key", []string{provision.UserMissing, provision.AccessKeyMissing, provision.AccessKeyInactive}, false},
		{CheckAWSRolePolicy, "the role " + rep.RoleARN + " carries the execute-api:Invoke policy and nothing denies it", []string{provision.RoleMissing, provision.PolicyMissing, provision.PolicyNotAttached, provision.PolicyWrongAction, provision.PolicyWrongResource, provision.PolicyDenied, provision.PolicyUnverified}, roleName == ""},
		{CheckAWSTrust, "the role's trust policy admits only " + rep.UserARN, []string{provision.TrustNotLockedToUser, provision.TrustExcludesUser, provision.TrustDenied, provision.TrustUnverified}, roleName == ""},
		{CheckAWSUserPolicy, "the user's inline policy allows sts:AssumeRole on exactly the role and nothing denies it", []string{provision.InlinePolicyMissing, provision.InlinePolicyWrongRole, provision.InlinePolicyTooBroad, provision.AssumeRoleDenied, provision.AssumeRoleUnverified}, roleName == ""},
		{CheckAWSQueue, "the queue " + a.in.QueueURL + " exists, Amazon may deliver to it and the user may read it", []string{provision.QueueMissing, provision.QueuePolicyNoAmazon, provision.QueueReadPolicyMissing, provision.QueuePolicyDeniesAmazon, provision.QueuePolicyUnverified, provision.QueueReadDenied, provision.QueueReadUnverified}, a.in.QueueURL == ""},
		{CheckAWSOrgPolicies, "no organization policy denies the chain", []string{provision.SCPDenies}, false},
	}
	seen := map[string]bool{}
	for _, g := range groups {
		var bad []provision.Finding
		for _, f := range rep.Findings {
			for _, n := range g.finds {
				if f.Name == n {
					bad = append(bad, f)
					seen[f.Name] = true
				}
			}
		}
		if len(bad) == 0 {
			if g.skip {
				continue
			}
			if g.name == CheckAWSOrgPolicies {
				if rep.SCPsUnchecked != "" { // not a pass: say they were not read
					a.add(Check{Name: g.name, Status: Skip, Detail: rep.SCPsUnchecked,
						Fix: "run `spgate setup aws --app " + a.in.App + " --check` with credentials of the organization's management account"})
				}
				continue // otherwise only worth a line when something is found
			}
			a.add(Check{Name: g.name, Status: OK, Detail: g.what})
			continue
		}
		a.add(findingsCheck(g.name, bad, a.fix("")))
	}
	var other []provision.Finding
	for _, f := range rep.Findings {
		if !seen[f.Name] {
			other = append(other, f)
		}
	}
	if len(other) > 0 {
		a.add(findingsCheck("aws-chain", other, a.fix("")))
	}
}

// findingsCheck folds provision findings into one Check.
func findingsCheck(name string, fs []provision.Finding, setup string) Check {
	st := Warn
	var details, fixes []string
	for _, f := range fs {
		if f.Severity == provision.Broken {
			st = Fail
		}
		d := f.Name + ": " + f.Problem
		if f.Severity == provision.Unverified {
			d = f.Name + " (cannot verify): " + f.Problem
		}
		if f.Resource != "" {
			d += " (" + f.Resource + ")"
		}
		details = append(details, d)
		if f.Fix != "" {
			fixes = append(fixes, f.Fix)
		}
	}
	fixes = append(fixes, "or run `"+setup+"` to put the guide's setup back")
	return Check{Name: name, Status: st, Detail: strings.Join(details, "; "), Step: StepAWSSetup, Fix: strings.Join(fixes, "; ")}
}

// withoutAdmin says what cannot be seen without credentials that may read
// IAM, and why.
func (a *awsChecker) withoutAdmin() {
	why := a.in.NoAdmin
	if why == "" {
		why = "no credentials that may read IAM were given"
	}
	a.skipped(a.setupOptions().RoleName, why)
}

// skipped reports each check of the chain that could not run, and why.
func (a *awsChecker) skipped(roleName, why string) {
	fix := "run `spgate doctor` with administrator credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or `" + a.fix(" --check") + "`"
	checks := []struct{ name, what string }{{CheckAWSUser, "the IAM user and its access keys"}}
	if a.in.RoleARN != "" || roleName != "" {
		checks = append(checks,
			struct{ name, what string }{CheckAWSRolePolicy, "the role's execute-api:Invoke policy"},
			struct{ name, what string }{CheckAWSTrust, "the role's trust policy"},
			struct{ name, what string }{CheckAWSUserPolicy, "the user's sts:AssumeRole policy"})
	}
	if a.in.QueueURL != "" {
		checks = append(checks, struct{ name, what string }{CheckAWSQueue, "the queue policy (does it admit Amazon's account 437568002678?) and the user's read policy"})
	}
	for _, c := range checks {
		a.add(Check{Name: c.name, Status: Skip, Detail: "not checked: " + c.what + ": " + why, Fix: fix})
	}
}

// queueRead checks what rotation needs: the user's own keys read the queue.
func (a *awsChecker) queueRead(ctx context.Context, keysOK bool) {
	if a.in.QueueURL == "" {
		return
	}
	if !keysOK {
		a.add(Check{Name: CheckAWSQueueRead, Status: Skip, Detail: "not tried: the user's access key does not work"})
		return
	}
	cfg := aws.Config{Region: a.in.Region, Credentials: a.in.UserKeys.Provider(), HTTPClient: &http.Client{Timeout: 30 * time.Second}}
	if a.in.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(a.in.Endpoint)
	}
	_, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(a.in.QueueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		a.add(Check{Name: CheckAWSQueueRead, Status: Fail,
			Detail: "the IAM user's keys cannot read the queue " + a.in.QueueURL + ", so new client secrets would be missed: " + err.Error(),
			Step:   StepAWSSetup, Fix: a.fix(" (adds the user's queue read policy)")})
		return
	}
	a.add(Check{Name: CheckAWSQueueRead, Status: OK, Detail: "the IAM user's keys can read the queue " + a.in.QueueURL})
}

// stsEndpointHint names where STS calls go: SPGATE_AWS_ENDPOINT when set,
// else AWS's regional endpoint.
func stsEndpointHint() string {
	if e := os.Getenv("SPGATE_AWS_ENDPOINT"); e != "" {
		return e
	}
	return "sts.<region>.amazonaws.com"
}
