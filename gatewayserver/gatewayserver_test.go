package gatewayserver_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/gatewayserver"
	"github.com/spgate/spgate/internal/demo"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestServeFromTheVault runs the gateway as a Go program would, from a
// vault holding the offline Amazon's demo app: a client key from the vault
// calls a seller through it, the readiness and operations listeners
// answer, a key revoked in the vault stops working at once (no key cache),
// and Serve returns when its context ends.
func TestServeFromTheVault(t *testing.T) {
	ctx := context.Background()
	e, err := demo.Start(ctx, demo.Options{Actor: "test", Amazon: amazontest.Config{Seed: 4, OrdersPerSeller: 1, Sellers: 1, NoRateLimits: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	seller := e.Fixture.SellerID
	key, err := e.Vault.CreateClient(ctx, vault.Client{Name: "erp", Sellers: []string{seller}, Operations: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	ops := listen(t)
	srv, err := gatewayserver.Start(ctx, gatewayserver.Config{Vault: e.Vault, App: e.App, Endpoints: e.Endpoints,
		Listener: listen(t), OpsListener: ops, KeyCacheTTL: -1, AuditLog: filepath.Join(t.TempDir(), "audit.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx) }()

	hc := &http.Client{Timeout: testenv.Patience}
	call := func(k string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/sellers/v1/marketplaceParticipations", nil)
		req.Header.Set("Authorization", "Bearer "+k)
		req.Header.Set("X-Spgate-Seller", seller)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := call(key.Reveal()); code != http.StatusOK {
		t.Fatalf("a call with the vault's key: %d", code)
	}
	resp, err := hc.Get("http://" + ops.Addr().String() + "/metrics")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the operations listener: %v", err)
	}
	resp.Body.Close()
	if err := e.Vault.RevokeClient(ctx, "erp"); err != nil {
		t.Fatal(err)
	}
	if code := call(key.Reveal()); code != http.StatusUnauthorized {
		t.Errorf("a revoked key: %d, want 401", code)
	}
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(testenv.Patience):
		t.Fatal("Serve did not return after its context ended")
	}
	if ln, err := net.Listen("tcp", strings.TrimPrefix(srv.URL(), "http://")); err != nil {
		t.Errorf("the gateway's port is still held: %v", err)
	} else {
		ln.Close()
	}
}

// Start names the part it could not set up, and leaves nothing running.
func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	e, err := demo.Start(ctx, demo.Options{Actor: "test", Amazon: amazontest.Config{Seed: 4, OrdersPerSeller: 1, Sellers: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = gatewayserver.Start(ctx, gatewayserver.Config{Vault: e.Vault, App: e.App, Endpoints: e.Endpoints, Listener: listen(t),
		AuditLog: filepath.Join(blocked, "audit.jsonl")})
	var se *gatewayserver.Error
	if !errors.As(err, &se) || se.Part != gatewayserver.PartAuditLog {
		t.Errorf("an audit log under a file: %v, want an error of part %q", err, gatewayserver.PartAuditLog)
	}
	_, err = gatewayserver.Start(ctx, gatewayserver.Config{Vault: e.Vault, App: e.App, Endpoints: spapi.Production(), Listener: listen(t),
		AuditLog: filepath.Join(t.TempDir(), "audit.jsonl"), RateLimits: gatewayserver.NoLimits})
	if !errors.As(err, &se) || se.Part != gatewayserver.PartRateLimits {
		t.Errorf("no rate limits against Amazon: %v, want an error of part %q", err, gatewayserver.PartRateLimits)
	}
	ln := listen(t)
	_, err = gatewayserver.Start(ctx, gatewayserver.Config{Vault: e.Vault, App: e.App, Endpoints: e.Endpoints, Listener: listen(t),
		AuditLog: filepath.Join(t.TempDir(), "audit.jsonl"), Console: &gatewayserver.Console{Listener: ln}})
	if !errors.As(err, &se) || se.Part != gatewayserver.PartConsole {
		t.Errorf("a console without checks: %v, want an error of part %q", err, gatewayserver.PartConsole)
	}
}

// With a console, Start serves it and issues its first sign-in link.
func TestStartConsole(t *testing.T) {
	ctx := context.Background()
	e, err := demo.Start(ctx, demo.Options{Actor: "test", Amazon: amazontest.Config{Seed: 4, OrdersPerSeller: 1, Sellers: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	srv, err := gatewayserver.Start(ctx, gatewayserver.Config{Vault: e.Vault, App: e.App, Endpoints: e.Endpoints, Listener: listen(t),
		AuditLog: filepath.Join(t.TempDir(), "audit.jsonl"), Console: &gatewayserver.Console{Listener: listen(t),
			Checks: func(context.Context) ([]doctor.Check, error) { return nil, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.ConsoleLogin(), srv.ConsoleURL()+"/login?token=spc_") {
		t.Fatalf("console %q, sign-in link %q", srv.ConsoleURL(), srv.ConsoleLogin())
	}
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar, Timeout: testenv.Patience}).Get(srv.ConsoleLogin())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the sign-in link: %d", resp.StatusCode)
	}
}
