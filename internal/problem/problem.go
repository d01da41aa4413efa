// Package problem names the kinds of error spgate's commands report and
// gives each one exit code, whichever verb meets it, and prints a failed
// command's error: "spgate: …" for people, or one JSON object with the
// problem's code, the message and the fix for scripts.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spgate/spgate/vault"
)

// Exit codes. Scripts can rely on them.
const (
	ExitOK       = 0
	ExitFailure  = 1 // the operation failed (Amazon refused, a check failed)
	ExitUsage    = 2 // bad flags or arguments
	ExitConfig   = 3 // vault missing, locked, corrupted or wrong key
	ExitInternal = 4
)

// Problems are the kinds of error spgate reports. Each has one exit code
// (Code), and its name is the "code" of the JSON error object printed under
// --json.
const (
	BadInput = "bad_input" // a flag, argument or value is wrong
	NotFound = "not_found" // the app, seller or gateway client named is not in the vault
	Exists   = "exists"    // something of that name is already in the vault
	Vault    = "vault"     // the vault or its key is missing, wrong, locked or damaged
	Failed   = "failed"    // the operation failed: Amazon refused, a check failed, the network
	Internal = "internal"  // a bug in spgate
)

// Code is the one table of exit codes: it returns problem p's exit code,
// and false for a name that is not a problem.
func Code(p string) (int, bool) {
	switch p {
	case BadInput, NotFound:
		return ExitUsage, true
	case Exists, Failed:
		return ExitFailure, true
	case Vault:
		return ExitConfig, true
	case Internal:
		return ExitInternal, true
	}
	return 0, false
}

// Error carries the exit code a command wants, with its message.
type Error struct {
	Code int
	Err  error
	// Problem names the kind of error (NotFound, …); empty means the one
	// Code stands for.
	Problem string
	// Fix says what to do about it, when Err's text does not.
	Fix string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Fix != "" {
		return e.Err.Error() + ": " + e.Fix
	}
	return e.Err.Error()
}

// Unwrap returns the error the command met.
func (e *Error) Unwrap() error { return e.Err }

// New is an error of problem p with an explicit fix ("" when Err's text
// says it).
func New(p string, err error, fix string) error {
	code, _ := Code(p)
	return &Error{Code: code, Problem: p, Err: err, Fix: fix}
}

// Of names the problem err is and its exit code: an *Error's own, else
// bad input for cobra's argument errors and a failure for the rest.
func Of(err error) (string, int) {
	var ee *Error
	if errors.As(err, &ee) {
		if ee.Problem != "" {
			return ee.Problem, ee.Code
		}
		switch {
		case errors.Is(err, vault.ErrNotFound) && ee.Code == ExitUsage:
			return NotFound, ee.Code
		case errors.Is(err, vault.ErrExists) && ee.Code == ExitFailure:
			return Exists, ee.Code
		}
		switch ee.Code {
		case ExitUsage:
			return BadInput, ee.Code
		case ExitConfig:
			return Vault, ee.Code
		case ExitInternal:
			return Internal, ee.Code
		}
		return Failed, ee.Code
	}
	if IsUsage(err) {
		return BadInput, ExitUsage
	}
	return Failed, ExitFailure
}

// IsUsage recognises cobra's own argument errors, which it returns
// unwrapped.
func IsUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// JSON is the object printed on stderr for a failed command under --json.
type JSON struct {
	Code    string `json:"code"`    // the problem, e.g. "not_found"
	Exit    int    `json:"exit"`    // the process exit code
	Message string `json:"message"` // what went wrong
	Fix     string `json:"fix"`     // what to do about it ("" when spgate cannot tell)
}

// Write prints err for a command that failed: "spgate: …" lines, or with
// asJSON one JSON object on a line. cmdPath is the failed command
// ("spgate call"), for the fallback fix of bad input.
func Write(w io.Writer, err error, asJSON bool, cmdPath string) {
	if !asJSON {
		fmt.Fprintf(w, "spgate: %v\n", err)
		return
	}
	p, code := Of(err)
	msg, fix := SplitFix(err.Error())
	if ee, ok := err.(*Error); ok && ee.Fix != "" {
		msg, fix = ee.Err.Error(), ee.Fix
	}
	if fix == "" && p == BadInput && cmdPath != "" {
		fix = "see `" + cmdPath + " --help`"
	}
	b, _ := json.Marshal(JSON{Code: p, Exit: code, Message: msg, Fix: fix})
	fmt.Fprintf(w, "%s\n", b)
}

// imperative reports whether s starts with a verb that opens the fix part
// of spgate's messages ("…: run `spgate rotate`", "…; remove it first").
func imperative(s string) bool {
	w, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	switch strings.ToLower(strings.Trim(w, "`'\"(")) {
	case "add", "ask", "authorize", "check", "choose", "copy",
		"correct", "create", "delete", "do", "drop", "edit", "fix",
		"free", "give", "install", "list", "move", "name", "paste",
		"pass", "pick", "point", "register", "remove", "request",
		"restore", "retry", "rotate", "run", "see", "set", "start",
		"store", "try", "update", "upgrade", "use", "wait":
		return true
	}
	return false
}

// SplitFix separates a message written as "what went wrong: how to fix it"
// (the form spgate's errors take) into its two parts. A line "fix: …" or a
// later line that starts with a verb is the fix; otherwise the first ": ",
// "; " or " — " of the first line that a verb follows. msg keeps everything
// else; fix is "" when none is found.
func SplitFix(s string) (msg, fix string) {
	lines := strings.Split(s, "\n")
	var keep []string
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if f, ok := strings.CutPrefix(t, "fix:"); ok && fix == "" {
			fix = strings.TrimSpace(f)
			continue
		}
		if i > 0 && fix == "" && imperative(t) {
			fix = t
			continue
		}
		keep = append(keep, l)
	}
	if fix == "" && len(keep) > 0 {
		var first string
		first, fix = splitFirstLine(keep[0])
		keep[0] = first
	}
	return strings.TrimSpace(strings.Join(keep, "\n")), fix
}

// splitFirstLine cuts line at its earliest ": ", "; " or " — " that a verb
// follows; fix is "" when there is none.
func splitFirstLine(line string) (msg, fix string) {
	best, sepLen := -1, 0
	for _, sep := range []string{": ", "; ", " — "} {
		for off := 0; ; {
			i := strings.Index(line[off:], sep)
			if i < 0 {
				break
			}
			i += off
			if imperative(line[i+len(sep):]) && (best < 0 || i < best) {
				best, sepLen = i, len(sep)
				break
			}
			off = i + len(sep)
		}
	}
	if best < 0 {
		return line, ""
	}
	return line[:best], strings.TrimSpace(line[best+sepLen:])
}
