package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

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

// secretVerifier proves a client secret works against LWA before it is
// stored. It must never put the secret in its error.
type secretVerifier func(ctx context.Context, clientID string, s secret.String) error

// appDeps are the injectable dependencies of the app verbs.
type appDeps struct {
	// verify checks a new client secret with LWA (set-secret); nil skips
	// verification.
	verify secretVerifier
	now    func() time.Time
}

func newAppCmd(streams IO) *cobra.Command {
	return newAppCmdWith(streams, appDeps{verify: lwaVerifySecret, now: time.Now})
}

func newAppCmdWith(streams IO, deps appDeps) *cobra.Command {
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
	cmd.AddCommand(newAppAddCmd(streams, deps), newAppListCmd(streams, deps), newAppShowCmd(streams, deps),
		newAppSetSecretCmd(streams, deps), newAppUpdateCmd(streams, deps), newAppRemoveCmd(streams))
	return cmd
}

// appAddOptions are the flags of spgate app add.
type appAddOptions struct {
	AppID, ClientID, SecretFile string
	Roles                       []string
	Draft                       bool
	Region, RedirectURI         string
}

func newAppAddCmd(streams IO, deps appDeps) *cobra.Command {
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
		RunE: func(cmd *cobra.Command, args []string) error { return runAppAdd(cmd, streams, deps, args[0], o) },
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

// validateAppRegion checks an app's --region; empty means no default region.
func validateAppRegion(region string) error {
	if region == "" {
		return nil
	}
	if err := vault.ValidateRegion(region); err != nil {
		return invalidInput(fmt.Errorf("--region: %w", err))
	}
	return nil
}

// validateAppRedirectURI checks an app's --redirect-uri; empty means none.
func validateAppRedirectURI(uri string) error {
	if uri == "" {
		return nil
	}
	if err := vault.ValidateRedirectURI(uri); err != nil {
		return invalidInput(fmt.Errorf("--redirect-uri: %w", err))
	}
	return nil
}

func runAppAdd(cmd *cobra.Command, streams IO, deps appDeps, name string, o appAddOptions) error {
	if err := vault.ValidateName("app", name); err != nil {
		return invalidInput(err)
	}
	if o.AppID == "" {
		return usageErr("--app-id is required (amzn1.sp.solution.<uuid>, from the app's LWA credentials page)")
	}
	if err := vault.ValidateAppID(o.AppID); err != nil {
		return invalidInput(fmt.Errorf("--app-id: %w", err))
	}
	if o.ClientID == "" {
		return usageErr("--client-id is required (amzn1.application-oa2-client.<32 hex>, from the app's LWA credentials page)")
	}
	if err := vault.ValidateClientID(o.ClientID); err != nil {
		return invalidInput(fmt.Errorf("--client-id: %w", err))
	}
	if err := validateAppRegion(o.Region); err != nil {
		return err
	}
	if err := validateAppRedirectURI(o.RedirectURI); err != nil {
		return err
	}
	cs, err := readCheckedSecret(cmd, "client secret", "client-secret-file", envClientSecret, vault.ValidateClientSecret)
	if err != nil {
		return err
	}
	v, err := openVault(cmd, true)
	if err != nil {
		return err
	}
	defer v.Close()
	a := vault.App{
		Name: name, AppID: o.AppID, ClientID: o.ClientID, Roles: o.Roles, Draft: o.Draft,
		Region: o.Region, RedirectURI: o.RedirectURI,
		ClientSecrets: []vault.Secret{{Value: cs, CreatedAt: deps.now()}},
	}
	if err := v.AddApp(cmd.Context(), a); err != nil {
		return storeErr(err)
	}
	logger(cmd).Info("app added", "app", name, "client_id", o.ClientID)
	stored, err := v.GetApp(cmd.Context(), name)
	if err != nil {
		return storeErr(err)
	}
	if jsonOut(cmd) {
		return printJSON(streams.Out, appView(stored, deps.now()))
	}
	fmt.Fprintf(streams.Out, "added app %s (client id %s); client secret expires in %d days\n", name, o.ClientID, appView(stored, deps.now()).SecretDaysLeft)
	return nil
}

// appJSON is how list, show and add print an app. It holds no secret value,
// only hints.
type appJSON struct {
	Name               string     `json:"name"`
	AppID              string     `json:"appId"`
	ClientID           string     `json:"clientId"`
	Region             string     `json:"region,omitempty"`
	Draft              bool       `json:"draft"`
	Roles              []string   `json:"roles"`
	RedirectURI        string     `json:"redirectUri,omitempty"`
	SecretHint         string     `json:"clientSecretHint,omitempty"`
	SecretVersion      int        `json:"clientSecretVersion"`
	SecretCreatedAt    *time.Time `json:"clientSecretCreatedAt,omitempty"`
	SecretExpiresAt    *time.Time `json:"clientSecretExpiresAt,omitempty"`
	SecretVerifiedAt   *time.Time `json:"clientSecretVerifiedAt,omitempty"`
	SecretDaysLeft     int        `json:"clientSecretDaysLeft"`
	PreviousSecretHint string     `json:"previousClientSecretHint,omitempty"`
	PreviousExpiresAt  *time.Time `json:"previousClientSecretExpiresAt,omitempty"`
	Warning            string     `json:"warning,omitempty"`
	AWSAccessKeyID     string     `json:"awsAccessKeyId,omitempty"`
	RoleARN            string     `json:"roleArn,omitempty"`
	SQSQueueURL        string     `json:"sqsQueueUrl,omitempty"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func appView(a vault.App, now time.Time) appJSON {
	j := appJSON{Name: a.Name, AppID: a.AppID, ClientID: a.ClientID, Region: a.Region, Draft: a.Draft,
		Roles: a.Roles, RedirectURI: a.RedirectURI, AWSAccessKeyID: a.AWSAccessKeyID, RoleARN: a.RoleARN, SQSQueueURL: a.SQSQueueURL}
	if j.Roles == nil {
		j.Roles = []string{}
	}
	if cur, ok := a.CurrentSecret(); ok {
		j.SecretHint = hint(cur.Value)
		j.SecretVersion = cur.Version
		j.SecretCreatedAt, j.SecretExpiresAt, j.SecretVerifiedAt = tp(cur.CreatedAt), tp(cur.ExpiresAt), tp(cur.VerifiedAt)
		j.SecretDaysLeft = cur.DaysLeft(now)
		if j.SecretDaysLeft == math.MaxInt {
			j.SecretDaysLeft = -1
		}
		j.Warning = expiryWarning(a.Name, cur, now)
	} else {
		j.Warning = "no client secret stored: run `spgate app set-secret " + a.Name + "`"
	}
	if prev, ok := a.PreviousSecret(); ok {
		j.PreviousSecretHint = hint(prev.Value)
		j.PreviousExpiresAt = tp(prev.ExpiresAt)
	}
	return j
}

func hint(s secret.String) string {
	if s.IsZero() {
		return ""
	}
	return s.Hint()
}

// expiryWarning says how urgent the 180-day rotation is: warnings start
// 30 days ahead and sharpen at 14, 7 and 1 day(s).
func expiryWarning(app string, s vault.Secret, now time.Time) string {
	if s.ExpiresAt.IsZero() {
		return ""
	}
	d := s.DaysLeft(now)
	switch {
	case s.Expired(now):
		return fmt.Sprintf("client secret EXPIRED on %s: LWA refuses it; get a new one and run `spgate app set-secret %s`", s.ExpiresAt.Format(time.DateOnly), app)
	case d < 1:
		return "client secret expires within a day: rotate it now (`spgate rotate --app " + app + "` or `spgate app set-secret " + app + "`)"
	case d <= 1:
		return "client secret expires in 1 day: rotate it now"
	case d <= 7:
		return fmt.Sprintf("client secret expires in %d days: rotate it this week", d)
	case d <= 14:
		return fmt.Sprintf("client secret expires in %d days: plan the rotation", d)
	case d <= 30:
		return fmt.Sprintf("client secret expires in %d days (Amazon's 180-day limit)", d)
	}
	return ""
}

func newAppListCmd(streams IO, deps appDeps) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the applications in the vault with their client secrets' days left",
		Long: `list prints every application in the vault: name, client id, region and
how many days its client secret has left before Amazon's 180-day limit.
Secret values are never printed (list does not even decrypt them).
Warnings for secrets due within 30, 14, 7 or 1 day(s) go to stderr.`,
		Example: `  spgate app list
  spgate app list --json`,
		Args: cobra.NoArgs,
		RunE: vaultRunE(func(cmd *cobra.Command, v *vault.Vault, _ []string) error {
			apps, err := v.ListApps(cmd.Context())
			if err != nil {
				return storeErr(err)
			}
			now := deps.now()
			views := make([]appJSON, 0, len(apps))
			for _, a := range apps {
				views = append(views, appView(a, now))
			}
			err = printRows(cmd, streams, views, "no apps yet: add one with `spgate app add NAME --app-id … --client-id …`",
				"NAME\tCLIENT ID\tREGION\tDRAFT\tSECRET\tDAYS LEFT", func(a appJSON) string {
					return fmt.Sprintf("%s\t%s\t%s\t%v\tv%d\t%s", a.Name, a.ClientID, dash(a.Region), a.Draft, a.SecretVersion, daysLeft(a.SecretDaysLeft))
				})
			if err != nil || jsonOut(cmd) {
				return err
			}
			for _, a := range views {
				if a.Warning != "" {
					fmt.Fprintf(streams.Err, "warning: app %s: %s\n", a.Name, a.Warning)
				}
			}
			return nil
		}),
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func daysLeft(d int) string {
	if d < 0 {
		return "expired"
	}
	return fmt.Sprint(d)
}

func newAppShowCmd(streams IO, deps appDeps) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show one application (secrets masked)",
		Long: `show prints one application's ids, roles, region, and its client secret's
version, dates and days left. The secret itself appears only as a hint
(its prefix and last four characters) so you can tell two secrets apart.`,
		Example: `  spgate app show main
  spgate app show amzn1.application-oa2-client.0123456789abcdef0123456789abcdef --json`,
		Args: exactArgs(1, "NAME"),
		RunE: vaultRunE(func(cmd *cobra.Command, v *vault.Vault, args []string) error {
			a, err := v.GetApp(cmd.Context(), args[0])
			if err != nil {
				return notFound(err, "app", args[0], "spgate app list")
			}
			j := appView(a, deps.now())
			if jsonOut(cmd) {
				return printJSON(streams.Out, j)
			}
			printAppText(streams.Out, j)
			if j.Warning != "" {
				fmt.Fprintf(streams.Err, "warning: app %s: %s\n", j.Name, j.Warning)
			}
			return nil
		}),
	}
}

func printAppText(w io.Writer, a appJSON) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("name", a.Name)
	row("app id", a.AppID)
	row("client id", a.ClientID)
	row("region", dash(a.Region))
	row("draft", fmt.Sprint(a.Draft))
	row("roles", dash(strings.Join(a.Roles, ", ")))
	row("redirect uri", a.RedirectURI)
	row("client secret", fmt.Sprintf("%s (v%d)", dash(a.SecretHint), a.SecretVersion))
	if a.SecretExpiresAt != nil {
		row("  expires", fmt.Sprintf("%s (%s days left)", a.SecretExpiresAt.Format(time.DateOnly), daysLeft(a.SecretDaysLeft)))
	}
	if a.SecretVerifiedAt != nil {
		row("  verified", a.SecretVerifiedAt.Format(time.RFC3339))
	} else {
		row("  verified", "never")
	}
	if a.PreviousSecretHint != "" {
		exp := ""
		if a.PreviousExpiresAt != nil {
			exp = " until " + a.PreviousExpiresAt.Format(time.DateOnly)
		}
		row("previous secret", a.PreviousSecretHint+exp)
	}
	row("aws access key", a.AWSAccessKeyID)
	row("role arn", a.RoleARN)
	row("sqs queue", a.SQSQueueURL)
	_ = tw.Flush()
}

// notFound turns vault.ErrNotFound into a message with the listing command.
func notFound(err error, kind, ref, list string) error {
	if errors.Is(err, vault.ErrNotFound) {
		return notFoundErr(kind, ref, list)
	}
	return storeErr(err)
}

// appSetSecretOptions are the flags of spgate app set-secret.
type appSetSecretOptions struct {
	SecretFile string
	NoVerify   bool
	KeepOld    time.Duration
}

func newAppSetSecretCmd(streams IO, deps appDeps) *cobra.Command {
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
		RunE: func(cmd *cobra.Command, args []string) error { return runAppSetSecret(cmd, streams, deps, args[0], o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.SecretFile, "client-secret-file", "", "file holding the new client secret (- reads stdin)")
	f.BoolVar(&o.NoVerify, "no-verify", false, "store the secret without checking it with LWA")
	f.DurationVar(&o.KeepOld, "keep-old", 7*24*time.Hour, "keep the replaced secret as previous for this long (0: discard it)")
	return cmd
}

func runAppSetSecret(cmd *cobra.Command, streams IO, deps appDeps, name string, o appSetSecretOptions) error {
	if o.KeepOld < 0 {
		return usageErr("--keep-old must not be negative (e.g. 168h, or 0 to discard the old secret)")
	}
	cs, err := readCheckedSecret(cmd, "client secret", "client-secret-file", envClientSecret, vault.ValidateClientSecret)
	if err != nil {
		return err
	}
	v, err := openVault(cmd, false)
	if err != nil {
		return err
	}
	defer v.Close()
	a, err := v.GetApp(cmd.Context(), name)
	if err != nil {
		return notFound(err, "app", name, "spgate app list")
	}
	if cur, ok := a.CurrentSecret(); ok && cur.Value.Equal(cs) {
		return usageErr("that client secret is already app %s's current secret (v%d); nothing to change", a.Name, cur.Version)
	}
	verified := false
	if !o.NoVerify && deps.verify != nil {
		logger(cmd).Debug("verifying the new client secret with LWA", "app", a.Name, "client_id", a.ClientID)
		if err := deps.verify(cmd.Context(), a.ClientID, cs); err != nil {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("the new client secret was NOT stored: LWA did not accept it: %w\n(check that you copied the whole secret for client id %s; --no-verify stores it unchecked)", err, a.ClientID)}
		}
		verified = true
	}
	ch := vault.SecretChange{Verified: verified}
	if o.KeepOld > 0 {
		ch.PreviousExpiresAt = deps.now().Add(o.KeepOld)
	}
	s, err := v.SetClientSecret(cmd.Context(), a.Name, cs, ch)
	if err != nil {
		return storeErr(err)
	}
	logger(cmd).Info("client secret replaced", "app", a.Name, "version", s.Version, "verified", verified)
	if jsonOut(cmd) {
		return printJSON(streams.Out, map[string]any{"app": a.Name, "version": s.Version, "verified": verified, "expiresAt": s.ExpiresAt, "hint": cs.Hint()})
	}
	note := "verified with LWA"
	if !verified {
		note = "NOT verified"
	}
	fmt.Fprintf(streams.Out, "app %s: client secret v%d stored (%s), expires %s\n", a.Name, s.Version, note, s.ExpiresAt.Format(time.DateOnly))
	return nil
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
	return verifyClientSecret(ctx, ep, clientID, s)
}

func newAppRemoveCmd(streams IO) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove an application, its secrets and every seller's refresh token for it",
		Long: `remove deletes the app from the vault together with its client secrets and
every seller's authorization (refresh token) for it. It asks for confirmation
on a terminal; scripts pass --yes. The app itself stays registered with
Amazon.`,
		Example: `  spgate app remove old-app
  spgate app remove old-app --yes`,
		Args: exactArgs(1, "NAME"),
		RunE: vaultRunE(func(cmd *cobra.Command, v *vault.Vault, args []string) error {
			a, err := v.GetApp(cmd.Context(), args[0])
			if err != nil {
				return notFound(err, "app", args[0], "spgate app list")
			}
			return removeConfirmed(cmd, streams, yes,
				fmt.Sprintf("remove app %s (client id %s) and every seller's refresh token for it?", a.Name, a.ClientID),
				"app", a.Name, v.RemoveApp)
		}),
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}
