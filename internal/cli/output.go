package cli

import (
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
)

// Names of the persistent root flags every verb inherits.
const (
	flagVault    = cmdutil.FlagVault
	flagJSON     = cmdutil.FlagJSON
	flagLogLevel = cmdutil.FlagLogLevel
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
