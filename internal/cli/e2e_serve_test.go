package cli

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/testenv"
)

// serveFixture is a vault made through the CLI (app add, seller add, client
// add) with the offline Amazon's demo app and two of its sellers.
type serveFixture struct {
	dir      string
	srv      *amazontest.Server
	demo     amazontest.Demo
	na, eu   amazontest.DemoSeller
	orderKey string // getOrders and getOrderAddress, seller na, PII
	metaKey  string // getMarketplaceParticipations only, every seller
	plainKey string // orders/v0, seller na, no PII
	audit    string
}

func newServeFixture(t *testing.T, opts ...amazontest.Option) *serveFixture {
	t.Helper()
	dir := e2eHome(t)
	srv := amazontest.NewServer(append([]amazontest.Option{amazontest.WithSeed(11), amazontest.WithOrdersPerSeller(30), amazontest.WithoutRateLimits(),
		amazontest.WithTokenLifetime(12 * time.Hour)}, opts...)...)
	t.Cleanup(srv.Close)
	t.Setenv(EnvEndpoint, e2eEndpoint(srv))
	f := &serveFixture{dir: dir, srv: srv, demo: srv.Demo(), audit: filepath.Join(dir, "audit.jsonl")}
	f.na, f.eu = f.demo.Sellers[0], f.demo.Sellers[1]
	if f.na.Region != amazontest.RegionNA || f.eu.Region != amazontest.RegionEU {
		t.Fatalf("demo sellers are in %s and %s, want na and eu", f.na.Region, f.eu.Region)
	}
	cs := e2eWriteFile(t, dir, "client-secret", f.demo.ClientSecret+"\n")
	e2eMust(t, ExitOK, "", "app", "add", "main", "--app-id", f.demo.AppID, "--client-id", f.demo.ClientID, "--client-secret-file", cs,
		"--role", amazontest.RoleShipping)
	for _, s := range []amazontest.DemoSeller{f.na, f.eu} {
		e2eMust(t, ExitOK, s.RefreshToken, "seller", "add", s.ID, "--app", "main", "--region", string(s.Region),
			"--marketplace", strings.Join(s.Marketplaces, ","), "--refresh-token-file", "-")
	}
	out, _ := e2eMust(t, ExitOK, "", "client", "add", "orders", "--seller", f.na.ID, "--operation", "getOrders,getOrderAddress", "--pii")
	f.orderKey = strings.TrimSpace(out)
	out, _ = e2eMust(t, ExitOK, "", "client", "add", "plain", "--seller", f.na.ID, "--operation", "orders/v0")
	f.plainKey = strings.TrimSpace(out)
	out, _ = e2eMust(t, ExitOK, "", "client", "add", "meta", "--seller", "*", "--operation", "getMarketplaceParticipations", "--json")
	var meta struct{ Key string }
	if err := json.Unmarshal([]byte(out), &meta); err != nil {
		t.Fatalf("client add --json: %v", err)
	}
	f.metaKey = meta.Key
	for _, k := range []string{f.orderKey, f.metaKey, f.plainKey} {
		if !strings.HasPrefix(k, "spg_") || len(k) < 24 {
			t.Fatalf("client add printed %q as the key", e2eMask(k))
		}
	}
	return f
}

// gatewayCall sends one request to the gateway.
func gatewayCall(t *testing.T, base, path, key, seller string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if seller != "" {
		req.Header.Set("X-Spgate-Seller", seller)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

var orderIDRE = regexp.MustCompile(`"AmazonOrderId":\s*"(\d{3}-\d{7}-\d{7})"`)

func orderIDs(body string) []string {
	var ids []string
	for _, m := range orderIDRE.FindAllStringSubmatch(body, -1) {
		if !slices.Contains(ids, m[1]) {
			ids = append(ids, m[1])
		}
	}
	slices.Sort(ids)
	return ids
}

func TestServeGateway(t *testing.T) {
	f := newServeFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	base, done := e2eServe(t, ctx, &stderr, "--audit-log", f.audit, "--key-cache", "0", "--ready-interval", "50ms", "--log-level", "info")

	created := time.Now().Add(-90 * 24 * time.Hour).UTC().Format(time.RFC3339)
	ordersPath := "/orders/v0/orders?MarketplaceIds=" + f.na.Marketplaces[0] + "&CreatedAfter=" + created

	// What Amazon answers the CLI directly, for comparison.
	direct, _ := e2eMust(t, ExitOK, "", "call", "getOrders", "MarketplaceIds="+f.na.Marketplaces[0], "CreatedAfter="+created, "--api", "orders/v0", "--seller", f.na.ID)
	want := orderIDs(direct)
	if len(want) == 0 {
		t.Fatalf("spgate call getOrders found no orders:\n%.500s", e2eMask(direct))
	}

	t.Run("client key and seller get Amazon's answer", func(t *testing.T) {
		code, h, body := gatewayCall(t, base, ordersPath, f.orderKey, f.na.ID)
		if code != http.StatusOK {
			t.Fatalf("status %d: %.500s", code, body)
		}
		if h.Get("X-Spgate-Request-Id") == "" {
			t.Error("no X-Spgate-Request-Id")
		}
		if got := orderIDs(body); !slices.Equal(got, want) {
			t.Errorf("gateway returned orders %v, spgate call %v", got, want)
		}
	})

	t.Run("PII through an RDT", func(t *testing.T) {
		id := want[0]
		code, _, body := gatewayCall(t, base, "/orders/v0/orders/"+id+"/address", f.orderKey, f.na.ID)
		if code != http.StatusOK || !strings.Contains(body, `"AddressLine1"`) {
			t.Errorf("getOrderAddress: status %d: %.300s", code, body)
		}
	})

	for _, tc := range []struct {
		name, path, key, seller string
		status                  int
		code                    string
	}{
		{"no key", ordersPath, "", f.na.ID, http.StatusUnauthorized, `"code":"unauthenticated"`},
		{"wrong key", ordersPath, "spg_" + strings.Repeat("x", 40), f.na.ID, http.StatusUnauthorized, `"code":"unauthenticated"`},
		{"operation outside the key's scope", ordersPath, f.metaKey, f.na.ID, http.StatusForbidden, `"code":"operation_forbidden"`},
		{"seller outside the key's scope", "/orders/v0/orders?MarketplaceIds=" + f.eu.Marketplaces[0] + "&CreatedAfter=" + created, f.orderKey, f.eu.ID, http.StatusForbidden, `"code":"seller_forbidden"`},
		{"PII without the permission", ordersPath, f.plainKey, f.na.ID, http.StatusForbidden, `"code":"pii_forbidden"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, h, body := gatewayCall(t, base, tc.path, tc.key, tc.seller, "X-Spgate-PII", "shippingAddress")
			if code != tc.status {
				t.Fatalf("status %d, want %d: %.300s", code, tc.status, body)
			}
			if tc.code != "" && !strings.Contains(body, tc.code) {
				t.Errorf("body does not name %s: %.300s", tc.code, body)
			}
			if h.Get("X-Spgate-Request-Id") == "" {
				t.Error("refusal without X-Spgate-Request-Id")
			}
			if len(orderIDs(body)) > 0 {
				t.Error("a refused call returned orders")
			}
		})
	}

	t.Run("a key in scope for the operation works for any seller", func(t *testing.T) {
		code, _, body := gatewayCall(t, base, "/sellers/v1/marketplaceParticipations", f.metaKey, f.eu.ID)
		if code != http.StatusOK || !strings.Contains(body, f.eu.Marketplaces[0]) {
			t.Errorf("status %d: %.300s", code, body)
		}
	})

	t.Run("healthz readyz metrics", func(t *testing.T) {
		if code, _, body := gatewayCall(t, base, "/healthz", "", ""); code != http.StatusOK {
			t.Errorf("/healthz: %d %s", code, body)
		}
		var code int
		var body string
		for end := time.Now().Add(testenv.Patience); time.Now().Before(end); {
			if code, _, body = gatewayCall(t, base, "/readyz", "", ""); code == http.StatusOK {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if code != http.StatusOK {
			t.Errorf("/readyz: %d %s", code, e2eMask(body))
		}
		// /metrics names sellers: only a key for every seller reads it.
		if code, _, _ = gatewayCall(t, base, "/metrics", "", ""); code != http.StatusUnauthorized {
			t.Errorf("/metrics without a key: %d", code)
		}
		if code, _, _ = gatewayCall(t, base, "/metrics", f.orderKey, ""); code != http.StatusForbidden {
			t.Errorf("/metrics with a one-seller key: %d", code)
		}
		code, _, body = gatewayCall(t, base, "/metrics", f.metaKey, "")
		if code != http.StatusOK || !strings.Contains(body, "# TYPE") || !strings.Contains(body, "spgate_") {
			t.Errorf("/metrics: %d %.300s", code, body)
		}
	})

	t.Run("revoked key is refused", func(t *testing.T) {
		e2eMust(t, ExitOK, "", "client", "revoke", "meta")
		// --key-cache 0: the gateway asks the vault on every request, so the
		// revocation by another process takes effect at once.
		if code, _, _ := gatewayCall(t, base, "/sellers/v1/marketplaceParticipations", f.metaKey, f.eu.ID); code != http.StatusUnauthorized {
			t.Errorf("revoked key: status %d, want 401", code)
		}
	})

	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("serve exited %d after its context ended:\n%s", code, e2eMask(stderr.String()))
		}
	case <-time.After(testenv.Patience):
		t.Fatalf("serve did not stop within %v of its context ending", testenv.Patience)
	}
	logs := stderr.String()
	if !strings.Contains(logs, "shut down cleanly") {
		t.Errorf("serve did not log a clean shutdown:\n%s", e2eMask(logs))
	}
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Errorf("--log-level info logs no line per request:\n%.2000s", e2eMask(logs))
	}
	for _, k := range []string{f.orderKey, f.metaKey, f.plainKey} {
		if strings.Contains(logs, k) {
			t.Error("a client key is in the gateway's log")
		}
	}
	audit, err := os.ReadFile(f.audit)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	if !strings.Contains(string(audit), "getOrderAddress") {
		t.Errorf("the audit log does not record the PII call:\n%s", e2eMask(string(audit)))
	}
	if n := strings.Count(string(audit), "\n"); n < 4 {
		t.Errorf("the audit log has %d lines; want the PII call and the refusals:\n%s", n, e2eMask(string(audit)))
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the gateway still answers after shutting down")
	}
}

// TestServeSIGTERM runs the gateway as its own process (this test binary
// re-executed as spgate) and stops it with SIGTERM.
func TestServeSIGTERM(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "spgate")
	if err := os.Symlink(exe, bin); err != nil {
		t.Skipf("cannot link the test binary as spgate: %v", err)
	}
	f := newServeFixture(t)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--audit-log", f.audit, "--log-level", "info")
	stderr := &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	re := regexp.MustCompile(`serving app \S+ on (http://127\.0\.0\.1:\d+)`)
	var base string
	for end := time.Now().Add(testenv.Patience); base == "" && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("serve did not start:\n%s", e2eMask(stderr.String()))
	}
	if code, _, body := gatewayCall(t, base, "/sellers/v1/marketplaceParticipations", f.metaKey, f.na.ID); code != http.StatusOK {
		t.Fatalf("status %d: %.300s", code, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s", err, e2eMask(stderr.String()))
		}
	case <-time.After(testenv.Patience):
		t.Fatalf("serve did not exit within %v of SIGTERM", testenv.Patience)
	}
	if !strings.Contains(stderr.String(), "shut down cleanly") {
		t.Errorf("no clean shutdown in the log:\n%s", e2eMask(stderr.String()))
	}
}

// TestServePortTaken: a port held by another process is a configuration
// problem (exit 3) that names --addr.
func TestServePortTaken(t *testing.T) {
	newServeFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, errs := e2eMust(t, ExitConfig, "", "serve", "--addr", ln.Addr().String())
	if !strings.Contains(errs, "--addr") {
		t.Errorf("the error does not say how to choose another port: %s", errs)
	}
}

// TestServeLogsAtTheDefaultLevel: like every verb, serve logs warnings and
// errors by default; a line per request only with --log-level info.
func TestServeLogsAtTheDefaultLevel(t *testing.T) {
	f := newServeFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr testenv.Buffer
	base, done := e2eServe(t, ctx, &stderr, "--audit-log", f.audit)
	if code, _, body := gatewayCall(t, base, "/sellers/v1/marketplaceParticipations", f.metaKey, f.na.ID); code != http.StatusOK {
		t.Fatalf("status %d: %.300s", code, body)
	}
	cancel()
	<-done
	if strings.Contains(stderr.String(), `"level":"INFO"`) {
		t.Errorf("INFO lines at the default level:\n%.1000s", e2eMask(stderr.String()))
	}
}

// TestServeNoRateLimitsOnlyForEmulators: without pacing, Amazon would only
// answer 429s, so --no-rate-limits against it is bad input.
func TestServeNoRateLimitsOnlyForEmulators(t *testing.T) {
	newServeFixture(t)
	t.Setenv(EnvEndpoint, "")
	_, errs := e2eMust(t, ExitUsage, "", "serve", "--addr", "127.0.0.1:0", "--sandbox", "--no-rate-limits")
	if !strings.Contains(errs, "--no-rate-limits is for load tests") {
		t.Errorf("stderr: %s", errs)
	}
}
