package cli

import (
	"context"
	"database/sql"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/cmd/cmdtest"

	_ "modernc.org/sqlite"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/orderpull"
	"github.com/spgate/spgate/vault"
)

// setAccessLogBroken makes every insert into the vault's access log fail
// (a trigger that aborts), or lifts that again; the rest of the vault keeps
// working, so a command that still writes its output did not wait for the
// record.
func setAccessLogBroken(t *testing.T, path string, broken bool) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `DROP TRIGGER IF EXISTS test_access_log_down`
	if broken {
		q = `CREATE TRIGGER IF NOT EXISTS test_access_log_down BEFORE INSERT ON access_log BEGIN SELECT RAISE(ABORT, 'access log unavailable'); END`
	}
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

func accessEvents(t *testing.T, e *emuEnv) []vault.AccessEvent {
	t.Helper()
	v := e.open(t, false)
	defer v.Close()
	ev, err := v.AccessLog(context.Background(), vault.AccessFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// wantCLIClient is the Client of the CLI's access events: the OS user.
func wantCLIClient(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil || u.Username == "" {
		t.Skipf("no user name for uid %d: %v", os.Getuid(), err)
	}
	return "cli:" + u.Username
}

// TestCallAuditBeforeRelease: spgate call prints personal data only after
// an access event for it is in the vault, and prints nothing when that
// record cannot be written.
func TestCallAuditBeforeRelease(t *testing.T) {
	e := newEmuEnv(t, amazontest.WithOrdersPerSeller(5))
	client := wantCLIClient(t)
	seller := e.demo.Sellers[0]
	mkt := seller.Marketplaces[0]
	since := time.Now().Add(-100 * 24 * time.Hour).UTC().Truncate(time.Second)
	ids := cmdtest.OrderIDs(t, e.endpoint, e.demo, seller, since, time.Now().Add(-time.Hour))
	if len(ids) == 0 {
		t.Fatal("the emulator has no orders")
	}
	after := since.Format(time.RFC3339)
	tests := []struct {
		name string
		args []string
		op   string // "": no access event
	}{
		{"always personal", []string{"call", "getOrderAddress", "orderId=" + ids[0]}, "getOrderAddress"},
		{"data elements", []string{"call", "getOrders", "--api", "orders/v0", "MarketplaceIds=" + mkt, "CreatedAfter=" + after, "--pii", "shippingAddress"}, "getOrders"},
		{"includedData", []string{"call", "searchOrders", "marketplaceIds=" + mkt, "lastUpdatedAfter=" + after, "includedData=RECIPIENT"}, "searchOrders"},
		{"no personal data", []string{"call", "getMarketplaceParticipations"}, ""},
		{"orders without personal data", []string{"call", "searchOrders", "marketplaceIds=" + mkt, "lastUpdatedAfter=" + after, "includedData=FULFILLMENT"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--seller", seller.ID)
			before := len(accessEvents(t, e))
			out, _ := e.run(t, ExitOK, args...)
			if out == "" {
				t.Fatal("no answer printed")
			}
			ev := accessEvents(t, e)[before:]
			if tc.op == "" {
				if len(ev) != 0 {
					t.Fatalf("%d access events for a call without personal data", len(ev))
				}
				return
			}
			if len(ev) != 1 {
				t.Fatalf("%d access events, want 1", len(ev))
			}
			if got := ev[0]; got.Client != client || got.Seller != seller.ID || got.Operation != tc.op || !got.PII || got.Status != 200 {
				t.Errorf("access event %+v, want client %s, seller %s, operation %s, PII, status 200", got, client, seller.ID, tc.op)
			}
			if tc.op == "getOrderAddress" && ev[0].RequestID == "" {
				t.Error("the access event has no Amazon request id")
			}

			// The same call with the access log down: nothing printed.
			setAccessLogBroken(t, e.vault, true)
			defer setAccessLogBroken(t, e.vault, false)
			out, errOut := e.run(t, ExitFailure, args...)
			if out != "" {
				t.Fatalf("printed %d bytes of the answer although its access was not recorded", len(out))
			}
			if !strings.Contains(errOut, "access log") || !strings.Contains(errOut, "nothing was written") {
				t.Errorf("stderr does not say why: %s", errOut)
			}
		})
	}
}

// TestOrdersPullAuditBeforeRelease: a pull with --pii records one access
// event per page before writing that page; with the access log down it
// writes no order and a later run starts the same file without --restart.
func TestOrdersPullAuditBeforeRelease(t *testing.T) {
	e := newEmuEnv(t, amazontest.WithOrdersPerSeller(40))
	client := wantCLIClient(t)
	seller := e.demo.Sellers[0]
	since := time.Now().Add(-100 * 24 * time.Hour).UTC().Truncate(time.Second)
	until := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	want := cmdtest.OrderIDs(t, e.endpoint, e.demo, seller, since, until)
	if len(want) < 11 {
		t.Fatalf("the emulator has only %d orders in range", len(want))
	}
	dir := t.TempDir()
	pull := func(api, out string, pii bool) []string {
		args := []string{"orders", "pull", "--seller", seller.ID, "--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339),
			"--api", api, "--page-size", "10", "--out", out}
		if pii {
			args = append(args, "--pii", "address,buyer")
		}
		return args
	}
	for _, tc := range []struct{ api, file, op string }{
		{orderpull.V0, "v0.csv", "getOrders"},
		{orderpull.V2026, "v2026.jsonl", "searchOrders"},
	} {
		t.Run(tc.api, func(t *testing.T) {
			out := filepath.Join(dir, tc.file)
			setAccessLogBroken(t, e.vault, true)
			t.Cleanup(func() { setAccessLogBroken(t, e.vault, false) })
			stdout, stderr := e.run(t, ExitFailure, pull(tc.api, out, true)...)
			setAccessLogBroken(t, e.vault, false)
			if st, err := os.Stat(out); err == nil && st.Size() > 0 {
				t.Fatalf("%s has %d bytes although no access was recorded", out, st.Size())
			}
			if stdout != "" || !strings.Contains(stderr, "access log") {
				t.Fatalf("stdout %q; stderr does not say why: %s", stdout, stderr)
			}

			before := len(accessEvents(t, e))
			e.run(t, ExitOK, pull(tc.api, out, true)...)
			ev := accessEvents(t, e)[before:]
			pages := (len(want) + 9) / 10
			if len(ev) != pages {
				t.Fatalf("%d access events for %d orders in pages of 10, want one per page (%d)", len(ev), len(want), pages)
			}
			for _, got := range ev {
				if got.Client != client || got.Seller != seller.ID || got.Operation != tc.op || !got.PII {
					t.Fatalf("access event %+v, want client %s, seller %s, operation %s, PII", got, client, seller.ID, tc.op)
				}
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(b), "\n"); n < len(want) {
				t.Fatalf("%s has %d lines for %d orders", out, n, len(want))
			}

			// Without --pii nothing personal is written and nothing recorded.
			before = len(accessEvents(t, e))
			e.run(t, ExitOK, pull(tc.api, filepath.Join(dir, "plain-"+tc.file), false)...)
			if n := len(accessEvents(t, e)) - before; n != 0 {
				t.Fatalf("%d access events for a pull without personal data", n)
			}
		})
	}
}

// TestExportAuditBeforeRelease: spgate export records who took the
// credentials before writing them, and writes nothing when it cannot.
func TestExportAuditBeforeRelease(t *testing.T) {
	e := newEmuEnv(t)
	client := wantCLIClient(t)
	seller := e.demo.Sellers[0]
	dir := t.TempDir()
	file := filepath.Join(dir, "creds.env")
	// Secrets in the output are never printed: failures report sizes only.
	export := func(out string) (int, string, string) {
		code, stdout, stderr := run(t, "", "export", "--format", "env", "--app", "main", "--seller", seller.ID, "--out", out)
		assertNoSecrets(t, e, stderr)
		return code, stdout, stderr
	}

	setAccessLogBroken(t, e.vault, true)
	t.Cleanup(func() { setAccessLogBroken(t, e.vault, false) })
	for _, out := range []string{"-", file} {
		code, stdout, stderr := export(out)
		if code != ExitFailure || stdout != "" || !strings.Contains(stderr, "access log") {
			t.Errorf("--out %s with the access log down: exit %d, %d bytes on stdout, stderr: %s", filepath.Base(out), code, len(stdout), stderr)
		}
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("%s exists although the export was not recorded (%v)", file, err)
	}
	if ev := accessEvents(t, e); len(ev) != 0 {
		t.Fatalf("%d access events", len(ev))
	}
	setAccessLogBroken(t, e.vault, false)

	for i, out := range []string{"-", file} {
		code, stdout, stderr := export(out)
		if code != ExitOK {
			t.Fatalf("--out %s: exit %d: %s", filepath.Base(out), code, stderr)
		}
		if out == "-" && !strings.Contains(stdout, "LWA_APP_ID=") {
			t.Fatalf("--out -: %d bytes on stdout and no LWA_APP_ID", len(stdout))
		}
		ev := accessEvents(t, e)
		if len(ev) != i+1 {
			t.Fatalf("after export %d: %d access events", i+1, len(ev))
		}
		if got := ev[i]; got.Client != client || got.Seller != seller.ID || got.Operation != "export" {
			t.Errorf("access event %+v, want client %s, seller %s, operation export", got, client, seller.ID)
		}
	}
	// A refused export (the file exists) is not recorded.
	if code, _, stderr := export(file); code != ExitFailure || !strings.Contains(stderr, "already exists") {
		t.Fatalf("export over an existing file: exit %d: %s", code, stderr)
	}
	if n := len(accessEvents(t, e)); n != 2 {
		t.Fatalf("%d access events after a refused export, want 2", n)
	}
}

// TestCallRDTIsRecorded: a Restricted Data Token printed by spgate call
// opens personal data to whoever holds it, so it is recorded like personal
// data before it is printed, and not printed when it cannot be.
func TestCallRDTIsRecorded(t *testing.T) {
	e := newEmuEnv(t, amazontest.WithOrdersPerSeller(5))
	seller := e.demo.Sellers[0]
	body := filepath.Join(t.TempDir(), "rdt.json")
	if err := os.WriteFile(body, []byte(`{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders/{orderId}/address"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"call", "createRestrictedDataToken", "--body", body, "--seller", seller.ID}
	before := len(accessEvents(t, e))
	code, out, errOut := run(t, "", args...)
	if code != ExitOK || !strings.Contains(out, "restrictedDataToken") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ev := accessEvents(t, e)[before:]
	if len(ev) != 1 || ev[0].Operation != "createRestrictedDataToken" || ev[0].Seller != seller.ID {
		t.Fatalf("access events %+v, want one for createRestrictedDataToken", ev)
	}
	setAccessLogBroken(t, e.vault, true)
	defer setAccessLogBroken(t, e.vault, false)
	code, out, _ = run(t, "", args...)
	if code == ExitOK || out != "" {
		t.Errorf("exit %d, printed %d bytes although the token's release was not recorded", code, len(out))
	}
}
