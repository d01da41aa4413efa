// Package cmdutil is what spgate's verbs (internal/cmd/...) share, as
// cli/cli's pkg/cmdutil: the Factory, what a verb takes from its
// surroundings, injected so that a test runs the verb without cobra; the
// errors that carry an exit code (package problem) and the checks of
// arguments and flags; the flags and endpoints of the verbs that call
// Amazon; and ListCmd, ShowCmd and RemoveCmd, the shapes many vault verbs
// share.
package cmdutil

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/vault"
)

// List is what a list verb lists and how it prints a row.
type List[T any] struct {
	// Rows reads the rows from the vault at now.
	Rows          func(ctx context.Context, v *vault.Vault, now time.Time) ([]T, error)
	Empty, Header string // the note when there are none; the table's header
	Line          func(T) string
	// Warn names a row and its warning ("" for none), printed on stderr
	// after the table.
	Warn func(T) (what, warning string)
}

// ListCmd makes cmd (its name and help) the list verb l describes.
func ListCmd[T any](cmd *cobra.Command, f *Factory, l List[T]) *cobra.Command {
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return RunList(cmd.Context(), f, l) }
	return cmd
}

// RunList runs the list verb l: as a table, or as JSON under --json.
func RunList[T any](ctx context.Context, f *Factory, l List[T]) error {
	return f.WithVault(ctx, func(v *vault.Vault) error {
		rows, err := l.Rows(ctx, v, clock.Or(f.Clock).Now())
		if err != nil {
			return StoreErr(err)
		}
		if err := output.List(f.IO.Out, f.IO.Err, f.JSON, rows, l.Empty, l.Header, l.Line); err != nil || f.JSON || l.Warn == nil {
			return err
		}
		for _, r := range rows {
			f.Warn(l.Warn(r))
		}
		return nil
	})
}

// Views returns the views of records read with err, for List.Rows.
func Views[R, T any](records []R, err error, view func(R) T) ([]T, error) {
	out := make([]T, 0, len(records))
	for _, r := range records {
		out = append(out, view(r))
	}
	return out, err
}

// Show is what a show verb shows: the record ref names, as a view.
type Show[T any] struct {
	// Get reads the view of the record ref names at now.
	Get    func(ctx context.Context, v *vault.Vault, ref string, now time.Time) (T, error)
	Fields func(T) [][2]string
	// Warn names the record and its warning ("" for none), printed on
	// stderr after the fields.
	Warn func(T) (what, warning string)
}

// ShowCmd makes cmd (its name, help and argument) the show verb s
// describes.
func ShowCmd[T any](cmd *cobra.Command, f *Factory, s Show[T]) *cobra.Command {
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return RunShow(cmd.Context(), f, s, args[0]) }
	return cmd
}

// RunShow shows the record ref names: its fields, or its view as JSON
// under --json.
func RunShow[T any](ctx context.Context, f *Factory, s Show[T], ref string) error {
	return f.WithVault(ctx, func(v *vault.Vault) error {
		j, err := s.Get(ctx, v, ref, clock.Or(f.Clock).Now())
		if err != nil {
			return err
		}
		if f.JSON {
			return output.JSON(f.IO.Out, j)
		}
		err = output.Fields(f.IO.Out, s.Fields(j))
		if s.Warn != nil {
			f.Warn(s.Warn(j))
		}
		return err
	})
}

// Remove is what a remove verb removes: Find says what the record ref
// names is called and asks the question confirming its removal; Remove
// removes it.
type Remove struct {
	Kind   string // "app", "seller"
	Find   func(ctx context.Context, v *vault.Vault, ref string) (name, question string, err error)
	Remove func(v *vault.Vault) func(ctx context.Context, name string) error
}

// ErrNotRemoved is a remove verb's answer when the user declines.
var ErrNotRemoved = errors.New("not removed")

// RemoveCmd makes cmd (its name, help and arguments) the remove verb r
// describes, with a --yes flag.
func RemoveCmd(cmd *cobra.Command, f *Factory, r Remove) *cobra.Command {
	var yes bool
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return RunRemove(cmd.Context(), f, r, args[0], yes) }
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// RunRemove removes the record ref names: unless yes it asks first
// (declining is ErrNotRemoved), and reports "removed KIND NAME" (or
// {"removed": NAME} under --json).
func RunRemove(ctx context.Context, f *Factory, r Remove, ref string, yes bool) error {
	return f.WithVault(ctx, func(v *vault.Vault) error {
		name, question, err := r.Find(ctx, v, ref)
		if err != nil {
			return err
		}
		if !yes {
			ok, err := f.Confirm(question)
			if err != nil {
				return err
			}
			if !ok {
				return ErrNotRemoved
			}
		}
		if err := r.Remove(v)(ctx, name); err != nil {
			return StoreErr(err)
		}
		return f.Answer(map[string]any{"removed": name}, "removed %s %s", r.Kind, name)
	})
}
