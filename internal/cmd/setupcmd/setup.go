// Package setupcmd is spgate setup: what an app needs outside spgate,
// the AWS IAM chain and SQS queue (package provision), created, checked
// or removed.
package setupcmd

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/provision"
	"github.com/spgate/spgate/vault"
)

// setupAWSOptions are the flags of spgate setup aws (the names, region and
// endpoint bound to provision's own Options) and what the verb takes from
// its surroundings, injected so that tests run it without cobra.
type setupAWSOptions struct {
	provision.Options
	App                                 string
	Check, Teardown, Yes, EnableSigning bool
	// Given says which names and the region were typed; the others resume
	// from the app's earlier setup.
	Given provision.Given

	// Factory's Confirm asks the person at the terminal (--teardown
	// without --yes).
	*cmdutil.Factory
}

// NewCmd returns spgate setup and its verb aws.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Set up what an app needs outside spgate (the AWS IAM chain)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSetupAWSCmd(f))
	return cmd
}

func newSetupAWSCmd(f *cmdutil.Factory) *cobra.Command {
	o := &setupAWSOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "aws",
		Short: "Create, check or remove the AWS IAM user, role and policies (and SQS queue) for an app",
		Long: `setup aws builds the AWS chain from Amazon's SP-API setup guide with
administrator credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE
or --profile): an IAM user with an access key, a policy allowing
execute-api:Invoke, a role carrying it that only the user may assume, and the
user's inline policy to assume it; with --queue also the SQS queue Amazon
sends new client secrets to, readable by the user.

The user's new access key goes straight into the vault with the app; its
secret is never printed. The role ARN and queue URL are stored on the app.
Re-running changes nothing; --dry-run shows each step and the exact policy
documents without changing anything.

Since 2 October 2023 SP-API no longer needs IAM or SigV4: the role matters
only if the app signs its calls (--enable-signing); the user's keys still
read the SQS queue for secret rotation.

--check reads an existing (possibly hand-made) setup and names each
deviation with its fix (exit 1 when there is any). --teardown removes what
setup created, after confirmation (--yes in scripts).`,
		Example: `  spgate setup aws --app main --dry-run
  spgate setup aws --app main --queue
  spgate setup aws --app main --check
  spgate setup aws --app main --teardown --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			o.Given = provision.Given{Region: fl.Changed("region"), UserName: fl.Changed("user-name"), RoleName: fl.Changed("role-name"),
				PolicyName: fl.Changed("policy-name"), InlinePolicyName: fl.Changed("inline-policy-name"), QueueName: fl.Changed("queue-name")}
			return runSetupAWS(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.App, "app", "", "the app (name, app id or client id) to store the keys, role ARN and queue URL with (required)")
	fl.StringVar(&o.UserName, "user-name", provision.DefaultUserName, "IAM user name")
	fl.StringVar(&o.RoleName, "role-name", provision.DefaultRoleName, "IAM role name")
	fl.StringVar(&o.PolicyName, "policy-name", provision.DefaultPolicyName, "name of the managed execute-api policy")
	fl.StringVar(&o.InlinePolicyName, "inline-policy-name", provision.DefaultInlinePolicyName, "name of the user's inline sts:AssumeRole policy")
	fl.BoolVar(&o.Queue, "queue", false, "also create the SQS queue for notifications (new client secrets)")
	fl.StringVar(&o.QueueName, "queue-name", provision.DefaultQueueName, "SQS queue name (with --queue)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "read the account and show what would change, with the exact policy documents")
	fl.BoolVar(&o.Check, "check", false, "check an existing setup and name each deviation with its fix; changes nothing")
	fl.BoolVar(&o.Teardown, "teardown", false, "remove what setup created (asks first)")
	fl.BoolVar(&o.Yes, "yes", false, "with --teardown: do not ask for confirmation")
	fl.BoolVar(&o.EnableSigning, "enable-signing", false, "also make the app sign its SP-API calls with SigV4 through the role (not needed since October 2023)")
	fl.StringVar(&o.Profile, "profile", "", "AWS shared config profile with administrator credentials (default: AWS_PROFILE or the environment)")
	fl.StringVar(&o.Region, "region", "", "AWS region for the SQS queue (default: the profile's, else us-east-1)")
	fl.StringVar(&o.Endpoint, "endpoint-url", "", "AWS base URL for IAM, STS and SQS, e.g. a moto_server (default $"+cmdutil.EnvAWSEndpoint+")")
	return cmd
}

// validate checks the flags before anything is called; errors are usage
// errors (exit 2).
func (o *setupAWSOptions) validate() error {
	if strings.TrimSpace(o.App) == "" {
		return cmdutil.UsageErr("--app is required: name the app the AWS keys belong to (see spgate app list)")
	}
	if o.Check && o.Teardown {
		return cmdutil.UsageErr("--check and --teardown exclude each other")
	}
	if o.Check && o.DryRun {
		return cmdutil.UsageErr("--check changes nothing already; drop --dry-run")
	}
	if o.EnableSigning && (o.Check || o.Teardown) {
		return cmdutil.UsageErr("--enable-signing goes with setup, not with --check or --teardown")
	}
	if o.Yes && !o.Teardown {
		return cmdutil.UsageErr("--yes is only for --teardown")
	}
	if o.Given.QueueName && !o.Queue {
		return cmdutil.UsageErr("--queue-name needs --queue")
	}
	if o.Endpoint == "" {
		o.Endpoint = strings.TrimSpace(os.Getenv(cmdutil.EnvAWSEndpoint))
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cmdutil.UsageErr("AWS endpoint %q (--endpoint-url or $%s) is not an http(s) URL", o.Endpoint, cmdutil.EnvAWSEndpoint)
		}
	}
	if err := o.Options.Validate(); err != nil {
		return cmdutil.InvalidInput(fmt.Errorf("%w", err))
	}
	return nil
}

func runSetupAWS(ctx context.Context, o *setupAWSOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	v, err := o.OpenVault(ctx, false)
	if err != nil {
		return err
	}
	defer v.Close()
	app, err := v.GetApp(ctx, o.App)
	if err != nil {
		return cmdutil.NotFound(err, "app", o.App, "spgate app list")
	}
	o.Logger = o.Log
	// What the app already points at, and the names and region setup used
	// for it before, are what is checked, kept and torn down, unless flags
	// say otherwise.
	opts, saved, err := appvault.AWSOptions(ctx, v, app, o.Options, o.Given)
	if err != nil {
		return cmdutil.StoreErr(err)
	}
	switch {
	case o.Check:
		return o.check(ctx, app, opts)
	case o.Teardown:
		return o.teardown(ctx, v, app, opts)
	}
	res, err := appvault.SetupAWS(ctx, v, app, saved, opts, o.EnableSigning)
	return o.print(res, err, res.Text(opts, o.EnableSigning))
}

// print prints a setup's or teardown's result (text, as a person reads
// it), or its report on stderr when it stopped.
func (o *setupAWSOptions) print(res appvault.AWSResult, err error, text string) error {
	if err != nil {
		if res.Report != nil && !o.JSON {
			fmt.Fprint(o.IO.Err, res.Report.Text())
		}
		return cmdutil.StoreErr(err)
	}
	if o.JSON {
		return output.JSON(o.IO.Out, res)
	}
	_, err = fmt.Fprint(o.IO.Out, text)
	return err
}

func (o *setupAWSOptions) check(ctx context.Context, app vault.App, opts provision.Options) error {
	rep, err := provision.Check(ctx, opts)
	if err != nil {
		return cmdutil.Failed(fmt.Errorf("check the AWS setup: %w", err))
	}
	if o.JSON {
		if err := output.JSON(o.IO.Out, rep); err != nil {
			return err
		}
	} else {
		fmt.Fprint(o.IO.Out, rep.Text())
		if app.RoleARN != "" && rep.RoleARN != "" && app.RoleARN != rep.RoleARN {
			fmt.Fprintf(o.IO.Out, "Note: app %s is set to role %s, but this check read %s (pass --role-name).\n", app.Name, app.RoleARN, rep.RoleARN)
		}
	}
	if what := rep.Verdict(); what != "" {
		return cmdutil.Failed(fmt.Errorf("the AWS setup %s: %s; fix as shown above or run %s", what, strings.Join(rep.Names(), ", "), opts.SetupCommandLine()))
	}
	return nil
}

// teardown removes the app's AWS chain, after showing what it would remove
// and asking (unless --yes).
func (o *setupAWSOptions) teardown(ctx context.Context, v *vault.Vault, app vault.App, opts provision.Options) error {
	var confirm func(*provision.Report) error
	if !o.Yes {
		confirm = func(plan *provision.Report) error {
			fmt.Fprint(o.IO.Err, plan.Text())
			ok, err := o.Confirm(fmt.Sprintf("Remove the AWS user %s, its keys, role %s and policy %s for app %s", opts.UserName, opts.RoleName, opts.PolicyName, app.Name))
			if err == nil && !ok {
				err = cmdutil.Failed(errors.New("teardown cancelled; nothing was removed"))
			}
			return err
		}
	}
	res, err := appvault.TeardownAWS(ctx, v, app, opts, confirm)
	text := ""
	if res.Report != nil {
		text = res.Report.Text()
	}
	if !opts.DryRun && res.AppChanged {
		text += fmt.Sprintf("\nRemoved the AWS access key, role ARN and queue URL from app %s.\n", app.Name)
	}
	return o.print(res, err, text)
}
