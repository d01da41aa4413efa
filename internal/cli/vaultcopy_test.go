package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/pgtest"
)

// spgate vault copy moves a file vault into PostgreSQL; the gateway's
// commands then work on the copy with the same master key.
func TestVaultCopy(t *testing.T) {
	srv := pgtest.Start(t)
	dir := cliEnv(t)
	secretFile := filepath.Join(dir, "cs")
	if err := os.WriteFile(secretFile, []byte(leakClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun := func(want int, args ...string) (string, string) {
		t.Helper()
		code, out, errs := run(t, "", args...)
		if code != want {
			t.Fatalf("spgate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errs)
		}
		if strings.Contains(out+errs, leakClientSecret) || strings.Contains(out+errs, "pg-s3cret") {
			t.Fatalf("spgate %s printed a secret:\n%s%s", strings.Join(args, " "), out, errs)
		}
		return out, errs
	}
	mustRun(ExitOK, "app", "add", "main", "--app-id", testAppID, "--client-id", testClientID, "--client-secret-file", secretFile)
	// The password is ignored by the test server (trust) but must never show.
	dsn := pgtest.WithParam(srv.Schema(t), "password", "pg-s3cret")

	out, _ := mustRun(ExitOK, "vault", "copy", "--to", dsn)
	for _, want := range []string{"into an empty database", "password=xxxxx", "apps", "verified:", "SPGATE_VAULT="} {
		if !strings.Contains(out, want) {
			t.Errorf("copy output lacks %q:\n%s", want, out)
		}
	}
	out, _ = mustRun(ExitOK, "app", "show", "main", "--vault", dsn)
	if !strings.Contains(out, testClientID) {
		t.Errorf("app show on the copy:\n%s", out)
	}

	// Doctor checks the database layer of the copy.
	code, out, _ := run(t, "", "doctor", "--app", "main", "--vault", dsn, "--json")
	var doc struct {
		Checks []struct{ Layer, Name, Status string } `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("doctor --json (exit %d): %v\n%s", code, err, out)
	}
	seen := map[string]string{}
	for _, c := range doc.Checks {
		if c.Layer == "database" {
			seen[c.Name] = c.Status
		}
	}
	if seen["database-reachable"] != "ok" || seen["database-schema"] != "ok" || seen["database-clock"] != "ok" {
		t.Errorf("doctor's database checks: %v", seen)
	}

	// Again, unused since: it is made equal again.
	out, _ = mustRun(ExitOK, "vault", "copy", "--to", dsn, "--json")
	var rep struct {
		Target   string `json:"target"`
		Created  bool   `json:"created"`
		Verified bool   `json:"verified"`
		Tables   []struct {
			Table string `json:"table"`
			Rows  int    `json:"rows"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Created || !rep.Verified || len(rep.Tables) == 0 {
		t.Errorf("--json: %v %+v\n%s", err, rep, out)
	}

	// Used through the copy: copying again is refused, then forced.
	mustRun(ExitOK, "app", "update", "main", "--region", "eu", "--vault", dsn)
	_, errs := mustRun(ExitFailure, "vault", "copy", "--to", dsn)
	if !strings.Contains(errs, "--replace") {
		t.Errorf("refusal does not say how to go on:\n%s", errs)
	}
	mustRun(ExitOK, "vault", "copy", "--to", dsn, "--replace")

	t.Run("mistakes", func(t *testing.T) {
		for _, args := range [][]string{
			{"vault", "copy"},
			{"vault", "copy", "--to", filepath.Join(dir, "other.db")},
			{"vault", "copy", "--to", dsn, "--vault", dsn},
		} {
			mustRun(ExitUsage, args...)
		}
		_, errs := mustRun(ExitConfig, "vault", "copy", "--to", "postgres://spgate:pg-s3cret@127.0.0.1:1/spgate?connect_timeout=5")
		if !strings.Contains(errs, "cannot reach") {
			t.Errorf("unreachable server:\n%s", errs)
		}
	})
}
