package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/prompt"
	"github.com/spgate/spgate/secret"
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
