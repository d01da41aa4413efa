package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/vault"
)

// errNothingToUpdate tells UpdateApp/UpdateSeller to write nothing: every value
// given is already stored.
var errNothingToUpdate = errors.New("nothing changed")

// fieldChange is one field an update verb changed.
type fieldChange struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

func (c fieldChange) String() string {
	return fmt.Sprintf("%s: %s → %s", c.Field, fmtValue(c.Old), fmtValue(c.New))
}

func fmtValue(v any) string {
	switch x := v.(type) {
	case []string:
		if len(x) == 0 {
			return "(none)"
		}
		return strings.Join(x, ", ")
	case string:
		if x == "" {
			return "(none)"
		}
		return x
	}
	return fmt.Sprint(v)
}

// normList trims, drops empty entries and duplicates, and sorts, as the
// vault stores roles and marketplaces.
func normList(in []string) []string {
	out := []string{}
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func printChanges(w io.Writer, kind, name string, changes []fieldChange) {
	if len(changes) == 0 {
		fmt.Fprintf(w, "%s %s: nothing changed\n", kind, name)
		return
	}
	fmt.Fprintf(w, "updated %s %s:\n", kind, name)
	for _, c := range changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
}

// appUpdateOptions are the flags of spgate app update.
type appUpdateOptions struct {
	Roles                    []string
	ClearRoles               bool
	Region, RedirectURI      string
	Draft, Published         bool
	Rename                   string
	setRegion, setURI, roles bool
}

func newAppUpdateCmd(streams IO, deps appDeps) *cobra.Command {
	o := appUpdateOptions{}
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
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			o.roles, o.setRegion, o.setURI = f.Changed("role"), f.Changed("region"), f.Changed("redirect-uri")
			return runAppUpdate(cmd, streams, deps, args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Roles, "role", nil, "restricted role the app holds, replacing the stored roles (repeatable, comma-separated)")
	f.BoolVar(&o.ClearRoles, "clear-roles", false, "remove every stored role")
	f.StringVar(&o.Region, "region", "", `default region: na, eu or fe ("" clears it)`)
	f.BoolVar(&o.Draft, "draft", false, "the app is a draft (its OAuth consent needs version=beta)")
	f.BoolVar(&o.Published, "published", false, "the app is published (no longer a draft)")
	f.StringVar(&o.RedirectURI, "redirect-uri", "", `OAuth redirect URI registered for the app ("" clears it)`)
	f.StringVar(&o.Rename, "rename", "", "new local name for the app")
	return cmd
}

func runAppUpdate(cmd *cobra.Command, streams IO, deps appDeps, ref string, o appUpdateOptions) error {
	if o.Draft && o.Published {
		return usageErr("--draft and --published contradict each other: give one")
	}
	if o.ClearRoles && o.roles {
		return usageErr("--clear-roles and --role contradict each other: --role already replaces the stored roles")
	}
	if o.roles && len(normList(o.Roles)) == 0 {
		return usageErr("--role is empty: name a restricted role (e.g. %q), or use --clear-roles", vault.KnownRestrictedRoles()[0])
	}
	if !o.roles && !o.ClearRoles && !o.setRegion && !o.Draft && !o.Published && !o.setURI && o.Rename == "" {
		return usageErr("nothing to update: give at least one of --role, --clear-roles, --region, --draft, --published, --redirect-uri, --rename\nRun '%s --help' for usage.", cmd.CommandPath())
	}
	if o.setRegion {
		if err := validateAppRegion(o.Region); err != nil {
			return err
		}
	}
	if o.setURI {
		if err := validateAppRedirectURI(o.RedirectURI); err != nil {
			return err
		}
	}
	if o.Rename != "" {
		if err := vault.ValidateName("app", o.Rename); err != nil {
			return invalidInput(fmt.Errorf("--rename: %w", err))
		}
	}
	v, err := openVault(cmd, false)
	if err != nil {
		return err
	}
	defer v.Close()
	ctx := cmd.Context()
	var changes []fieldChange
	name := ref
	err = v.UpdateApp(ctx, ref, func(a *vault.App) error {
		changes = changes[:0]
		name = a.Name
		if o.roles || o.ClearRoles {
			oldR, newR := normList(a.Roles), normList(o.Roles)
			if !slices.Equal(oldR, newR) {
				changes = append(changes, fieldChange{"roles", oldR, newR})
				a.Roles = newR
			}
		}
		if o.setRegion && a.Region != o.Region {
			changes = append(changes, fieldChange{"region", a.Region, o.Region})
			a.Region = o.Region
		}
		if (o.Draft || o.Published) && a.Draft != o.Draft {
			changes = append(changes, fieldChange{"draft", a.Draft, o.Draft})
			a.Draft = o.Draft
		}
		if o.setURI && a.RedirectURI != o.RedirectURI {
			changes = append(changes, fieldChange{"redirectUri", a.RedirectURI, o.RedirectURI})
			a.RedirectURI = o.RedirectURI
		}
		if o.Rename != "" && a.Name != o.Rename {
			changes = append(changes, fieldChange{"name", a.Name, o.Rename})
			a.Name = o.Rename
			name = o.Rename
		}
		if len(changes) == 0 {
			return errNothingToUpdate
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNothingToUpdate) {
		return notFound(err, "app", ref, "spgate app list")
	}
	if len(changes) > 0 {
		logger(cmd).Info("app updated", "app", name, "fields", len(changes))
	}
	if jsonOut(cmd) {
		a, err := v.GetApp(ctx, name)
		if err != nil {
			return storeErr(err)
		}
		return printJSON(streams.Out, map[string]any{"app": appView(a, deps.now()), "changed": len(changes) > 0, "changes": nonNil(changes)})
	}
	printChanges(streams.Out, "app", name, changes)
	return nil
}

func nonNil(c []fieldChange) []fieldChange {
	if c == nil {
		return []fieldChange{}
	}
	return c
}

// sellerUpdateOptions are the flags of spgate seller update.
type sellerUpdateOptions struct {
	Region, Name              string
	Marketplaces              []string
	setRegion, setMP, setName bool
}

func newSellerUpdateCmd(streams IO) *cobra.Command {
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
			return runSellerUpdate(cmd, streams, args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Region, "region", "", "the seller's region: na, eu or fe")
	f.StringSliceVar(&o.Marketplaces, "marketplace", nil, "marketplace ids or country codes, replacing the stored list (comma-separated)")
	f.StringVar(&o.Name, "name", "", `local name for the seller ("" clears it)`)
	return cmd
}

func runSellerUpdate(cmd *cobra.Command, streams IO, ref string, o sellerUpdateOptions) error {
	if !o.setRegion && !o.setMP && !o.setName {
		return usageErr("nothing to update: give at least one of --region, --marketplace, --name\nRun '%s --help' for usage.", cmd.CommandPath())
	}
	if o.setRegion {
		if err := vault.ValidateRegion(o.Region); err != nil {
			return invalidInput(fmt.Errorf("--region: %w", err))
		}
	}
	if o.setName && o.Name != "" {
		if err := vault.ValidateName("seller", o.Name); err != nil {
			return invalidInput(fmt.Errorf("--name: %w", err))
		}
	}
	v, err := openVault(cmd, false)
	if err != nil {
		return err
	}
	defer v.Close()
	ctx := cmd.Context()
	var changes []fieldChange
	var fnErr error
	id := ref
	err = v.UpdateSeller(ctx, ref, func(s *vault.Seller) error {
		changes = changes[:0]
		id = s.ID
		region := s.Region
		if o.setRegion {
			region = o.Region
		}
		mps := s.Marketplaces
		if o.setMP {
			if mps, fnErr = parseMarketplaces(region, o.Marketplaces); fnErr != nil {
				return fnErr
			}
		} else if region != s.Region {
			for _, m := range mps {
				if err := vault.ValidateMarketplace(region, m); err != nil {
					fnErr = usageErr("seller %s sells in %s, which is not in region %s: give the marketplaces in %s with --marketplace too (e.g. --marketplace %s)",
						s.ID, strings.Join(mps, ","), region, region, exampleMarketplaceIDs(region))
					return fnErr
				}
			}
		}
		if region != s.Region {
			changes = append(changes, fieldChange{"region", s.Region, region})
			s.Region = region
		}
		if oldM, newM := normList(s.Marketplaces), normList(mps); !slices.Equal(oldM, newM) {
			changes = append(changes, fieldChange{"marketplaces", oldM, newM})
			s.Marketplaces = mps
		}
		if o.setName && o.Name != s.Name {
			changes = append(changes, fieldChange{"name", s.Name, o.Name})
			s.Name = o.Name
		}
		if len(changes) == 0 {
			return errNothingToUpdate
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil && !errors.Is(err, errNothingToUpdate) {
		return notFound(err, "seller", ref, "spgate seller list")
	}
	if len(changes) > 0 {
		logger(cmd).Info("seller updated", "seller", id, "fields", len(changes))
	}
	if jsonOut(cmd) {
		s, err := v.GetSeller(ctx, id)
		if err != nil {
			return storeErr(err)
		}
		return printJSON(streams.Out, map[string]any{"seller": sellerView(s), "changed": len(changes) > 0, "changes": nonNil(changes)})
	}
	printChanges(streams.Out, "seller", id, changes)
	return nil
}

// exampleMarketplaceIDs lists up to three marketplace ids of region,
// comma-separated, for a pasteable --marketplace value.
func exampleMarketplaceIDs(region string) string {
	var ex []string
	for _, m := range vault.Marketplaces() {
		if m.Region == region && len(ex) < 3 {
			ex = append(ex, m.ID)
		}
	}
	return strings.Join(ex, ",")
}
