package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spgate/spgate/vault"
)

// Problems are the kinds of error spgate reports. Each has one exit code,
// whichever verb meets it (TestExitCodeTable runs every verb into each), and
// its name is the "code" of the JSON error object printed under --json.
const (
	ProblemBadInput = "bad_input" // a flag, argument or value is wrong
	ProblemNotFound = "not_found" // the app, seller or gateway client named is not in the vault
	ProblemExists   = "exists"    // something of that name is already in the vault
	ProblemVault    = "vault"     // the vault or its key is missing, wrong, locked or damaged
	ProblemFailed   = "failed"    // the operation failed: Amazon refused, a check failed, the network
	ProblemInternal = "internal"  // a bug in spgate
)

// exitCodes is the one table of exit codes: problem → code.
var exitCodes = map[string]int{
	ProblemBadInput: ExitUsage,
	ProblemNotFound: ExitUsage,
	ProblemExists:   ExitFailure,
	ProblemVault:    ExitConfig,
	ProblemFailed:   ExitFailure,
	ProblemInternal: ExitInternal,
}

// problemErr is an error of problem p with an explicit fix.
func problemErr(p string, err error, fix string) error {
	return &ExitError{Code: exitCodes[p], Problem: p, Err: err, Fix: fix}
}

// notFoundErr says that the kind ("app", "seller", "gateway client") named
// ref is not in the vault, and which command lists what is there.
func notFoundErr(kind, ref, list string) error {
	return problemErr(ProblemNotFound, fmt.Errorf("no %s %q in the vault", kind, ref), "see `"+list+"`")
}

// problemOf names the problem err is and its exit code.
func problemOf(err error) (string, int) {
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Problem != "" {
			return ee.Problem, ee.Code
		}
		switch {
		case errors.Is(err, vault.ErrNotFound) && ee.Code == ExitUsage:
			return ProblemNotFound, ee.Code
		case errors.Is(err, vault.ErrExists) && ee.Code == ExitFailure:
			return ProblemExists, ee.Code
		}
		switch ee.Code {
		case ExitUsage:
			return ProblemBadInput, ee.Code
		case ExitConfig:
			return ProblemVault, ee.Code
		case ExitInternal:
			return ProblemInternal, ee.Code
		}
		return ProblemFailed, ee.Code
	}
	if isUsage(err) {
		return ProblemBadInput, ExitUsage
	}
	return ProblemFailed, ExitFailure
}

// jsonError is the object printed on stderr for a failed command under
// --json.
type jsonError struct {
	Code    string `json:"code"`    // the problem, e.g. "not_found"
	Exit    int    `json:"exit"`    // the process exit code
	Message string `json:"message"` // what went wrong
	Fix     string `json:"fix"`     // what to do about it ("" when spgate cannot tell)
}

// writeError prints err for a command that failed: "spgate: …" lines, or
// with asJSON one JSON object on a line. cmdPath is the failed command
// ("spgate call"), for the fallback fix of bad input.
func writeError(w io.Writer, err error, asJSON bool, cmdPath string) {
	if !asJSON {
		fmt.Fprintf(w, "spgate: %v\n", err)
		return
	}
	p, code := problemOf(err)
	msg, fix := splitFix(err.Error())
	if ee, ok := err.(*ExitError); ok && ee.Fix != "" {
		msg, fix = ee.Err.Error(), ee.Fix
	}
	if fix == "" && p == ProblemBadInput && cmdPath != "" {
		fix = "see `" + cmdPath + " --help`"
	}
	b, _ := json.Marshal(jsonError{Code: p, Exit: code, Message: msg, Fix: fix})
	fmt.Fprintf(w, "%s\n", b)
}

// imperatives start the fix part of spgate's messages ("…: run `spgate
// rotate`", "…; remove it first").
var imperatives = map[string]bool{
	"add": true, "ask": true, "authorize": true, "check": true, "choose": true, "copy": true,
	"correct": true, "create": true, "delete": true, "do": true, "drop": true, "edit": true, "fix": true,
	"free": true, "give": true, "install": true, "list": true, "move": true, "name": true, "paste": true,
	"pass": true, "pick": true, "point": true, "register": true, "remove": true, "request": true,
	"restore": true, "retry": true, "rotate": true, "run": true, "see": true, "set": true, "start": true,
	"store": true, "try": true, "update": true, "upgrade": true, "use": true, "wait": true,
}

func imperative(s string) bool {
	w, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	return imperatives[strings.ToLower(strings.Trim(w, "`'\"("))]
}

// splitFix separates a message written as "what went wrong: how to fix it"
// (the form spgate's errors take) into its two parts. A line "fix: …" or a
// later line that starts with a verb is the fix; otherwise the first ": ",
// "; " or " — " of the first line that a verb follows. msg keeps everything
// else; fix is "" when none is found.
func splitFix(s string) (msg, fix string) {
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
		first := keep[0]
		best := -1
		sepLen := 0
		for _, sep := range []string{": ", "; ", " — "} {
			for off := 0; ; {
				i := strings.Index(first[off:], sep)
				if i < 0 {
					break
				}
				i += off
				if imperative(first[i+len(sep):]) && (best < 0 || i < best) {
					best, sepLen = i, len(sep)
					break
				}
				off = i + len(sep)
			}
		}
		if best >= 0 {
			fix = strings.TrimSpace(first[best+sepLen:])
			keep[0] = first[:best]
		}
	}
	return strings.TrimSpace(strings.Join(keep, "\n")), fix
}
