package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/vault"
)

// errNothingToUpdate tells UpdateApp/UpdateSeller to write nothing: every value
// given is already stored.
var errNothingToUpdate = errors.New("nothing changed")

// unchangedIf is the answer of an update function that made changes.
func unchangedIf(changes []vault.FieldChange) error {
	if len(changes) == 0 {
		return errNothingToUpdate
	}
	return nil
}

// printUpdate logs and prints what an update verb changed of kind name;
// under --json with the entity as view reads it after the update.
func printUpdate(cmd *cobra.Command, streams IO, kind, name string, changes []vault.FieldChange, view func() (any, error)) error {
	if len(changes) > 0 {
		logger(cmd).Info(kind+" updated", kind, name, "fields", len(changes))
	}
	if jsonOut(cmd) {
		j, err := view()
		if err != nil {
			return storeErr(err)
		}
		if changes == nil {
			changes = []vault.FieldChange{}
		}
		return printJSON(streams.Out, map[string]any{kind: j, "changed": len(changes) > 0, "changes": changes})
	}
	if len(changes) == 0 {
		fmt.Fprintf(streams.Out, "%s %s: nothing changed\n", kind, name)
		return nil
	}
	fmt.Fprintf(streams.Out, "updated %s %s:\n", kind, name)
	for _, c := range changes {
		fmt.Fprintf(streams.Out, "  %s\n", c)
	}
	return nil
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

// validate checks the flags before the vault is opened.
func (o appUpdateOptions) validate(cmd *cobra.Command) error {
	if o.Draft && o.Published {
		return usageErr("--draft and --published contradict each other: give one")
	}
	if o.ClearRoles && o.roles {
		return usageErr("--clear-roles and --role contradict each other: --role already replaces the stored roles")
	}
	if o.roles && len(vault.NormList(o.Roles)) == 0 {
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
	return nil
}

// update is the change the flags ask for.
func (o appUpdateOptions) update() vault.AppUpdate {
	u := vault.AppUpdate{Name: o.Rename}
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
	return u
}

func runAppUpdate(cmd *cobra.Command, streams IO, deps appDeps, ref string, o appUpdateOptions) error {
	if err := o.validate(cmd); err != nil {
		return err
	}
	v, err := openVault(cmd, false)
	if err != nil {
		return err
	}
	defer v.Close()
	ctx := cmd.Context()
	u := o.update()
	var changes []vault.FieldChange
	name := ref
	err = v.UpdateApp(ctx, ref, func(a *vault.App) error {
		changes = u.Apply(a)
		name = a.Name
		return unchangedIf(changes)
	})
	if err != nil && !errors.Is(err, errNothingToUpdate) {
		return notFound(err, "app", ref, "spgate app list")
	}
	return printUpdate(cmd, streams, "app", name, changes, func() (any, error) {
		a, err := v.GetApp(ctx, name)
		return appView(a, deps.now()), err
	})
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
	var changes []vault.FieldChange
	var fnErr error
	id := ref
	err = v.UpdateSeller(ctx, ref, func(s *vault.Seller) error {
		id = s.ID
		changes, fnErr = o.apply(s)
		if fnErr != nil {
			return fnErr
		}
		return unchangedIf(changes)
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil && !errors.Is(err, errNothingToUpdate) {
		return notFound(err, "seller", ref, "spgate seller list")
	}
	return printUpdate(cmd, streams, "seller", id, changes, func() (any, error) {
		s, err := v.GetSeller(ctx, id)
		return sellerView(s), err
	})
}

// apply makes the change the flags ask for to s; marketplaces given as
// country codes are resolved in the seller's region after the update.
func (o sellerUpdateOptions) apply(s *vault.Seller) ([]vault.FieldChange, error) {
	var u vault.SellerUpdate
	region := s.Region
	if o.setRegion {
		u.Region, region = &o.Region, o.Region
	}
	if o.setName {
		u.Name = &o.Name
	}
	if o.setMP {
		var err error
		if u.Marketplaces, err = parseMarketplaces(region, o.Marketplaces); err != nil {
			return nil, err
		}
	}
	changes, err := u.Apply(s)
	var rm *vault.RegionMismatchError
	if errors.As(err, &rm) {
		return nil, usageErr("%v: give the marketplaces in %s with --marketplace too (e.g. --marketplace %s)", rm, rm.Region, exampleMarketplaceIDs(rm.Region))
	}
	return changes, err
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
