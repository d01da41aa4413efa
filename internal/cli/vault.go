package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/prompt"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newVaultCmd) }

// vaultPaths returns the vault and key file locations: --vault overrides the
// vault file ($SPGATE_VAULT, else the XDG default).
func vaultPaths(cmd *cobra.Command) (vault.Paths, error) {
	p, err := vault.DefaultPaths()
	if err != nil {
		return vault.Paths{}, &ExitError{Code: ExitConfig, Err: err}
	}
	if path, _ := cmd.Flags().GetString(flagVault); path != "" {
		p.Vault = path
	}
	return p, nil
}

// openVault opens the vault for cmd (vault.OpenAt). With create, a missing
// vault is created and, when no key exists yet, a new master key; a note
// about backing it up goes to stderr. Every vault or key problem comes back
// as *ExitError with ExitConfig and a message saying what is wrong and how
// to fix it.
func openVault(cmd *cobra.Command, create bool) (*vault.Vault, error) {
	p, err := vaultPaths(cmd)
	if err != nil {
		return nil, err
	}
	v, opened, err := vault.OpenAt(cmd.Context(), p, vault.Options{Create: create, Actor: "cli"})
	if opened.KeyCreated {
		fmt.Fprintf(cmd.ErrOrStderr(), "spgate: created a new master key in %s; back it up apart from the vault: without it the vault cannot be opened\n", p.KeyFile)
	}
	if err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: err}
	}
	logger(cmd).Debug("vault opened", "path", v.Path(), "key", opened.KeySource, "created", opened.Created)
	return v, nil
}

// storeErr maps an error from a vault call after Open to its problem
// (errors.go): invalid input and a name not in the vault exit 2, a name
// already taken 1; lock, corruption and tampering are vault problems (exit 3).
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	switch {
	case errors.Is(err, vault.ErrInvalid):
		return &ExitError{Code: ExitUsage, Problem: ProblemBadInput, Err: err}
	case errors.Is(err, vault.ErrNotFound):
		return &ExitError{Code: ExitUsage, Problem: ProblemNotFound, Err: err}
	case errors.Is(err, vault.ErrExists):
		return &ExitError{Code: ExitFailure, Problem: ProblemExists, Err: err}
	case errors.Is(err, vault.ErrLocked), errors.Is(err, vault.ErrCorrupt),
		errors.Is(err, vault.ErrTampered), errors.Is(err, vault.ErrWrongKey):
		return &ExitError{Code: ExitConfig, Err: err}
	}
	return &ExitError{Code: ExitFailure, Err: err}
}

// notFound turns vault.ErrNotFound into a message with the listing command.
func notFound(err error, kind, ref, list string) error {
	if errors.Is(err, vault.ErrNotFound) {
		return notFoundErr(kind, ref, list)
	}
	return storeErr(err)
}

// exactArgs is cobra.ExactArgs with a message naming the argument and a
// usage exit code.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s takes %d argument(s): %s (got %d)\nRun '%s --help' for usage.", cmd.CommandPath(), n, names, len(args), cmd.CommandPath())
		}
		return nil
	}
}

func invalidInput(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// flagCheck is a value checkFlags checks: given for flag ("" for an
// argument), checked with check (a vault.Validate… function); required
// says why it must be given (" (…)" or ": …"), "" when it may be empty.
type flagCheck struct {
	flag, value string
	check       func(string) error
	required    string
}

// noCheck accepts any value, for a flagCheck that only requires one.
func noCheck(string) error { return nil }

// checkFlags checks values in order and words the first problem for the
// flag it came from.
func checkFlags(checks ...flagCheck) error {
	for _, c := range checks {
		if c.value == "" && c.flag != "" {
			if c.required != "" {
				return usageErr("--%s is required%s", c.flag, c.required)
			}
			continue
		}
		if err := c.check(c.value); err != nil && c.flag == "" {
			return invalidInput(err)
		} else if err != nil {
			return invalidInput(fmt.Errorf("--%s: %w", c.flag, err))
		}
	}
	return nil
}

// envFor returns the surroundings of the vault verbs cobra runs with
// streams (cmdutil.Env).
func envFor(streams IO) cmdutil.EnvFunc {
	return func(cmd *cobra.Command, create bool) cmdutil.Env {
		return cmdutil.Env{In: streams.In, Out: streams.Out, Err: streams.Err, JSON: jsonOut(cmd), Log: logger(cmd), Clock: clock.Real{},
			OpenVault: func() (*vault.Vault, error) { return openVault(cmd, create) },
			ReadSecret: func(src prompt.Source) (secret.String, error) {
				if f := cmd.Flags().Lookup(src.FileFlag); f != nil {
					src.File, src.FileGiven = f.Value.String(), f.Changed
				}
				s, err := prompt.ReadSecret(cmd.InOrStdin(), cmd.ErrOrStderr(), src)
				return s, promptErr(err)
			},
			Confirm:  func(question string) (bool, error) { return confirm(cmd, question) },
			VaultErr: storeErr,
		}
	}
}

// checkedSecret reads the secret src describes and checks its format with
// check (a vault.Validate… function); a bad format is invalid input.
func checkedSecret(e *cmdutil.Env, src prompt.Source, check func(string) error) (secret.String, error) {
	s, err := e.ReadSecret(src)
	if err != nil {
		return secret.String{}, err
	}
	if err := check(s.Reveal()); err != nil {
		return secret.String{}, invalidInput(err)
	}
	return s, nil
}

func newVaultCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Move the vault: copy it into PostgreSQL for several gateway replicas",
		Long: `vault works on the vault as a whole. One machine keeps it in a file; several
gateway replicas share it in PostgreSQL (SPGATE_VAULT=postgres://…), where
the rate limits, leases and change notifications are shared as well.`,
		Example: `  spgate vault copy --to postgres://spgate@db.internal:5432/spgate`,
	}
	cmd.AddCommand(newVaultCopyCmd(streams))
	return cmd
}

// vaultCopyOptions are the flags of spgate vault copy.
type vaultCopyOptions struct {
	cmdutil.Env
	Paths   vault.Paths // of the vault copied from
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
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			o.Env = envFor(streams)(cmd, false)
			if o.Paths, err = vaultPaths(cmd); err != nil {
				return err
			}
			return runVaultCopy(cmd.Context(), &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.To, "to", "", "the PostgreSQL database to copy into: postgres://user@host:5432/database (required)")
	f.BoolVar(&o.Replace, "replace", false, "copy over a copy that changed since the last copy (what its replicas wrote there is lost)")
	return cmd
}

func runVaultCopy(ctx context.Context, o *vaultCopyOptions) error {
	switch {
	case o.To == "":
		return usageErr("--to is required: the PostgreSQL database to copy the vault into, e.g. postgres://spgate@db.internal:5432/spgate")
	case !vault.IsPostgresDSN(o.To):
		return usageErr("--to %s is not a PostgreSQL DSN: write it as postgres://user@host:5432/database", vault.RedactDSN(o.To))
	case o.Paths.Vault == o.To:
		return usageErr("--to names the vault itself (%s); point --vault or $%s at the vault to copy from", vault.RedactDSN(o.To), vault.EnvVault)
	}
	return o.WithVault(func(v *vault.Vault) error {
		key, err := vault.LoadKey(o.Paths, false)
		if err != nil {
			return &ExitError{Code: ExitConfig, Err: vault.Explain(o.Paths, err)}
		}
		rep, err := vault.Copy(ctx, v, o.To, key, vault.CopyOptions{Replace: o.Replace})
		switch {
		case errors.Is(err, vault.ErrUnavailable), errors.Is(err, vault.ErrNoVault):
			return &ExitError{Code: ExitConfig, Problem: ProblemVault, Err: err} // the copy cannot be reached or opened
		case errors.Is(err, vault.ErrExists):
			return problemErr(ProblemExists, err, "") // it holds something else
		case err != nil:
			return storeErr(err)
		}
		if o.JSON {
			return printJSON(o.Out, struct {
				From string `json:"from"`
				vault.CopyReport
				Verified bool `json:"verified"`
			}{v.Path(), rep, true})
		}
		state := map[bool]string{true: "into an empty database", false: "into the vault copied there before"}[rep.Created]
		fmt.Fprintf(o.Out, "copied the vault %s\n  to %s (%s)\n", v.Path(), rep.Target, state)
		tables := make([][2]string, len(rep.Tables))
		for i, t := range rep.Tables {
			tables[i] = [2]string{"  " + t.Table, fmt.Sprint(t.Rows)}
		}
		output.Fields(o.Out, tables)
		fmt.Fprintf(o.Out, "verified: the copy opens with the master key, every record in it authenticates, and every table matches\n")
		fmt.Fprintf(o.Out, "next: give every replica SPGATE_VAULT=%s and the same SPGATE_MASTER_KEY\n", rep.Target)
		return nil
	})
}
