package cli

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/cmd/cmdtest"
)

func TestOrdersPull(t *testing.T) {
	e := newEmuEnv(t, amazontest.WithOrdersPerSeller(120))
	seller := e.demo.Sellers[1] // EU: routed to the EU listener
	since := time.Now().Add(-100 * 24 * time.Hour).UTC().Truncate(time.Second)
	until := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	want := cmdtest.OrderIDs(t, e.endpoint, e.demo, seller, since, until)
	if len(want) < 50 {
		t.Fatalf("the emulator has only %d orders in range", len(want))
	}
	dir := t.TempDir()
	common := []string{"orders", "pull", "--seller", seller.ID, "--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339), "--log-level", "debug"}

	t.Run("v0 with addresses", func(t *testing.T) {
		out := filepath.Join(dir, "v0.jsonl")
		code, stdout, stderr := run(t, "", append(common, "--pii", "address", "--page-size", "30", "--out", out)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		got := cmdtest.ReadOrderIDs(t, out, func(line []byte) {
			if !fullAddress(line) {
				t.Fatalf("order without a full address: %.300s", line)
			}
		})
		if !slices.Equal(got, want) {
			t.Fatalf("pulled %d orders, the emulator has %d in range", len(got), len(want))
		}
		if !strings.Contains(stderr, "checkpoint: page") {
			t.Errorf("no progress lines on stderr: %.300s", stderr)
		}
		assertNoSecrets(t, e, stdout, stderr)

		// A second run continues from the watermark: nothing new, nothing twice.
		code, _, stderr = run(t, "", append(common, "--pii", "address", "--out", out)...)
		if code != 0 {
			t.Fatalf("incremental run: exit %d: %s", code, stderr)
		}
		if got := cmdtest.ReadOrderIDs(t, out, nil); !slices.Equal(got, want) {
			t.Fatalf("after the incremental run the file has %d orders, want %d", len(got), len(want))
		}
	})

	t.Run("2026-01-01", func(t *testing.T) {
		out := filepath.Join(dir, "v2026.jsonl")
		code, _, stderr := run(t, "", append(common, "--api", "2026-01-01", "--pii", "address", "--out", out)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		got := cmdtest.ReadOrderIDs(t, out, func(line []byte) {
			if !bytes.Contains(line, []byte(`"lastUpdatedTime"`)) {
				t.Fatalf("not a 2026-01-01 order: %.200s", line)
			}
		})
		if !slices.Equal(got, want) {
			t.Fatalf("pulled %d orders, the emulator has %d in range", len(got), len(want))
		}
	})

	t.Run("csv", func(t *testing.T) {
		out := filepath.Join(dir, "orders.csv")
		code, _, stderr := run(t, "", append(common, "--pii", "address", "--out", out)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		b, _ := os.ReadFile(out)
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(want)+1 || rows[0][0] != "AmazonOrderId" {
			t.Fatalf("%d rows (header %v), want %d orders and a header", len(rows), rows[0], len(want))
		}
		for _, r := range rows[1:] {
			if r[9] == "" { // AddressLine1
				t.Fatalf("row without an address: %v", r[:6])
			}
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, args := range [][]string{
			{"orders", "pull", "--seller", seller.ID, "--since", "7d", "--out", filepath.Join(dir, "x.txt")},
			{"orders", "pull", "--seller", seller.ID, "--since", "soon", "--out", filepath.Join(dir, "x.jsonl")},
			{"orders", "pull", "--seller", seller.ID, "--out", filepath.Join(dir, "y.jsonl")},
			{"orders", "pull", "--seller", seller.ID, "--since", "7d", "--api", "v1", "--out", filepath.Join(dir, "x.jsonl")},
			{"orders", "pull", "--seller", seller.ID, "--since", "7d", "--pii", "ssn", "--out", filepath.Join(dir, "x.jsonl")},
		} {
			if code, _, stderr := run(t, "", args...); code != ExitUsage {
				t.Errorf("%v: exit %d, want %d: %s", args, code, ExitUsage, stderr)
			}
		}
	})
}

// TestOrdersPullKillResume kills a pull with SIGKILL after its first
// checkpoint and resumes it: the file then holds every order exactly once.
func TestOrdersPullKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	// 0.0167 getOrders/s × 300 = 5 pages a second once the burst of 20 is
	// spent, so 40 pages of 5 take seconds: long enough to kill twice.
	// Build before the environment points HOME at a temp dir, so the build
	// uses the module and build caches instead of downloading again.
	bin := filepath.Join(t.TempDir(), "spgate")
	build := exec.Command("go", "build", "-o", bin, "github.com/spgate/spgate/cmd/spgate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	e := newEmuEnv(t, amazontest.WithOrdersPerSeller(200), amazontest.WithTimeScale(300))
	t0 := time.Now()
	defer func() { t.Logf("runs took %s", time.Since(t0)) }()
	seller := e.demo.Sellers[0]
	since := time.Now().Add(-100 * 24 * time.Hour).UTC().Truncate(time.Second)
	until := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	want := cmdtest.OrderIDs(t, e.endpoint, e.demo, seller, since, until)
	out := filepath.Join(t.TempDir(), "orders.jsonl")
	args := []string{"orders", "pull", "--seller", seller.ID, "--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339),
		"--pii", "address", "--page-size", "5", "--out", out}

	for kill := 1; kill <= 2; kill++ {
		cmd := exec.Command(bin, args...)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		killed := false
		for sc.Scan() {
			// Kill a few pages after this run's first checkpoint, mid-page.
			if strings.HasPrefix(sc.Text(), "checkpoint: page") && !killed {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		t.Logf("run %d killed after %s", kill, time.Since(t0))
		if !killed {
			t.Fatalf("run %d finished before the first checkpoint (%v)", kill, err)
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Logf("run %d ended with %v (finished before the kill landed?)", kill, err)
		}
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "resuming from the checkpoint") {
		t.Errorf("the last run did not resume: %.300s", stderr.String())
	}
	got := cmdtest.ReadOrderIDs(t, out, func(line []byte) {
		if !fullAddress(line) {
			t.Fatalf("order without a full address: %.200s", line)
		}
	})
	if !slices.Equal(got, want) {
		t.Fatalf("after two kills the file has %d orders, the emulator has %d in range", len(got), len(want))
	}
	assertNoSecrets(t, e, stderr.String())
}
