// Package importcmd is spgate import: credentials another SP-API library
// uses (python-amazon-sp-api, the Node amazon-sp-api) into the vault.
package importcmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/credfile"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// importOptions are the flags of `spgate import` and what the verb uses,
// injected so that a test runs it without cobra.
type importOptions struct {
	*cmdutil.Factory
	// Getenv reads the environment sources (os.Getenv).
	Getenv func(string) string

	From, File, Account        string
	App, AppID, Seller, Region string
	Marketplaces               []string
}

// NewCmd returns spgate import.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	o := &importOptions{Factory: f, Getenv: os.Getenv}
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
			return runImport(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.From, "from", "", "source: python-env, python-yaml, python-json, node-env or node-file (required)")
	fl.StringVar(&o.File, "file", "", "file to read (python-yaml, python-json, node-file, or a .env file for the env sources)")
	fl.StringVar(&o.Account, "account", "default", "python-yaml: the account mapping to read")
	fl.StringVar(&o.App, "app", "", "name for the app in the vault (required)")
	fl.StringVar(&o.AppID, "app-id", "", "the app's application id, amzn1.sp.solution.<uuid> (required)")
	fl.StringVar(&o.Seller, "seller", "", "store the refresh token for this selling partner id")
	fl.StringVar(&o.Region, "region", "", "with --seller: the seller's region (na, eu, fe)")
	fl.StringSliceVar(&o.Marketplaces, "marketplace", nil, "with --seller: marketplace ids or country codes in --region")
	return cmd
}

func runImport(ctx context.Context, o *importOptions) error {
	src, target, err := o.flags()
	if err != nil {
		return err
	}
	c, where, err := credfile.Load(src, o.File, o.Account, o.Getenv)
	var pe *fs.PathError
	switch {
	case errors.Is(err, credfile.ErrNoFile):
		return cmdutil.UsageErr("--from %s reads a file: pass --file", src)
	case errors.As(err, &pe):
		return cmdutil.UsageErr("%v (pass --file with the right path)", err)
	case errors.Is(err, credfile.ErrNoAccount):
		return cmdutil.UsageErr("%v; pick one with --account", err)
	case err != nil:
		return cmdutil.UsageErr("%v", err)
	}
	if v := strings.TrimSpace(o.Getenv(cmdutil.EnvRefreshToken)); src == credfile.NodeEnv && c.RefreshToken.IsZero() && v != "" {
		c.RefreshToken = secret.New(v) // the Node library takes the refresh token in code
	}
	if o.Seller != "" && c.RefreshToken.IsZero() {
		key := src.Keys().RefreshToken
		if key == "" {
			key = "$" + cmdutil.EnvRefreshToken
		}
		return cmdutil.UsageErr("--seller needs a refresh token, but %s has none (%s)", where, key)
	}
	snap, err := c.Snapshot(src, target)
	if err != nil {
		return cmdutil.UsageErr("%s %v", where, err)
	}
	if o.Seller == "" && !c.RefreshToken.IsZero() {
		fmt.Fprintf(o.IO.Err, "spgate: note: %s also holds a refresh token; it was not imported (pass --seller, --region and --marketplace to store it)\n", where)
	}
	return o.WithNewVault(ctx, func(v *vault.Vault) error {
		if err := v.Import(ctx, snap); errors.Is(err, vault.ErrExists) {
			return cmdutil.Failed(fmt.Errorf("nothing imported: %w (choose another --app name, or remove the existing entry first)", err))
		} else if err != nil {
			return cmdutil.StoreErr(err)
		}
		o.Log.Info("imported", "from", o.From, "app", o.App, "seller", o.Seller)
		msg := fmt.Sprintf("imported app %s (client id %s) from %s", o.App, c.ClientID, where)
		if o.Seller != "" {
			msg += fmt.Sprintf(", with seller %s", o.Seller)
		}
		return o.Answer(map[string]any{"from": o.From, "app": o.App, "clientId": c.ClientID, "seller": o.Seller}, "%s", msg)
	})
}

// flags checks import's flags and says where the credentials go.
func (o *importOptions) flags() (credfile.Source, credfile.Target, error) {
	t := credfile.Target{App: o.App, AppID: o.AppID, Region: o.Region, Seller: o.Seller}
	if o.From == "" {
		return "", t, cmdutil.UsageErr("--from is required: python-env, python-yaml, python-json, node-env or node-file")
	}
	src, err := credfile.ParseSource(o.From)
	if err != nil {
		return "", t, cmdutil.UsageErr("--from %v", err)
	}
	if err := cmdutil.CheckFlags(
		cmdutil.FlagCheck{Flag: "app", Value: o.App, Check: cmdutil.NoCheck, Required: ": the name the app gets in the vault"},
		cmdutil.FlagCheck{Value: o.App, Check: cmdutil.AppName},
		cmdutil.FlagCheck{Flag: "app-id", Value: o.AppID, Check: vault.ValidateAppID,
			Required: ": neither library stores the application id (amzn1.sp.solution.<uuid>, from Develop Apps)"}); err != nil {
		return "", t, err
	}
	if o.Seller == "" && (o.Region != "" || len(o.Marketplaces) > 0) {
		return "", t, cmdutil.UsageErr("--region and --marketplace describe a seller: pass --seller SELLER_ID too")
	}
	if o.Seller != "" {
		if err := cmdutil.CheckSeller(o.Seller, o.Region); err != nil {
			return "", t, err
		}
		t.Marketplaces, err = cmdutil.ParseMarketplaces(o.Region, o.Marketplaces)
	}
	return src, t, err
}
