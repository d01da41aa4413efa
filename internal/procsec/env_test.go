package procsec

import (
	"slices"
	"strings"
	"testing"
)

func TestChildEnv(t *testing.T) {
	keep := []string{
		"PATH=/usr/local/bin:/usr/bin",
		"HOME=/home/ana",
		"DISPLAY=:0",
		"WAYLAND_DISPLAY=wayland-0",
		"XAUTHORITY=/run/user/1000/.Xauthority",
		"XDG_RUNTIME_DIR=/run/user/1000",
		"XDG_CURRENT_DESKTOP=GNOME",
		"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus",
		"LANG=de_DE.UTF-8",
		"LC_ALL=de_DE.UTF-8",
		"BROWSER=firefox",
		"HTTPS_PROXY=http://proxy.example:3128",
		"no_proxy=localhost,127.0.0.1",
		"SystemRoot=C:\\Windows",
		"Path=C:\\Windows\\system32",
		"USERPROFILE=C:\\Users\\ana",
	}
	// The values stand in for secrets; the test prints only names.
	drop := []string{
		"SPGATE_MASTER_KEY=k-value",
		"SPGATE_CLIENT_SECRET=cs-value",
		"SPGATE_REFRESH_TOKEN=rt-value",
		"SPGATE_VAULT=/home/ana/vault.db",
		"spgate_master_key=k-value",
		"AWS_SECRET_ACCESS_KEY=aws-value",
		"AWS_SESSION_TOKEN=st-value",
		"AWS_ACCESS_KEY_ID=AKIAEXAMPLE",
		"GITHUB_TOKEN=gh-value",
		"LWA_CLIENT_SECRET=lwa-value",
		"SP_API_REFRESH_TOKEN=sp-value",
		"DB_PASSWORD=db-value",
		"PGPASSWORD=pg-value",
		"OPENAI_API_KEY=oa-value",
		"SSH_AUTH_SOCK=/tmp/ssh-agent.sock",
		"GOOGLE_APPLICATION_CREDENTIALS=/home/ana/gcp.json",
		// allow-listed families with secret-looking names
		"XDG_SECRET_TOKEN=x-value",
		"LC_API_KEY=lc-value",
		// a proxy with a password
		"HTTP_PROXY=http://ana:pw-value@proxy.example:3128",
		"all_proxy=ana:pw-value@proxy.example:1080",
		// malformed and Windows drive entries
		"=C:=C:\\",
		"NOEQUALS",
		"UNRELATED_VARIABLE=1",
	}
	env := append(append([]string{}, drop...), keep...)
	got := ChildEnv(env)
	if !slices.Equal(got, keep) {
		t.Errorf("ChildEnv kept %v, want %v", names(got), names(keep))
	}
}

func TestChildEnvNeverNil(t *testing.T) {
	// A nil exec.Cmd.Env means the parent's whole environment.
	for _, env := range [][]string{nil, {"SPGATE_MASTER_KEY=k-value"}} {
		if got := ChildEnv(env); got == nil {
			t.Errorf("ChildEnv(%v) is nil", names(env))
		}
	}
}

func TestEnvironDropsSpgate(t *testing.T) {
	t.Setenv("SPGATE_MASTER_KEY", "test-master-key-value")
	t.Setenv("SPGATE_CLIENT_SECRET", "test-client-secret-value")
	t.Setenv("PATH", "/usr/bin")
	env := Environ()
	for _, kv := range env {
		if strings.HasPrefix(strings.ToUpper(kv), "SPGATE_") {
			name, _, _ := strings.Cut(kv, "=")
			t.Errorf("Environ kept %s", name)
		}
	}
	if !slices.Contains(env, "PATH=/usr/bin") {
		t.Errorf("Environ dropped PATH: %v", names(env))
	}
}

// names keeps only the variable names, so a failure prints no value.
func names(env []string) []string {
	out := make([]string, len(env))
	for i, kv := range env {
		out[i], _, _ = strings.Cut(kv, "=")
	}
	return out
}
