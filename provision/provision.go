// Package provision creates, checks and removes the AWS IAM chain from
// Amazon's SP-API setup guide: an IAM user with an access key, a managed
// policy allowing execute-api:Invoke, a role carrying that policy whose trust
// policy admits only the user, and the user's inline policy allowing
// sts:AssumeRole on exactly that role — plus, optionally, the SQS queue that
// Amazon delivers notifications (such as new client secrets) to.
//
// Setup is idempotent: it reads what exists, creates what is missing and
// corrects what differs, and reports every step as data (a Report) that the
// caller prints. Nothing here prints or stores secrets: a newly created
// access key is returned to the caller as a secret.String.
//
// Since October 2023 SP-API no longer needs IAM or SigV4; the chain is kept
// for integrations that still sign, and because the user's keys read the
// notification queue.
package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/spgate/spgate/secret"
)

// Default names, as in Amazon's setup guide.
const (
	DefaultUserName         = "SellingPartnerAPIUser"
	DefaultRoleName         = "SellingPartnerAPIRole"
	DefaultPolicyName       = "SellingPartnerAPIPolicy"
	DefaultInlinePolicyName = "SellingPartnerAPIAssumeRole"
	DefaultQueueName        = "spgate-notifications"
	// DefaultQueueReadPolicyName is the user's inline policy for reading the
	// notification queue.
	DefaultQueueReadPolicyName = "SellingPartnerAPIQueueRead"
)

// Options says which account to work in and which names to use. The zero
// value uses the guide's names and the default AWS credential chain.
type Options struct {
	// AWS: administrator credentials. When Config is nil, the default chain
	// is loaded (environment variables, shared config/credentials files)
	// with Profile and Region.
	Config   *aws.Config
	Profile  string
	Region   string // for SQS; IAM is global. Default: the profile's, else us-east-1.
	Endpoint string // base URL override (e.g. a moto_server), for tests and emulators

	UserName         string
	RoleName         string
	PolicyName       string
	InlinePolicyName string

	// Queue creates (Setup), checks (Check) or deletes (Teardown) the SQS
	// notification queue named QueueName.
	Queue               bool
	QueueName           string
	QueueReadPolicyName string

	// HeldAccessKeyID is the user's access key the caller still holds the
	// secret for (e.g. in its vault). When the user has that key, Setup
	// creates no other; when empty, Setup creates a key unless it would be
	// the user's third.
	HeldAccessKeyID string

	// DryRun reads the account and reports what Setup or Teardown would do,
	// with the exact documents, without calling any mutating API.
	DryRun bool

	// Logger receives progress at debug level. Secrets are never logged.
	Logger *slog.Logger

	// SetupCommand is the command fixes tell the user to run, without the
	// name flags (e.g. "spgate setup aws --app main"); the names and region
	// that differ from the defaults are appended, so the fix works on the
	// same resources. Default "spgate setup aws".
	SetupCommand string

	// OnStep, when set, is called after each step of Teardown has
	// happened, before the next one starts, so the caller can record it at
	// once (e.g. forget a deleted key). An error stops the teardown.
	OnStep func(Step) error
}

// SetupCommandLine returns SetupCommand with the flags for every name (and
// the region) that is not the default, and --queue when the queue is part
// of the setup.
func (o Options) SetupCommandLine() string {
	cmd := o.SetupCommand
	if cmd == "" {
		cmd = "spgate setup aws"
	}
	for _, f := range []struct{ flag, v, def string }{
		{"--user-name", o.UserName, DefaultUserName},
		{"--role-name", o.RoleName, DefaultRoleName},
		{"--policy-name", o.PolicyName, DefaultPolicyName},
		{"--inline-policy-name", o.InlinePolicyName, DefaultInlinePolicyName},
	} {
		if f.v != "" && f.v != f.def {
			cmd += " " + f.flag + " " + shellWord(f.v)
		}
	}
	if o.Queue {
		cmd += " --queue"
		if o.QueueName != "" && o.QueueName != DefaultQueueName {
			cmd += " --queue-name " + shellWord(o.QueueName)
		}
	}
	if o.Region != "" {
		cmd += " --region " + shellWord(o.Region)
	}
	return cmd
}

// shellWord quotes s for a shell when it holds anything but IAM name
// characters.
func shellWord(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+=,.@_-", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

func (o Options) withDefaults() Options {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&o.UserName, DefaultUserName)
	def(&o.RoleName, DefaultRoleName)
	def(&o.PolicyName, DefaultPolicyName)
	def(&o.InlinePolicyName, DefaultInlinePolicyName)
	def(&o.QueueName, DefaultQueueName)
	def(&o.QueueReadPolicyName, DefaultQueueReadPolicyName)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate checks the names before anything is called.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	for _, c := range []struct {
		kind NameKind
		v    string
	}{
		{UserName, o.UserName}, {RoleName, o.RoleName}, {PolicyName, o.PolicyName},
		{PolicyName, o.InlinePolicyName}, {PolicyName, o.QueueReadPolicyName},
	} {
		if err := ValidateName(c.kind, c.v); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Queue {
		if err := ValidateName(QueueName, o.QueueName); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// clients are the AWS API clients provision uses.
type clients struct {
	iam       *iam.Client
	sqs       *sqs.Client
	sts       *sts.Client
	org       *organizations.Client
	partition string
	sqsRegion string
	account   string
	caller    string
}

// connect is how Setup, Check and Teardown start: it validates opts, fills
// in the defaults and makes the AWS clients.
func connect(ctx context.Context, opts Options) (Options, *clients, error) {
	if err := opts.Validate(); err != nil {
		return Options{}, nil, err
	}
	o := opts.withDefaults()
	c, err := newClients(ctx, o)
	if err != nil {
		return Options{}, nil, err
	}
	return o, c, nil
}

func newClients(ctx context.Context, o Options) (*clients, error) {
	var cfg aws.Config
	if o.Config != nil {
		cfg = o.Config.Copy()
	} else {
		var lo []func(*config.LoadOptions) error
		if o.Profile != "" {
			lo = append(lo, config.WithSharedConfigProfile(o.Profile))
		}
		var err error
		cfg, err = config.LoadDefaultConfig(ctx, lo...)
		if err != nil {
			return nil, fmt.Errorf("load AWS administrator credentials: %w (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or pass a profile)", err)
		}
	}
	if o.Region != "" {
		cfg.Region = o.Region
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if o.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(o.Endpoint)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	c := &clients{iam: iam.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg), sts: sts.NewFromConfig(cfg),
		org: organizations.NewFromConfig(cfg)}
	id, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, explain(err, "find the AWS account (sts:GetCallerIdentity)", "check the administrator credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
	}
	c.sqsRegion = cfg.Region
	c.account = aws.ToString(id.Account)
	c.caller = aws.ToString(id.Arn)
	c.partition = "aws"
	if a, err := ParseARN(c.caller); err == nil {
		c.partition = a.Partition
	}
	return c, nil
}

// Status is what happened (or would happen) to one resource.
type Status string

// Step statuses.
const (
	Unchanged      Status = "exists, unchanged"
	Created        Status = "created"
	Updated        Status = "updated"
	Deleted        Status = "deleted"
	Absent         Status = "absent, nothing to do"
	WouldCreate    Status = "would create"
	WouldUpdate    Status = "would update"
	WouldDelete    Status = "would delete"
	StatusNotFound Status = "not found"
)

// Step is one resource of the chain.
type Step struct {
	// ID is stable: user, access-key, policy, role, attach, inline-policy,
	// queue, queue-policy, queue-read-policy.
	ID       string `json:"id"`
	Title    string `json:"title"`
	Resource string `json:"resource,omitempty"` // ARN, queue URL or key id
	Status   Status `json:"status"`
	Detail   string `json:"detail,omitempty"`
	// Document is the JSON policy the step puts in place (the exact text
	// sent to AWS).
	Document string `json:"document,omitempty"`
}

// AccessKey is a newly created access key. Store SecretAccessKey at once:
// AWS never shows it again.
type AccessKey struct {
	AccessKeyID     string        `json:"access_key_id"`
	SecretAccessKey secret.String `json:"secret_access_key"`
}

// Report is the result of Setup or Teardown.
type Report struct {
	DryRun    bool   `json:"dry_run"`
	AccountID string `json:"account_id"`
	UserARN   string `json:"user_arn"`
	RoleARN   string `json:"role_arn"`
	PolicyARN string `json:"policy_arn"`
	QueueURL  string `json:"queue_url,omitempty"`
	QueueARN  string `json:"queue_arn,omitempty"`
	Steps     []Step `json:"steps"`
	// Region is the AWS region of the queue (IAM is global).
	Region string `json:"region,omitempty"`
	// NewAccessKey is set when Setup created a key; nil otherwise.
	NewAccessKey *AccessKey `json:"new_access_key,omitempty"`
	// AccessKeyID is the key the caller should use (new or held).
	AccessKeyID string `json:"access_key_id,omitempty"`
	// SellerCentral is what to paste into the app registration.
	SellerCentral string `json:"seller_central,omitempty"`
	// Next lists what comes after this run.
	Next []string `json:"next,omitempty"`
}

// Changed reports whether any step created, updated or deleted something
// (or would, in a dry run).
func (r *Report) Changed() bool {
	for _, s := range r.Steps {
		if s.Status != Unchanged && s.Status != Absent {
			return true
		}
	}
	return false
}

// Step returns the step with the given ID.
func (r *Report) Step(id string) (Step, bool) {
	for _, s := range r.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return Step{}, false
}

// Text renders the report for a terminal: one line per step, the documents
// in a dry run, then what to paste and what comes next. It never contains
// the secret access key.
func (r *Report) Text() string {
	var b strings.Builder
	if r.DryRun {
		fmt.Fprintf(&b, "Dry run in AWS account %s: nothing was changed.\n", r.AccountID)
	} else {
		fmt.Fprintf(&b, "AWS account %s:\n", r.AccountID)
	}
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "  %-18s %-40s %s", s.ID, s.Title, s.Status)
		if s.Detail != "" {
			fmt.Fprintf(&b, " (%s)", s.Detail)
		}
		b.WriteByte('\n')
		if r.DryRun && s.Document != "" && s.Status != Unchanged {
			fmt.Fprintf(&b, "      %s\n", s.Document)
		}
	}
	if r.NewAccessKey != nil {
		fmt.Fprintf(&b, "\nNew access key %s created; its secret was handed to the caller to store (AWS shows it only once).\n", r.NewAccessKey.AccessKeyID)
	}
	if r.SellerCentral != "" {
		fmt.Fprintf(&b, "\nPaste into Seller Central (Develop Apps → your app → IAM ARN):\n  %s\n", r.SellerCentral)
	}
	if len(r.Next) > 0 {
		b.WriteString("\nNext:\n")
		for _, n := range r.Next {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	return b.String()
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isNotFound(err error) bool {
	switch apiCode(err) {
	case "NoSuchEntity", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist":
		return true
	}
	return false
}

// explain wraps an AWS error with what was being done and how to fix it.
func explain(err error, doing, fix string) error {
	switch apiCode(err) {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
		return fmt.Errorf("%s: AWS denied the call: %w; use administrator credentials (a user or role with IAM and SQS permissions)", doing, err)
	case "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken":
		return fmt.Errorf("%s: AWS rejected the credentials: %w; check the administrator access key and secret (or refresh the session)", doing, err)
	}
	if fix == "" {
		return fmt.Errorf("%s: %w", doing, err)
	}
	return fmt.Errorf("%s: %w; %s", doing, err, fix)
}
