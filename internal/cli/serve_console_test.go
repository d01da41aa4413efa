package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/testenv"
)

// TestServeConsole runs `spgate serve --console 127.0.0.1:0` and uses the
// console it serves: the printed one-time link signs in, a gateway client
// created there calls the gateway, and the link does not work twice.
func TestServeConsole(t *testing.T) {
	f := newServeFixture(t)
	if code, _, stderr := e2eRun(t, "", "serve", "--console", "0.0.0.0:0", "--addr", "127.0.0.1:0"); code != ExitUsage || !strings.Contains(stderr, "without TLS") {
		if strings.Contains(stderr, "unknown flag: --console") {
			t.Skip("spgate serve does not take --console yet (internal/cmd/servecmd: addConsoleFlags)")
		}
		t.Fatalf("serve --console on 0.0.0.0 without TLS: exit %d\n%s", code, e2eMask(stderr))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	gw, done := e2eServe(t, ctx, &stderr, "--console", "127.0.0.1:0", "--audit-log", f.audit)
	re := regexp.MustCompile(`(http://127\.0\.0\.1:\d+)/login\?token=(spc_[A-Za-z0-9_-]+)`)
	var m []string
	for deadline := time.Now().Add(testenv.Patience); m == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		m = re.FindStringSubmatch(stderr.String())
	}
	if m == nil {
		t.Fatalf("serve --console printed no sign-in link:\n%s", e2eMask(stderr.String()))
	}
	base, link := m[1], m[0]
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: testenv.Patience}
	get := func(u string) (int, string) {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get(link)
	if code != http.StatusOK || !strings.Contains(body, "<h1>Setup</h1>") {
		t.Fatalf("the sign-in link: %d\n%s", code, body)
	}
	for _, s := range []string{f.demo.ClientSecret, f.na.RefreshToken, f.eu.RefreshToken, testMasterKey} {
		if strings.Contains(body, s) {
			t.Fatal("the Setup page shows a secret")
		}
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if csrf == nil {
		t.Fatal("no CSRF token on the page")
	}
	resp, err := hc.PostForm(base+"/clients", url.Values{"csrf": {csrf[1]}, "name": {"from-console"}, "sellers": {f.na.ID}, "operations": {"getMarketplaceParticipations"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	key := regexp.MustCompile(`value="(spg_[^"]+)"`).FindStringSubmatch(string(b))
	if key == nil {
		t.Fatalf("no key after creating a client: %d\n%s", resp.StatusCode, b)
	}
	if st, _, _ := gatewayCall(t, gw, "/sellers/v1/marketplaceParticipations", key[1], f.na.ID); st != http.StatusOK {
		t.Fatalf("the console's key at the gateway: %d", st)
	}
	// The link worked once; `spgate console link` prints another.
	jar2, _ := cookiejar.New(nil)
	hc.Jar = jar2
	if code, _ := get(link); code != http.StatusForbidden {
		t.Fatalf("the link a second time: %d", code)
	}
	out, _ := e2eMust(t, ExitOK, "", "console", "link")
	if !strings.HasPrefix(strings.TrimSpace(out), base+"/login?token=spc_") {
		t.Fatalf("console link printed %q", e2eMask(out))
	}
	if code, _ := get(strings.TrimSpace(out)); code != http.StatusOK {
		t.Fatalf("the new link: %d", code)
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Fatalf("serve exited %d:\n%s", code, e2eMask(stderr.String()))
	}
}

func TestConsoleLink(t *testing.T) {
	dir := e2eHome(t)
	cs := e2eWriteFile(t, dir, "cs", leakClientSecret+"\n")
	e2eMust(t, ExitOK, "", "app", "add", "main", "--app-id", testAppID, "--client-id", testClientID, "--client-secret-file", cs)
	_, stderr := e2eMust(t, ExitUsage, "", "console", "link")
	if !strings.Contains(stderr, "no admin console has served this vault") {
		t.Fatalf("console link before any console: %s", stderr)
	}
	out, _ := e2eMust(t, ExitOK, "", "console", "link", "--url", "http://127.0.0.1:8088/")
	if !regexp.MustCompile(`^http://127\.0\.0\.1:8088/login\?token=spc_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("console link --url printed %q", out)
	}
	out, _ = e2eMust(t, ExitOK, "", "console", "link", "--url", "http://127.0.0.1:8088", "--json")
	if !strings.Contains(out, `"url": "http://127.0.0.1:8088/login?token=spc_`) {
		t.Fatalf("console link --json printed %q", out)
	}
}
