package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/vault"
)

// appUpdateOptions are the flags of spgate app update.
type appUpdateOptions struct {
	cmdutil.Env
	Ref                      string
	Roles                    []string
	ClearRoles               bool
	Region, RedirectURI      string
	Draft, Published         bool
	Rename                   string
	setRegion, setURI, roles bool
}

func newAppUpdateCmd(streams IO) *cobra.Command {
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
			if err := o.validate(cmd.CommandPath()); err != nil {
				return err
			}
			o.Env, o.Ref = envFor(streams)(cmd, false), args[0]
			return runAppUpdate(cmd.Context(), &o)
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
func (o *appUpdateOptions) validate(cmdPath string) error {
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
		return usageErr("nothing to update: give at least one of --role, --clear-roles, --region, --draft, --published, --redirect-uri, --rename\nRun '%s --help' for usage.", cmdPath)
	}
	if err := checkFlags(flagCheck{"region", o.Region, vault.ValidateRegion}, flagCheck{"redirect-uri", o.RedirectURI, vault.ValidateRedirectURI},
		flagCheck{"rename", o.Rename, func(s string) error { return vault.ValidateName("app", s) }}); err != nil {
		return err
	}
	return nil
}

// update is the change the flags ask for.
func (o *appUpdateOptions) update() vault.AppUpdate {
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

func runAppUpdate(ctx context.Context, o *appUpdateOptions) error {
	return o.WithVault(func(v *vault.Vault) error {
		a, changes, err := v.UpdateAppWith(ctx, o.Ref, o.update())
		if err != nil {
			return notFound(err, "app", o.Ref, "spgate app list")
		}
		return o.PrintUpdate("app", a.Name, changes, appvault.NewAppView(a, o.Clock.Now()))
	})
}

// sellerUpdateOptions are the flags of spgate seller update.
type sellerUpdateOptions struct {
	cmdutil.Env
	Ref                       string
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
			if !o.setRegion && !o.setMP && !o.setName {
				return usageErr("nothing to update: give at least one of --region, --marketplace, --name\nRun '%s --help' for usage.", cmd.CommandPath())
			}
			o.Env, o.Ref = envFor(streams)(cmd, false), args[0]
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
	if o.setName {
		if err := checkFlags(flagCheck{"name", o.Name, func(s string) error { return vault.ValidateName("seller", s) }}); err != nil {
			return err
		}
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
