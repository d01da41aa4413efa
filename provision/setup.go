package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spgate/spgate/secret"
)

// maxAccessKeys is IAM's limit of access keys per user.
const maxAccessKeys = 2

// TooManyKeysError is returned when the user already has two access keys,
// none of which the caller holds: IAM allows no third.
type TooManyKeysError struct {
	UserName string
	KeyIDs   []string
}

// Error implements the error interface.
func (e *TooManyKeysError) Error() string {
	return fmt.Sprintf("IAM user %s already has %d access keys (%s), the most IAM allows, and none of them is the key you hold: "+
		"delete the one you no longer use (aws iam delete-access-key --user-name %s --access-key-id <id>) and run setup again; "+
		"setup reuses a key only when the vault holds its secret", e.UserName, len(e.KeyIDs), strings.Join(e.KeyIDs, ", "), e.UserName)
}

// Setup creates what is missing of the chain and corrects what differs,
// step by step; a re-run changes nothing. With opts.DryRun it only reads.
// On error the returned report holds the steps done so far.
func Setup(ctx context.Context, opts Options) (*Report, error) {
	o, c, err := connect(ctx, opts)
	if err != nil {
		return nil, err
	}
	s := &setup{o: o, c: c, r: &Report{DryRun: o.DryRun, AccountID: c.account, Region: c.sqsRegion}}
	s.r.UserARN = iamARN(c.partition, c.account, "user", o.UserName)
	s.r.RoleARN = iamARN(c.partition, c.account, "role", o.RoleName)
	s.r.PolicyARN = iamARN(c.partition, c.account, "policy", o.PolicyName)
	for _, step := range []func(context.Context) error{
		s.user, s.accessKey, s.policy, s.role, s.attach, s.inline, s.queue,
	} {
		if err := step(ctx); err != nil {
			return s.r, err
		}
	}
	s.r.SellerCentral = s.r.RoleARN
	s.r.Next = []string{
		"In Seller Central → Develop Apps, edit the app and paste the role ARN above as its IAM ARN (only apps registered before October 2023 ask for it).",
		"Store the user's access key with the app (spgate keeps it in its vault); it signs requests through AssumeRole and reads the notification queue.",
	}
	if o.Queue {
		s.r.Next = append(s.r.Next, "Register the queue ARN "+s.r.QueueARN+" as the destination for APPLICATION_OAUTH_CLIENT_NEW_SECRET notifications (Solution Provider Portal → your app → Notifications); then `spgate rotate` can rotate the client secret.")
	}
	s.r.Next = append(s.r.Next, "Run spgate doctor to check that the keys can assume the role.")
	return s.r, nil
}

type setup struct {
	o Options
	c *clients
	r *Report
	// userExists is false in a dry run where the user would be created.
	userExists bool
	roleExists bool
	polExists  bool
}

func (s *setup) add(st Step) {
	s.r.Steps = append(s.r.Steps, st)
	s.o.Logger.Debug("provision step", "id", st.ID, "resource", st.Resource, "status", string(st.Status))
}

func (s *setup) would(create bool) Status {
	switch {
	case create && s.o.DryRun:
		return WouldCreate
	case create:
		return Created
	case s.o.DryRun:
		return WouldUpdate
	}
	return Updated
}

func (s *setup) user(ctx context.Context) error {
	st := Step{ID: "user", Title: "IAM user " + s.o.UserName, Resource: s.r.UserARN}
	_, err := s.c.iam.GetUser(ctx, &iam.GetUserInput{UserName: &s.o.UserName})
	switch {
	case err == nil:
		s.userExists = true
		st.Status = Unchanged
	case !isNotFound(err):
		return explain(err, "read IAM user "+s.o.UserName, "")
	case s.o.DryRun:
		st.Status = WouldCreate
	default:
		// A user created since it was read is the one we want.
		if _, err := s.c.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: &s.o.UserName}); err != nil && !createdMeanwhile(err) {
			return explain(err, "create IAM user "+s.o.UserName, "")
		}
		s.userExists = true
		st.Status = Created
	}
	s.add(st)
	return nil
}

func (s *setup) accessKey(ctx context.Context) error {
	st := Step{ID: "access-key", Title: "access key of " + s.o.UserName}
	var keys []iamtypes.AccessKeyMetadata
	if s.userExists {
		out, err := s.c.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: &s.o.UserName})
		if err != nil {
			return explain(err, "list access keys of "+s.o.UserName, "")
		}
		keys = out.AccessKeyMetadata
	}
	if held := s.o.HeldAccessKeyID; held != "" {
		i := slices.IndexFunc(keys, func(k iamtypes.AccessKeyMetadata) bool { return aws.ToString(k.AccessKeyId) == held })
		if i >= 0 {
			st.Resource = held
			s.r.AccessKeyID = held
			if keys[i].Status == iamtypes.StatusTypeActive {
				st.Status = Unchanged
				st.Detail = "the key you hold"
				s.add(st)
				return nil
			}
			st.Status = s.would(false)
			st.Detail = "the key you hold was inactive; activated"
			if !s.o.DryRun {
				if _, err := s.c.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &s.o.UserName, AccessKeyId: &held, Status: iamtypes.StatusTypeActive}); err != nil {
					return explain(err, "activate access key "+held, "")
				}
			}
			s.add(st)
			return nil
		}
		st.Detail = "the key you hold (" + held + ") is not one of the user's keys"
	}
	if len(keys) >= maxAccessKeys {
		ids := make([]string, len(keys))
		for i, k := range keys {
			ids[i] = aws.ToString(k.AccessKeyId)
		}
		return &TooManyKeysError{UserName: s.o.UserName, KeyIDs: ids}
	}
	st.Status = s.would(true)
	if s.o.DryRun {
		s.add(st)
		return nil
	}
	out, err := s.c.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &s.o.UserName})
	if err != nil {
		if apiCode(err) == "LimitExceeded" {
			return &TooManyKeysError{UserName: s.o.UserName}
		}
		return explain(err, "create an access key for "+s.o.UserName, "")
	}
	k := &AccessKey{
		AccessKeyID:     aws.ToString(out.AccessKey.AccessKeyId),
		SecretAccessKey: secret.New(aws.ToString(out.AccessKey.SecretAccessKey)),
	}
	s.r.NewAccessKey = k
	s.r.AccessKeyID = k.AccessKeyID
	st.Resource = k.AccessKeyID
	s.add(st)
	return nil
}

// defaultPolicyDoc returns the default version's document of a managed policy.
func defaultPolicyDoc(ctx context.Context, c *iam.Client, arn string) (doc, versionID string, err error) {
	p, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &arn})
	if err != nil {
		return "", "", err
	}
	v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: &arn, VersionId: p.Policy.DefaultVersionId})
	if err != nil {
		return "", "", err
	}
	return aws.ToString(v.PolicyVersion.Document), aws.ToString(p.Policy.DefaultVersionId), nil
}

func sameDoc(have, want string) bool {
	h, err := ParsePolicy(have)
	if err != nil {
		return false
	}
	w, err := ParsePolicy(want)
	if err != nil {
		return false
	}
	return h.Equal(w)
}

func (s *setup) policy(ctx context.Context) error {
	st := Step{ID: "policy", Title: "managed policy " + s.o.PolicyName, Resource: s.r.PolicyARN, Document: ExecuteAPIPolicy}
	doc, _, err := defaultPolicyDoc(ctx, s.c.iam, s.r.PolicyARN)
	switch {
	case err == nil && sameDoc(doc, ExecuteAPIPolicy):
		s.polExists = true
		st.Status = Unchanged
	case err == nil:
		s.polExists = true
		st.Status = s.would(false)
		st.Detail = "document differed; new default version"
		if !s.o.DryRun {
			if err := s.newPolicyVersion(ctx); err != nil {
				return err
			}
		}
	case !isNotFound(err):
		return explain(err, "read policy "+s.r.PolicyARN, "")
	default:
		st.Status = s.would(true)
		if !s.o.DryRun {
			_, err := s.c.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{
				PolicyName:     &s.o.PolicyName,
				PolicyDocument: aws.String(ExecuteAPIPolicy),
				Description:    aws.String("Selling Partner API: execute-api:Invoke (created by spgate)"),
			})
			switch {
			case createdMeanwhile(err):
				// Make sure it says what it must.
				if err := s.ensurePolicyDoc(ctx); err != nil {
					return err
				}
			case err != nil:
				return explain(err, "create policy "+s.o.PolicyName, "")
			}
			s.polExists = true
		}
	}
	s.add(st)
	return nil
}

// createdMeanwhile reports whether a create call failed because the
// entity exists after all: created since setup read it, by another setup
// or by a request of ours the SDK sent again after a lost answer. Setup
// then takes it as found and makes sure it says what it must.
func createdMeanwhile(err error) bool { return apiCode(err) == "EntityAlreadyExists" }

// ensurePolicyDoc makes ExecuteAPIPolicy the default version of the
// existing policy unless it already is.
func (s *setup) ensurePolicyDoc(ctx context.Context) error {
	doc, _, err := defaultPolicyDoc(ctx, s.c.iam, s.r.PolicyARN)
	if err != nil {
		return explain(err, "read policy "+s.r.PolicyARN, "")
	}
	if sameDoc(doc, ExecuteAPIPolicy) {
		return nil
	}
	return s.newPolicyVersion(ctx)
}

// newPolicyVersion makes ExecuteAPIPolicy the default version, deleting the
// oldest non-default version first when IAM's limit of 5 is reached.
func (s *setup) newPolicyVersion(ctx context.Context) error {
	vs, err := s.c.iam.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: &s.r.PolicyARN})
	if err != nil {
		return explain(err, "list versions of "+s.r.PolicyARN, "")
	}
	if len(vs.Versions) >= 5 {
		var oldest *iamtypes.PolicyVersion
		for i := range vs.Versions {
			v := &vs.Versions[i]
			if v.IsDefaultVersion {
				continue
			}
			if oldest == nil || (v.CreateDate != nil && oldest.CreateDate != nil && v.CreateDate.Before(*oldest.CreateDate)) {
				oldest = v
			}
		}
		if oldest != nil {
			if _, err := s.c.iam.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: &s.r.PolicyARN, VersionId: oldest.VersionId}); err != nil {
				return explain(err, "delete old version of "+s.r.PolicyARN, "")
			}
		}
	}
	if _, err := s.c.iam.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: &s.r.PolicyARN, PolicyDocument: aws.String(ExecuteAPIPolicy), SetAsDefault: true}); err != nil {
		return explain(err, "update policy "+s.r.PolicyARN, "")
	}
	return nil
}

func (s *setup) role(ctx context.Context) error {
	trust := TrustPolicy(s.r.UserARN)
	st := Step{ID: "role", Title: "role " + s.o.RoleName + " (trust: the user only)", Resource: s.r.RoleARN, Document: trust}
	out, err := s.c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &s.o.RoleName})
	switch {
	case err == nil && sameDoc(aws.ToString(out.Role.AssumeRolePolicyDocument), trust):
		s.roleExists = true
		st.Status = Unchanged
	case err == nil:
		s.roleExists = true
		st.Status = s.would(false)
		st.Detail = "trust policy differed; locked to the user"
		if !s.o.DryRun {
			if _, err := s.c.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: &s.o.RoleName, PolicyDocument: &trust}); err != nil {
				return explain(err, "update the trust policy of role "+s.o.RoleName, "")
			}
		}
	case !isNotFound(err):
		return explain(err, "read role "+s.o.RoleName, "")
	default:
		st.Status = s.would(true)
		if !s.o.DryRun {
			_, err := s.c.iam.CreateRole(ctx, &iam.CreateRoleInput{
				RoleName:                 &s.o.RoleName,
				AssumeRolePolicyDocument: &trust,
				Description:              aws.String("Selling Partner API role (created by spgate)"),
			})
			switch {
			case createdMeanwhile(err):
				// Make sure its trust is locked to the user.
				if _, err := s.c.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: &s.o.RoleName, PolicyDocument: &trust}); err != nil {
					return explain(err, "update the trust policy of role "+s.o.RoleName, "")
				}
			case err != nil:
				return explain(err, "create role "+s.o.RoleName, "if IAM says the principal is invalid, the user was just created: run setup again in a few seconds")
			}
			s.roleExists = true
		}
	}
	s.add(st)
	return nil
}

func (s *setup) attach(ctx context.Context) error {
	st := Step{ID: "attach", Title: "policy attached to role", Resource: s.r.PolicyARN}
	attached := false
	if s.roleExists {
		p := iam.NewListAttachedRolePoliciesPaginator(s.c.iam, &iam.ListAttachedRolePoliciesInput{RoleName: &s.o.RoleName})
		for p.HasMorePages() && !attached {
			page, err := p.NextPage(ctx)
			if err != nil {
				return explain(err, "list policies of role "+s.o.RoleName, "")
			}
			attached = slices.ContainsFunc(page.AttachedPolicies, func(a iamtypes.AttachedPolicy) bool { return aws.ToString(a.PolicyArn) == s.r.PolicyARN })
		}
	}
	if attached {
		st.Status = Unchanged
		s.add(st)
		return nil
	}
	st.Status = s.would(true)
	if !s.o.DryRun {
		if _, err := s.c.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &s.o.RoleName, PolicyArn: &s.r.PolicyARN}); err != nil {
			return explain(err, "attach "+s.r.PolicyARN+" to role "+s.o.RoleName, "")
		}
	}
	s.add(st)
	return nil
}

// putInline makes the user's inline policy name hold doc.
func (s *setup) putInline(ctx context.Context, st Step, name, doc string) error {
	st.Document = doc
	var have string
	var err error
	if s.userExists {
		var out *iam.GetUserPolicyOutput
		out, err = s.c.iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: &s.o.UserName, PolicyName: &name})
		if err == nil {
			have = aws.ToString(out.PolicyDocument)
		}
	}
	switch {
	case !s.userExists || isNotFound(err):
		st.Status = s.would(true)
	case err != nil:
		return explain(err, "read inline policy "+name+" of "+s.o.UserName, "")
	case sameDoc(have, doc):
		st.Status = Unchanged
		s.add(st)
		return nil
	default:
		st.Status = s.would(false)
		st.Detail = "document differed"
	}
	if !s.o.DryRun {
		if _, err := s.c.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &s.o.UserName, PolicyName: &name, PolicyDocument: &doc}); err != nil {
			return explain(err, "put inline policy "+name+" on "+s.o.UserName, "")
		}
	}
	s.add(st)
	return nil
}

func (s *setup) inline(ctx context.Context) error {
	return s.putInline(ctx, Step{ID: "inline-policy", Title: "user may assume the role (" + s.o.InlinePolicyName + ")", Resource: s.r.RoleARN},
		s.o.InlinePolicyName, AssumeRolePolicy(s.r.RoleARN))
}

func (s *setup) queue(ctx context.Context) error {
	if !s.o.Queue {
		return nil
	}
	s.r.QueueARN = "arn:" + s.c.partition + ":sqs:" + s.c.sqsRegion + ":" + s.c.account + ":" + s.o.QueueName
	policy := QueuePolicy(s.r.QueueARN)
	st := Step{ID: "queue", Title: "SQS queue " + s.o.QueueName}
	pst := Step{ID: "queue-policy", Title: "queue policy: Amazon may deliver", Document: policy}
	u, err := s.c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &s.o.QueueName})
	switch {
	case err == nil:
		s.r.QueueURL = aws.ToString(u.QueueUrl)
		st.Status = Unchanged
		attrs, err := s.c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: u.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNamePolicy, sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return explain(err, "read attributes of queue "+s.o.QueueName, "")
		}
		if a := attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]; a != "" {
			s.r.QueueARN = a
			policy = QueuePolicy(a)
			pst.Document = policy
		}
		have := attrs.Attributes[string(sqstypes.QueueAttributeNamePolicy)]
		merged, same, note, err := MergeQueuePolicy(have, s.r.QueueARN)
		if err != nil {
			return fmt.Errorf("queue %s: %w", s.o.QueueName, err)
		}
		policy, pst.Document, pst.Detail = merged, merged, note
		if same {
			pst.Status = Unchanged
		} else {
			pst.Status = s.would(have == "")
			if !s.o.DryRun {
				if _, err := s.c.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: u.QueueUrl,
					Attributes: map[string]string{string(sqstypes.QueueAttributeNamePolicy): policy}}); err != nil {
					return explain(err, "set the policy of queue "+s.o.QueueName, "")
				}
			}
		}
	case !isNotFound(err):
		return explain(err, "look up queue "+s.o.QueueName, "")
	default:
		st.Status = s.would(true)
		pst.Status = s.would(true)
		if !s.o.DryRun {
			out, err := s.c.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &s.o.QueueName,
				Attributes: map[string]string{string(sqstypes.QueueAttributeNamePolicy): policy}})
			if err != nil {
				return explain(err, "create queue "+s.o.QueueName, "")
			}
			s.r.QueueURL = aws.ToString(out.QueueUrl)
		}
	}
	st.Resource = s.r.QueueARN
	pst.Resource = s.r.QueueARN
	s.add(st)
	s.add(pst)
	return s.putInline(ctx, Step{ID: "queue-read-policy", Title: "user may read the queue (" + s.o.QueueReadPolicyName + ")", Resource: s.r.QueueARN},
		s.o.QueueReadPolicyName, QueueReadPolicy(s.r.QueueARN))
}

// MergeQueuePolicy returns the queue policy that keeps every statement of
// have and lets Amazon's notification service deliver to queueARN: have
// itself when it already does (same), else have with spgate's statement
// added (an older statement with the same Sid is replaced). note says what
// was kept, or which statement still stands in Amazon's way. A policy that
// cannot be read is an error: setup does not overwrite what it cannot read.
func MergeQueuePolicy(have, queueARN string) (doc string, same bool, note string, err error) {
	ours := QueuePolicy(queueARN)
	if strings.TrimSpace(have) == "" {
		return ours, false, "", nil
	}
	pol, err := ParsePolicy(have)
	if err != nil {
		return "", false, "", fmt.Errorf("its policy cannot be read (%v); fix it by hand (setup does not overwrite a policy it cannot read), adding: %s", err, ours)
	}
	if v := AmazonVerdict(pol, queueARN); v.Decision == Allowed {
		return have, true, "", nil
	}
	text := strings.TrimSpace(have)
	if strings.HasPrefix(text, "%7B") || strings.HasPrefix(text, "%7b") {
		if d, err := url.PathUnescape(text); err == nil {
			text = d
		}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return "", false, "", fmt.Errorf("its policy cannot be read (%v)", err)
	}
	var stmts []json.RawMessage
	if raw := m["Statement"]; len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &stmts); err != nil {
			return "", false, "", fmt.Errorf("its policy's Statement cannot be read (%v)", err)
		}
	} else if len(raw) > 0 {
		stmts = []json.RawMessage{raw}
	}
	var oursDoc struct{ Statement []json.RawMessage }
	_ = json.Unmarshal([]byte(ours), &oursDoc)
	kept := stmts[:0:0]
	for _, st := range stmts {
		var sid struct{ Sid string }
		if json.Unmarshal(st, &sid) == nil && sid.Sid == queueStatementSid {
			continue
		}
		kept = append(kept, st)
	}
	kept = append(kept, oursDoc.Statement...)
	b, _ := json.Marshal(kept)
	m["Statement"] = b
	out, err := json.Marshal(m)
	if err != nil {
		return "", false, "", err
	}
	merged := string(out)
	note = fmt.Sprintf("added its statement, kept %d other(s)", len(kept)-1)
	if mp, err := ParsePolicy(merged); err == nil {
		if v := AmazonVerdict(mp, queueARN); v.Decision != Allowed {
			note += fmt.Sprintf("; Amazon is still %s by %s: change that statement by hand", v.Decision, v.By)
		}
	}
	return merged, false, note, nil
}

// queueStatementSid is the Sid of the statement setup puts in queue policies.
const queueStatementSid = "AllowSellingPartnerAPINotifications"
