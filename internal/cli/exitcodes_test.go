package cli

import (
	"encoding/json"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// TestExitCodeTable makes every verb meet the same mistakes and checks that
// each mistake exits with the code the table (problem.Code) gives its problem,
// and that under --json stderr is one JSON object naming that problem, with
// a message and a fix.
func TestExitCodeTable(t *testing.T) {
	e := newEmuEnv(t)
	seller := e.demo.Sellers[0].ID
	second, err := e.srv.AddApp(amazontest.App{})
	if err != nil {
		t.Fatal(err)
	}
	v := e.open(t, false)
	if err := v.AddApp(t.Context(), vault.App{Name: "second", AppID: second.ID, ClientID: second.ClientID,
		ClientSecrets: []vault.Secret{{Value: secret.New(second.ClientSecret)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.CreateClient(t.Context(), vault.Client{Name: "erp", Sellers: []string{seller}, Operations: []string{"orders/v0"}}); err != nil {
		t.Fatal(err)
	}
	v.Close()
	dir := t.TempDir()
	secretFile := e2eWriteFile(t, dir, "secret.txt", e.demo.ClientSecret+"\n")
	tokenFile := e2eWriteFile(t, dir, "rt.txt", e.demo.Sellers[0].RefreshToken+"\n")
	out := func(name string) string { return filepath.Join(dir, name) }
	const noSeller = "A9NOSUCHSELLER1"

	type mistake struct {
		problem string
		// withoutVault runs the lines with $SPGATE_VAULT pointing nowhere;
		// wrongKey with another master key.
		withoutVault, wrongKey bool
		lines                  [][]string
	}
	vaultVerbs := [][]string{
		{"app", "list"}, {"app", "show", "main"}, {"app", "update", "main", "--region", "eu"},
		{"app", "set-secret", "main", "--client-secret-file", secretFile, "--no-verify"}, {"app", "remove", "main", "--yes"},
		{"seller", "list"}, {"seller", "show", seller}, {"seller", "update", seller, "--name", "x"}, {"seller", "remove", seller, "--yes"},
		{"seller", "add", seller, "--app", "main", "--region", "na", "--marketplace", "US", "--refresh-token-file", tokenFile},
		{"seller", "authorize", "--app", "main", "--paste", "--redirect-url", "https://app.example.com/cb"},
		{"call", "getMarketplaceParticipations", "--seller", seller, "--app", "main"},
		{"orders", "pull", "--seller", seller, "--app", "main", "--since", "1d", "--out", out("v.jsonl")},
		{"doctor", "--app", "main"}, {"rotate", "--app", "main"}, {"serve", "--app", "main", "--addr", "127.0.0.1:0"},
		{"export", "--app", "main", "--format", "env", "--out", out("v.env")},
		{"client", "list"}, {"client", "revoke", "erp"}, {"client", "add", "x", "--seller", seller, "--operation", "orders/v0"},
	}
	mistakes := map[string]mistake{
		"no vault":        {problem: ProblemVault, withoutVault: true, lines: vaultVerbs},
		"wrong vault key": {problem: ProblemVault, wrongKey: true, lines: vaultVerbs},
		"unknown app": {problem: ProblemNotFound, lines: [][]string{
			{"app", "show", "nosuchapp"}, {"app", "update", "nosuchapp", "--region", "eu"},
			{"app", "set-secret", "nosuchapp", "--client-secret-file", secretFile, "--no-verify"}, {"app", "remove", "nosuchapp", "--yes"},
			{"seller", "add", seller, "--app", "nosuchapp", "--region", "na", "--marketplace", "US", "--refresh-token-file", tokenFile},
			{"seller", "authorize", "--app", "nosuchapp", "--paste", "--redirect-url", "https://app.example.com/cb"},
			{"call", "getMarketplaceParticipations", "--seller", seller, "--app", "nosuchapp"},
			{"orders", "pull", "--seller", seller, "--app", "nosuchapp", "--since", "1d", "--out", out("a.jsonl")},
			{"doctor", "--app", "nosuchapp"}, {"rotate", "--app", "nosuchapp"}, {"serve", "--app", "nosuchapp", "--addr", "127.0.0.1:0"},
			{"export", "--app", "nosuchapp", "--format", "env", "--out", out("a.env")},
		}},
		"unknown seller": {problem: ProblemNotFound, lines: [][]string{
			{"seller", "show", noSeller}, {"seller", "update", noSeller, "--name", "x"}, {"seller", "remove", noSeller, "--yes"},
			{"call", "getMarketplaceParticipations", "--seller", noSeller, "--app", "main"},
			{"orders", "pull", "--seller", noSeller, "--app", "main", "--since", "1d", "--out", out("s.jsonl")},
			{"doctor", "--app", "main", "--seller", noSeller},
			{"export", "--app", "main", "--seller", noSeller, "--format", "env", "--out", out("s.env")},
			{"client", "add", "x", "--seller", noSeller, "--operation", "orders/v0"},
		}},
		"unknown gateway client": {problem: ProblemNotFound, lines: [][]string{{"client", "revoke", "nosuchclient"}}},
		"several apps, no --app": {problem: ProblemBadInput, lines: [][]string{
			{"call", "getMarketplaceParticipations", "--seller", seller},
			{"orders", "pull", "--seller", seller, "--since", "1d", "--out", out("n.jsonl")},
			{"doctor"}, {"rotate"}, {"serve", "--addr", "127.0.0.1:0"},
			{"seller", "authorize", "--paste", "--redirect-url", "https://app.example.com/cb"},
		}},
		"not a region": {problem: ProblemBadInput, lines: [][]string{
			{"app", "add", "third", "--app-id", testAppID, "--client-id", testClientID, "--client-secret-file", secretFile, "--region", "xx"},
			{"app", "update", "main", "--region", "xx"},
			{"seller", "add", seller, "--app", "main", "--region", "xx", "--marketplace", "US", "--refresh-token-file", tokenFile},
			{"seller", "update", seller, "--region", "xx", "--marketplace", "US"},
			{"seller", "authorize", "--app", "main", "--region", "xx", "--paste", "--redirect-url", "https://app.example.com/cb"},
			{"call", "getDestinations", "--region", "xx", "--app", "main"},
		}},
		"already in the vault": {problem: ProblemExists, lines: [][]string{
			{"app", "add", "main", "--app-id", testAppID, "--client-id", testClientID, "--client-secret-file", secretFile},
			{"client", "add", "erp", "--seller", seller, "--operation", "orders/v0"},
		}},
	}
	// Every verb: an unknown flag, and arguments it does not take.
	root := NewRoot(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	var flagLines, argLines, verbLines [][]string
	walk(root, func(c *cobra.Command) {
		if c.HasSubCommands() {
			verbLines = append(verbLines, append(strings.Fields(c.CommandPath())[1:], "frobnicate"))
		}
		if !c.Runnable() || c == root {
			return
		}
		path := strings.Fields(c.CommandPath())[1:]
		flagLines = append(flagLines, append(append([]string{}, path...), "--no-such-flag"))
		extra := []string{"a1", "a2", "a3", "a4", "a5", "a6"}
		if c.Args != nil && c.Args(c, extra) != nil {
			argLines = append(argLines, append(append([]string{}, path...), extra...))
		}
	})
	mistakes["unknown flag"] = mistake{problem: ProblemBadInput, lines: flagLines}
	mistakes["too many arguments"] = mistake{problem: ProblemBadInput, lines: argLines}
	mistakes["unknown verb"] = mistake{problem: ProblemBadInput, lines: verbLines}

	names := make([]string, 0, len(mistakes))
	for n := range mistakes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		m := mistakes[name]
		want, ok := problem.Code(m.problem)
		if !ok {
			t.Fatalf("%s: problem %q is not in the table", name, m.problem)
		}
		t.Run(name, func(t *testing.T) {
			if m.withoutVault {
				t.Setenv("SPGATE_VAULT", filepath.Join(dir, "no-such-vault.db"))
			}
			if m.wrongKey {
				t.Setenv("SPGATE_MASTER_KEY", strings.Repeat("ab", 32))
			}
			for _, line := range m.lines {
				args := append(append([]string{}, line...), "--json")
				code, stdout, stderr := run(t, "", args...)
				if code != want {
					t.Errorf("spgate %s: exit %d, want %d (%s)\nstderr: %s", strings.Join(args, " "), code, want, m.problem, stderr)
					continue
				}
				var je problem.JSON
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				if err := json.Unmarshal([]byte(lines[len(lines)-1]), &je); err != nil {
					t.Errorf("spgate %s: the last line of stderr is not a JSON object: %v\nstderr: %s", strings.Join(args, " "), err, stderr)
					continue
				}
				if je.Code != m.problem || je.Exit != want || je.Message == "" || je.Fix == "" {
					t.Errorf("spgate %s: JSON error %+v, want code %q, exit %d, a message and a fix", strings.Join(args, " "), je, m.problem, want)
				}
				assertNoSecrets(t, e, stdout, stderr)
			}
		})
	}
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, s := range c.Commands() {
		walk(s, fn)
	}
}

// TestVersionJSON: version --json prints a JSON object with the version.
func TestVersionJSON(t *testing.T) {
	cliEnv(t)
	code, stdout, stderr := run(t, "", "version", "--json")
	var v struct{ Version, Go string }
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil || v.Version == "" || v.Go == "" {
		t.Fatalf("spgate version --json: exit %d, stdout %q, stderr %q; want a JSON object with version and go", code, stdout, stderr)
	}
	if _, text, _ := run(t, "", "version"); !strings.HasPrefix(text, "spgate ") {
		t.Errorf("spgate version: %q", text)
	}
}
