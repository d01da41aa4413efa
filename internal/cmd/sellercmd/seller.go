// Package sellercmd is spgate seller: the selling partners in the vault
// and the refresh tokens they granted, stored by hand or through Amazon's
// OAuth consent flow (seller authorize).
package sellercmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/internal/prompt"
	"github.com/spgate/spgate/vault"
)

// NewCmd returns spgate seller and its verbs.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "seller",
		Short: "Manage selling partners (sellers) and their refresh tokens in the vault",
		Long: `seller manages the selling partners in the vault: their selling partner id
(merchant token, e.g. A2VYDBAL8BMVQK), region, marketplaces, and the refresh
token (Atzr|…) each seller granted to each app.

Refresh tokens are never taken from the command line: give them in a file
(--refresh-token-file F, - for stdin), in $SPGATE_REFRESH_TOKEN, or at the
hidden prompt.`,
		Example: `  spgate seller add A2VYDBAL8BMVQK --app main --region eu --marketplace A1PA6795UKMFR9,A13V1IB3VIYZZH --refresh-token-file token.txt
  spgate seller list
  spgate seller show A2VYDBAL8BMVQK --json
  spgate seller update A2VYDBAL8BMVQK --marketplace DE,FR,IT
  spgate seller remove A2VYDBAL8BMVQK --yes`,
	}
	cmd.AddCommand(newSellerAddCmd(f), newSellerListCmd(f), newSellerShowCmd(f), newSellerUpdateCmd(f), newSellerRemoveCmd(f),
		newSellerAuthorizeCmd(f)) // the OAuth website flow (authorize.go)
	return cmd
}

// sellerAddOptions are the flags of spgate seller add.
type sellerAddOptions struct {
	*cmdutil.Factory
	ID, App, Region, Name, TokenFile string
	Marketplaces                     []string
}

func newSellerAddCmd(f *cmdutil.Factory) *cobra.Command {
	o := &sellerAddOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "add SELLER_ID",
		Short: "Add a seller and its refresh token for an app",
		Long: `add stores a selling partner and the refresh token it granted to --app.
SELLER_ID is the selling partner id (merchant token: "A" and 9–19 upper-case
letters or digits, e.g. A2VYDBAL8BMVQK). --marketplace takes marketplace ids
or country codes (US, DE, JP…), all in --region (na, eu or fe).

If the seller is already stored, add stores (or replaces) its refresh token
for --app instead and leaves its region, marketplaces and name as they are:
change those with ` + "`spgate seller update`" + `, which keeps every refresh token.

This is the self-authorization path (Seller Central → Develop Apps →
Authorize shows the token once). For the OAuth consent flow, where the
seller confirms on Seller Central and spgate receives the token itself, use
` + "`spgate seller authorize`" + `.`,
		Example: `  spgate seller add A2VYDBAL8BMVQK --app main --region na --marketplace ATVPDKIKX0DER --refresh-token-file token.txt
  SPGATE_REFRESH_TOKEN='Atzr|…' spgate seller add A2VYDBAL8BMVQK --app main --region eu --marketplace DE,FR --name shop-eu`,
		Args: cmdutil.ExactArgs(1, "SELLER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			return runSellerAdd(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.App, "app", "", "app (name, app id or client id) the seller authorized (required)")
	fl.StringVar(&o.Region, "region", "", "the seller's region: na, eu or fe (required)")
	fl.StringSliceVar(&o.Marketplaces, "marketplace", nil, "marketplace ids or country codes in --region, comma-separated (required)")
	fl.StringVar(&o.Name, "name", "", "optional local name for the seller")
	fl.StringVar(&o.TokenFile, "refresh-token-file", "", "file holding the refresh token Atzr|… (- reads stdin)")
	return cmd
}

func runSellerAdd(ctx context.Context, o *sellerAddOptions) error {
	if err := cmdutil.CheckSeller(o.ID, o.Region); err != nil {
		return err
	}
	if err := cmdutil.CheckFlags(cmdutil.FlagCheck{Flag: "app", Value: o.App, Check: cmdutil.NoCheck, Required: ": the app (see `spgate app list`) this seller authorized"}); err != nil {
		return err
	}
	mps, err := cmdutil.ParseMarketplaces(o.Region, o.Marketplaces)
	if err != nil {
		return err
	}
	if err := cmdutil.CheckFlags(cmdutil.FlagCheck{Flag: "name", Value: o.Name, Check: cmdutil.SellerName}); err != nil {
		return err
	}
	tok, err := o.CheckedSecret(prompt.Source{What: "refresh token", FileFlag: "refresh-token-file", Env: cmdutil.EnvRefreshToken}, vault.ValidateRefreshToken)
	if err != nil {
		return err
	}
	return o.WithVault(ctx, func(v *vault.Vault) error {
		a, err := v.GetApp(ctx, o.App)
		if err != nil {
			return cmdutil.NotFound(err, "app", o.App, "spgate app list")
		}
		r, err := appvault.AddSeller(ctx, v, vault.Seller{ID: o.ID, Name: o.Name, Region: o.Region, Marketplaces: mps}, a.Name, tok)
		var rc *appvault.RegionConflictError
		if errors.As(err, &rc) {
			return problem.New(problem.BadInput, rc, fmt.Sprintf("move it with `spgate seller update %s --region %s --marketplace %s` (its refresh tokens stay), then run seller add again",
				o.ID, o.Region, strings.Join(o.Marketplaces, ",")))
		}
		if err != nil {
			return cmdutil.StoreErr(err)
		}
		action := "added seller"
		if r.Existed {
			action = "stored refresh token of seller"
		}
		if note := r.Note(); note != "" {
			o.Note(note)
		}
		o.Log.Info(action, "seller", o.ID, "app", a.Name, "region", o.Region)
		mps = r.Seller.Marketplaces
		return o.Answer(map[string]any{"seller": o.ID, "app": a.Name, "region": o.Region, "marketplaces": mps, "refreshTokenHint": tok.Hint()},
			"%s %s for app %s (%s: %s)", action, o.ID, a.Name, o.Region, strings.Join(mps, ","))
	})
}

func newSellerListCmd(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.ListCmd(&cobra.Command{
		Use:   "list",
		Short: "List the sellers in the vault",
		Long:  `list prints every seller: id, name, region, marketplaces and the apps it authorized. Refresh tokens are not decrypted.`,
		Example: `  spgate seller list
  spgate seller list --json`,
	}, f, cmdutil.List[appvault.SellerView]{
		Rows: func(ctx context.Context, v *vault.Vault, _ time.Time) ([]appvault.SellerView, error) {
			ss, err := v.ListSellers(ctx)
			return cmdutil.Views(ss, err, appvault.NewSellerView)
		},
		Empty:  "no sellers yet: add one with `spgate seller add SELLER_ID --app NAME --region R --marketplace M`",
		Header: "SELLER ID\tNAME\tREGION\tMARKETPLACES\tAPPS",
		Line: func(s appvault.SellerView) string {
			var apps []string
			for _, a := range s.Authorizations {
				apps = append(apps, a.App)
			}
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", s.ID, output.Dash(s.Name), s.Region, strings.Join(s.Marketplaces, ","), output.Dash(strings.Join(apps, ",")))
		},
	})
}

func newSellerShowCmd(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.ShowCmd(&cobra.Command{
		Use:   "show SELLER",
		Short: "Show one seller (refresh tokens masked)",
		Long:  `show prints one seller (by id or name) with its marketplaces and, per app, when it was authorized and a hint of the refresh token.`,
		Example: `  spgate seller show A2VYDBAL8BMVQK
  spgate seller show shop-eu --json`,
		Args: cmdutil.ExactArgs(1, "SELLER"),
	}, f, cmdutil.Show[appvault.SellerView]{
		Get: func(ctx context.Context, v *vault.Vault, ref string, _ time.Time) (appvault.SellerView, error) {
			s, err := v.GetSeller(ctx, ref)
			return appvault.NewSellerView(s), cmdutil.NotFound(err, "seller", ref, "spgate seller list")
		},
		Fields: appvault.SellerView.Fields,
	})
}

func newSellerRemoveCmd(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.RemoveCmd(&cobra.Command{
		Use:     "remove SELLER",
		Short:   "Remove a seller and its refresh tokens",
		Long:    `remove deletes the seller (by id or name), its refresh tokens and its checkpoints. It asks on a terminal; scripts pass --yes.`,
		Example: `  spgate seller remove A2VYDBAL8BMVQK --yes`,
		Args:    cmdutil.ExactArgs(1, "SELLER"),
	}, f, cmdutil.Remove{Kind: "seller",
		Find: func(ctx context.Context, v *vault.Vault, ref string) (string, string, error) {
			s, err := v.GetSeller(ctx, ref)
			return s.ID, fmt.Sprintf("remove seller %s and its refresh tokens?", s.ID), cmdutil.NotFound(err, "seller", ref, "spgate seller list")
		},
		Remove: func(v *vault.Vault) func(context.Context, string) error { return v.RemoveSeller },
	})
}

// sellerUpdateOptions are the flags of spgate seller update; set* say
// which were given.
type sellerUpdateOptions struct {
	*cmdutil.Factory
	Ref                       string
	Region, Name              string
	Marketplaces              []string
	setRegion, setMP, setName bool
}

func newSellerUpdateCmd(f *cmdutil.Factory) *cobra.Command {
	o := &sellerUpdateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "update SELLER",
		Short: "Change a seller's region, marketplaces or local name",
		Long: `update changes a stored seller (by id or name): its region, its
marketplaces (ids or country codes, replacing the stored list) and its local
name. After the update every marketplace must belong to the region: to move a
seller to another region give --region and --marketplace together. Refresh
tokens stay as they are (they work in every region).`,
		Example: `  spgate seller update A2VYDBAL8BMVQK --marketplace DE,FR,IT
  spgate seller update A2VYDBAL8BMVQK --region na --marketplace US,CA
  spgate seller update shop-eu --name shop-europe --json`,
		Args: cmdutil.ExactArgs(1, "SELLER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			o.setRegion, o.setMP, o.setName = fl.Changed("region"), fl.Changed("marketplace"), fl.Changed("name")
			if !o.setRegion && !o.setMP && !o.setName {
				return cmdutil.UsageErr("nothing to update: give at least one of --region, --marketplace, --name\nRun '%s --help' for usage.", cmd.CommandPath())
			}
			o.Ref = args[0]
			return runSellerUpdate(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Region, "region", "", "the seller's region: na, eu or fe")
	fl.StringSliceVar(&o.Marketplaces, "marketplace", nil, "marketplace ids or country codes, replacing the stored list (comma-separated)")
	fl.StringVar(&o.Name, "name", "", `local name for the seller ("" clears it)`)
	return cmd
}

func runSellerUpdate(ctx context.Context, o *sellerUpdateOptions) error {
	var u vault.SellerUpdate
	if o.setRegion {
		if err := vault.ValidateRegion(o.Region); err != nil {
			return cmdutil.InvalidInput(fmt.Errorf("--region: %w", err))
		}
		u.Region = &o.Region
	}
	if err := cmdutil.CheckFlags(cmdutil.FlagCheck{Flag: "name", Value: o.Name, Check: cmdutil.SellerName}); err != nil {
		return err
	}
	if o.setName {
		u.Name = &o.Name
	}
	if o.setMP {
		u.Marketplaces = append([]string{}, o.Marketplaces...) // given, even empty: resolved in the region after the update
	}
	return o.WithVault(ctx, func(v *vault.Vault) error {
		s, changes, err := v.UpdateSellerWith(ctx, o.Ref, u)
		var rm *vault.RegionMismatchError
		var me *vault.MarketplaceError
		switch {
		case errors.As(err, &rm):
			return cmdutil.UsageErr("%v: give the marketplaces in %s with --marketplace too (e.g. --marketplace %s)", rm, rm.Region, cmdutil.ExampleMarketplaces(rm.Region, false))
		case errors.As(err, &me):
			return cmdutil.MarketplaceErr(me, o.Marketplaces)
		case err != nil:
			return cmdutil.NotFound(err, "seller", o.Ref, "spgate seller list")
		}
		return o.PrintUpdate("seller", s.ID, changes, appvault.NewSellerView(s))
	})
}
