package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/procsec"
)

// noDumpHelperEnv names the command TestNoDumpCommands has this test binary
// run in a child process, so only the child becomes non-dumpable.
const noDumpHelperEnv = "SPGATE_TEST_NODUMP_HELPER"

func TestNoDumpHelper(t *testing.T) {
	args := os.Getenv(noDumpHelperEnv)
	if args == "" {
		t.Skip("helper for TestNoDumpCommands")
	}
	cliEnv(t)
	t.Setenv(noDumpHelperEnv, "")
	before, err := procsec.Dumpable()
	if err != nil {
		t.Fatal(err)
	}
	// Each command is given bad input: it must be non-dumpable before it
	// even checks its flags, let alone reads the vault key.
	code, _, _ := run(t, "", strings.Fields(args)...)
	after, err := procsec.Dumpable()
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("HELPER exit=" + map[bool]string{true: "nonzero", false: "zero"}[code != 0] +
		" before=" + map[bool]string{true: "dumpable", false: "non-dumpable"}[before] +
		" after=" + map[bool]string{true: "dumpable", false: "non-dumpable"}[after] + "\n")
}

// TestNoDumpCommands: the long-running commands that hold the vault key
// mark their process non-dumpable (Linux).
func TestNoDumpCommands(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("PR_SET_DUMPABLE is Linux's")
	}
	for _, args := range []string{
		"serve --audit-max-mb 0",
		"rotate --timeout 0s",
		"orders pull --seller A1EXAMPLE",
		"seller authorize --region xx",
	} {
		t.Run(strings.Fields(args)[0], func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestNoDumpHelper$", "-test.v")
			cmd.Env = append(os.Environ(), noDumpHelperEnv+"="+args)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			if want := "HELPER exit=nonzero before=dumpable after=non-dumpable"; !strings.Contains(string(out), want) {
				t.Fatalf("spgate %s: want %q in\n%s", args, want, out)
			}
		})
	}
}

// TestBrowserEnvironment: the browser launcher gets the display and PATH
// but no SPGATE_* variable and no cloud secret.
func TestBrowserEnvironment(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("the fake launcher is xdg-open")
	}
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	// A fake xdg-open that writes the environment it was given.
	script := "#!/bin/sh\nenv > '" + envFile + "'\n"
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	cliEnv(t) // sets SPGATE_MASTER_KEY
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DISPLAY", ":7")
	t.Setenv("SPGATE_CLIENT_SECRET", "test-client-secret-value")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-aws-secret-value")
	t.Setenv("AWS_SESSION_TOKEN", "test-aws-session-value")
	t.Setenv("XDG_RUNTIME_DIR", dir)

	cmd, err := browserCommand("https://sellercentral.example/apps/authorize/consent?state=s")
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		name, _, _ := strings.Cut(line, "=")
		got[name] = true
	}
	for _, name := range []string{"SPGATE_MASTER_KEY", "SPGATE_CLIENT_SECRET", "SPGATE_VAULT", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		if got[name] {
			t.Errorf("the browser got $%s", name) // the name only, never the value
		}
	}
	for _, name := range []string{"PATH", "HOME", "DISPLAY", "XDG_RUNTIME_DIR"} {
		if !got[name] {
			t.Errorf("the browser did not get $%s", name)
		}
	}
	for _, v := range []string{testMasterKey, "test-client-secret-value", "test-aws-secret-value", "test-aws-session-value"} {
		if strings.Contains(string(b), v) {
			t.Errorf("a secret value (%d bytes) reached the browser", len(v))
		}
	}
}
