package gateway_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/internal/testenv"
)

// TestServeCapsUnauthenticatedConnections: connections that never showed a
// valid key are capped; past the cap new connections are closed, while a
// connection that authenticated no longer counts.
func TestServeCapsUnauthenticatedConnections(t *testing.T) {
	const limit = 3
	e := newEnv(t, envOptions{amazon: []amazontest.Option{amazontest.WithoutRateLimits()}, store: unlimited{}, withoutLogs: true,
		serve: gateway.ServeOptions{MaxUnauthenticatedConns: limit}})
	key := e.addClient("bc", []string{"*"}, []string{"*"}, false)
	addr := strings.TrimPrefix(e.url, "http://")
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closed reports whether the server closed c within wait (a read ends
	// with EOF or a reset) rather than keeping it open (the read times
	// out). Load can only make a closing late, so a long wait proves a
	// close and a short one is enough to see a connection kept.
	closed := func(c net.Conn, wait time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(wait))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}
	// One connection authenticates first; it must not count.
	authed := dial()
	fmt.Fprintf(authed, "GET %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\nX-Spgate-Seller: %s\r\n\r\n", participationsPath, key, e.demo.Sellers[0].ID)
	resp, err := http.ReadResponse(bufio.NewReader(authed), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("authenticated call: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	idle := make([]net.Conn, limit)
	for i := range idle {
		idle[i] = dial()
	}
	// The server counts a connection when it accepts it; give it the time
	// to accept all of them (an event we can observe: each answers 401).
	for _, c := range idle[:1] {
		fmt.Fprintf(c, "GET /orders/v0/orders HTTP/1.1\r\nHost: gw\r\n\r\n")
		if r, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || r.StatusCode != 401 {
			t.Fatalf("unauthenticated call: %v %v", r, err)
		}
	}
	over := dial()
	if !closed(over, testenv.Patience) {
		t.Errorf("connection %d past the cap of %d unauthenticated ones was kept open", limit+1, limit)
	}
	for i, c := range idle[1:] {
		if closed(c, 300*time.Millisecond) {
			t.Errorf("connection %d within the cap was closed", i+2)
		}
	}
	// Closing one frees a slot.
	idle[1].Close()
	var again net.Conn
	for end := time.Now().Add(testenv.Patience); time.Now().Before(end); {
		again = dial()
		if !closed(again, 300*time.Millisecond) {
			break
		}
		again = nil
	}
	if again == nil {
		t.Error("a slot freed by a closed connection was not given to a new one")
	}
}

func TestServeTimeoutsDefaults(t *testing.T) {
	// A request whose headers never end is cut off by ReadHeaderTimeout;
	// here a short one, so the test waits for an event, not a budget.
	e := newEnv(t, envOptions{amazon: []amazontest.Option{amazontest.WithoutRateLimits()}, store: unlimited{}, withoutLogs: true,
		serve: gateway.ServeOptions{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 400 * time.Millisecond}})
	c, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: gw\r\n")
	_ = c.SetReadDeadline(time.Now().Add(testenv.Patience))
	_, err = io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server kept a connection with unfinished headers open for %v", testenv.Patience)
	}
}

// TestServeCapsConnections: past MaxConns open connections, a new one
// waits unserved in the kernel's accept queue until one of the others
// closes.
func TestServeCapsConnections(t *testing.T) {
	const limit = 2
	e := newEnv(t, envOptions{amazon: []amazontest.Option{amazontest.WithoutRateLimits()}, store: unlimited{}, withoutLogs: true,
		serve: gateway.ServeOptions{MaxConns: limit}})
	addr := strings.TrimPrefix(e.url, "http://")
	// health asks for /healthz on c and returns the answer's reader.
	health := func(c net.Conn) *bufio.Reader {
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
		return bufio.NewReader(c)
	}
	answered := func(br *bufio.Reader) error {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	open := make([]net.Conn, limit)
	for i := range open {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(testenv.Patience))
		if err := answered(health(c)); err != nil {
			t.Fatalf("connection %d within the cap: %v", i+1, err)
		}
		open[i] = c
	}
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	br := health(over)
	// The connections within the cap are answered after it asked, so by
	// then an accepted connection would have its answer too; look
	// without waiting.
	for i, c := range open {
		if err := answered(health(c)); err != nil {
			t.Fatalf("connection %d within the cap, asked again: %v", i+1, err)
		}
	}
	if pending(t, over) {
		t.Fatalf("connection %d past the cap of %d was served while the others stayed open", limit+1, limit)
	}
	// Closing one lets it in.
	open[0].Close()
	_ = over.SetReadDeadline(time.Now().Add(testenv.Patience))
	if err := answered(br); err != nil {
		t.Errorf("connection past the cap, once another closed: %v", err)
	}
}
