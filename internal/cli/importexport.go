package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/credfile"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newImportCmd, newExportCmd) }

// importOptions are the flags of `spgate import` and what the verb uses,
// injected so that a test runs it without cobra.
type importOptions struct {
	IO        IO
	OpenVault func() (*vault.Vault, error)
	// Getenv reads the environment sources (os.Getenv).
	Getenv func(string) string
	Log    *slog.Logger
	JSON   bool

	From, File, Account        string
	App, AppID, Seller, Region string
	Marketplaces               []string
}

func newImportCmd(streams IO) *cobra.Command {
	o := &importOptions{IO: streams, Getenv: os.Getenv}
	cmd := &cobra.Command{
		Use:   "import --from SOURCE --app NAME --app-id ID",
		Short: "Import credentials from python-amazon-sp-api or the Node amazon-sp-api library",
		Long: `import reads the credentials another SP-API client library uses and stores
them in the vault as a new app (and, with --seller, a seller holding the
refresh token). Sources:

  python-env   python-amazon-sp-api's environment: LWA_APP_ID (the LWA client
               id), LWA_CLIENT_SECRET, SP_API_REFRESH_TOKEN; with --file, the
               same KEY=value lines from a .env file
  python-yaml  python-amazon-sp-api's credentials.yml (version: '1.0', one
               mapping per account with lwa_app_id, lwa_client_secret,
               refresh_token); --file defaults to
               ~/.config/python-sp-api/credentials.yml, --account to default
  python-json  the JSON secret python-amazon-sp-api reads from AWS Secrets
               Manager ($SP_API_AWS_SECRET_ID): an object with the
               python-env keys; --file is required
  node-env     the Node amazon-sp-api environment:
               SELLING_PARTNER_APP_CLIENT_ID, SELLING_PARTNER_APP_CLIENT_SECRET
               (its refresh token is passed in code: give it via --seller and
               $SPGATE_REFRESH_TOKEN)
  node-file    the Node library's ~/.amzspapi/credentials (KEY=value lines)

Neither library stores the application id (amzn1.sp.solution.…), which the
vault needs: pass it with --app-id. Every value is validated before anything
is written; either everything is imported or nothing. A malformed file is
reported by line and key, never with a value from it.`,
		Example: `  spgate import --from python-env --app main --app-id amzn1.sp.solution.… \
    --seller A2VYDBAL8BMVQK --region na --marketplace ATVPDKIKX0DER
  spgate import --from python-yaml --account default --app main --app-id amzn1.sp.solution.…
  spgate import --from node-file --file ~/.amzspapi/credentials --app main --app-id amzn1.sp.solution.…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.OpenVault = func() (*vault.Vault, error) { return openVault(cmd, true) }
			o.Log, o.JSON = logger(cmd), jsonOut(cmd)
			return runImport(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.From, "from", "", "source: python-env, python-yaml, python-json, node-env or node-file (required)")
	f.StringVar(&o.File, "file", "", "file to read (python-yaml, python-json, node-file, or a .env file for the env sources)")
	f.StringVar(&o.Account, "account", "default", "python-yaml: the account mapping to read")
	f.StringVar(&o.App, "app", "", "name for the app in the vault (required)")
	f.StringVar(&o.AppID, "app-id", "", "the app's application id, amzn1.sp.solution.<uuid> (required)")
	f.StringVar(&o.Seller, "seller", "", "store the refresh token for this selling partner id")
	f.StringVar(&o.Region, "region", "", "with --seller: the seller's region (na, eu, fe)")
	f.StringSliceVar(&o.Marketplaces, "marketplace", nil, "with --seller: marketplace ids or country codes in --region")
	return cmd
}

func runImport(ctx context.Context, o *importOptions) error {
	src, target, err := o.flags()
	if err != nil {
		return err
	}
	c, where, err := o.read(src)
	if err != nil {
		return err
	}
	if src == credfile.NodeEnv && c.RefreshToken.IsZero() {
		// The Node library takes the refresh token in code.
		if v := strings.TrimSpace(o.Getenv(envRefreshToken)); v != "" {
			c.RefreshToken = secret.New(v)
		}
	}
	if o.Seller != "" && c.RefreshToken.IsZero() {
		key := src.Keys().RefreshToken
		if key == "" {
			key = "$" + envRefreshToken
		}
		return usageErr("--seller needs a refresh token, but %s has none (%s)", where, key)
	}
	snap, err := c.Snapshot(src, target)
	if err != nil {
		return usageErr("%s %v", where, err)
	}
	if o.Seller == "" && !c.RefreshToken.IsZero() {
		fmt.Fprintf(o.IO.Err, "spgate: note: %s also holds a refresh token; it was not imported (pass --seller, --region and --marketplace to store it)\n", where)
	}
	v, err := o.OpenVault()
	if err != nil {
		return err
	}
	defer v.Close()
	if err := v.Import(ctx, snap); err != nil {
		if errors.Is(err, vault.ErrExists) {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("nothing imported: %w (choose another --app name, or remove the existing entry first)", err)}
		}
		return storeErr(err)
	}
	o.Log.Info("imported", "from", o.From, "app", o.App, "seller", o.Seller)
	if o.JSON {
		return printJSON(o.IO.Out, map[string]any{"from": o.From, "app": o.App, "clientId": c.ClientID, "seller": o.Seller})
	}
	msg := fmt.Sprintf("imported app %s (client id %s) from %s", o.App, c.ClientID, where)
	if o.Seller != "" {
		msg += fmt.Sprintf(", with seller %s", o.Seller)
	}
	fmt.Fprintln(o.IO.Out, msg)
	return nil
}

// flags checks import's flags and says where the credentials go.
func (o *importOptions) flags() (credfile.Source, credfile.Target, error) {
	var t credfile.Target
	if o.From == "" {
		return "", t, usageErr("--from is required: python-env, python-yaml, python-json, node-env or node-file")
	}
	src, err := credfile.ParseSource(o.From)
	if err != nil {
		return "", t, usageErr("--from %v", err)
	}
	if o.App == "" {
		return "", t, usageErr("--app is required: the name the app gets in the vault")
	}
	if err := vault.ValidateName("app", o.App); err != nil {
		return "", t, invalidInput(err)
	}
	if o.AppID == "" {
		return "", t, usageErr("--app-id is required: neither library stores the application id (amzn1.sp.solution.<uuid>, from Develop Apps)")
	}
	if err := vault.ValidateAppID(o.AppID); err != nil {
		return "", t, invalidInput(fmt.Errorf("--app-id: %w", err))
	}
	t = credfile.Target{App: o.App, AppID: o.AppID, Region: o.Region, Seller: o.Seller}
	if o.Seller != "" {
		if err := validateSellerInput(o.Seller, o.Region); err != nil {
			return "", t, err
		}
		if t.Marketplaces, err = parseMarketplaces(o.Region, o.Marketplaces); err != nil {
			return "", t, err
		}
	} else if o.Region != "" || len(o.Marketplaces) > 0 {
		return "", t, usageErr("--region and --marketplace describe a seller: pass --seller SELLER_ID too")
	}
	return src, t, nil
}

// read reads src from --file, its default file, or the environment; where
// says where from, for messages (never a value).
func (o *importOptions) read(src credfile.Source) (credfile.Credentials, string, error) {
	path := o.File
	if path == "" && src.IsEnv() {
		c, err := credfile.FromEnviron(src, o.Getenv)
		return c, "the environment", err
	}
	if path == "" {
		p, err := src.DefaultPath()
		if err != nil || p == "" {
			return credfile.Credentials{}, "", usageErr("--from %s reads a file: pass --file", src)
		}
		path = p
	}
	where := path
	if src == credfile.PythonYAML {
		where = fmt.Sprintf("%s (account %s)", path, o.Account)
	}
	c, err := credfile.ReadFile(src, path, o.Account)
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		return c, where, usageErr("%v (pass --file with the right path)", err)
	case errors.Is(err, credfile.ErrNoAccount):
		return c, where, usageErr("%v; pick one with --account", err)
	case err != nil:
		return c, where, usageErr("%v", err)
	}
	return c, where, nil
}

// exportOptions are the flags of `spgate export` and what the verb uses,
// injected so that a test runs it without cobra.
type exportOptions struct {
	IO        IO
	OpenVault func() (*vault.Vault, error)
	JSON      bool

	Format, App, Seller, Out string
	Force                    bool
}

func newExportCmd(streams IO) *cobra.Command {
	o := &exportOptions{IO: streams}
	cmd := &cobra.Command{
		Use:   "export --format env|yaml|json --app NAME --out FILE",
		Short: "Write an app's credentials for python-amazon-sp-api or the Node amazon-sp-api library",
		Long: `export writes one app's credentials (and, with --seller, that seller's
refresh token for the app) in the shapes other SP-API libraries read:

  env   KEY=value lines: python-amazon-sp-api's LWA_APP_ID, LWA_CLIENT_SECRET,
        SP_API_REFRESH_TOKEN and the Node library's
        SELLING_PARTNER_APP_CLIENT_ID, SELLING_PARTNER_APP_CLIENT_SECRET
        (also a valid ~/.amzspapi/credentials file)
  yaml  python-amazon-sp-api's credentials.yml (version: '1.0', account
        default)
  json  the JSON secret python-amazon-sp-api reads from AWS Secrets Manager
        ($SP_API_AWS_SECRET_ID), e.g. for aws secretsmanager create-secret
        --secret-string file://creds.json

The output holds secrets in the clear. It is written only to a new file
created with mode 0600 (--out FILE; --force replaces an existing one),
whole or not at all, or, when you ask for it explicitly with --out -, to
stdout. Either way the export is first recorded in the vault's access log.`,
		Example: `  spgate export --format yaml --app main --seller A2VYDBAL8BMVQK --out ~/.config/python-sp-api/credentials.yml
  spgate export --format env --app main --out .env
  spgate export --format env --app main --out - | grep CLIENT_ID`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.OpenVault = func() (*vault.Vault, error) { return openVault(cmd, false) }
			o.JSON = jsonOut(cmd)
			return runExport(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Format, "format", "", "env, yaml or json (required)")
	f.StringVar(&o.App, "app", "", "app to export (required)")
	f.StringVar(&o.Seller, "seller", "", "also export this seller's refresh token for the app")
	f.StringVar(&o.Out, "out", "", "file to create (mode 0600), or - for stdout (required)")
	f.BoolVar(&o.Force, "force", false, "replace an existing --out file")
	return cmd
}

func runExport(ctx context.Context, o *exportOptions) error {
	format, err := credfile.ParseFormat(o.Format)
	if err != nil {
		return usageErr("--format must be env or yaml, or json for a Secrets Manager secret (got %q)", o.Format)
	}
	if o.App == "" {
		return usageErr("--app is required: the app to export (see `spgate app list`)")
	}
	if o.Out == "" {
		return usageErr("--out is required: the output holds secrets, so name a file (created 0600) or pass --out - to print them on stdout")
	}
	v, err := o.OpenVault()
	if err != nil {
		return err
	}
	defer v.Close()
	a, err := v.GetApp(ctx, o.App)
	if err != nil {
		return notFound(err, "app", o.App, "spgate app list")
	}
	var seller *vault.Seller
	if o.Seller != "" {
		s, err := v.GetSeller(ctx, o.Seller)
		if err != nil {
			return notFound(err, "seller", o.Seller, "spgate seller list")
		}
		seller = &s
	}
	c, err := credfile.FromVault(a, seller)
	switch {
	case errors.Is(err, credfile.ErrNoSecret):
		return &ExitError{Code: ExitFailure, Err: err, Fix: fmt.Sprintf("run `spgate app set-secret %s`", a.Name)}
	case errors.Is(err, credfile.ErrNotAuthorized):
		return &ExitError{Code: ExitFailure, Err: err, Fix: fmt.Sprintf("add its refresh token with `spgate seller add %s --app %s …`", seller.ID, a.Name)}
	case err != nil:
		return err
	}
	body, err := credfile.Encode(format, c, credfile.EncodeOptions{Header: fmt.Sprintf("spgate export of app %s (application id %s)", a.Name, a.AppID)})
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return o.release(ctx, v, a, seller, body)
}

// release records the export in the access log, then writes body: to
// stdout with --out -, else to a new 0600 file, whole or not at all. A
// refused file (it exists, or its directory takes none) is not recorded.
func (o *exportOptions) release(ctx context.Context, v *vault.Vault, a vault.App, seller *vault.Seller, body []byte) error {
	var file *credfile.File
	if o.Out != "-" {
		var err error
		if file, err = credfile.Create(o.Out, o.Force); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return &ExitError{Code: ExitFailure, Err: err, Fix: "choose another --out or pass --force to replace it"}
			}
			return &ExitError{Code: ExitFailure, Err: err}
		}
		defer file.Abort()
	}
	sellerID := ""
	if seller != nil {
		sellerID = seller.ID
	}
	// The secrets leave the vault in the clear: record who took them first.
	if err := recordRelease(ctx, v, vault.AccessEvent{Seller: sellerID, Operation: "export"}, "the export of app "+a.Name+"'s credentials"); err != nil {
		return err
	}
	if file == nil {
		fmt.Fprintln(o.IO.Err, "spgate: warning: printing secrets on stdout as asked (--out -); do not paste them into tickets or chats")
		_, err := o.IO.Out.Write(body)
		return err
	}
	if err := file.Commit(body); err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	fmt.Fprintf(o.IO.Err, "spgate: warning: %s holds secrets in the clear (mode 0600); delete it when it is no longer needed\n", o.Out)
	if o.JSON {
		return printJSON(o.IO.Out, map[string]any{"format": o.Format, "app": a.Name, "seller": o.Seller, "out": o.Out})
	}
	fmt.Fprintf(o.IO.Out, "exported app %s to %s\n", a.Name, o.Out)
	return nil
}
