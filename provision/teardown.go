package provision

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Teardown removes what Setup created, in dependency order: the policy's
// attachment to the role, the user's inline policies, the user's access
// keys, the role, the policy (all versions), the user and, with opts.Queue,
// the queue. Missing pieces are reported as absent, so a re-run is harmless.
// With opts.DryRun it only reads. Things Setup never creates (other
// attachments, login profiles) make IAM refuse; the error names them.
func Teardown(ctx context.Context, opts Options) (*Report, error) {
	o, c, err := connect(ctx, opts)
	if err != nil {
		return nil, err
	}
	t := &teardown{ctx: ctx, o: o, c: c, r: &Report{DryRun: o.DryRun, AccountID: c.account, Region: c.sqsRegion,
		UserARN:   iamARN(c.partition, c.account, "user", o.UserName),
		RoleARN:   iamARN(c.partition, c.account, "role", o.RoleName),
		PolicyARN: iamARN(c.partition, c.account, "policy", o.PolicyName),
	}}
	steps := []func() error{t.detachPolicy}
	for _, name := range []string{o.InlinePolicyName, o.QueueReadPolicyName} {
		steps = append(steps, func() error { return t.deleteInlinePolicy(name) })
	}
	steps = append(steps, t.deleteAccessKeys, t.deleteRole, t.deletePolicy, t.deleteUser, t.deleteQueue)
	for _, step := range steps {
		if err := step(); err != nil {
			return t.r, err
		}
		if t.onStepErr != nil {
			return t.r, t.onStepErr
		}
	}
	return t.r, nil
}

// teardown carries one Teardown run: its clients, the report it fills and
// the first error of opts.OnStep, which stops the run before the next
// deletion.
type teardown struct {
	ctx       context.Context
	o         Options
	c         *clients
	r         *Report
	onStepErr error
}

// add records a finished step and tells opts.OnStep about it.
func (t *teardown) add(st Step) {
	t.r.Steps = append(t.r.Steps, st)
	t.o.Logger.Debug("teardown step", "id", st.ID, "resource", st.Resource, "status", string(st.Status))
	if t.o.OnStep != nil && !t.o.DryRun && t.onStepErr == nil {
		if err := t.o.OnStep(st); err != nil {
			t.onStepErr = fmt.Errorf("recording that %s is %s: %w; stopped before the next deletion", st.Title, st.Status, err)
		}
	}
}

// remove runs del unless the dry run is on; a not-found answer means the
// thing is already gone.
func (t *teardown) remove(st Step, exists func() (bool, error), del func() error) error {
	ok, err := exists()
	if err != nil && !isNotFound(err) {
		return explain(err, "read "+st.Title, "")
	}
	switch {
	case !ok || isNotFound(err):
		st.Status = Absent
	case t.o.DryRun:
		st.Status = WouldDelete
	default:
		if err := del(); err != nil && !isNotFound(err) {
			return explain(err, "delete "+st.Title, "remove what else uses it (see the error) and run teardown again")
		}
		st.Status = Deleted
	}
	t.add(st)
	return nil
}

func (t *teardown) detachPolicy() error {
	ctx, c, o, r := t.ctx, t.c, t.o, t.r
	return t.remove(Step{ID: "attach", Title: "policy attachment on role " + o.RoleName, Resource: r.PolicyARN},
		func() (bool, error) {
			p := iam.NewListAttachedRolePoliciesPaginator(c.iam, &iam.ListAttachedRolePoliciesInput{RoleName: &o.RoleName})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return false, err
				}
				for _, a := range page.AttachedPolicies {
					if aws.ToString(a.PolicyArn) == r.PolicyARN {
						return true, nil
					}
				}
			}
			return false, nil
		},
		func() error {
			_, err := c.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &o.RoleName, PolicyArn: &r.PolicyARN})
			return err
		})
}

func (t *teardown) deleteInlinePolicy(name string) error {
	ctx, c, o := t.ctx, t.c, t.o
	id := "inline-policy"
	if name == o.QueueReadPolicyName {
		id = "queue-read-policy"
	}
	return t.remove(Step{ID: id, Title: "inline policy " + name + " of " + o.UserName},
		func() (bool, error) {
			_, err := c.iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: &o.UserName, PolicyName: &name})
			return err == nil, err
		},
		func() error {
			_, err := c.iam.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: &o.UserName, PolicyName: &name})
			return err
		})
}

func (t *teardown) deleteAccessKeys() error {
	ctx, c, o := t.ctx, t.c, t.o
	out, err := c.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: &o.UserName})
	if isNotFound(err) {
		t.add(Step{ID: "access-key", Title: "access keys of " + o.UserName, Status: Absent})
		return nil
	}
	if err != nil {
		return explain(err, "list access keys of "+o.UserName, "")
	}
	if len(out.AccessKeyMetadata) == 0 {
		t.add(Step{ID: "access-key", Title: "access keys of " + o.UserName, Status: Absent})
	}
	for _, k := range out.AccessKeyMetadata {
		err := t.remove(Step{ID: "access-key", Title: "access key of " + o.UserName, Resource: aws.ToString(k.AccessKeyId)},
			func() (bool, error) { return true, nil },
			func() error {
				_, err := c.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &o.UserName, AccessKeyId: k.AccessKeyId})
				return err
			})
		if err != nil {
			return err
		}
		if t.onStepErr != nil {
			return nil
		}
	}
	return nil
}

func (t *teardown) deleteRole() error {
	ctx, c, o := t.ctx, t.c, t.o
	return t.remove(Step{ID: "role", Title: "role " + o.RoleName, Resource: t.r.RoleARN},
		func() (bool, error) {
			_, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &o.RoleName})
			return err == nil, err
		},
		func() error {
			_, err := c.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &o.RoleName})
			return err
		})
}

// deletePolicy deletes the managed policy's versions first: IAM refuses to
// delete a policy that still has non-default versions.
func (t *teardown) deletePolicy() error {
	ctx, c, r := t.ctx, t.c, t.r
	return t.remove(Step{ID: "policy", Title: "managed policy " + t.o.PolicyName, Resource: r.PolicyARN},
		func() (bool, error) {
			_, err := c.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &r.PolicyARN})
			return err == nil, err
		},
		func() error {
			vs, err := c.iam.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: &r.PolicyARN})
			if err != nil {
				return err
			}
			for _, v := range vs.Versions {
				if v.IsDefaultVersion {
					continue
				}
				if _, err := c.iam.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: &r.PolicyARN, VersionId: v.VersionId}); err != nil && !isNotFound(err) {
					return err
				}
			}
			_, err = c.iam.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: &r.PolicyARN})
			return err
		})
}

func (t *teardown) deleteUser() error {
	ctx, c, o := t.ctx, t.c, t.o
	return t.remove(Step{ID: "user", Title: "IAM user " + o.UserName, Resource: t.r.UserARN},
		func() (bool, error) {
			_, err := c.iam.GetUser(ctx, &iam.GetUserInput{UserName: &o.UserName})
			return err == nil, err
		},
		func() error {
			_, err := c.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: &o.UserName})
			return err
		})
}

// deleteQueue removes the SQS queue, only when opts.Queue asks for it.
func (t *teardown) deleteQueue() error {
	ctx, c, o := t.ctx, t.c, t.o
	if !o.Queue {
		return nil
	}
	var url *string
	return t.remove(Step{ID: "queue", Title: "SQS queue " + o.QueueName},
		func() (bool, error) {
			out, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &o.QueueName})
			if err != nil {
				return false, err
			}
			url = out.QueueUrl
			t.r.QueueURL = aws.ToString(url)
			return true, nil
		},
		func() error {
			_, err := c.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: url})
			return err
		})
}
