//go:build linux

package procsec

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.NoExitPause()
	os.Exit(m.Run())
}

// helperEnv makes the test binary, run again by TestNoDump, mark itself
// non-dumpable and report; the test process itself stays dumpable.
const helperEnv = "PROCSEC_TEST_NODUMP_HELPER"

func TestNoDumpHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper for TestNoDump")
	}
	before, err := Dumpable()
	if err != nil {
		t.Fatal(err)
	}
	if err := NoDump(); err != nil {
		t.Fatal(err)
	}
	after, err := Dumpable()
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("HELPER before=" + boolStr(before) + " after=" + boolStr(after) + "\n")
}

func boolStr(b bool) string {
	if b {
		return "dumpable"
	}
	return "non-dumpable"
}

func TestNoDump(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoDumpHelper$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "HELPER before=dumpable after=non-dumpable") {
		t.Fatalf("helper did not become non-dumpable:\n%s", out)
	}
	if d, err := Dumpable(); err != nil || !d {
		t.Fatalf("the test process itself: dumpable %v, %v", d, err)
	}
}
