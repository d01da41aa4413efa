package cli

import (
	"os"
	"os/exec"
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
