package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/internal/prompt"
)

// confirm asks a yes/no question on stderr and reads the answer from stdin.
// Without a terminal and without --yes it refuses (exit 2), so scripts
// never hang.
func confirm(cmd *cobra.Command, question string) (bool, error) {
	ok, err := prompt.Confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), question)
	return ok, promptErr(err)
}

// promptErr makes input the user got wrong or did not give bad input
// (exit 2).
func promptErr(err error) error {
	var ie *prompt.InputError
	if errors.As(err, &ie) {
		return &ExitError{Code: ExitUsage, Problem: ProblemBadInput, Err: err}
	}
	return err
}
