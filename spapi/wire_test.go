package spapi

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/testenv"
)

// wireFor is the default wire of a client, with a proxy from nowhere.
func wireFor(t *testing.T) *h1Transport {
	t.Helper()
	w := newH1Transport(http.DefaultTransport.(*http.Transport).Clone())
	w.proxy = nil
	t.Cleanup(w.CloseIdleConnections)
	return w
}

// countingServer answers every request with its path and counts the
// connections it was sent on.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.URL.Path) }
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// get sends a GET through rt and returns the status and body.
func get(t *testing.T, rt http.RoundTripper, u string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Answers read to their end leave their connection for the next request;
// an answer closed before its end, or one saying Connection: close, takes
// its connection with it.
func TestWireKeepsConnectionsAlive(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		_, _ = io.WriteString(w, strings.Repeat("x", 10000)+r.URL.Path)
	})
	w := wireFor(t)
	for i := range 20 {
		code, body, err := get(t, w, srv.URL+"/a")
		if err != nil || code != 200 || !strings.HasSuffix(body, "/a") || len(body) != 10002 {
			t.Fatalf("call %d: %d %d bytes %v", i, code, len(body), err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("20 calls took %d connections, want 1", n)
	}
	// Closed early: the rest of the answer is never read, so the
	// connection cannot carry another one.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/a", nil)
	resp, err := w.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, _, err := get(t, w, srv.URL+"/close"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(t, w, srv.URL+"/a"); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections after an early close and a Connection: close; want 3", n)
	}
}

// rawServer serves each connection with serve on its own goroutine.
func rawServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			})
		}
	})
	return "http://" + ln.Addr().String()
}

// A connection the server closed while it sat idle is not used again:
// the next request, a POST too, goes on a new one.
func TestWireSkipsConnectionsClosedWhileIdle(t *testing.T) {
	var conns atomic.Int64
	closed := make(chan struct{}, 10)
	u := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		conns.Add(1)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close() // without saying so
		closed <- struct{}{}
	})
	w := wireFor(t)
	// A GET on the closed connection fails at once and goes again on a
	// new one; a POST never goes on it.
	methods := []string{http.MethodGet, http.MethodGet, http.MethodPost, http.MethodPost}
	for i, method := range methods {
		req, _ := http.NewRequest(method, u+"/x", strings.NewReader("body"))
		resp, err := w.RoundTrip(req)
		if err != nil {
			t.Fatalf("call %d (%s): %v", i, method, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" {
			t.Fatalf("call %d: %q", i, b)
		}
		select { // the server has closed its end before the next call
		case <-closed:
		case <-time.After(testenv.Patience):
			t.Fatal("the server never closed the connection")
		}
	}
	if n := conns.Load(); n != int64(len(methods)) {
		t.Fatalf("%d connections for %d calls", n, len(methods))
	}
}

// A reused connection that fails before any answer (the server closed it
// just as the request went out) is retried on a new one for an idempotent
// request only: a POST may have been acted on.
func TestWireRetriesOnlyIdempotentRequests(t *testing.T) {
	var conns atomic.Int64
	u := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		conns.Add(1)
		for n := 0; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if n == 1 {
				return // the second request on a connection: closed unanswered
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	w := wireFor(t)
	for _, tt := range []struct {
		method string
		ok     bool
	}{{http.MethodGet, true}, {http.MethodPost, false}} {
		if _, _, err := get(t, w, u+"/first"); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(tt.method, u+"/second", strings.NewReader("body"))
		resp, err := w.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) != tt.ok {
			t.Errorf("%s on a connection closed unanswered: err %v, want success %v", tt.method, err, tt.ok)
		}
	}
}

// Response headers are bounded; 1xx answers before the real one are
// skipped.
func TestWireReadsHeadersWithinBounds(t *testing.T) {
	u := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if req.URL.Path == "/huge" {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			line := "X-Filler: " + strings.Repeat("y", 1000) + "\r\n"
			for range 2000 { // 2 MB of headers
				if _, err := io.WriteString(c, line); err != nil {
					return
				}
			}
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	w := wireFor(t)
	if code, body, err := get(t, w, u+"/hints"); err != nil || code != 200 || body != "ok" {
		t.Errorf("after 103: %d %q %v", code, body, err)
	}
	if _, _, err := get(t, w, u+"/huge"); !errors.Is(err, errHeaderTooLong) {
		t.Errorf("2 MB of headers: %v, want %v", err, errHeaderTooLong)
	}
}

// The wire asks for gzip, as http.Transport does, and hands the answer on
// uncompressed; the connection is reused after it.
func TestWireDecompressesGzip(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			_, _ = io.WriteString(w, "plain")
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = io.WriteString(zw, strings.Repeat("order,", 5000))
		zw.Close()
	})
	w := wireFor(t)
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := w.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != strings.Repeat("order,", 5000) || resp.Header.Get("Content-Encoding") != "" || !resp.Uncompressed {
			t.Fatalf("%d bytes, %v, Content-Encoding %q, uncompressed %v", len(b), err, resp.Header.Get("Content-Encoding"), resp.Uncompressed)
		}
		if req.Header.Get("Accept-Encoding") != "" {
			t.Fatal("the wire changed the caller's request")
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 compressed answers", n)
	}
}

// A request whose context ends while it waits for its answer returns at
// once with the context's error.
func TestWireStopsWithTheContext(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	w := wireFor(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	done := make(chan error, 1)
	go func() {
		resp, err := w.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-arrived:
	case <-time.After(testenv.Patience):
		t.Fatal("the request never arrived")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(testenv.Patience):
		t.Fatal("the request outlived its context")
	}
}

// HTTPS: HTTP/1.1 over TLS, verified against the given roots, one
// connection for several calls.
func TestWireTLS(t *testing.T) {
	var conns atomic.Int64
	var protos sync.Map
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos.Store(r.Proto, true)
		_, _ = io.WriteString(w, "secure")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	w := wireFor(t)
	if _, _, err := get(t, w, srv.URL); err == nil {
		t.Fatal("a certificate from unknown roots was accepted")
	}
	w.tls.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	for range 3 {
		if code, body, err := get(t, w, srv.URL); err != nil || code != 200 || body != "secure" {
			t.Fatalf("%d %q %v", code, body, err)
		}
	}
	if n := conns.Load(); n != 2 { // the refused handshake, then one
		t.Errorf("%d connections", n)
	}
	protos.Range(func(k, _ any) bool {
		if k != "HTTP/1.1" {
			t.Errorf("served over %v", k)
		}
		return true
	})
}

// A request the environment sends through a proxy goes by the proxied
// transport.
func TestWireHandsProxiedRequestsOn(t *testing.T) {
	w := wireFor(t)
	var via atomic.Int64
	w.proxied = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		via.Add(1)
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("proxied")), Request: r}, nil
	})
	w.proxy = func(r *http.Request) (*url.URL, error) {
		if r.URL.Host == "amazon.invalid" {
			return url.Parse("http://proxy.invalid:3128")
		}
		return nil, nil
	}
	if code, body, err := get(t, w, "https://amazon.invalid/sellers/v1/marketplaceParticipations"); err != nil || code != 200 || body != "proxied" || via.Load() != 1 {
		t.Fatalf("%d %q %v, %d through the proxy", code, body, err, via.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Idle connections are closed once idle for idleTimeout.
func TestWireClosesIdleConnections(t *testing.T) {
	closed := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			select {
			case closed <- struct{}{}:
			default:
			}
		}
	}
	srv.Start()
	defer srv.Close()
	w := wireFor(t)
	w.idleTimeout = 20 * time.Millisecond
	if _, _, err := get(t, w, srv.URL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(testenv.Patience):
		t.Fatal("the idle connection was never closed")
	}
	w.mu.Lock()
	n := len(w.idle)
	w.mu.Unlock()
	if n != 0 {
		t.Errorf("%d hosts still hold idle connections", n)
	}
}
