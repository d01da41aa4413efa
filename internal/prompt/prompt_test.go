package prompt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const value = "amzn1.oa2-cs.v1.0123456789abcdef"

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, empty := file("good", "  "+value+"\n"), file("empty", " \n")
	big := file("big", strings.Repeat("x", maxSecretInput+1))
	env := map[string]string{"SECRET": " " + value + " "}
	base := Source{What: "client secret", FileFlag: "client-secret-file", Env: "SECRET", Getenv: func(k string) string { return env[k] }}
	with := func(f func(*Source)) Source { s := base; f(&s); return s }
	tests := []struct {
		name  string
		stdin string
		src   Source
		input bool   // an *InputError
		want  string // in the error
	}{
		{"file", "", with(func(s *Source) { s.File, s.FileGiven = good, true }), false, ""},
		{"stdin", value + "\n", with(func(s *Source) { s.File, s.FileGiven = "-", true }), false, ""},
		{"file wins over env", "", with(func(s *Source) { s.File, s.FileGiven = good, true }), false, ""},
		{"env", "", base, false, ""},
		{"empty file", "", with(func(s *Source) { s.File, s.FileGiven = empty, true }), true, "client secret in --client-secret-file " + empty + " is empty"},
		{"missing file", "", with(func(s *Source) { s.File, s.FileGiven = filepath.Join(dir, "none"), true }), true, "read the client secret from --client-secret-file"},
		{"file too big", "", with(func(s *Source) { s.File, s.FileGiven = big, true }), true, "larger than 64 KiB"},
		{"nothing, no terminal", "", with(func(s *Source) { s.Env = "UNSET" }), true, "no client secret given; give the client secret with --client-secret-file FILE (- for stdin), or $UNSET, or an interactive terminal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var errw strings.Builder
			got, err := ReadSecret(strings.NewReader(tc.stdin), &errw, tc.src)
			var ie *InputError
			if tc.input {
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err %v, want an input error with %q", err, tc.want)
				}
				return
			}
			if err != nil || got.Reveal() != value {
				t.Fatalf("got %d characters, %v", len(got.Reveal()), err)
			}
			if errw.Len() != 0 {
				t.Errorf("asked on stderr without a terminal: %q", errw.String())
			}
		})
	}
}

func TestConfirmRefusesWithoutTerminal(t *testing.T) {
	var errw strings.Builder
	ok, err := Confirm(strings.NewReader("yes\n"), &errw, "remove app main?")
	var ie *InputError
	if ok || !errors.As(err, &ie) || !strings.Contains(err.Error(), "pass --yes") {
		t.Errorf("Confirm without a terminal: %v %v", ok, err)
	}
}
