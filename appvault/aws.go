package appvault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spgate/spgate/awsauth"
	"github.com/spgate/spgate/provision"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// An app's AWS chain (package provision) is kept with the app: the IAM
// user's access key and secret, the role ARN, the queue URL and whether it
// signs on the app itself, and the names and region its setup used in the
// vault's encrypted state, so that a check, a teardown, doctor and
// rotation find the same resources without the names being given again.

// awsSetupKey is the state key of app's AWS setup (by app id: local names
// can change).
func awsSetupKey(appID string) string { return "aws-setup/" + appID }

// LoadAWSSetup returns the names and region app's AWS setup used (zero
// when it has none).
func LoadAWSSetup(ctx context.Context, v *vault.Vault, app vault.App) (provision.Saved, error) {
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

// AWSOptions returns o for app (read with vault.GetApp): continued from its
// earlier setup where given does not say a flag was typed
// (provision.Options.Resume), holding its access key, and with fixes that
// name it. It also returns what the earlier setup saved.
func AWSOptions(ctx context.Context, v *vault.Vault, app vault.App, o provision.Options, given provision.Given) (provision.Options, provision.Saved, error) {
	saved, err := LoadAWSSetup(ctx, v, app)
	if err != nil {
		return o, saved, err
	}
	o.HeldAccessKeyID = app.AWSAccessKeyID
	o = o.Resume(saved, app.RoleARN, app.SQSQueueURL, given)
	o.SetupCommand = "spgate setup aws --app " + app.Name
	return o, saved, nil
}

// AWSResult is what SetupAWS or TeardownAWS did to the AWS account and to
// the app.
type AWSResult struct {
	App    string            `json:"app"`
	Report *provision.Report `json:"report"`
	// StoredAccessKeyID is the access key now stored with the app (its
	// secret is in the vault only).
	StoredAccessKeyID string `json:"stored_access_key_id,omitempty"`
	AppChanged        bool   `json:"app_changed"`
	Signing           bool   `json:"signing"`
}

// SetupAWS runs provision.Setup with o (from AWSOptions) and records the
// outcome with app: a new access key (stored even when a later step failed:
// AWS never shows its secret again), the role ARN and queue URL, signing
// turned on when asked, and the names used (prev is what was saved
// before). On error the result's Report holds the steps done so far.
func SetupAWS(ctx context.Context, v *vault.Vault, app vault.App, prev provision.Saved, o provision.Options, signing bool) (AWSResult, error) {
	rep, err := provision.Setup(ctx, o)
	res := AWSResult{App: app.Name, Report: rep, Signing: app.Signing}
	if rep != nil && rep.NewAccessKey != nil && !o.DryRun {
		if serr := v.SetAWSKeys(ctx, app.Name, rep.NewAccessKey.AccessKeyID, rep.NewAccessKey.SecretAccessKey); serr != nil {
			return res, errors.Join(err, fmt.Errorf("store the new access key %s in the vault: %w; delete the key in IAM and run spgate setup aws again", rep.NewAccessKey.AccessKeyID, serr))
		}
		res.StoredAccessKeyID = rep.NewAccessKey.AccessKeyID
	}
	if err != nil {
		return res, fmt.Errorf("AWS setup stopped: %w", err)
	}
	if o.DryRun {
		return res, nil
	}
	changed, err := updateAppAWS(ctx, v, app.Name, func(a provision.AppAWS) (provision.AppAWS, bool) {
		return rep.AfterSetup(a, o.Queue, signing)
	})
	if err != nil {
		return res, fmt.Errorf("store the role ARN and queue URL with app %s: %w", app.Name, err)
	}
	res.AppChanged, res.Signing = changed, app.Signing || signing
	if rec := o.Saved(rep.Region); rec != prev {
		if err := saveAWSSetup(ctx, v, app, rec); err != nil {
			return res, fmt.Errorf("store the AWS names and region with app %s: %w", app.Name, err)
		}
	}
	if res.StoredAccessKeyID == "" {
		res.StoredAccessKeyID = app.AWSAccessKeyID
	}
	rep.KeyStored() // the key is stored already: drop the reminder to store it
	return res, nil
}

// TeardownAWS runs provision.Teardown with o (from AWSOptions), removing
// each deleted key, role and queue from app as it happens, so that a
// teardown that stops partway leaves nothing deleted in the vault; when it
// finishes, the app forgets its AWS chain and saved names. Unless o is a
// dry run, confirm (when set) is shown the plan, a dry run's report, and
// its error stops the teardown before anything is removed.
func TeardownAWS(ctx context.Context, v *vault.Vault, app vault.App, o provision.Options, confirm func(plan *provision.Report) error) (AWSResult, error) {
	if !o.DryRun && confirm != nil {
		plan := o
		plan.DryRun = true
		rep, err := provision.Teardown(ctx, plan)
		if err != nil {
			return AWSResult{App: app.Name}, fmt.Errorf("read the AWS setup to remove: %w", err)
		}
		if err := confirm(rep); err != nil {
			return AWSResult{App: app.Name}, err
		}
	}
	if !o.DryRun {
		o.OnStep = func(st provision.Step) error {
			_, err := updateAppAWS(ctx, v, app.Name, st.AfterStep)
			return err
		}
	}
	rep, err := provision.Teardown(ctx, o)
	res := AWSResult{App: app.Name, Report: rep}
	if err != nil {
		return res, fmt.Errorf("AWS teardown stopped: %w (what was deleted is already removed from app %s)", err, app.Name)
	}
	if o.DryRun {
		return res, nil
	}
	changed, err := updateAppAWS(ctx, v, app.Name, func(a provision.AppAWS) (provision.AppAWS, bool) {
		return rep.AfterTeardown(a, o.Queue)
	})
	if err != nil {
		return res, fmt.Errorf("clear the role ARN and queue URL of app %s: %w", app.Name, err)
	}
	if err := saveAWSSetup(ctx, v, app, provision.Saved{}); err != nil {
		return res, err
	}
	after, _ := v.GetApp(ctx, app.Name)
	res.AppChanged = changed || appAWS(after) != appAWS(app)
	return res, nil
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

// Text is what a person reads after SetupAWS with o (signing: signing was
// asked for): the report, what was stored with the app, and what of the
// chain still matters.
func (r AWSResult) Text(o provision.Options, signing bool) string {
	var b strings.Builder
	rep := r.Report
	b.WriteString(rep.Text())
	if !o.DryRun {
		b.WriteString("\n")
		if rep.NewAccessKey != nil {
			fmt.Fprintf(&b, "Stored access key %s and its secret (encrypted) with app %s; the secret is not shown.\n", rep.NewAccessKey.AccessKeyID, r.App)
		}
		if r.AppChanged {
			fmt.Fprintf(&b, "Saved with app %s: role ARN %s", r.App, rep.RoleARN)
			if o.Queue {
				fmt.Fprintf(&b, ", queue URL %s", rep.QueueURL)
			}
			if signing {
				b.WriteString(", SigV4 signing on")
			}
			b.WriteString(".\n")
		}
		if !rep.Changed() && rep.NewAccessKey == nil && !r.AppChanged {
			b.WriteString("Nothing changed: the setup is already as the guide describes.\n")
		}
	}
	b.WriteString("\nNote: since 2 October 2023 SP-API no longer needs IAM or SigV4; the role is used only when the app signs (spgate setup aws --enable-signing). The user's keys still read the SQS queue for client secret rotation.\n")
	return b.String()
}

// Signer returns the spapi.Config.Sign hook for app (read with
// vault.GetApp): nil when the app does not sign (the default: SP-API has
// not needed SigV4 since October 2023), else a hook that signs each
// region's calls with temporary credentials from assuming the app's role
// with its stored IAM user key, fetched lazily with each request's context
// and cached for every region. stsEndpoint overrides STS (a moto_server).
func Signer(app vault.App, stsEndpoint string) (func(spapi.Region, http.RoundTripper) http.RoundTripper, error) {
	if !app.Signing {
		return nil, nil
	}
	if _, err := provision.ValidateRoleARN(app.RoleARN); err != nil {
		return nil, fmt.Errorf("app %s signs its calls but its role ARN is not usable: %w; run spgate setup aws --app %s", app.Name, err, app.Name)
	}
	if app.AWSAccessKeyID == "" || app.AWSSecretKey.Value.IsZero() {
		return nil, fmt.Errorf("app %s signs its calls but has no IAM user access key: run spgate setup aws --app %s (or turn signing off)", app.Name, app.Name)
	}
	creds, err := awsauth.NewAssumeRoleProvider(awsauth.AssumeRoleOptions{
		STSOptions: awsauth.STSOptions{Endpoint: stsEndpoint, HTTPClient: &http.Client{Timeout: 30 * time.Second}},
		RoleARN:    app.RoleARN,
		User:       awsauth.UserKeys{AccessKeyID: app.AWSAccessKeyID, SecretAccessKey: app.AWSSecretKey.Value},
	})
	if err != nil {
		return nil, err
	}
	return func(region spapi.Region, next http.RoundTripper) http.RoundTripper {
		return awsauth.NewSigner(next, creds, awsauth.SignerOptions{Region: region.AWSRegion()})
	}, nil
}
