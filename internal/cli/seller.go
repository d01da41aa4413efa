package cli

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
	"github.com/spgate/spgate/internal/prompt"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newSellerCmd) }

// envRefreshToken holds a refresh token for seller add.
const envRefreshToken = "SPGATE_REFRESH_TOKEN"

func newSellerCmd(streams IO) *cobra.Command {
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
	env := envFor(streams)
	cmd.AddCommand(newSellerAddCmd(env), newSellerListCmd(env), newSellerShowCmd(env), newSellerUpdateCmd(env), newSellerRemoveCmd(env))
	cmd.AddCommand(newSellerAuthorizeCmd(streams)) // OAuth website flow (authorize.go)
	return cmd
}

// sellerAddOptions are the flags of spgate seller add.
type sellerAddOptions struct {
	cmdutil.Env
	ID, App, Region, Name, TokenFile string
	Marketplaces                     []string
}

func newSellerAddCmd(env cmdutil.EnvFunc) *cobra.Command {
	o := sellerAddOptions{}
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
		Args: exactArgs(1, "SELLER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Env, o.ID = env(cmd, false), args[0]
			return runSellerAdd(cmd.Context(), &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.App, "app", "", "app (name, app id or client id) the seller authorized (required)")
	f.StringVar(&o.Region, "region", "", "the seller's region: na, eu or fe (required)")
	f.StringSliceVar(&o.Marketplaces, "marketplace", nil, "marketplace ids or country codes in --region, comma-separated (required)")
	f.StringVar(&o.Name, "name", "", "optional local name for the seller")
	f.StringVar(&o.TokenFile, "refresh-token-file", "", "file holding the refresh token Atzr|… (- reads stdin)")
	return cmd
}

// parseMarketplaces validates marketplace ids or country codes against
// region and returns the ids.
func parseMarketplaces(region string, in []string) ([]string, error) {
	ids, err := vault.ResolveMarketplaces(region, in)
	var me *vault.MarketplaceError
	if errors.As(err, &me) {
		return nil, marketplaceErr(me, in)
	}
	return ids, err
}

// marketplaceErr words a refused --marketplace for the flag.
func marketplaceErr(me *vault.MarketplaceError, given []string) error {
	switch {
	case me.Input != "":
		return invalidInput(fmt.Errorf("--marketplace %s: %w", me.Input, me.Err))
	case len(given) == 0:
		return usageErr("--marketplace is required: one or more marketplace ids in region %s, e.g. %s", me.Region, exampleMarketplaces(me.Region, true))
	}
	return usageErr("--marketplace is empty: give marketplace ids in region %s, e.g. %s", me.Region, exampleMarketplaces(me.Region, true))
}

// exampleMarketplaces lists up to three marketplaces of region: "ID (CC),
// …" for people, or without countries "ID,ID,ID" to paste as --marketplace.
func exampleMarketplaces(region string, countries bool) string {
	var ex []string
	ms := vault.MarketplacesIn(region)
	for _, m := range ms[:min(3, len(ms))] {
		if countries {
			ex = append(ex, m.ID+" ("+m.Country+")")
		} else {
			ex = append(ex, m.ID)
		}
	}
	if countries {
		return strings.Join(ex, ", ")
	}
	return strings.Join(ex, ",")
}

func validateSellerInput(id, region string) error {
	return checkFlags(flagCheck{"", id, vault.ValidateSellerID, ""}, flagCheck{"region", region, vault.ValidateRegion, ": na, eu or fe"})
}

func sellerName(s string) error { return vault.ValidateName("seller", s) }

func runSellerAdd(ctx context.Context, o *sellerAddOptions) error {
	if err := validateSellerInput(o.ID, o.Region); err != nil {
		return err
	}
	if err := checkFlags(flagCheck{"app", o.App, noCheck, ": the app (see `spgate app list`) this seller authorized"}); err != nil {
		return err
	}
	mps, err := parseMarketplaces(o.Region, o.Marketplaces)
	if err != nil {
		return err
	}
	if err := checkFlags(flagCheck{"name", o.Name, sellerName, ""}); err != nil {
		return err
	}
	tok, err := checkedSecret(&o.Env, prompt.Source{What: "refresh token", FileFlag: "refresh-token-file", Env: envRefreshToken}, vault.ValidateRefreshToken)
	if err != nil {
		return err
	}
	return o.WithVault(func(v *vault.Vault) error {
		a, err := v.GetApp(ctx, o.App)
		if err != nil {
			return notFound(err, "app", o.App, "spgate app list")
		}
		r, err := appvault.AddSeller(ctx, v, vault.Seller{ID: o.ID, Name: o.Name, Region: o.Region, Marketplaces: mps}, a.Name, tok)
		var rc *appvault.RegionConflictError
		if errors.As(err, &rc) {
			return problemErr(ProblemBadInput, rc, fmt.Sprintf("move it with `spgate seller update %s --region %s --marketplace %s` (its refresh tokens stay), then run seller add again",
				o.ID, o.Region, strings.Join(o.Marketplaces, ",")))
		}
		if err != nil {
			return storeErr(err)
		}
		action := "added seller"
		if r.Existed {
			action = "stored refresh token of seller"
		}
		if note := r.Note(); note != "" {
			output.Note(o.Err, o.JSON, note)
		}
		o.Log.Info(action, "seller", o.ID, "app", a.Name, "region", o.Region)
		mps = r.Seller.Marketplaces
		return o.Answer(map[string]any{"seller": o.ID, "app": a.Name, "region": o.Region, "marketplaces": mps, "refreshTokenHint": tok.Hint()},
			"%s %s for app %s (%s: %s)", action, o.ID, a.Name, o.Region, strings.Join(mps, ","))
	})
}

func newSellerListCmd(env cmdutil.EnvFunc) *cobra.Command {
	return cmdutil.ListCmd(&cobra.Command{
		Use:   "list",
		Short: "List the sellers in the vault",
		Long:  `list prints every seller: id, name, region, marketplaces and the apps it authorized. Refresh tokens are not decrypted.`,
		Example: `  spgate seller list
  spgate seller list --json`,
	}, env, cmdutil.List[appvault.SellerView]{
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

func newSellerShowCmd(env cmdutil.EnvFunc) *cobra.Command {
	return cmdutil.ShowCmd(&cobra.Command{
		Use:   "show SELLER",
		Short: "Show one seller (refresh tokens masked)",
		Long:  `show prints one seller (by id or name) with its marketplaces and, per app, when it was authorized and a hint of the refresh token.`,
		Example: `  spgate seller show A2VYDBAL8BMVQK
  spgate seller show shop-eu --json`,
		Args: exactArgs(1, "SELLER"),
	}, env, cmdutil.Show[appvault.SellerView]{
		Get: func(ctx context.Context, v *vault.Vault, ref string, _ time.Time) (appvault.SellerView, error) {
			s, err := v.GetSeller(ctx, ref)
			return appvault.NewSellerView(s), notFound(err, "seller", ref, "spgate seller list")
		},
		Fields: appvault.SellerView.Fields,
	})
}

func newSellerRemoveCmd(env cmdutil.EnvFunc) *cobra.Command {
	return cmdutil.RemoveCmd(&cobra.Command{
		Use:     "remove SELLER",
		Short:   "Remove a seller and its refresh tokens",
		Long:    `remove deletes the seller (by id or name), its refresh tokens and its checkpoints. It asks on a terminal; scripts pass --yes.`,
		Example: `  spgate seller remove A2VYDBAL8BMVQK --yes`,
		Args:    exactArgs(1, "SELLER"),
	}, env, cmdutil.Remove{Kind: "seller",
		Find: func(ctx context.Context, v *vault.Vault, ref string) (string, string, error) {
			s, err := v.GetSeller(ctx, ref)
			return s.ID, fmt.Sprintf("remove seller %s and its refresh tokens?", s.ID), notFound(err, "seller", ref, "spgate seller list")
		},
		Remove: func(v *vault.Vault) func(context.Context, string) error { return v.RemoveSeller },
	})
}

type sellerUpdateOptions struct {
	cmdutil.Env
	Ref                       string
	Region, Name              string
	Marketplaces              []string
	setRegion, setMP, setName bool
}

func newSellerUpdateCmd(env cmdutil.EnvFunc) *cobra.Command {
	o := sellerUpdateOptions{}
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
		Args: exactArgs(1, "SELLER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			o.setRegion, o.setMP, o.setName = f.Changed("region"), f.Changed("marketplace"), f.Changed("name")
			if !o.setRegion && !o.setMP && !o.setName {
				return usageErr("nothing to update: give at least one of --region, --marketplace, --name\nRun '%s --help' for usage.", cmd.CommandPath())
			}
			o.Env, o.Ref = env(cmd, false), args[0]
			return runSellerUpdate(cmd.Context(), &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Region, "region", "", "the seller's region: na, eu or fe")
	f.StringSliceVar(&o.Marketplaces, "marketplace", nil, "marketplace ids or country codes, replacing the stored list (comma-separated)")
	f.StringVar(&o.Name, "name", "", `local name for the seller ("" clears it)`)
	return cmd
}

func runSellerUpdate(ctx context.Context, o *sellerUpdateOptions) error {
	var u vault.SellerUpdate
	if o.setRegion {
		if err := vault.ValidateRegion(o.Region); err != nil {
			return invalidInput(fmt.Errorf("--region: %w", err))
		}
		u.Region = &o.Region
	}
	if err := checkFlags(flagCheck{"name", o.Name, sellerName, ""}); err != nil {
		return err
	}
	if o.setName {
		u.Name = &o.Name
	}
	if o.setMP {
		u.Marketplaces = append([]string{}, o.Marketplaces...) // given, even empty: resolved in the region after the update
	}
	return o.WithVault(func(v *vault.Vault) error {
		s, changes, err := v.UpdateSellerWith(ctx, o.Ref, u)
		var rm *vault.RegionMismatchError
		var me *vault.MarketplaceError
		switch {
		case errors.As(err, &rm):
			return usageErr("%v: give the marketplaces in %s with --marketplace too (e.g. --marketplace %s)", rm, rm.Region, exampleMarketplaces(rm.Region, false))
		case errors.As(err, &me):
			return marketplaceErr(me, o.Marketplaces)
		case err != nil:
			return notFound(err, "seller", o.Ref, "spgate seller list")
		}
		return o.PrintUpdate("seller", s.ID, changes, appvault.NewSellerView(s))
	})
}
