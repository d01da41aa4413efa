package cli

import (
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/problem"
)

// ExitError carries the exit code a command wants, with its message; see
// package problem for the kinds of error and their exit codes.
type ExitError = problem.Error

// Exit codes. Scripts can rely on them.
const (
	ExitOK       = problem.ExitOK
	ExitFailure  = problem.ExitFailure  // the operation failed (Amazon refused, a check failed)
	ExitUsage    = problem.ExitUsage    // bad flags or arguments
	ExitConfig   = problem.ExitConfig   // vault missing, locked, corrupted or wrong key
	ExitInternal = problem.ExitInternal // a bug in spgate
)

// Problems are the kinds of error spgate reports (package problem), each
// with one exit code whichever verb meets it (TestExitCodeTable runs every
// verb into each).
const (
	ProblemBadInput = problem.BadInput
	ProblemNotFound = problem.NotFound
	ProblemExists   = problem.Exists
	ProblemVault    = problem.Vault
	ProblemFailed   = problem.Failed
	ProblemInternal = problem.Internal
)

// usageErr marks err as bad user input (exit code 2).
func usageErr(format string, a ...any) error { return cmdutil.UsageErr(format, a...) }
