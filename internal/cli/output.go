package cli

import (
	"errors"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/prompt"
)

// Names of the persistent root flags every verb inherits.
const (
	flagVault    = "vault"
	flagJSON     = "json"
	flagLogLevel = "log-level"
)

// jsonOut reports whether the command should print JSON (--json). It also
// honours a verb's own local --json flag (spgate emulate has one).
func jsonOut(cmd *cobra.Command) bool {
	f := cmd.Flags().Lookup(flagJSON)
	if f == nil {
		f = cmd.InheritedFlags().Lookup(flagJSON)
	}
	return f != nil && f.Value.String() == "true"
}

// parseLogLevel reads --log-level; a bad value is a usage error.
func parseLogLevel(cmd *cobra.Command) (slog.Level, error) {
	v := "warn"
	if f := cmd.Flags().Lookup(flagLogLevel); f != nil {
		v = f.Value.String()
	}
	lvl, err := output.ParseLevel(v)
	if err != nil {
		return lvl, usageErr("--log-level %v", err)
	}
	return lvl, nil
}

// logger returns the command's logger: slog text on stderr at --log-level
// (default warn), JSON lines with --json.
func logger(cmd *cobra.Command) *slog.Logger {
	lvl, _ := parseLogLevel(cmd) // validated in the root's PersistentPreRunE
	return output.Logger(cmd.ErrOrStderr(), lvl, jsonOut(cmd))
}

// printJSON writes v as indented JSON followed by a newline.
func printJSON(w io.Writer, v any) error { return output.JSON(w, v) }

// printNote tells the user about a choice spgate made for them, on stderr
// (output.Note).
func printNote(cmd *cobra.Command, w io.Writer, note string) { output.Note(w, jsonOut(cmd), note) }

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
