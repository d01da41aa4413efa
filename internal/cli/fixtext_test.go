package cli

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// quotedCommand matches a backquoted spgate command in a fix text: on one
// line, as doctor and the error messages print them.
var quotedCommand = regexp.MustCompile("`spgate [^`\n]+`")

// goConcat matches `" + expr + "` inside a Go string, which a fix text
// uses to splice in a name; it becomes the placeholder X.
var goConcat = regexp.MustCompile(`"\s*\+\s*[\w.()]+\s*\+\s*"`)

// checkCommandText reports what is wrong with an spgate command line as a
// fix text shows it, or "" when the verb path exists and every --flag (or
// -x shorthand) is defined for it, and the remaining words are arguments
// the command accepts (its cobra Args check). Placeholders (ID, %s, M[,M…])
// count as words; a lone … does not; [--flag] is an optional flag.
func checkCommandText(root *cobra.Command, line string) string {
	fields := strings.Fields(strings.Trim(line, "`"))
	if len(fields) == 0 || fields[0] != "spgate" {
		return "does not start with spgate"
	}
	cmd := root
	i := 1
	for ; i < len(fields); i++ {
		sub := subcommand(cmd, fields[i])
		if sub == nil {
			break
		}
		cmd = sub
	}
	var positional []string
	rest := fields[i:]
	for j := 0; j < len(rest); j++ {
		f := strings.Trim(rest[j], "[]")
		var fl *pflag.Flag
		switch {
		case strings.HasPrefix(f, "--"):
			name, _, hasValue := strings.Cut(strings.TrimPrefix(f, "--"), "=")
			if fl = cmd.Flags().Lookup(name); fl == nil {
				fl = cmd.InheritedFlags().Lookup(name)
			}
			if fl == nil {
				return "`" + cmd.CommandPath() + "` has no flag --" + name
			}
			if hasValue {
				continue
			}
		case strings.HasPrefix(f, "-") && len(f) == 2:
			if fl = cmd.Flags().ShorthandLookup(f[1:]); fl == nil {
				fl = cmd.InheritedFlags().ShorthandLookup(f[1:])
			}
			if fl == nil {
				return "`" + cmd.CommandPath() + "` has no flag " + f
			}
		case f == "…" || f == "...":
			// "and more": not an argument of its own
		default:
			positional = append(positional, f)
		}
		if fl != nil && fl.NoOptDefVal == "" {
			j++ // the flag's value
		}
	}
	// A command group takes no arguments: a word after it is a verb that
	// does not exist.
	if cmd.HasSubCommands() && i < len(fields) && !strings.HasPrefix(fields[i], "-") {
		return "`" + cmd.CommandPath() + "` has no subcommand " + fields[i]
	}
	// A bare verb (`spgate app add`) names the command rather than giving a
	// full line, so the argument count is checked only when words follow.
	if cmd.Args != nil && len(positional) > 0 {
		if err := cmd.Args(cmd, positional); err != nil {
			return "`" + cmd.CommandPath() + "` does not take arguments " + strings.Join(positional, " ") + ": " + err.Error()
		}
	}
	return ""
}

func subcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return c
		}
	}
	return nil
}

func TestCheckCommandText(t *testing.T) {
	root := NewRoot(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	tests := []struct {
		line string
		ok   bool
	}{
		{"`spgate rotate --app main`", true},
		{"`spgate rotate main`", false}, // rotate takes the app as --app
		{"`spgate seller add %s --app %s`", true},
		{"`spgate seller add ID --app main … --refresh-token-file F`", true},
		{"`spgate seller update %s --region %s --marketplace M[,M…]`", true},
		{"`spgate setup aws --app main [--queue]`", true},
		{"`spgate app remove old --yes`", true},
		{"`spgate app remove old -y`", true},
		{"`spgate app list --json`", true}, // persistent flag of the root
		{"`spgate seller update %s --marketplaces %s`", false},
		{"`spgate app update main --roles …`", false},
		{"`spgate app frobnicate main`", false},
		{"`spgate seller`", true},
		{"`spgate app add`", true},
		{"`spgate app show a b`", false},
		{"`spgate app add -q`", false},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			if got := checkCommandText(root, tc.line); (got == "") != tc.ok {
				t.Errorf("checkCommandText(%s) = %q, want ok=%v", tc.line, got, tc.ok)
			}
		})
	}
}

// TestFixTextsNameRealCommands reads the fix texts and error messages of the
// packages that tell users what to run, and checks every backquoted spgate
// command against the real command tree: the verb path must exist and each
// --flag must be one of the command's flags.
func TestFixTextsNameRealCommands(t *testing.T) {
	root := NewRoot(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	var files []string
	for _, pattern := range []string{
		"../../doctor/*.go", "../../rotation/*.go", "../../gateway/*.go", "*.go",
		"../../docs/*.md", "../../README.md",
	} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(b), "\n") {
			if strings.HasSuffix(f, ".go") {
				line = goConcat.ReplaceAllString(line, "X")
			}
			for _, q := range quotedCommand.FindAllString(line, -1) {
				checked++
				if msg := checkCommandText(root, q); msg != "" {
					t.Errorf("%s:%d: %s: %s", f, n+1, q, msg)
				}
			}
		}
	}
	if !strings.Contains(strings.Join(files, " "), "doctor.go") || checked < 20 {
		t.Fatalf("checked %d commands in %d files; the doctor sources were not found (run from internal/cli)", checked, len(files))
	}
	t.Logf("checked %d backquoted spgate commands in %d files", checked, len(files))
}
