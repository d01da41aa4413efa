package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/testenv"
)

// The end-to-end tests drive spgate only through Main (or the test binary
// re-executed as spgate), so they keep working whatever the command
// implementations are built from.

// e2eHome gives the test its own HOME, XDG directories, vault path and
// master key, and clears every variable a developer's shell might leak in.
func e2eHome(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range e2eHomeEnv(dir) {
		t.Setenv(k, v)
	}
	return dir
}

// e2eHomeEnv is what e2eHome sets, for a home in dir.
func e2eHomeEnv(dir string) map[string]string {
	return map[string]string{
		"HOME":                        dir,
		"XDG_CONFIG_HOME":             filepath.Join(dir, "cfg"),
		"XDG_DATA_HOME":               filepath.Join(dir, "data"),
		"SPGATE_VAULT":                filepath.Join(dir, "vault.db"),
		"SPGATE_MASTER_KEY":           testMasterKey,
		"SPGATE_CLIENT_SECRET":        "",
		"SPGATE_REFRESH_TOKEN":        "",
		"SPGATE_LWA_URL":              "",
		EnvEndpoint:                   "",
		cmdutil.EnvSQSEndpoint:        "",
		cmdutil.EnvAWSEndpoint:        "",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_SECRET_ACCESS_KEY":       "",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "no-aws-credentials"),
	}
}

// e2eProcEnv is this process's environment with set applied, for a
// process a parallel test starts (which may not change its own).
func e2eProcEnv(set map[string]string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		_, ok := set[k]
		return ok
	})
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// e2eExec runs bin (spgate) with env and stdin and fails the test unless
// it exits with want (any code when want is negative).
func e2eExec(t *testing.T, bin string, env []string, want int, stdin string, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdin = env, strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("spgate %s: %v", strings.Join(args, " "), err)
	}
	if want >= 0 && code != want {
		t.Fatalf("spgate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, e2eMask(out.String()), e2eMask(errb.String()))
	}
	return out.String(), errb.String()
}

// e2eEndpoint is the SPGATE_ENDPOINT value for every region of srv.
func e2eEndpoint(srv *amazontest.Server) string {
	return fmt.Sprintf("na=%s,eu=%s,fe=%s", srv.RegionURL(amazontest.RegionNA), srv.RegionURL(amazontest.RegionEU), srv.RegionURL(amazontest.RegionFE))
}

// e2eRun runs spgate in process and returns its exit code and output.
func e2eRun(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// e2eMust runs spgate and fails the test unless it exits with want.
func e2eMust(t *testing.T, want int, stdin string, args ...string) (stdout, stderr string) {
	t.Helper()
	code, out, errs := e2eRun(t, stdin, args...)
	if want >= 0 && code != want {
		t.Fatalf("spgate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, e2eMask(out), e2eMask(errs))
	}
	return out, errs
}

// e2eTokenRE finds anything that looks like an LWA token or client secret,
// so a failing test's diagnostics never print one.
var e2eTokenRE = regexp.MustCompile(`(Atza|Atzr|Atz\.sprdt)\|[^\s"…,]{5,}|amzn1\.oa2-cs\.v1\.[0-9a-f]{8,}|spg_[A-Za-z0-9_\-]{8,}`)

// e2eMask hides tokens, secrets and client keys in s for test output.
func e2eMask(s string) string {
	return e2eTokenRE.ReplaceAllStringFunc(s, func(m string) string {
		if len(m) <= 8 {
			return "***"
		}
		return m[:5] + "…(" + fmt.Sprint(len(m)) + " chars)"
	})
}

// e2eServe runs `spgate serve` in process until ctx ends. It returns the
// gateway's base URL and a channel that yields Main's exit code.
func e2eServe(t *testing.T, ctx context.Context, stderr *testenv.Buffer, args ...string) (string, <-chan int) {
	t.Helper()
	done := make(chan int, 1)
	var out testenv.Buffer
	go func() {
		done <- Main(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), strings.NewReader(""), &out, stderr)
	}()
	re := regexp.MustCompile(`serving app \S+ on (http://127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(testenv.Patience)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], done
		}
		select {
		case code := <-done:
			t.Fatalf("spgate serve exited with %d before listening:\n%s", code, e2eMask(stderr.String()))
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("spgate serve did not say where it listens within %v:\n%s", testenv.Patience, e2eMask(stderr.String()))
	return "", nil
}

// e2eWriteFile writes a 0600 file in dir and returns its path.
func e2eWriteFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
