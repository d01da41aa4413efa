package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/prompt"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newAppCmd) }

// Environment variables the app verbs read.
const (
	envClientSecret = "SPGATE_CLIENT_SECRET"
	envLWAURL       = "SPGATE_LWA_URL"
)

// clientSecretSource is where app add and set-secret read a client secret.
var clientSecretSource = prompt.Source{What: "client secret", FileFlag: "client-secret-file", Env: envClientSecret}

func newAppCmd(streams IO) *cobra.Command {
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newAppAddCmd(streams), newAppListCmd(streams), newAppShowCmd(streams),
		newAppSetSecretCmd(streams), newAppUpdateCmd(streams), newAppRemoveCmd(streams))
	return cmd
}

// appAddOptions are the flags of spgate app add.
type appAddOptions struct {
	cmdutil.Env
	Name, AppID, ClientID, SecretFile string
	Roles                             []string
	Draft                             bool
	Region, RedirectURI               string
}

func newAppAddCmd(streams IO) *cobra.Command {
	o := appAddOptions{}
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
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Env, o.Name = envFor(streams)(cmd, true), args[0]
			return runAppAdd(cmd.Context(), &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.AppID, "app-id", "", "application id, amzn1.sp.solution.<uuid> (required)")
	f.StringVar(&o.ClientID, "client-id", "", "LWA client id, amzn1.application-oa2-client.<32 hex> (required)")
	f.StringVar(&o.SecretFile, "client-secret-file", "", "file holding the LWA client secret (- reads stdin)")
	f.StringSliceVar(&o.Roles, "role", nil, "restricted role the app holds (repeatable, comma-separated)")
	f.BoolVar(&o.Draft, "draft", false, "the app is still a draft (its OAuth consent needs version=beta)")
	f.StringVar(&o.Region, "region", "", "default region: na, eu or fe")
	f.StringVar(&o.RedirectURI, "redirect-uri", "", "OAuth redirect URI registered for the app")
	return cmd
}

// exactArgs is cobra.ExactArgs with a message naming the argument and a
// usage exit code.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s takes %d argument(s): %s (got %d)\nRun '%s --help' for usage.", cmd.CommandPath(), n, names, len(args), cmd.CommandPath())
		}
		return nil
	}
}

func invalidInput(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// checkFlags checks flag values with the vault's validators: a value that
// is not empty must pass check (flag names the flag in the message).
func checkFlags(checks ...flagCheck) error {
	for _, c := range checks {
		if c.value == "" {
			continue
		}
		if err := c.check(c.value); err != nil {
			return invalidInput(fmt.Errorf("--%s: %w", c.flag, err))
		}
	}
	return nil
}

// flagCheck is one value checkFlags checks.
type flagCheck struct {
	flag, value string
	check       func(string) error
}

func runAppAdd(ctx context.Context, o *appAddOptions) error {
	if err := vault.ValidateName("app", o.Name); err != nil {
		return invalidInput(err)
	}
	if o.AppID == "" {
		return usageErr("--app-id is required (amzn1.sp.solution.<uuid>, from the app's LWA credentials page)")
	}
	if err := checkFlags(flagCheck{"app-id", o.AppID, vault.ValidateAppID}); err != nil {
		return err
	}
	if o.ClientID == "" {
		return usageErr("--client-id is required (amzn1.application-oa2-client.<32 hex>, from the app's LWA credentials page)")
	}
	if err := checkFlags(flagCheck{"client-id", o.ClientID, vault.ValidateClientID}, flagCheck{"region", o.Region, vault.ValidateRegion},
		flagCheck{"redirect-uri", o.RedirectURI, vault.ValidateRedirectURI}); err != nil {
		return err
	}
	cs, err := checkedSecret(&o.Env, clientSecretSource, vault.ValidateClientSecret)
	if err != nil {
		return err
	}
	return o.WithVault(func(v *vault.Vault) error {
		if err := v.AddApp(ctx, vault.App{Name: o.Name, AppID: o.AppID, ClientID: o.ClientID, Roles: o.Roles, Draft: o.Draft,
			Region: o.Region, RedirectURI: o.RedirectURI, ClientSecrets: []vault.Secret{{Value: cs, CreatedAt: o.Clock.Now()}}}); err != nil {
			return storeErr(err)
		}
		o.Log.Info("app added", "app", o.Name, "client_id", o.ClientID)
		stored, err := v.GetApp(ctx, o.Name)
		if err != nil {
			return storeErr(err)
		}
		j := appvault.NewAppView(stored, o.Clock.Now())
		return o.Answer(j, "added app %s (client id %s); client secret expires in %d days", o.Name, o.ClientID, j.SecretDaysLeft)
	})
}

func newAppListCmd(streams IO) *cobra.Command {
	return cmdutil.ListCmd(&cobra.Command{
		Use:   "list",
		Short: "List the applications in the vault with their client secrets' days left",
		Long: `list prints every application in the vault: name, client id, region and
how many days its client secret has left before Amazon's 180-day limit.
Secret values are never printed (list does not even decrypt them).
Warnings for secrets due within 30, 14, 7 or 1 day(s) go to stderr.`,
		Example: `  spgate app list
  spgate app list --json`,
	}, envFor(streams), cmdutil.List[appvault.AppView]{
		Rows: func(ctx context.Context, v *vault.Vault, now time.Time) ([]appvault.AppView, error) {
			apps, err := v.ListApps(ctx)
			return cmdutil.Views(apps, err, func(a vault.App) appvault.AppView { return appvault.NewAppView(a, now) })
		},
		Empty:  "no apps yet: add one with `spgate app add NAME --app-id … --client-id …`",
		Header: "NAME\tCLIENT ID\tREGION\tDRAFT\tSECRET\tDAYS LEFT",
		Line: func(a appvault.AppView) string {
			return fmt.Sprintf("%s\t%s\t%s\t%v\tv%d\t%s", a.Name, a.ClientID, output.Dash(a.Region), a.Draft, a.SecretVersion, daysLeft(a.SecretDaysLeft))
		},
		Warn: func(a appvault.AppView) (string, string) { return "app " + a.Name, a.Warning },
	})
}

func daysLeft(d int) string {
	if d < 0 {
		return "expired"
	}
	return fmt.Sprint(d)
}

func newAppShowCmd(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show one application (secrets masked)",
		Long: `show prints one application's ids, roles, region, and its client secret's
version, dates and days left. The secret itself appears only as a hint
(its prefix and last four characters) so you can tell two secrets apart.`,
		Example: `  spgate app show main
  spgate app show amzn1.application-oa2-client.0123456789abcdef0123456789abcdef --json`,
		Args: exactArgs(1, "NAME"),
		RunE: cmdutil.VaultRunE(envFor(streams), func(ctx context.Context, o *cmdutil.Env, v *vault.Vault, args []string) error {
			a, err := v.GetApp(ctx, args[0])
			if err != nil {
				return notFound(err, "app", args[0], "spgate app list")
			}
			j := appvault.NewAppView(a, o.Clock.Now())
			if o.JSON {
				return printJSON(o.Out, j)
			}
			err = printAppText(o.Out, j)
			o.Warn("app "+j.Name, j.Warning)
			return err
		}),
	}
}

func printAppText(w io.Writer, a appvault.AppView) error {
	f := output.NewFields(w)
	f.Add("name", a.Name)
	f.AddSet("app id", a.AppID)
	f.AddSet("client id", a.ClientID)
	f.Add("region", output.Dash(a.Region))
	f.Add("draft", fmt.Sprint(a.Draft))
	f.Add("roles", output.Dash(strings.Join(a.Roles, ", ")))
	f.AddSet("redirect uri", a.RedirectURI)
	f.Add("client secret", fmt.Sprintf("%s (v%d)", output.Dash(a.SecretHint), a.SecretVersion))
	if a.SecretExpiresAt != nil {
		f.Add("  expires", fmt.Sprintf("%s (%s days left)", a.SecretExpiresAt.Format(time.DateOnly), daysLeft(a.SecretDaysLeft)))
	}
	if a.SecretVerifiedAt != nil {
		f.Add("  verified", a.SecretVerifiedAt.Format(time.RFC3339))
	} else {
		f.Add("  verified", "never")
	}
	if a.PreviousSecretHint != "" {
		exp := ""
		if a.PreviousExpiresAt != nil {
			exp = " until " + a.PreviousExpiresAt.Format(time.DateOnly)
		}
		f.Add("previous secret", a.PreviousSecretHint+exp)
	}
	f.AddSet("aws access key", a.AWSAccessKeyID)
	f.AddSet("role arn", a.RoleARN)
	f.AddSet("sqs queue", a.SQSQueueURL)
	return f.Flush()
}

// appSetSecretOptions are the flags of spgate app set-secret.
type appSetSecretOptions struct {
	cmdutil.Env
	Name       string
	SecretFile string
	NoVerify   bool
	KeepOld    time.Duration
	// Verify proves the new secret with LWA (rotation.LWAVerifier).
	Verify rotation.Verifier
}

func newAppSetSecretCmd(streams IO) *cobra.Command {
	o := appSetSecretOptions{}
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
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Env, o.Name, o.Verify = envFor(streams)(cmd, false), args[0], lwaVerifySecret
			return runAppSetSecret(cmd.Context(), &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.SecretFile, "client-secret-file", "", "file holding the new client secret (- reads stdin)")
	f.BoolVar(&o.NoVerify, "no-verify", false, "store the secret without checking it with LWA")
	f.DurationVar(&o.KeepOld, "keep-old", 7*24*time.Hour, "keep the replaced secret as previous for this long (0: discard it)")
	return cmd
}

func runAppSetSecret(ctx context.Context, o *appSetSecretOptions) error {
	if o.KeepOld < 0 {
		return usageErr("--keep-old must not be negative (e.g. 168h, or 0 to discard the old secret)")
	}
	cs, err := checkedSecret(&o.Env, clientSecretSource, vault.ValidateClientSecret)
	if err != nil {
		return err
	}
	ro := rotation.ReplaceOptions{KeepOld: o.KeepOld, Clock: o.Clock}
	if !o.NoVerify {
		ro.Verify = o.Verify
	}
	return o.WithVault(func(v *vault.Vault) error {
		o.Log.Debug("replacing the client secret", "app", o.Name, "verify", ro.Verify != nil)
		r, err := rotation.Replace(ctx, v, o.Name, cs, ro)
		var same *rotation.SameSecretError
		var rejected *rotation.RejectedError
		switch {
		case errors.As(err, &same):
			return invalidInput(err)
		case errors.As(err, &rejected):
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("the new client secret was NOT stored: LWA did not accept it: %w\n(check that you copied the whole secret for client id %s; --no-verify stores it unchecked)", rejected.Err, rejected.ClientID)}
		case err != nil:
			return notFound(err, "app", o.Name, "spgate app list")
		}
		o.Log.Info("client secret replaced", "app", r.App.Name, "version", r.Secret.Version, "verified", r.Verified)
		note := "verified with LWA"
		if !r.Verified {
			note = "NOT verified"
		}
		return o.Answer(map[string]any{"app": r.App.Name, "version": r.Secret.Version, "verified": r.Verified, "expiresAt": r.Secret.ExpiresAt, "hint": cs.Hint()},
			"app %s: client secret v%d stored (%s), expires %s", r.App.Name, r.Secret.Version, note, r.Secret.ExpiresAt.Format(time.DateOnly))
	})
}

// lwaVerifySecret asks LWA for a grantless token with the secret; success
// proves the client id and secret belong together. The endpoint is
// $SPGATE_LWA_URL, else the token URL of $SPGATE_ENDPOINT (the emulator),
// else Amazon's.
func lwaVerifySecret(ctx context.Context, clientID string, s secret.String) error {
	ep := spapi.Production()
	if e := os.Getenv(EnvEndpoint); e != "" {
		var err error
		if ep, err = parseEndpoint(e); err != nil {
			return err
		}
	}
	if u := os.Getenv(envLWAURL); u != "" {
		ep.TokenURL = u
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return rotation.LWAVerifier(ep.TokenURL, nil, nil)(ctx, clientID, s)
}

func newAppRemoveCmd(streams IO) *cobra.Command {
	return cmdutil.RemoveCmd(&cobra.Command{
		Use:   "remove NAME",
		Short: "Remove an application, its secrets and every seller's refresh token for it",
		Long: `remove deletes the app from the vault together with its client secrets and
every seller's authorization (refresh token) for it. It asks for confirmation
on a terminal; scripts pass --yes. The app itself stays registered with
Amazon.`,
		Example: `  spgate app remove old-app
  spgate app remove old-app --yes`,
		Args: exactArgs(1, "NAME"),
	}, envFor(streams), cmdutil.Remove{Kind: "app",
		Find: func(ctx context.Context, v *vault.Vault, ref string) (string, string, error) {
			a, err := v.GetApp(ctx, ref)
			if err != nil {
				return "", "", notFound(err, "app", ref, "spgate app list")
			}
			return a.Name, fmt.Sprintf("remove app %s (client id %s) and every seller's refresh token for it?", a.Name, a.ClientID), nil
		},
		Remove: func(v *vault.Vault) func(context.Context, string) error { return v.RemoveApp },
	})
}
