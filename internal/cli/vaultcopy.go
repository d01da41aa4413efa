package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newVaultCmd) }

func newVaultCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Move the vault: copy it into PostgreSQL for several gateway replicas",
		Long: `vault works on the vault as a whole. One machine keeps it in a file; several
gateway replicas share it in PostgreSQL (SPGATE_VAULT=postgres://…), where
the rate limits, leases and change notifications are shared as well.`,
		Example: `  spgate vault copy --to postgres://spgate@db.internal:5432/spgate`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newVaultCopyCmd(streams))
	return cmd
}

type vaultCopyOptions struct {
	To      string
	Replace bool
}

func newVaultCopyCmd(streams IO) *cobra.Command {
	o := vaultCopyOptions{}
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
		RunE: func(cmd *cobra.Command, _ []string) error { return runVaultCopy(cmd, streams, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.To, "to", "", "the PostgreSQL database to copy into: postgres://user@host:5432/database (required)")
	f.BoolVar(&o.Replace, "replace", false, "copy over a copy that changed since the last copy (what its replicas wrote there is lost)")
	return cmd
}

func runVaultCopy(cmd *cobra.Command, streams IO, o vaultCopyOptions) error {
	if o.To == "" {
		return usageErr("--to is required: the PostgreSQL database to copy the vault into, e.g. postgres://spgate@db.internal:5432/spgate")
	}
	if !vault.IsPostgresDSN(o.To) {
		return usageErr("--to %s is not a PostgreSQL DSN: write it as postgres://user@host:5432/database", vault.RedactDSN(o.To))
	}
	p, err := vaultPaths(cmd)
	if err != nil {
		return err
	}
	if p.Vault == o.To {
		return usageErr("--to names the vault itself (%s); point --vault or $%s at the vault to copy from", vault.RedactDSN(o.To), vault.EnvVault)
	}
	v, err := openVault(cmd, false)
	if err != nil {
		return err
	}
	defer v.Close()
	key, err := vault.LoadKey(p, false)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: vault.Explain(p, err)}
	}
	rep, err := vault.Copy(cmd.Context(), v, o.To, key, vault.CopyOptions{Replace: o.Replace})
	if err != nil {
		return copyErr(err)
	}
	if jsonOut(cmd) {
		return printJSON(streams.Out, struct {
			From string `json:"from"`
			vault.CopyReport
			Verified bool `json:"verified"`
		}{v.Path(), rep, true})
	}
	state := "into the vault copied there before"
	if rep.Created {
		state = "into an empty database"
	}
	fmt.Fprintf(streams.Out, "copied the vault %s\n  to %s (%s)\n", v.Path(), rep.Target, state)
	tw := tabwriter.NewWriter(streams.Out, 0, 0, 2, ' ', 0)
	for _, t := range rep.Tables {
		fmt.Fprintf(tw, "  %s\t%d\n", t.Table, t.Rows)
	}
	tw.Flush()
	fmt.Fprintf(streams.Out, "verified: the copy opens with the master key, every record in it authenticates, and every table matches\n")
	fmt.Fprintf(streams.Out, "next: give every replica SPGATE_VAULT=%s and the same SPGATE_MASTER_KEY\n", rep.Target)
	return nil
}

// copyErr maps a failed copy to its problem: a target that cannot be
// reached or opened is a vault problem, one that holds something else
// is taken.
func copyErr(err error) error {
	switch {
	case errors.Is(err, vault.ErrUnavailable), errors.Is(err, vault.ErrNoVault):
		return &ExitError{Code: ExitConfig, Problem: ProblemVault, Err: err}
	case errors.Is(err, vault.ErrExists):
		return problemErr(ProblemExists, err, "")
	}
	return storeErr(err)
}
