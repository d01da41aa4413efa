package problem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/spgate/spgate/vault"
)

// TestSplitFix: the message and fix of spgate's errors as the JSON error
// object splits them.
func TestSplitFix(t *testing.T) {
	tests := []struct{ in, msg, fix string }{
		{"no app \"x\" in the vault: see `spgate app list`", "no app \"x\" in the vault", "see `spgate app list`"},
		{"the vault holds 2 apps (a, b): choose one with --app", "the vault holds 2 apps (a, b)", "choose one with --app"},
		{"seller A1 is stored in region eu, not na; remove it first", "seller A1 is stored in region eu, not na", "remove it first"},
		{"--out is required: a .jsonl or .csv file", "--out is required: a .jsonl or .csv file", ""},
		{"unknown flag: --x\nRun 'spgate app list --help' for usage.", "unknown flag: --x", "Run 'spgate app list --help' for usage."},
		{"getOrders answered 403 Unauthorized: denied\n  likely cause: c\n  fix: run `spgate doctor`\n  request id: r", "getOrders answered 403 Unauthorized: denied\n  likely cause: c\n  request id: r", "run `spgate doctor`"},
		{"a: b — use --paste", "a: b", "use --paste"},
	}
	for _, tc := range tests {
		msg, fix := SplitFix(tc.in)
		if msg != tc.msg || fix != tc.fix {
			t.Errorf("SplitFix(%q) = %q, %q; want %q, %q", tc.in, msg, fix, tc.msg, tc.fix)
		}
	}
}

func TestOf(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		problem string
		code    int
	}{
		{"explicit problem", New(NotFound, errors.New("no seller"), "see `spgate seller list`"), NotFound, ExitUsage},
		{"vault not found as usage", &Error{Code: ExitUsage, Err: fmt.Errorf("app x: %w", vault.ErrNotFound)}, NotFound, ExitUsage},
		{"vault exists as failure", &Error{Code: ExitFailure, Err: fmt.Errorf("app x: %w", vault.ErrExists)}, Exists, ExitFailure},
		{"usage", &Error{Code: ExitUsage, Err: errors.New("--x is bad")}, BadInput, ExitUsage},
		{"config", &Error{Code: ExitConfig, Err: errors.New("locked")}, Vault, ExitConfig},
		{"internal", &Error{Code: ExitInternal, Err: errors.New("bug")}, Internal, ExitInternal},
		{"failure", &Error{Code: ExitFailure, Err: errors.New("refused")}, Failed, ExitFailure},
		{"wrapped", fmt.Errorf("outer: %w", &Error{Code: ExitConfig, Err: errors.New("locked")}), Vault, ExitConfig},
		{"cobra's own", errors.New(`unknown flag: --x`), BadInput, ExitUsage},
		{"plain", errors.New("boom"), Failed, ExitFailure},
	}
	for _, tc := range tests {
		p, code := Of(tc.err)
		if p != tc.problem || code != tc.code {
			t.Errorf("%s: Of = %s, %d; want %s, %d", tc.name, p, code, tc.problem, tc.code)
		}
		if want, ok := Code(p); !ok || want != code {
			t.Errorf("%s: exit %d is not the table's %d for %s", tc.name, code, want, p)
		}
	}
	if _, ok := Code("frobnicated"); ok {
		t.Error("Code knows a problem that is not one")
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		asJSON bool
		want   string
	}{
		{"text", errors.New("boom: run `spgate doctor`"), false, "spgate: boom: run `spgate doctor`\n"},
		{"json splits the fix", errors.New("boom: run `spgate doctor`"), true,
			`{"code":"failed","exit":1,"message":"boom","fix":"run ` + "`spgate doctor`" + `"}` + "\n"},
		{"json explicit fix", New(NotFound, errors.New(`no app "x" in the vault`), "see `spgate app list`"), true,
			`{"code":"not_found","exit":2,"message":"no app \"x\" in the vault","fix":"see ` + "`spgate app list`" + `"}` + "\n"},
		{"json bad input falls back to help", &Error{Code: ExitUsage, Err: errors.New("--out is required")}, true,
			`{"code":"bad_input","exit":2,"message":"--out is required","fix":"see ` + "`spgate orders pull --help`" + `"}` + "\n"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		Write(&b, tc.err, tc.asJSON, "spgate orders pull")
		if b.String() != tc.want {
			t.Errorf("%s: wrote %q, want %q", tc.name, b.String(), tc.want)
		}
		if tc.asJSON {
			var j JSON
			if err := json.Unmarshal(b.Bytes(), &j); err != nil {
				t.Errorf("%s: not one JSON object: %v", tc.name, err)
			}
		}
	}
}
