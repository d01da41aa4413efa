// Package output prints what a command answers and tells: JSON for
// programs; aligned tables, field lists and notes for people; and the
// command's log on stderr.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
)

// JSON writes v as indented JSON followed by a newline.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON output: %w", err)
	}
	return nil
}

// Note tells the person about a choice made for them, on w (stderr):
// "spgate: note: …", or asJSON one JSON object {"note": "…"}, so that
// stdout keeps only the command's answer.
func Note(w io.Writer, asJSON bool, note string) {
	if asJSON {
		b, _ := json.Marshal(map[string]string{"note": note})
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "spgate: note: %s\n", note)
}

// List prints a list's rows on out: as JSON when asJSON; else as a table
// under header with one line (tab-separated cells) per row, or, when there
// are no rows, the note empty on errw.
func List[T any](out, errw io.Writer, asJSON bool, rows []T, empty, header string, line func(T) string) error {
	if asJSON {
		return JSON(out, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(errw, empty)
		return nil
	}
	tw := table(out)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, line(r))
	}
	return tw.Flush()
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// Fields prints one record's fields, name and value pairs, as aligned
// "name  value" lines.
func Fields(w io.Writer, fields [][2]string) error {
	tw := table(w)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s\t%s\n", f[0], f[1])
	}
	return tw.Flush()
}

// Dash is s, or "-" for an empty s, for a table cell.
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ParseLevel reads a log level: debug, info, warn (or warning, or empty)
// or error, in any case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning", "":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelWarn, fmt.Errorf("%q is not a level: use debug, info, warn or error", s)
}

// Logger logs on w at level: text lines, or JSON lines when asJSON.
// Secrets must be logged as secret.String, which masks itself.
func Logger(w io.Writer, level slog.Level, asJSON bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
