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

// TestFixTextsNameRealCommands reads every Go source of the module (the fix
// texts and error messages that tell users what to run), README.md and
// docs/*.md, and checks every backquoted spgate command against the real
// command tree: the verb path must exist and each --flag must be one of the
// command's flags. spgate commands named without backquotes ("see spgate
// rotate setup") are checked too, as far as prose allows: a word after the
// verb that is another command's name is an error.
func TestFixTextsNameRealCommands(t *testing.T) {
	root := NewRoot(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	files := append(moduleGoFiles(t), "../../README.md")
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, docs...)
	// Wrong hints in packages whose owners are changing them, with the
	// fix; nothing else may be wrong. A stale entry fails the test.
	known := map[string]string{}
	seen := map[string]bool{}
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(f, "../../")
		inCode := false
		for n, line := range strings.Split(string(b), "\n") {
			if strings.HasSuffix(f, ".go") {
				if strings.HasPrefix(strings.TrimSpace(line), "//") {
					continue // a comment, not a message users read
				}
				line = goConcat.ReplaceAllString(line, "X")
			} else if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inCode = !inCode // code blocks run in TestDocumentedCommands
				continue
			}
			if inCode {
				continue
			}
			report := func(q, msg string) {
				if _, ok := known[rel+": "+q]; ok {
					seen[rel+": "+q] = true
					return
				}
				t.Errorf("%s:%d: %s: %s", f, n+1, q, msg)
			}
			for _, q := range quotedCommand.FindAllString(line, -1) {
				checked++
				if msg := checkCommandText(root, q); msg != "" {
					report(q, msg)
				}
			}
			for _, m := range proseCommand.FindAllStringSubmatch(quotedCommand.ReplaceAllString(line, "``"), -1) {
				if msg := checkProseCommand(root, strings.Fields(m[1])); msg != "" {
					report("spgate"+m[1], msg)
				}
			}
		}
	}
	for k, why := range known {
		if seen[k] {
			t.Logf("known wrong hint, to be fixed by its package: %s (%s)", k, why)
		} else {
			t.Errorf("%s is no longer found: drop it from the known wrong hints", k)
		}
	}
	if !strings.Contains(strings.Join(files, " "), "doctor/doctor.go") || !strings.Contains(strings.Join(files, " "), "provision/") || checked < 20 {
		t.Fatalf("checked %d commands in %d files; the module's sources were not found (run from internal/cli)", checked, len(files))
	}
	t.Logf("checked %d backquoted spgate commands in %d files", checked, len(files))
}

// proseCommand matches "spgate verb words…" written without backquotes.
var proseCommand = regexp.MustCompile(`(?:^|[^\w/.$-])spgate((?: [a-z][a-z0-9-]*){1,3})`)

// checkProseCommand checks the words after "spgate" in prose: when the first
// names a command, a following word that is the name of a command elsewhere
// in the tree, not of one under it, names a verb that does not exist
// ("spgate rotate setup", "spgate client rotate").
func checkProseCommand(root *cobra.Command, words []string) string {
	cmd := root
	i := 0
	for ; i < len(words); i++ {
		sub := subcommand(cmd, words[i])
		if sub == nil {
			break
		}
		cmd = sub
	}
	if i == 0 || i == len(words) {
		return ""
	}
	names := map[string]bool{}
	walk(root, func(c *cobra.Command) { names[c.Name()] = true })
	if names[words[i]] {
		return "`" + cmd.CommandPath() + "` has no subcommand " + words[i]
	}
	return ""
}

// moduleGoFiles lists the module's Go sources, tests and testdata left out.
func moduleGoFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir("../..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "../.." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestCheckProseCommand(t *testing.T) {
	root := NewRoot(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	for _, tc := range []struct {
		text string
		ok   bool
	}{
		{"(spgate rotate setup)", false},
		{"run spgate client rotate", false},
		{"run spgate doctor to check that", true},
		{"spgate setup aws again", true},
		{"spgate keeps it in its vault", true},
		{"spgate client rotate-key bc", true},
		{"spgate emulate prints", true},
	} {
		m := proseCommand.FindStringSubmatch(tc.text)
		if m == nil {
			t.Fatalf("%q: not recognised as an spgate command", tc.text)
		}
		if got := checkProseCommand(root, strings.Fields(m[1])); (got == "") != tc.ok {
			t.Errorf("%q: %q, want ok=%v", tc.text, got, tc.ok)
		}
	}
}
