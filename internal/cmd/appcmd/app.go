// Package appcmd is spgate app: the Selling Partner API applications in
// the vault, their LWA client ids and client secrets.
package appcmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/prompt"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// Environment variables the app verbs read.
const (
	envClientSecret = "SPGATE_CLIENT_SECRET"
	envLWAURL       = "SPGATE_LWA_URL"
)

// clientSecretSource is where app add and set-secret read a client secret.
var clientSecretSource = prompt.Source{What: "client secret", FileFlag: "client-secret-file", Env: envClientSecret}

// NewCmd returns spgate app and its verbs.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Manage Selling Partner API applications (LWA client id and secret) in the vault",
		Long: `app manages the Selling Partner API applications in the vault: their
application id (amzn1.sp.solution.…), LWA client id
(amzn1.application-oa2-client.…) and client secret (amzn1.oa2-cs.v1.…).

Client secrets are never taken from the command line: give them in a file
(--client-secret-file F, - for stdin), in $SPGATE_CLIENT_SECRET, or type
them at the hidden prompt. Amazon requires a new client secret at least
every 180 days; list and show count the days left.`,
		Example: `  spgate app add main --app-id amzn1.sp.solution.… --client-id amzn1.application-oa2-client.… --client-secret-file secret.txt
  spgate app list
  spgate app show main --json
  spgate app set-secret main --client-secret-file new-secret.txt
  spgate app update main --role "Direct-to-Consumer Shipping" --region na
  spgate app remove main --yes`,
	}
	cmd.AddCommand(newAppAddCmd(f), newAppListCmd(f), newAppShowCmd(f),
		newAppSetSecretCmd(f), newAppUpdateCmd(f), newAppRemoveCmd(f))
	return cmd
}

// appAddOptions are the flags of spgate app add.
type appAddOptions struct {
	*cmdutil.Factory
	Name, AppID, ClientID, SecretFile string
	Roles                             []string
	Draft                             bool
	Region, RedirectURI               string
}

func newAppAddCmd(f *cmdutil.Factory) *cobra.Command {
	o := &appAddOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add an application and its client secret to the vault (creating the vault if needed)",
		Long: `add stores a Selling Partner API application under a local NAME (letters,
digits, '.', '_', '-'). The first app add creates the vault and, unless
$SPGATE_MASTER_KEY is set, a master key file next to spgate's configuration.

The application id and LWA client id are shown in Seller Central / the
Solution Provider Portal under "View" → "LWA credentials". The client secret
is read from --client-secret-file (- for stdin), $SPGATE_CLIENT_SECRET or a
hidden prompt; never from an argument.`,
		Example: `  spgate app add main \
    --app-id amzn1.sp.solution.1a2b3c4d-0000-4000-8000-1234567890ab \
    --client-id amzn1.application-oa2-client.0123456789abcdef0123456789abcdef \
    --client-secret-file ./secret.txt --region eu
  SPGATE_CLIENT_SECRET=… spgate app add test --app-id … --client-id … --draft`,
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return runAppAdd(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.AppID, "app-id", "", "application id, amzn1.sp.solution.<uuid> (required)")
	fl.StringVar(&o.ClientID, "client-id", "", "LWA client id, amzn1.application-oa2-client.<32 hex> (required)")
	fl.StringVar(&o.SecretFile, "client-secret-file", "", "file holding the LWA client secret (- reads stdin)")
	fl.StringSliceVar(&o.Roles, "role", nil, "restricted role the app holds (repeatable, comma-separated)")
	fl.BoolVar(&o.Draft, "draft", false, "the app is still a draft (its OAuth consent needs version=beta)")
	fl.StringVar(&o.Region, "region", "", "default region: na, eu or fe")
	fl.StringVar(&o.RedirectURI, "redirect-uri", "", "OAuth redirect URI registered for the app")
	return cmd
}

func runAppAdd(ctx context.Context, o *appAddOptions) error {
	if err := cmdutil.CheckFlags(
		cmdutil.FlagCheck{Value: o.Name, Check: cmdutil.AppName},
		cmdutil.FlagCheck{Flag: "app-id", Value: o.AppID, Check: vault.ValidateAppID,
			Required: " (amzn1.sp.solution.<uuid>, from the app's LWA credentials page)"},
		cmdutil.FlagCheck{Flag: "client-id", Value: o.ClientID, Check: vault.ValidateClientID,
			Required: " (amzn1.application-oa2-client.<32 hex>, from the app's LWA credentials page)"},
		cmdutil.FlagCheck{Flag: "region", Value: o.Region, Check: vault.ValidateRegion},
		cmdutil.FlagCheck{Flag: "redirect-uri", Value: o.RedirectURI, Check: vault.ValidateRedirectURI}); err != nil {
		return err
	}
	cs, err := o.CheckedSecret(clientSecretSource, vault.ValidateClientSecret)
	if err != nil {
		return err
	}
	return o.WithNewVault(ctx, func(v *vault.Vault) error {
		if err := v.AddApp(ctx, vault.App{Name: o.Name, AppID: o.AppID, ClientID: o.ClientID, Roles: o.Roles, Draft: o.Draft,
			Region: o.Region, RedirectURI: o.RedirectURI, ClientSecrets: []vault.Secret{{Value: cs, CreatedAt: o.Clock.Now()}}}); err != nil {
			return cmdutil.StoreErr(err)
		}
		o.Log.Info("app added", "app", o.Name, "client_id", o.ClientID)
		stored, err := v.GetApp(ctx, o.Name)
		if err != nil {
			return cmdutil.StoreErr(err)
		}
		j := appvault.NewAppView(stored, o.Clock.Now())
		return o.Answer(j, "added app %s (client id %s); client secret expires in %d days", o.Name, o.ClientID, j.SecretDaysLeft)
	})
}

func newAppListCmd(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.ListCmd(&cobra.Command{
		Use:   "list",
		Short: "List the applications in the vault with their client secrets' days left",
		Long: `list prints every application in the vault: name, client id, region and
how many days its client secret has left before Amazon's 180-day limit.
Secret values are never printed (list does not even decrypt them).
Warnings for secrets due within 30, 14, 7 or 1 day(s) go to stderr.`,
		Example: `  spgate app list
  spgate app list --json`,
	}, f, cmdutil.List[appvault.AppView]{
		Rows: func(ctx context.Context, v *vault.Vault, now time.Time) ([]appvault.AppView, error) {
			apps, err := v.ListApps(ctx)
			return cmdutil.Views(apps, err, func(a vault.App) appvault.AppView { return appvault.NewAppView(a, now) })
		},
		Empty:  "no apps yet: add one with `spgate app add NAME --app-id … --client-id …`",
		Header: "NAME\tCLIENT ID\tREGION\tDRAFT\tSECRET\tDAYS LEFT",
		Line: func(a appvault.AppView) string {
			return fmt.Sprintf("%s\t%s\t%s\t%v\tv%d\t%s", a.Name, a.ClientID, output.Dash(a.Region), a.Draft, a.SecretVersion, a.DaysLeftText())
		},
		Warn: appWarning,
	})
}

func appWarning(a appvault.AppView) (string, string) { return "app " + a.Name, a.Warning }

func newAppShowCmd(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.ShowCmd(&cobra.Command{
		Use:   "show NAME",
		Short: "Show one application (secrets masked)",
		Long: `show prints one application's ids, roles, region, and its client secret's
version, dates and days left. The secret itself appears only as a hint
(its prefix and last four characters) so you can tell two secrets apart.`,
		Example: `  spgate app show main
  spgate app show amzn1.application-oa2-client.0123456789abcdef0123456789abcdef --json`,
		Args: cmdutil.ExactArgs(1, "NAME"),
	}, f, cmdutil.Show[appvault.AppView]{
		Get: func(ctx context.Context, v *vault.Vault, ref string, now time.Time) (appvault.AppView, error) {
			a, err := v.GetApp(ctx, ref)
			return appvault.NewAppView(a, now), cmdutil.NotFound(err, "app", ref, "spgate app list")
		},
		Fields: appvault.AppView.Fields,
		Warn:   appWarning,
	})
}

// appSetSecretOptions are the flags of spgate app set-secret.
type appSetSecretOptions struct {
	*cmdutil.Factory
	Name       string
	SecretFile string
	NoVerify   bool
	KeepOld    time.Duration
	// Verify proves the new secret with LWA (rotation.LWAVerifier).
	Verify rotation.Verifier
}

func newAppSetSecretCmd(f *cmdutil.Factory) *cobra.Command {
	o := &appSetSecretOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "set-secret NAME",
		Short: "Replace an application's client secret (verified with LWA first)",
		Long: `set-secret stores a new LWA client secret for the app, e.g. after you
generated one in Seller Central. Before replacing the stored secret it asks
LWA for a grantless token (client_credentials, scope
sellingpartnerapi::notifications) with the new secret, so a typo never
replaces a working secret; --no-verify skips that (offline use).
The LWA endpoint is $SPGATE_LWA_URL, else that of $SPGATE_ENDPOINT, else Amazon's.

The replaced secret is kept as "previous" for --keep-old (Amazon keeps an
old secret valid for a while after a rotation); 0 discards it.`,
		Example: `  spgate app set-secret main --client-secret-file new-secret.txt
  pbpaste | spgate app set-secret main --client-secret-file -
  SPGATE_CLIENT_SECRET=… spgate app set-secret main --no-verify`,
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name, o.Verify = args[0], lwaVerifier(cmd)
			return runAppSetSecret(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.SecretFile, "client-secret-file", "", "file holding the new client secret (- reads stdin)")
	fl.BoolVar(&o.NoVerify, "no-verify", false, "store the secret without checking it with LWA")
	fl.DurationVar(&o.KeepOld, "keep-old", 7*24*time.Hour, "keep the replaced secret as previous for this long (0: discard it)")
	return cmd
}

func runAppSetSecret(ctx context.Context, o *appSetSecretOptions) error {
	if o.KeepOld < 0 {
		return cmdutil.UsageErr("--keep-old must not be negative (e.g. 168h, or 0 to discard the old secret)")
	}
	cs, err := o.CheckedSecret(clientSecretSource, vault.ValidateClientSecret)
	if err != nil {
		return err
	}
	ro := rotation.ReplaceOptions{KeepOld: o.KeepOld, Clock: o.Clock}
	if !o.NoVerify {
		ro.Verify = o.Verify
	}
	return o.WithVault(ctx, func(v *vault.Vault) error {
		r, err := rotation.Replace(ctx, v, o.Name, cs, ro)
		var rejected *rotation.RejectedError
		if errors.As(err, &rejected) {
			return cmdutil.Failed(fmt.Errorf("the new client secret was NOT stored: LWA did not accept it: %w\n(check that you copied the whole secret for client id %s; --no-verify stores it unchecked)", rejected.Err, rejected.ClientID))
		} else if err != nil {
			return cmdutil.NotFound(err, "app", o.Name, "spgate app list")
		}
		o.Log.Info("client secret replaced", "app", r.App.Name, "version", r.Secret.Version, "verified", r.Verified)
		note := map[bool]string{true: "verified with LWA", false: "NOT verified"}[r.Verified]
		return o.Answer(map[string]any{"app": r.App.Name, "version": r.Secret.Version, "verified": r.Verified, "expiresAt": r.Secret.ExpiresAt, "hint": cs.Hint()},
			"app %s: client secret v%d stored (%s), expires %s", r.App.Name, r.Secret.Version, note, r.Secret.ExpiresAt.Format(time.DateOnly))
	})
}

// lwaVerifier asks LWA for a grantless token with the secret; success
// proves the client id and secret belong together. The endpoint is
// $SPGATE_LWA_URL, else the token URL of $SPGATE_ENDPOINT (the emulator),
// else Amazon's.
func lwaVerifier(cmd *cobra.Command) rotation.Verifier {
	return func(ctx context.Context, clientID string, s secret.String) error {
		ep, err := cmdutil.EndpointsFor(cmd)
		if err != nil {
			return err
		}
		if u := os.Getenv(envLWAURL); u != "" {
			ep.TokenURL = u
		}
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		return rotation.LWAVerifier(ep.TokenURL, nil, nil)(ctx, clientID, s)
	}
}

// appUpdateOptions are the flags of spgate app update.
type appUpdateOptions struct {
	*cmdutil.Factory
	Ref                      string
	Roles                    []string
	ClearRoles               bool
	Region, RedirectURI      string
	Draft, Published         bool
	Rename                   string
	setRegion, setURI, roles bool
}

func newAppUpdateCmd(f *cmdutil.Factory) *cobra.Command {
	o := &appUpdateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change an application's roles, region, draft state, redirect URI or local name",
		Long: `update changes the plain (non-secret) fields of a stored app; NAME is its
local name, app id or client id. Only the flags given change anything:

  --role R          the restricted roles the app holds, replacing the stored
                    list (repeatable, comma-separated); --clear-roles empties it
  --region R        default region na, eu or fe ("" clears it)
  --draft           the app is a draft (OAuth consent needs version=beta)
  --published       the app is published
  --redirect-uri U  OAuth redirect URI ("" clears it)
  --rename NEW      new local name; sellers' authorizations follow the app

The app id and client id cannot change here, nor the client secret (see
` + "`spgate app set-secret`" + `). update prints each change, or "nothing changed".`,
		Example: `  spgate app update main --role "Direct-to-Consumer Shipping" --role "Tax Invoicing"
  spgate app update main --clear-roles
  spgate app update main --region eu --published
  spgate app update main --rename prod --json`,
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			o.roles, o.setRegion, o.setURI = fl.Changed("role"), fl.Changed("region"), fl.Changed("redirect-uri")
			o.Ref = args[0]
			return runAppUpdate(cmd.Context(), o, cmd.CommandPath())
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&o.Roles, "role", nil, "restricted role the app holds, replacing the stored roles (repeatable, comma-separated)")
	fl.BoolVar(&o.ClearRoles, "clear-roles", false, "remove every stored role")
	fl.StringVar(&o.Region, "region", "", `default region: na, eu or fe ("" clears it)`)
	fl.BoolVar(&o.Draft, "draft", false, "the app is a draft (its OAuth consent needs version=beta)")
	fl.BoolVar(&o.Published, "published", false, "the app is published (no longer a draft)")
	fl.StringVar(&o.RedirectURI, "redirect-uri", "", `OAuth redirect URI registered for the app ("" clears it)`)
	fl.StringVar(&o.Rename, "rename", "", "new local name for the app")
	return cmd
}

// update checks the flags and returns the change they ask for.
func (o *appUpdateOptions) update(cmdPath string) (vault.AppUpdate, error) {
	u := vault.AppUpdate{Name: o.Rename}
	switch {
	case o.Draft && o.Published:
		return u, cmdutil.UsageErr("--draft and --published contradict each other: give one")
	case o.ClearRoles && o.roles:
		return u, cmdutil.UsageErr("--clear-roles and --role contradict each other: --role already replaces the stored roles")
	case o.roles && len(vault.NormList(o.Roles)) == 0:
		return u, cmdutil.UsageErr("--role is empty: name a restricted role (e.g. %q), or use --clear-roles", vault.KnownRestrictedRoles()[0])
	case !o.roles && !o.ClearRoles && !o.setRegion && !o.Draft && !o.Published && !o.setURI && o.Rename == "":
		return u, cmdutil.UsageErr("nothing to update: give at least one of --role, --clear-roles, --region, --draft, --published, --redirect-uri, --rename\nRun '%s --help' for usage.", cmdPath)
	}
	if o.roles || o.ClearRoles {
		u.Roles = &o.Roles
	}
	if o.setRegion {
		u.Region = &o.Region
	}
	if o.Draft || o.Published {
		u.Draft = &o.Draft
	}
	if o.setURI {
		u.RedirectURI = &o.RedirectURI
	}
	return u, cmdutil.CheckFlags(
		cmdutil.FlagCheck{Flag: "region", Value: o.Region, Check: vault.ValidateRegion},
		cmdutil.FlagCheck{Flag: "redirect-uri", Value: o.RedirectURI, Check: vault.ValidateRedirectURI},
		cmdutil.FlagCheck{Flag: "rename", Value: o.Rename, Check: cmdutil.AppName})
}

func runAppUpdate(ctx context.Context, o *appUpdateOptions, cmdPath string) error {
	u, err := o.update(cmdPath)
	if err != nil {
		return err
	}
	return o.WithVault(ctx, func(v *vault.Vault) error {
		a, changes, err := v.UpdateAppWith(ctx, o.Ref, u)
		if err != nil {
			return cmdutil.NotFound(err, "app", o.Ref, "spgate app list")
		}
		return o.PrintUpdate("app", a.Name, changes, appvault.NewAppView(a, o.Clock.Now()))
	})
}

func newAppRemoveCmd(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.RemoveCmd(&cobra.Command{
		Use:   "remove NAME",
		Short: "Remove an application, its secrets and every seller's refresh token for it",
		Long: `remove deletes the app from the vault together with its client secrets and
every seller's authorization (refresh token) for it. It asks for confirmation
on a terminal; scripts pass --yes. The app itself stays registered with
Amazon.`,
		Example: `  spgate app remove old-app
  spgate app remove old-app --yes`,
		Args: cmdutil.ExactArgs(1, "NAME"),
	}, f, cmdutil.Remove{Kind: "app",
		Find: func(ctx context.Context, v *vault.Vault, ref string) (string, string, error) {
			a, err := v.GetApp(ctx, ref)
			return a.Name, fmt.Sprintf("remove app %s (client id %s) and every seller's refresh token for it?", a.Name, a.ClientID), cmdutil.NotFound(err, "app", ref, "spgate app list")
		},
		Remove: func(v *vault.Vault) func(context.Context, string) error { return v.RemoveApp },
	})
}
