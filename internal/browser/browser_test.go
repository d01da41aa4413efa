package browser

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestCommandEnvironment: the browser launcher gets the display and PATH
// but no SPGATE_* variable and no cloud secret.
func TestCommandEnvironment(t *testing.T) {
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
	const masterKey = "0202020202020202020202020202020202020202020202020202020202020202"
	t.Setenv("HOME", dir)
	t.Setenv("SPGATE_MASTER_KEY", masterKey)
	t.Setenv("SPGATE_VAULT", filepath.Join(dir, "vault.db"))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DISPLAY", ":7")
	t.Setenv("SPGATE_CLIENT_SECRET", "test-client-secret-value")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-aws-secret-value")
	t.Setenv("AWS_SESSION_TOKEN", "test-aws-session-value")
	t.Setenv("XDG_RUNTIME_DIR", dir)
	cmd, err := Command("https://sellercentral.example/apps/authorize/consent?state=s")
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
	for _, v := range []string{masterKey, "test-client-secret-value", "test-aws-secret-value", "test-aws-session-value"} {
		if strings.Contains(string(b), v) {
			t.Errorf("a secret value (%d bytes) reached the browser", len(v))
		}
	}
}

// Without a display there is no browser to open: Open says so instead of
// starting a launcher that would fail.
func TestOpenWithoutDisplay(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("a desktop always has a display")
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	if err := Open("https://example.com/"); err == nil || !strings.Contains(err.Error(), "no display") {
		t.Fatalf("Open without a display: %v", err)
	}
}
