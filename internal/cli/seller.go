package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSellerAddCmd(streams), newSellerListCmd(streams), newSellerShowCmd(streams), newSellerUpdateCmd(streams), newSellerRemoveCmd(streams))
	cmd.AddCommand(newSellerAuthorizeCmd(streams)) // OAuth website flow (authorize.go)
	return cmd
}

type sellerAddOptions struct {
	App, Region, Name, TokenFile string
	Marketplaces                 []string
}

func newSellerAddCmd(streams IO) *cobra.Command {
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
		RunE: func(cmd *cobra.Command, args []string) error { return runSellerAdd(cmd, streams, args[0], o) },
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
	if len(in) == 0 {
		return nil, usageErr("--marketplace is required: one or more marketplace ids in region %s, e.g. %s", region, exampleMarketplace(region))
	}
	var ids []string
	seen := map[string]bool{}
	for _, m := range in {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		id := m
		if mp, ok := vault.LookupMarketplace(m); ok {
			id = mp.ID
		}
		if err := vault.ValidateMarketplace(region, id); err != nil {
			return nil, invalidInput(fmt.Errorf("--marketplace %s: %w", m, err))
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, usageErr("--marketplace is empty: give marketplace ids in region %s, e.g. %s", region, exampleMarketplace(region))
	}
	return ids, nil
}

func exampleMarketplace(region string) string {
	var ex []string
	for _, m := range vault.Marketplaces() {
		if m.Region == region && len(ex) < 3 {
			ex = append(ex, m.ID+" ("+m.Country+")")
		}
	}
	return strings.Join(ex, ", ")
}

func validateSellerInput(id, region string) error {
	if err := vault.ValidateSellerID(id); err != nil {
		return invalidInput(err)
	}
	if region == "" {
		return usageErr("--region is required: na, eu or fe")
	}
	if err := vault.ValidateRegion(region); err != nil {
		return invalidInput(fmt.Errorf("--region: %w", err))
	}
	return nil
}

func runSellerAdd(cmd *cobra.Command, streams IO, id string, o sellerAddOptions) error {
	if err := validateSellerInput(id, o.Region); err != nil {
		return err
	}
	if o.App == "" {
		return usageErr("--app is required: the app (see `spgate app list`) this seller authorized")
	}
	mps, err := parseMarketplaces(o.Region, o.Marketplaces)
	if err != nil {
		return err
	}
	if o.Name != "" {
		if err := vault.ValidateName("seller", o.Name); err != nil {
			return invalidInput(err)
		}
	}
	tok, err := readCheckedSecret(cmd, "refresh token", "refresh-token-file", envRefreshToken, vault.ValidateRefreshToken)
	if err != nil {
		return err
	}
	v, err := openVault(cmd, false)
	if err != nil {
		return err
	}
	defer v.Close()
	ctx := cmd.Context()
	a, err := v.GetApp(ctx, o.App)
	if err != nil {
		return notFound(err, "app", o.App, "spgate app list")
	}
	s := vault.Seller{ID: id, Name: o.Name, Region: o.Region, Marketplaces: mps,
		Authorizations: []vault.Authorization{{AppName: a.Name, RefreshToken: vault.Secret{Value: tok}}}}
	action := "added seller"
	var kept []string // stored fields add left as they were
	err = v.AddSeller(ctx, s)
	if errors.Is(err, vault.ErrExists) {
		existing, gerr := v.GetSeller(ctx, id)
		if gerr != nil {
			return storeErr(err) // the name, not the id, is taken
		}
		// A stored seller keeps its fields: seller update changes them and
		// keeps every app's refresh token, where remove and add would not.
		if existing.Region != o.Region {
			return problemErr(ProblemBadInput, fmt.Errorf("seller %s is stored in region %s, not %s", id, existing.Region, o.Region),
				fmt.Sprintf("move it with `spgate seller update %s --region %s --marketplace %s` (its refresh tokens stay), then run seller add again",
					id, o.Region, strings.Join(o.Marketplaces, ",")))
		}
		if err := v.SetRefreshToken(ctx, id, a.Name, tok, time.Time{}); err != nil {
			return storeErr(err)
		}
		action = "stored refresh token of seller"
		if !slices.Equal(vault.NormList(existing.Marketplaces), vault.NormList(mps)) {
			kept = append(kept, fmt.Sprintf("its marketplaces stay %s (to store %s: `spgate seller update %s --marketplace %s`)",
				strings.Join(existing.Marketplaces, ","), strings.Join(mps, ","), id, strings.Join(mps, ",")))
		}
		if o.Name != "" && o.Name != existing.Name {
			kept = append(kept, fmt.Sprintf("its name stays %q (to rename it: `spgate seller update %s --name %s`)", existing.Name, id, o.Name))
		}
		mps = existing.Marketplaces
	} else if err != nil {
		return storeErr(err)
	}
	if len(kept) > 0 {
		printNote(cmd, streams.Err, fmt.Sprintf("seller %s was already stored: %s; seller update keeps the refresh tokens", id, strings.Join(kept, "; ")))
	}
	logger(cmd).Info(action, "seller", id, "app", a.Name, "region", o.Region)
	if jsonOut(cmd) {
		return printJSON(streams.Out, map[string]any{"seller": id, "app": a.Name, "region": o.Region, "marketplaces": mps, "refreshTokenHint": tok.Hint()})
	}
	fmt.Fprintf(streams.Out, "%s %s for app %s (%s: %s)\n", action, id, a.Name, o.Region, strings.Join(mps, ","))
	return nil
}

// sellerJSON is how list and show print a seller; no token values.
type sellerJSON struct {
	ID             string       `json:"id"`
	Name           string       `json:"name,omitempty"`
	Region         string       `json:"region"`
	Marketplaces   []string     `json:"marketplaces"`
	Authorizations []sellerAuth `json:"authorizations"`
}

type sellerAuth struct {
	App              string     `json:"app"`
	AppID            string     `json:"appId,omitempty"`
	AuthorizedAt     *time.Time `json:"authorizedAt,omitempty"`
	VerifiedAt       *time.Time `json:"verifiedAt,omitempty"`
	RefreshTokenHint string     `json:"refreshTokenHint,omitempty"`
}

func sellerView(s vault.Seller) sellerJSON {
	j := sellerJSON{ID: s.ID, Name: s.Name, Region: s.Region, Marketplaces: s.Marketplaces, Authorizations: []sellerAuth{}}
	for _, a := range s.Authorizations {
		j.Authorizations = append(j.Authorizations, sellerAuth{App: a.AppName, AppID: a.AppID, AuthorizedAt: tp(a.AuthorizedAt),
			VerifiedAt: tp(a.RefreshToken.VerifiedAt), RefreshTokenHint: hint(a.RefreshToken.Value)})
	}
	return j
}

func newSellerListCmd(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the sellers in the vault",
		Long:  `list prints every seller: id, name, region, marketplaces and the apps it authorized. Refresh tokens are not decrypted.`,
		Example: `  spgate seller list
  spgate seller list --json`,
		Args: cobra.NoArgs,
		RunE: vaultRunE(func(cmd *cobra.Command, v *vault.Vault, _ []string) error {
			ss, err := v.ListSellers(cmd.Context())
			if err != nil {
				return storeErr(err)
			}
			views := make([]sellerJSON, 0, len(ss))
			for _, s := range ss {
				views = append(views, sellerView(s))
			}
			return printRows(cmd, streams, views, "no sellers yet: add one with `spgate seller add SELLER_ID --app NAME --region R --marketplace M`",
				"SELLER ID\tNAME\tREGION\tMARKETPLACES\tAPPS", func(s sellerJSON) string {
					var apps []string
					for _, a := range s.Authorizations {
						apps = append(apps, a.App)
					}
					return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", s.ID, dash(s.Name), s.Region, strings.Join(s.Marketplaces, ","), dash(strings.Join(apps, ",")))
				})
		}),
	}
}

func newSellerShowCmd(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:   "show SELLER",
		Short: "Show one seller (refresh tokens masked)",
		Long:  `show prints one seller (by id or name) with its marketplaces and, per app, when it was authorized and a hint of the refresh token.`,
		Example: `  spgate seller show A2VYDBAL8BMVQK
  spgate seller show shop-eu --json`,
		Args: exactArgs(1, "SELLER"),
		RunE: vaultRunE(func(cmd *cobra.Command, v *vault.Vault, args []string) error {
			s, err := v.GetSeller(cmd.Context(), args[0])
			if err != nil {
				return notFound(err, "seller", args[0], "spgate seller list")
			}
			j := sellerView(s)
			if jsonOut(cmd) {
				return printJSON(streams.Out, j)
			}
			tw := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "seller id\t%s\nname\t%s\nregion\t%s\nmarketplaces\t%s\n", j.ID, dash(j.Name), j.Region, strings.Join(j.Marketplaces, ","))
			for _, a := range j.Authorizations {
				at := "-"
				if a.AuthorizedAt != nil {
					at = a.AuthorizedAt.Format(time.DateOnly)
				}
				fmt.Fprintf(tw, "app %s\trefresh token %s, authorized %s\n", a.App, dash(a.RefreshTokenHint), at)
			}
			return tw.Flush()
		}),
	}
}

func newSellerRemoveCmd(streams IO) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "remove SELLER",
		Short:   "Remove a seller and its refresh tokens",
		Long:    `remove deletes the seller (by id or name), its refresh tokens and its checkpoints. It asks on a terminal; scripts pass --yes.`,
		Example: `  spgate seller remove A2VYDBAL8BMVQK --yes`,
		Args:    exactArgs(1, "SELLER"),
		RunE: vaultRunE(func(cmd *cobra.Command, v *vault.Vault, args []string) error {
			s, err := v.GetSeller(cmd.Context(), args[0])
			if err != nil {
				return notFound(err, "seller", args[0], "spgate seller list")
			}
			return removeConfirmed(cmd, streams, yes, fmt.Sprintf("remove seller %s and its refresh tokens?", s.ID),
				"seller", s.ID, v.RemoveSeller)
		}),
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}
