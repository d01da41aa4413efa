package output

import (
	"log/slog"
	"strings"
	"testing"
)

func TestList(t *testing.T) {
	type row struct{ A, B string }
	line := func(r row) string { return r.A + "\t" + r.B }
	tests := []struct {
		name     string
		json     bool
		rows     []row
		out, err string
	}{
		{"table", false, []row{{"main", "eu"}, {"second-app", "na"}}, "NAME        REGION\nmain        eu\nsecond-app  na\n", ""},
		{"empty", false, nil, "", "no apps\n"},
		{"json", true, []row{{"a", "b"}}, "[\n  {\n    \"A\": \"a\",\n    \"B\": \"b\"\n  }\n]\n", ""},
		{"json empty", true, []row{}, "[]\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errw strings.Builder
			if err := List(&out, &errw, tc.json, tc.rows, "no apps", "NAME\tREGION", line); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.out || errw.String() != tc.err {
				t.Errorf("stdout %q stderr %q, want %q and %q", out.String(), errw.String(), tc.out, tc.err)
			}
		})
	}
}

func TestFieldsAndNote(t *testing.T) {
	var b strings.Builder
	if err := Fields(&b, [][2]string{{"name", "main"}, {"client secret", Dash("")}}); err != nil {
		t.Fatal(err)
	}
	if want := "name           main\nclient secret  -\n"; b.String() != want {
		t.Errorf("fields %q, want %q", b.String(), want)
	}
	b.Reset()
	Note(&b, true, `kept "x"`)
	Note(&b, false, "kept")
	if want := "{\"note\":\"kept \\\"x\\\"\"}\nspgate: note: kept\n"; b.String() != want {
		t.Errorf("notes %q, want %q", b.String(), want)
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, " INFO ": slog.LevelInfo, "": slog.LevelWarn, "warning": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil || !strings.Contains(err.Error(), `"loud" is not a level`) {
		t.Errorf("ParseLevel(loud): %v", err)
	}
	var b strings.Builder
	Logger(&b, slog.LevelInfo, true).Debug("hidden")
	Logger(&b, slog.LevelInfo, true).Info("shown", "k", "v")
	if s := b.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown"`) {
		t.Errorf("log %q", s)
	}
}
