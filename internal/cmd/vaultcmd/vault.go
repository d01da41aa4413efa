// Package vaultcmd is spgate vault: the verbs that work on the vault as a
// whole (vault copy, into PostgreSQL for several gateway replicas).
package vaultcmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/vault"
)

// NewCmd returns spgate vault and its verbs.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Move the vault: copy it into PostgreSQL for several gateway replicas",
		Long: `vault works on the vault as a whole. One machine keeps it in a file; several
gateway replicas share it in PostgreSQL (SPGATE_VAULT=postgres://…), where
the rate limits, leases and change notifications are shared as well.`,
		Example: `  spgate vault copy --to postgres://spgate@db.internal:5432/spgate`,
	}
	cmd.AddCommand(newVaultCopyCmd(f))
	return cmd
}

// vaultCopyOptions are the flags of spgate vault copy.
type vaultCopyOptions struct {
	*cmdutil.Factory
	Paths   vault.Paths // of the vault copied from
	To      string
	Replace bool
}

func newVaultCopyCmd(f *cmdutil.Factory) *cobra.Command {
	o := &vaultCopyOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "copy --to postgres://…",
		Short: "Copy the vault into a PostgreSQL database, verified",
		Long: `copy copies the vault (--vault / $SPGATE_VAULT, usually the file) into the
PostgreSQL database --to names, in the first schema of its search_path
(public unless the DSN says ?search_path=…). Everything is copied as it is:
apps, secrets, sellers and their refresh tokens, gateway clients, job
checkpoints, work in progress, the audit and access logs. Secrets cross over
still encrypted, under the same master key: the replicas open the copy with
the SPGATE_MASTER_KEY this vault opens with. Rate-limit buckets and leases
are not copied; they belong to the processes running on each side.

The copy is one transaction: all of it lands or none. It is then verified:
it is opened with the master key, every record in it authenticates, and
every table holds exactly this vault's rows. The vault copied from is left
as it was (its audit log notes the copy).

Run it again whenever the vault changed before the replicas switch over: it
makes the copy equal to the vault again. Once the replicas use the copy it
holds records the vault does not, and copy refuses to drop them unless
--replace. A database holding another vault, or other tables, is refused.

Put the password in the DSN, or in ~/.pgpass or $PGPASSWORD; spgate never
prints it.`,
		Example: `  spgate vault copy --to postgres://spgate@db.internal:5432/spgate?sslmode=verify-full
  SPGATE_VAULT=/var/lib/spgate/vault.db spgate vault copy --to "$SPGATE_DATABASE_URL"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if o.Paths, err = o.VaultPaths(); err != nil {
				return err
			}
			return runVaultCopy(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.To, "to", "", "the PostgreSQL database to copy into: postgres://user@host:5432/database (required)")
	fl.BoolVar(&o.Replace, "replace", false, "copy over a copy that changed since the last copy (what its replicas wrote there is lost)")
	return cmd
}

func runVaultCopy(ctx context.Context, o *vaultCopyOptions) error {
	switch {
	case o.To == "":
		return cmdutil.UsageErr("--to is required: the PostgreSQL database to copy the vault into, e.g. postgres://spgate@db.internal:5432/spgate")
	case !vault.IsPostgresDSN(o.To):
		return cmdutil.UsageErr("--to %s is not a PostgreSQL DSN: write it as postgres://user@host:5432/database", vault.RedactDSN(o.To))
	case o.Paths.Vault == o.To:
		return cmdutil.UsageErr("--to names the vault itself (%s); point --vault or $%s at the vault to copy from", vault.RedactDSN(o.To), vault.EnvVault)
	}
	return o.WithVault(ctx, func(v *vault.Vault) error {
		key, err := vault.LoadKey(o.Paths, false)
		if err != nil {
			return cmdutil.ConfigErr(vault.Explain(o.Paths, err))
		}
		rep, err := vault.Copy(ctx, v, o.To, key, vault.CopyOptions{Replace: o.Replace})
		switch {
		case errors.Is(err, vault.ErrUnavailable), errors.Is(err, vault.ErrNoVault):
			return &problem.Error{Code: problem.ExitConfig, Problem: problem.Vault, Err: err} // the copy cannot be reached or opened
		case errors.Is(err, vault.ErrExists):
			return problem.New(problem.Exists, err, "") // it holds something else
		case err != nil:
			return cmdutil.StoreErr(err)
		}
		if o.JSON {
			return output.JSON(o.IO.Out, struct {
				From string `json:"from"`
				vault.CopyReport
				Verified bool `json:"verified"`
			}{v.Path(), rep, true})
		}
		state := map[bool]string{true: "into an empty database", false: "into the vault copied there before"}[rep.Created]
		fmt.Fprintf(o.IO.Out, "copied the vault %s\n  to %s (%s)\n", v.Path(), rep.Target, state)
		tables := make([][2]string, len(rep.Tables))
		for i, t := range rep.Tables {
			tables[i] = [2]string{"  " + t.Table, fmt.Sprint(t.Rows)}
		}
		output.Fields(o.IO.Out, tables)
		fmt.Fprintf(o.IO.Out, "verified: the copy opens with the master key, every record in it authenticates, and every table matches\n")
		fmt.Fprintf(o.IO.Out, "next: give every replica SPGATE_VAULT=%s and the same SPGATE_MASTER_KEY\n", rep.Target)
		return nil
	})
}
