package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
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
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning", "":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelWarn, usageErr("--log-level %q is not a level: use debug, info, warn or error", v)
}

// logger returns the command's logger: slog text on stderr at --log-level
// (default warn), JSON lines with --json. Secrets must be logged as
// secret.String, which masks itself.
func logger(cmd *cobra.Command) *slog.Logger {
	lvl, _ := parseLogLevel(cmd) // validated in the root's PersistentPreRunE
	opts := &slog.HandlerOptions{Level: lvl}
	w := cmd.ErrOrStderr()
	if jsonOut(cmd) {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// printJSON writes v as indented JSON followed by a newline.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON output: %w", err)
	}
	return nil
}

// printNote tells the user about a choice spgate made for them, on stderr:
// "spgate: note: …", or with --json one JSON object {"note": "…"}, so
// stdout keeps only the command's answer.
func printNote(cmd *cobra.Command, w io.Writer, note string) {
	if jsonOut(cmd) {
		b, _ := json.Marshal(map[string]string{"note": note})
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "spgate: note: %s\n", note)
}
