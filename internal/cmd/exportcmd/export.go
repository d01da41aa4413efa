// Package exportcmd is spgate export: an app's credentials, written for
// python-amazon-sp-api or the Node amazon-sp-api library, recorded in the
// vault's access log first.
package exportcmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/credfile"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/vault"
)

// exportOptions are the flags of `spgate export` and what the verb uses,
// injected so that a test runs it without cobra.
type exportOptions struct {
	*cmdutil.Factory
	Format, App, Seller, OutFile string
	Force                        bool
}

// NewCmd returns spgate export.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	o := &exportOptions{Factory: f}
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
			return runExport(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Format, "format", "", "env, yaml or json (required)")
	fl.StringVar(&o.App, "app", "", "app to export (required)")
	fl.StringVar(&o.Seller, "seller", "", "also export this seller's refresh token for the app")
	fl.StringVar(&o.OutFile, "out", "", "file to create (mode 0600), or - for stdout (required)")
	fl.BoolVar(&o.Force, "force", false, "replace an existing --out file")
	return cmd
}

func runExport(ctx context.Context, o *exportOptions) error {
	format, err := credfile.ParseFormat(o.Format)
	if err != nil {
		return cmdutil.UsageErr("--format must be env or yaml, or json for a Secrets Manager secret (got %q)", o.Format)
	}
	if err := cmdutil.CheckFlags(
		cmdutil.FlagCheck{Flag: "app", Value: o.App, Check: cmdutil.NoCheck, Required: ": the app to export (see `spgate app list`)"},
		cmdutil.FlagCheck{Flag: "out", Value: o.OutFile, Check: cmdutil.NoCheck,
			Required: ": the output holds secrets, so name a file (created 0600) or pass --out - to print them on stdout"}); err != nil {
		return err
	}
	return o.WithVault(ctx, func(v *vault.Vault) error {
		a, err := v.GetApp(ctx, o.App)
		if err != nil {
			return cmdutil.NotFound(err, "app", o.App, "spgate app list")
		}
		var seller *vault.Seller
		sellerID := ""
		if o.Seller != "" {
			s, err := v.GetSeller(ctx, o.Seller)
			if err != nil {
				return cmdutil.NotFound(err, "seller", o.Seller, "spgate seller list")
			}
			seller, sellerID = &s, s.ID
		}
		c, err := credfile.FromVault(a, seller)
		switch {
		case errors.Is(err, credfile.ErrNoSecret):
			return &problem.Error{Code: problem.ExitFailure, Err: err, Fix: fmt.Sprintf("run `spgate app set-secret %s`", a.Name)}
		case errors.Is(err, credfile.ErrNotAuthorized):
			return &problem.Error{Code: problem.ExitFailure, Err: err, Fix: fmt.Sprintf("add its refresh token with `spgate seller add %s --app %s …`", seller.ID, a.Name)}
		case err != nil:
			return err
		}
		body, err := credfile.Encode(format, c, credfile.EncodeOptions{Header: fmt.Sprintf("spgate export of app %s (application id %s)", a.Name, a.AppID)})
		if err != nil {
			return cmdutil.Failed(err)
		}
		// The secrets leave the vault in the clear: record who took them first.
		return o.release(body, a.Name, func() error {
			return cmdutil.RecordRelease(ctx, v, vault.AccessEvent{Seller: sellerID, Operation: "export"}, "the export of app "+a.Name+"'s credentials")
		})
	})
}

// release writes body once record has recorded the export: to stdout with
// --out -, else to a new 0600 file, whole or not at all. A refused file
// (it exists, or its directory takes none) is not recorded.
func (o *exportOptions) release(body []byte, app string, record func() error) error {
	if o.OutFile == "-" {
		if err := record(); err != nil {
			return err
		}
		fmt.Fprintln(o.IO.Err, "spgate: warning: printing secrets on stdout as asked (--out -); do not paste them into tickets or chats")
		_, err := o.IO.Out.Write(body)
		return err
	}
	err := credfile.WriteRecorded(o.OutFile, o.Force, body, record)
	if errors.Is(err, fs.ErrExist) {
		return &problem.Error{Code: problem.ExitFailure, Err: err, Fix: "choose another --out or pass --force to replace it"}
	} else if err != nil {
		return cmdutil.StoreErr(err)
	}
	fmt.Fprintf(o.IO.Err, "spgate: warning: %s holds secrets in the clear (mode 0600); delete it when it is no longer needed\n", o.OutFile)
	return o.Answer(map[string]any{"format": o.Format, "app": app, "seller": o.Seller, "out": o.OutFile}, "exported app %s to %s", app, o.OutFile)
}
