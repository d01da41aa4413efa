// Package cmdutil builds spgate's vault verbs once: Env is what a verb
// takes from its surroundings (cli/cli's Factory, resolved for one run),
// injected so that a test runs the verb without cobra; ListCmd, RemoveCmd
// and VaultRunE are the shapes many verbs share. Errors the verbs return
// are the command line's to map to exit codes: Env.VaultErr does that for
// the errors of the vault calls made here.
package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/prompt"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// Env is what a verb takes from its surroundings.
type Env struct {
	In       io.Reader
	Out, Err io.Writer
	JSON     bool // --json
	Log      *slog.Logger
	Clock    clock.Clock
	// OpenVault opens the vault; the caller closes it.
	OpenVault func() (*vault.Vault, error)
	// ReadSecret reads a secret from the file its flag names, the
	// environment or a hidden prompt.
	ReadSecret func(prompt.Source) (secret.String, error)
	// Confirm asks a yes/no question; without a terminal it refuses.
	Confirm func(question string) (bool, error)
	// VaultErr turns an error of a vault call into the command's error.
	VaultErr func(error) error
}

// EnvFunc returns the Env of the command cobra runs; with create,
// OpenVault creates a missing vault.
type EnvFunc func(cmd *cobra.Command, create bool) Env

// WithVault opens the vault, runs fn with it and closes it again.
func (e *Env) WithVault(fn func(v *vault.Vault) error) error {
	v, err := e.OpenVault()
	if err != nil {
		return err
	}
	defer v.Close()
	return fn(v)
}

// Answer prints the verb's answer: j as JSON under --json, else the line
// format makes of a.
func (e *Env) Answer(j any, format string, a ...any) error {
	if e.JSON {
		return output.JSON(e.Out, j)
	}
	_, err := fmt.Fprintf(e.Out, format+"\n", a...)
	return err
}

// Warn prints warning about what (e.g. "app main") on stderr; nothing for
// an empty warning.
func (e *Env) Warn(what, warning string) {
	if warning != "" {
		fmt.Fprintf(e.Err, "warning: %s: %s\n", what, warning)
	}
}

// PrintUpdate logs and prints what an update verb changed of kind name;
// under --json with view, the record as the update left it.
func (e *Env) PrintUpdate(kind, name string, changes []vault.FieldChange, view any) error {
	if len(changes) > 0 {
		e.Log.Info(kind+" updated", kind, name, "fields", len(changes))
	}
	if e.JSON {
		if changes == nil {
			changes = []vault.FieldChange{}
		}
		return output.JSON(e.Out, map[string]any{kind: view, "changed": len(changes) > 0, "changes": changes})
	}
	if len(changes) == 0 {
		_, err := fmt.Fprintf(e.Out, "%s %s: nothing changed\n", kind, name)
		return err
	}
	fmt.Fprintf(e.Out, "updated %s %s:\n", kind, name)
	for _, c := range changes {
		fmt.Fprintf(e.Out, "  %s\n", c)
	}
	return nil
}

// VaultRunE is a cobra RunE running fn with the command's Env and the open
// vault: the shape of the verbs that read or change the vault and nothing
// else.
func VaultRunE(env EnvFunc, fn func(ctx context.Context, e *Env, v *vault.Vault, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e := env(cmd, false)
		return e.WithVault(func(v *vault.Vault) error { return fn(cmd.Context(), &e, v, args) })
	}
}

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
func ListCmd[T any](cmd *cobra.Command, env EnvFunc, l List[T]) *cobra.Command {
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		e := env(cmd, false)
		return RunList(cmd.Context(), &e, l)
	}
	return cmd
}

// RunList runs the list verb l: as a table, or as JSON under --json.
func RunList[T any](ctx context.Context, e *Env, l List[T]) error {
	return e.WithVault(func(v *vault.Vault) error {
		rows, err := l.Rows(ctx, v, clock.Or(e.Clock).Now())
		if err != nil {
			return e.VaultErr(err)
		}
		if err := output.List(e.Out, e.Err, e.JSON, rows, l.Empty, l.Header, l.Line); err != nil || e.JSON || l.Warn == nil {
			return err
		}
		for _, r := range rows {
			e.Warn(l.Warn(r))
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
func ShowCmd[T any](cmd *cobra.Command, env EnvFunc, s Show[T]) *cobra.Command {
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		e := env(cmd, false)
		return RunShow(cmd.Context(), &e, s, args[0])
	}
	return cmd
}

// RunShow shows the record ref names: its fields, or its view as JSON
// under --json.
func RunShow[T any](ctx context.Context, e *Env, s Show[T], ref string) error {
	return e.WithVault(func(v *vault.Vault) error {
		j, err := s.Get(ctx, v, ref, clock.Or(e.Clock).Now())
		if err != nil {
			return err
		}
		if e.JSON {
			return output.JSON(e.Out, j)
		}
		err = output.Fields(e.Out, s.Fields(j))
		if s.Warn != nil {
			e.Warn(s.Warn(j))
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
func RemoveCmd(cmd *cobra.Command, env EnvFunc, r Remove) *cobra.Command {
	var yes bool
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		e := env(cmd, false)
		return RunRemove(cmd.Context(), &e, r, args[0], yes)
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// RunRemove removes the record ref names: unless yes it asks first
// (declining is ErrNotRemoved), and reports "removed KIND NAME" (or
// {"removed": NAME} under --json).
func RunRemove(ctx context.Context, e *Env, r Remove, ref string, yes bool) error {
	return e.WithVault(func(v *vault.Vault) error {
		name, question, err := r.Find(ctx, v, ref)
		if err != nil {
			return err
		}
		if !yes {
			ok, err := e.Confirm(question)
			if err != nil {
				return err
			}
			if !ok {
				return ErrNotRemoved
			}
		}
		if err := r.Remove(v)(ctx, name); err != nil {
			return e.VaultErr(err)
		}
		return e.Answer(map[string]any{"removed": name}, "removed %s %s", r.Kind, name)
	})
}
