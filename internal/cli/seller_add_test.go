package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSellerAddAgainSuggestsUpdate: add for a stored seller stores the new
// refresh token, and where it would not change the stored region,
// marketplaces or name, it names `spgate seller update` (which keeps the
// tokens) instead of removing the seller.
func TestSellerAddAgainSuggestsUpdate(t *testing.T) {
	dir := cliEnv(t)
	secretFile := filepath.Join(dir, "cs")
	tokenFile := filepath.Join(dir, "rt")
	if err := os.WriteFile(secretFile, []byte(leakClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(leakRefreshToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun := func(want int, args ...string) string {
		t.Helper()
		code, _, stderr := run(t, "", args...)
		if code != want {
			t.Fatalf("spgate %s: exit %d, want %d; stderr: %s", strings.Join(args, " "), code, want, stderr)
		}
		return stderr
	}
	mustRun(0, "app", "add", "main", "--app-id", testAppID, "--client-id", testClientID, "--client-secret-file", secretFile)
	add := func(region, mps string, extra ...string) []string {
		return append([]string{"seller", "add", "A2VYDBAL8BMVQK", "--app", "main", "--region", region, "--marketplace", mps, "--refresh-token-file", tokenFile}, extra...)
	}
	mustRun(0, add("eu", "DE")...)

	stderr := mustRun(ExitUsage, add("na", "US,CA")...)
	for _, want := range []string{"stored in region eu", "`spgate seller update A2VYDBAL8BMVQK --region na --marketplace US,CA`", "refresh tokens stay"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("seller add in another region: %q lacks %q", stderr, want)
		}
	}
	if strings.Contains(stderr, "remove") {
		t.Errorf("seller add in another region suggests removing the seller: %q", stderr)
	}

	stderr = mustRun(0, add("eu", "FR", "--name", "shop")...)
	for _, want := range []string{"marketplaces stay A1PA6795UKMFR9", "`spgate seller update A2VYDBAL8BMVQK --marketplace A13V1IB3VIYZZH`", "`spgate seller update A2VYDBAL8BMVQK --name shop`"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("seller add with other marketplaces and name: %q lacks %q", stderr, want)
		}
	}
	// Following the hint keeps the token: the seller still has app main.
	mustRun(0, "seller", "update", "A2VYDBAL8BMVQK", "--region", "na", "--marketplace", "US,CA")
	if _, out, _ := run(t, "", "seller", "show", "A2VYDBAL8BMVQK"); !strings.Contains(out, "app main") || !strings.Contains(out, "ATVPDKIKX0DER") {
		t.Errorf("after seller update: %s", out)
	}
	// And the same add now only stores the token, quietly.
	if stderr := mustRun(0, add("na", "US,CA")...); strings.Contains(stderr, "note") {
		t.Errorf("seller add matching the stored seller printed a note: %q", stderr)
	}
}
