package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/awsauth"
	"github.com/spgate/spgate/provision"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newSetupCmd) }

// EnvAWSEndpoint overrides the AWS base URL for IAM, STS and SQS (a
// moto_server in tests and demos).
const EnvAWSEndpoint = "SPGATE_AWS_ENDPOINT"

// setupAWSOptions are the flags of spgate setup aws.
type setupAWSOptions struct {
	App              string
	UserName         string
	RoleName         string
	PolicyName       string
	InlinePolicyName string
	Queue            bool
	QueueName        string
	DryRun           bool
	Check            bool
	Teardown         bool
	Yes              bool
	EnableSigning    bool
	Profile          string
	Region           string
	Endpoint         string
}

func newSetupCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Set up what an app needs outside spgate (the AWS IAM chain)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSetupAWSCmd(streams))
	return cmd
}

func newSetupAWSCmd(streams IO) *cobra.Command {
	o := setupAWSOptions{}
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
			return runSetupAWS(cmd, streams, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.App, "app", "", "the app (name, app id or client id) to store the keys, role ARN and queue URL with (required)")
	f.StringVar(&o.UserName, "user-name", provision.DefaultUserName, "IAM user name")
	f.StringVar(&o.RoleName, "role-name", provision.DefaultRoleName, "IAM role name")
	f.StringVar(&o.PolicyName, "policy-name", provision.DefaultPolicyName, "name of the managed execute-api policy")
	f.StringVar(&o.InlinePolicyName, "inline-policy-name", provision.DefaultInlinePolicyName, "name of the user's inline sts:AssumeRole policy")
	f.BoolVar(&o.Queue, "queue", false, "also create the SQS queue for notifications (new client secrets)")
	f.StringVar(&o.QueueName, "queue-name", provision.DefaultQueueName, "SQS queue name (with --queue)")
	f.BoolVar(&o.DryRun, "dry-run", false, "read the account and show what would change, with the exact policy documents")
	f.BoolVar(&o.Check, "check", false, "check an existing setup and name each deviation with its fix; changes nothing")
	f.BoolVar(&o.Teardown, "teardown", false, "remove what setup created (asks first)")
	f.BoolVar(&o.Yes, "yes", false, "with --teardown: do not ask for confirmation")
	f.BoolVar(&o.EnableSigning, "enable-signing", false, "also make the app sign its SP-API calls with SigV4 through the role (not needed since October 2023)")
	f.StringVar(&o.Profile, "profile", "", "AWS shared config profile with administrator credentials (default: AWS_PROFILE or the environment)")
	f.StringVar(&o.Region, "region", "", "AWS region for the SQS queue (default: the profile's, else us-east-1)")
	f.StringVar(&o.Endpoint, "endpoint-url", "", "AWS base URL for IAM, STS and SQS, e.g. a moto_server (default $"+EnvAWSEndpoint+")")
	return cmd
}

// validate checks the flags before anything is called; errors are usage
// errors (exit 2).
func (o *setupAWSOptions) validate(cmd *cobra.Command) error {
	if strings.TrimSpace(o.App) == "" {
		return usageErr("--app is required: name the app the AWS keys belong to (see spgate app list)")
	}
	if o.Check && o.Teardown {
		return usageErr("--check and --teardown exclude each other")
	}
	if o.Check && o.DryRun {
		return usageErr("--check changes nothing already; drop --dry-run")
	}
	if o.EnableSigning && (o.Check || o.Teardown) {
		return usageErr("--enable-signing goes with setup, not with --check or --teardown")
	}
	if o.Yes && !o.Teardown {
		return usageErr("--yes is only for --teardown")
	}
	if cmd.Flags().Changed("queue-name") && !o.Queue {
		return usageErr("--queue-name needs --queue")
	}
	if o.Endpoint == "" {
		o.Endpoint = strings.TrimSpace(os.Getenv(EnvAWSEndpoint))
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErr("AWS endpoint %q (--endpoint-url or $%s) is not an http(s) URL", o.Endpoint, EnvAWSEndpoint)
		}
	}
	if err := o.provisionOptions("").Validate(); err != nil {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w", err)}
	}
	return nil
}

func (o setupAWSOptions) provisionOptions(heldKey string) provision.Options {
	return provision.Options{
		Profile:          o.Profile,
		Region:           o.Region,
		Endpoint:         o.Endpoint,
		UserName:         o.UserName,
		RoleName:         o.RoleName,
		PolicyName:       o.PolicyName,
		InlinePolicyName: o.InlinePolicyName,
		Queue:            o.Queue,
		QueueName:        o.QueueName,
		HeldAccessKeyID:  heldKey,
		DryRun:           o.DryRun,
	}
}

// setupAWSResult is what --json prints for setup and teardown.
type setupAWSResult struct {
	App    string            `json:"app"`
	Report *provision.Report `json:"report"`
	// StoredAccessKeyID is the access key now stored with the app (its
	// secret is in the vault only).
	StoredAccessKeyID string `json:"stored_access_key_id,omitempty"`
	AppChanged        bool   `json:"app_changed"`
	Signing           bool   `json:"signing"`
}

func runSetupAWS(cmd *cobra.Command, streams IO, o setupAWSOptions) error {
	if err := o.validate(cmd); err != nil {
		return err
	}
	ctx := cmd.Context()
	v, err := openVault(cmd, false)
	if err != nil {
		return err
	}
	defer v.Close()
	app, err := v.GetApp(ctx, o.App)
	if err != nil {
		return notFound(err, "app", o.App, "spgate app list")
	}
	// What the app already points at, and the names and region setup used
	// for it before, are what is checked, kept and torn down, unless flags
	// say otherwise.
	stored, err := loadAWSSetup(ctx, v, app)
	if err != nil {
		return storeErr(err)
	}
	f := cmd.Flags()
	opts := o.provisionOptions(app.AWSAccessKeyID).Resume(stored, app.RoleARN, app.SQSQueueURL, provision.Given{
		Region: f.Changed("region"), UserName: f.Changed("user-name"), RoleName: f.Changed("role-name"),
		PolicyName: f.Changed("policy-name"), InlinePolicyName: f.Changed("inline-policy-name"), QueueName: f.Changed("queue-name"),
	})
	opts.Logger = logger(cmd)
	opts.SetupCommand = "spgate setup aws --app " + app.Name
	switch {
	case o.Check:
		return runSetupAWSCheck(ctx, cmd, streams, app, opts)
	case o.Teardown:
		return runSetupAWSTeardown(ctx, cmd, streams, v, app, o.Yes, opts)
	}
	return runSetupAWSApply(ctx, cmd, streams, v, app, stored, o.EnableSigning, opts)
}

// runSetupAWSApply runs provision.Setup and records its outcome with the
// app: a new access key, the role ARN and queue URL, signing, and the names
// used.
func runSetupAWSApply(ctx context.Context, cmd *cobra.Command, streams IO, v *vault.Vault, app vault.App, stored provision.Saved, signing bool, opts provision.Options) error {
	rep, err := provision.Setup(ctx, opts)
	res := setupAWSResult{App: app.Name, Report: rep, Signing: app.Signing}
	// A key AWS created must be stored even when a later step failed: AWS
	// never shows its secret again.
	if rep != nil && rep.NewAccessKey != nil && !opts.DryRun {
		if serr := v.SetAWSKeys(ctx, app.Name, rep.NewAccessKey.AccessKeyID, rep.NewAccessKey.SecretAccessKey); serr != nil {
			return errors.Join(err, fmt.Errorf("store the new access key %s in the vault: %w; delete the key in IAM and run spgate setup aws again", rep.NewAccessKey.AccessKeyID, storeErr(serr)))
		}
		res.StoredAccessKeyID = rep.NewAccessKey.AccessKeyID
	}
	if err != nil {
		if rep != nil && !jsonOut(cmd) {
			fmt.Fprint(streams.Err, rep.Text())
		}
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("AWS setup stopped: %w", err)}
	}
	if !opts.DryRun {
		changed, err := updateAppAWS(ctx, v, app.Name, func(a provision.AppAWS) (provision.AppAWS, bool) {
			return rep.AfterSetup(a, opts.Queue, signing)
		})
		if err != nil {
			return storeErr(fmt.Errorf("store the role ARN and queue URL with app %s: %w", app.Name, err))
		}
		res.AppChanged, res.Signing = changed, app.Signing || signing
		if rec := opts.Saved(rep.Region); rec != stored {
			if err := saveAWSSetup(ctx, v, app, rec); err != nil {
				return storeErr(fmt.Errorf("store the AWS names and region with app %s: %w", app.Name, err))
			}
		}
		if res.StoredAccessKeyID == "" {
			res.StoredAccessKeyID = app.AWSAccessKeyID
		}
		// The key is stored already; drop the reminder to store it.
		rep.KeyStored()
	}
	if jsonOut(cmd) {
		return printJSON(streams.Out, res)
	}
	printSetupAWS(streams.Out, res, signing, opts)
	return nil
}

// printSetupAWS prints what setup did and what was saved with the app.
func printSetupAWS(w io.Writer, res setupAWSResult, signing bool, opts provision.Options) {
	rep := res.Report
	fmt.Fprint(w, rep.Text())
	if !opts.DryRun {
		fmt.Fprintln(w)
		if rep.NewAccessKey != nil {
			fmt.Fprintf(w, "Stored access key %s and its secret (encrypted) with app %s; the secret is not shown.\n", rep.NewAccessKey.AccessKeyID, res.App)
		}
		if res.AppChanged {
			fmt.Fprintf(w, "Saved with app %s: role ARN %s", res.App, rep.RoleARN)
			if opts.Queue {
				fmt.Fprintf(w, ", queue URL %s", rep.QueueURL)
			}
			if signing {
				fmt.Fprint(w, ", SigV4 signing on")
			}
			fmt.Fprintln(w, ".")
		}
		if !rep.Changed() && rep.NewAccessKey == nil && !res.AppChanged {
			fmt.Fprintln(w, "Nothing changed: the setup is already as the guide describes.")
		}
	}
	fmt.Fprintln(w, "\nNote: since 2 October 2023 SP-API no longer needs IAM or SigV4; the role is used only when the app signs (spgate setup aws --enable-signing). The user's keys still read the SQS queue for client secret rotation.")
}

// appAWS is what app keeps of its AWS chain.
func appAWS(a vault.App) provision.AppAWS {
	return provision.AppAWS{AccessKeyID: a.AWSAccessKeyID, HasSecretKey: a.HasAWSSecretKey(), RoleARN: a.RoleARN, QueueURL: a.SQSQueueURL, Signing: a.Signing}
}

// updateAppAWS stores what next makes of app's AWS chain, writing only
// what changes (an unchanged app gets no audit entry), and reports whether
// anything was written. next only drops an access key (with its secret);
// new keys are stored with SetAWSKeys.
func updateAppAWS(ctx context.Context, v *vault.Vault, app string, next func(provision.AppAWS) (provision.AppAWS, bool)) (bool, error) {
	before, err := v.GetApp(ctx, app)
	if err != nil {
		return false, err
	}
	cur := appAWS(before)
	n, changed := next(cur)
	if !changed {
		return false, nil
	}
	wrote := false
	if n.RoleARN != cur.RoleARN || n.QueueURL != cur.QueueURL || n.Signing != cur.Signing {
		if err := v.UpdateApp(ctx, app, func(a *vault.App) error {
			a.RoleARN, a.SQSQueueURL, a.Signing = n.RoleARN, n.QueueURL, n.Signing
			return nil
		}); err != nil {
			return false, err
		}
		wrote = true
	}
	if n.AccessKeyID != cur.AccessKeyID || n.HasSecretKey != cur.HasSecretKey {
		if err := v.SetAWSKeys(ctx, app, "", secret.String{}); err != nil {
			return wrote, fmt.Errorf("remove the deleted access key from app %s: %w", app, err)
		}
		wrote = true
	}
	return wrote, nil
}

func runSetupAWSCheck(ctx context.Context, cmd *cobra.Command, streams IO, app vault.App, opts provision.Options) error {
	rep, err := provision.Check(ctx, opts)
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("check the AWS setup: %w", err)}
	}
	if jsonOut(cmd) {
		if err := printJSON(streams.Out, rep); err != nil {
			return err
		}
	} else {
		fmt.Fprint(streams.Out, rep.Text())
		if app.RoleARN != "" && rep.RoleARN != "" && app.RoleARN != rep.RoleARN {
			fmt.Fprintf(streams.Out, "Note: app %s is set to role %s, but this check read %s (pass --role-name).\n", app.Name, app.RoleARN, rep.RoleARN)
		}
	}
	if len(rep.Findings) > 0 {
		what := "deviates from the guide"
		if !slices.ContainsFunc(rep.Findings, func(f provision.Finding) bool { return f.Severity != provision.Unverified }) {
			what = "could not be verified in full (Conditions spgate cannot evaluate)"
		}
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("the AWS setup %s: %s; fix as shown above or run %s", what, strings.Join(rep.Names(), ", "), opts.SetupCommandLine())}
	}
	return nil
}

func runSetupAWSTeardown(ctx context.Context, cmd *cobra.Command, streams IO, v *vault.Vault, app vault.App, yes bool, opts provision.Options) error {
	if !opts.DryRun && !yes {
		if err := confirmTeardown(ctx, cmd, streams, app, opts); err != nil {
			return err
		}
	}
	if !opts.DryRun {
		// Each deletion is recorded as it happens: a teardown that stops
		// partway leaves no deleted key, role or queue in the vault.
		opts.OnStep = func(st provision.Step) error {
			_, err := updateAppAWS(ctx, v, app.Name, st.AfterStep)
			return err
		}
	}
	rep, err := provision.Teardown(ctx, opts)
	if err != nil {
		if rep != nil && !jsonOut(cmd) {
			fmt.Fprint(streams.Err, rep.Text())
		}
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("AWS teardown stopped: %w (what was deleted is already removed from app %s)", err, app.Name)}
	}
	res := setupAWSResult{App: app.Name, Report: rep}
	if !opts.DryRun {
		// The user's keys are gone in AWS; forget them and what pointed at
		// the removed role and queue.
		changed, err := updateAppAWS(ctx, v, app.Name, func(a provision.AppAWS) (provision.AppAWS, bool) {
			return rep.AfterTeardown(a, opts.Queue)
		})
		if err != nil {
			return storeErr(fmt.Errorf("clear the role ARN and queue URL of app %s: %w", app.Name, err))
		}
		if err := saveAWSSetup(ctx, v, app, provision.Saved{}); err != nil {
			return storeErr(err)
		}
		after, _ := v.GetApp(ctx, app.Name)
		res.AppChanged = changed || appAWS(after) != appAWS(app)
	}
	if jsonOut(cmd) {
		return printJSON(streams.Out, res)
	}
	fmt.Fprint(streams.Out, rep.Text())
	if !opts.DryRun && res.AppChanged {
		fmt.Fprintf(streams.Out, "\nRemoved the AWS access key, role ARN and queue URL from app %s.\n", app.Name)
	}
	return nil
}

// confirmTeardown shows what a teardown would remove, then asks.
func confirmTeardown(ctx context.Context, cmd *cobra.Command, streams IO, app vault.App, opts provision.Options) error {
	plan := opts
	plan.DryRun = true
	rep, err := provision.Teardown(ctx, plan)
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("read the AWS setup to remove: %w", err)}
	}
	fmt.Fprint(streams.Err, rep.Text())
	ok, err := confirm(cmd, fmt.Sprintf("Remove the AWS user %s, its keys, role %s and policy %s for app %s", opts.UserName, opts.RoleName, opts.PolicyName, app.Name))
	if err != nil {
		return err
	}
	if !ok {
		return &ExitError{Code: ExitFailure, Err: errors.New("teardown cancelled; nothing was removed")}
	}
	return nil
}

// signerFor returns the spapi.Config.Sign hook for app: nil when the app
// does not sign (the default: SP-API has not needed SigV4 since October
// 2023), else a hook that signs each region's calls with temporary
// credentials from assuming the app's role with its stored IAM user key.
// app must come from vault.GetApp (secrets decrypted). The STS endpoint
// follows $SPGATE_AWS_ENDPOINT when set. One credentials cache is shared by
// every region.
func signerFor(ctx context.Context, app vault.App) (func(spapi.Region, http.RoundTripper) http.RoundTripper, error) {
	_ = ctx // credentials are fetched lazily, with each request's context
	if !app.Signing {
		return nil, nil
	}
	if _, err := provision.ValidateRoleARN(app.RoleARN); err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: fmt.Errorf("app %s signs its calls but its role ARN is not usable: %w; run spgate setup aws --app %s", app.Name, err, app.Name)}
	}
	if app.AWSAccessKeyID == "" || app.AWSSecretKey.Value.IsZero() {
		return nil, &ExitError{Code: ExitConfig, Err: fmt.Errorf("app %s signs its calls but has no IAM user access key: run spgate setup aws --app %s (or turn signing off)", app.Name, app.Name)}
	}
	creds, err := awsauth.NewAssumeRoleProvider(awsauth.AssumeRoleOptions{
		STSOptions: awsauth.STSOptions{
			Endpoint:   strings.TrimSpace(os.Getenv(EnvAWSEndpoint)),
			HTTPClient: &http.Client{Timeout: 30 * time.Second},
		},
		RoleARN: app.RoleARN,
		User:    awsauth.UserKeys{AccessKeyID: app.AWSAccessKeyID, SecretAccessKey: app.AWSSecretKey.Value},
	})
	if err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: err}
	}
	return func(region spapi.Region, next http.RoundTripper) http.RoundTripper {
		return awsauth.NewSigner(next, creds, awsauth.SignerOptions{Region: region.AWSRegion()})
	}, nil
}

// awsSetupKey is the state key of app's AWS setup (by app id: local names
// can change).
func awsSetupKey(appID string) string { return "aws-setup/" + appID }

// loadAWSSetup returns what setup stored for app (zero when nothing).
// (It is kept encrypted in the vault's state, so that --check, --teardown,
// doctor and rotate find the same resources without the flags repeated.)
func loadAWSSetup(ctx context.Context, v *vault.Vault, app vault.App) (provision.Saved, error) {
	var rec provision.Saved
	b, err := v.State(ctx, awsSetupKey(app.AppID))
	if errors.Is(err, vault.ErrNotFound) {
		return rec, nil
	}
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return provision.Saved{}, fmt.Errorf("the stored AWS setup of app %s is unreadable (%v); run spgate setup aws --app %s again", app.Name, err, app.Name)
	}
	return rec, nil
}

func saveAWSSetup(ctx context.Context, v *vault.Vault, app vault.App, rec provision.Saved) error {
	if rec == (provision.Saved{}) {
		return v.DeleteState(ctx, awsSetupKey(app.AppID))
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return v.SetState(ctx, awsSetupKey(app.AppID), b)
}
