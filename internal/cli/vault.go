package cli

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/vault"
)

// vaultPaths returns the vault and key file locations: --vault overrides the
// vault file ($SPGATE_VAULT, else the XDG default).
func vaultPaths(cmd *cobra.Command) (vault.Paths, error) {
	p, err := vault.DefaultPaths()
	if err != nil {
		return vault.Paths{}, &ExitError{Code: ExitConfig, Err: err}
	}
	if f := cmd.Flags().Lookup(flagVault); f != nil && f.Value.String() != "" {
		p.Vault = f.Value.String()
	}
	return p, nil
}

// openVault opens the vault for cmd. With create, a missing vault is created
// and, when no key exists yet (no $SPGATE_MASTER_KEY and no key file), a new
// random master key is written to the key file (mode 0600) and a note about
// backing it up goes to stderr. An existing vault is never given a new key.
//
// Every vault or key problem comes back as *ExitError with ExitConfig and a
// message saying what is wrong and how to fix it.
func openVault(cmd *cobra.Command, create bool) (*vault.Vault, error) {
	p, err := vaultPaths(cmd)
	if err != nil {
		return nil, err
	}
	// A vault in PostgreSQL is taken to exist (Open says if it does not),
	// so no key is ever made up for it: its replicas share one.
	exists := true
	if _, err := os.Stat(p.Vault); errors.Is(err, os.ErrNotExist) && !vault.IsPostgresDSN(p.Vault) {
		exists = false
	}
	if !exists && !create {
		return nil, &ExitError{Code: ExitConfig, Err: fmt.Errorf("no vault at %s: run `spgate app add` to create one (or point --vault / $%s at an existing vault)", p.Vault, vault.EnvVault)}
	}
	createKey := create && !exists
	_, keyFileErr := os.Stat(p.KeyFile)
	key, err := vault.LoadKey(p, createKey)
	if err != nil {
		return nil, vaultErr(p, err)
	}
	if createKey && errors.Is(keyFileErr, os.ErrNotExist) && key.Source() != vault.EnvMasterKey {
		fmt.Fprintf(cmd.ErrOrStderr(), "spgate: created a new master key in %s; back it up apart from the vault: without it the vault cannot be opened\n", p.KeyFile)
	}
	v, err := vault.Open(cmd.Context(), p.Vault, key, vault.Options{Create: create, Actor: "cli"})
	if err != nil {
		return nil, vaultErr(p, err)
	}
	logger(cmd).Debug("vault opened", "path", v.Path(), "key", key.Source(), "created", !exists)
	return v, nil
}

// vaultErr maps an error from vault.Open or vault.LoadKey to an exit code
// and a message with the fix.
func vaultErr(p vault.Paths, err error) error {
	p.Vault = vault.RedactDSN(p.Vault)
	var msg string
	switch {
	case errors.Is(err, vault.ErrNoVault):
		msg = fmt.Sprintf("no vault at %s: run `spgate app add` to create one", p.Vault)
	case errors.Is(err, vault.ErrNoKey):
		msg = fmt.Sprintf("no vault key: set $%s or restore the key file %s (the key the vault at %s was created with)", vault.EnvMasterKey, p.KeyFile, p.Vault)
	case errors.Is(err, vault.ErrWrongKey):
		msg = fmt.Sprintf("wrong vault key for %s: the key in $%s or %s is not the one this vault was created with; use the original key", p.Vault, vault.EnvMasterKey, p.KeyFile)
	case errors.Is(err, vault.ErrKeyFilePermissions):
		msg = fmt.Sprintf("key file permissions too open: run `chmod 600 %s`", p.KeyFile)
	case errors.Is(err, vault.ErrTampered):
		msg = fmt.Sprintf("vault %s failed authentication (tampered or damaged): restore it from a backup", p.Vault)
	case errors.Is(err, vault.ErrCorrupt):
		msg = fmt.Sprintf("vault file %s is corrupt (not an spgate vault or truncated): restore it from a backup, or point --vault elsewhere", p.Vault)
	case errors.Is(err, vault.ErrLocked):
		msg = fmt.Sprintf("vault %s is locked by another spgate process: wait for it to finish and retry", p.Vault)
	case errors.Is(err, vault.ErrTooNew):
		msg = fmt.Sprintf("vault %s was written by a newer spgate: upgrade spgate", p.Vault)
	default:
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("open the vault %s: %w", p.Vault, err)}
	}
	return &ExitError{Code: ExitConfig, Err: fmt.Errorf("%s\n  (%w)", msg, err)}
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

// vaultRunE is a cobra RunE that opens the vault, runs fn with it and
// closes it again: the shape of every verb that reads or changes the vault
// and nothing else.
func vaultRunE(fn func(cmd *cobra.Command, v *vault.Vault, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		v, err := openVault(cmd, false)
		if err != nil {
			return err
		}
		defer v.Close()
		return fn(cmd, v, args)
	}
}

// printRows prints a list verb's rows: as JSON under --json; else as a
// table with header and one line (tab-separated) per row, or, when there
// are no rows, the note empty on stderr.
func printRows[T any](cmd *cobra.Command, streams IO, rows []T, empty, header string, line func(T) string) error {
	if jsonOut(cmd) {
		return printJSON(streams.Out, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(streams.Err, empty)
		return nil
	}
	tw := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, line(r))
	}
	return tw.Flush()
}
