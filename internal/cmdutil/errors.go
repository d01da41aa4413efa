package cmdutil

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// UsageErr marks an error made of format and a as bad user input (exit
// code 2).
func UsageErr(format string, a ...any) error {
	return &problem.Error{Code: problem.ExitUsage, Problem: problem.BadInput, Err: fmt.Errorf(format, a...)}
}

// InvalidInput marks err, a value refused by its check, as bad input (exit
// code 2).
func InvalidInput(err error) error { return &problem.Error{Code: problem.ExitUsage, Err: err} }

// Failed marks err as a failed operation (exit code 1).
func Failed(err error) error { return &problem.Error{Code: problem.ExitFailure, Err: err} }

// ConfigErr marks err as a problem of the vault, its key or the setup
// around it (exit code 3).
func ConfigErr(err error) error { return &problem.Error{Code: problem.ExitConfig, Err: err} }

// StoreErr maps an error from a vault call after Open to its problem:
// invalid input and a name not in the vault exit 2, a name already taken
// 1; lock, corruption and tampering are vault problems (exit 3). An error
// that already has an exit code keeps it.
func StoreErr(err error) error {
	if err == nil {
		return nil
	}
	var ee *problem.Error
	if errors.As(err, &ee) {
		return err
	}
	switch {
	case errors.Is(err, vault.ErrInvalid):
		return &problem.Error{Code: problem.ExitUsage, Problem: problem.BadInput, Err: err}
	case errors.Is(err, vault.ErrNotFound):
		return &problem.Error{Code: problem.ExitUsage, Problem: problem.NotFound, Err: err}
	case errors.Is(err, vault.ErrExists):
		return &problem.Error{Code: problem.ExitFailure, Problem: problem.Exists, Err: err}
	case errors.Is(err, vault.ErrLocked), errors.Is(err, vault.ErrCorrupt),
		errors.Is(err, vault.ErrTampered), errors.Is(err, vault.ErrWrongKey):
		return ConfigErr(err)
	}
	return Failed(err)
}

// NotFound turns vault.ErrNotFound into a message saying that the kind
// ("app", "seller", "gateway client") named ref is not in the vault and
// which command (list) lists what is there; other errors go to StoreErr.
func NotFound(err error, kind, ref, list string) error {
	if errors.Is(err, vault.ErrNotFound) {
		return problem.New(problem.NotFound, fmt.Errorf("no %s %q in the vault", kind, ref), "see `"+list+"`")
	}
	return StoreErr(err)
}

// ReleaseErr gives a failed access record (appvault.RecordRelease) the
// vault error's exit code: 3 when the vault is locked or damaged, else 1.
func ReleaseErr(err error) error {
	if err == nil {
		return nil
	}
	code := problem.ExitFailure
	var ee *problem.Error
	if errors.As(StoreErr(err), &ee) && ee.Code == problem.ExitConfig {
		code = problem.ExitConfig
	}
	return &problem.Error{Code: code, Err: err}
}

// RecordRelease writes e, with Client set to the command line's user
// (appvault.CommandLineReader), to the vault's access log before a command
// writes personal data or a secret anywhere (appvault.RecordRelease). When
// the record cannot be written the command must write nothing; the error
// says so.
func RecordRelease(ctx context.Context, v *vault.Vault, e vault.AccessEvent, what string) error {
	e.Client = appvault.CommandLineReader()
	return ReleaseErr(appvault.RecordRelease(ctx, v, e, what))
}

// CallError explains an error answer of Amazon (spapi.APIError.Explain):
// its words, the likely cause, and the setup step that fixes it (exit
// code 1).
func CallError(err error) error {
	var ae *spapi.APIError
	if !errors.As(err, &ae) {
		return Failed(err)
	}
	return Failed(errors.New(ae.Explain()))
}

// ExactArgs is cobra.ExactArgs with a message naming the arguments and a
// usage exit code.
func ExactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return UsageErr("%s takes %d argument(s): %s (got %d)\nRun '%s --help' for usage.", cmd.CommandPath(), n, names, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// FlagCheck is a value CheckFlags checks: given for Flag ("" for an
// argument), checked with Check (a vault.Validate… function); Required
// says why it must be given (" (…)" or ": …"), "" when it may be empty.
type FlagCheck struct {
	Flag, Value string
	Check       func(string) error
	Required    string
}

// NoCheck accepts any value, for a FlagCheck that only requires one.
func NoCheck(string) error { return nil }

// CheckFlags checks values in order and words the first problem for the
// flag it came from.
func CheckFlags(checks ...FlagCheck) error {
	for _, c := range checks {
		if c.Value == "" && c.Flag != "" {
			if c.Required != "" {
				return UsageErr("--%s is required%s", c.Flag, c.Required)
			}
			continue
		}
		if err := c.Check(c.Value); err != nil && c.Flag == "" {
			return InvalidInput(err)
		} else if err != nil {
			return InvalidInput(fmt.Errorf("--%s: %w", c.Flag, err))
		}
	}
	return nil
}
