package h1server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/h1server"
	"github.com/spgate/spgate/internal/testenv"
)

// short is the timeout under test wherever one must fire: short, so a
// test does not wait long for it, while the test itself waits on events
// under testenv.Patience.
const short = 50 * time.Millisecond

// echo answers the request's path.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, r.URL.Path)
})

// readAnswer reads one answer and its whole body.
func readAnswer(br *bufio.Reader, method string) (*http.Response, string, error) {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// ended waits for the server to end c and returns what it sent before;
// the test fails if c is still open after testenv.Patience.
func ended(t *testing.T, c net.Conn, r io.Reader) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(testenv.Patience))
	b, err := io.ReadAll(r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection is still open after %v", testenv.Patience)
	}
	return string(b)
}

// TestReadHeaderTimeoutEndsSlowHeaders: a client that never finishes a
// request's headers (slowloris) loses its connection, unanswered, once
// ReadHeaderTimeout passes, whether it is its first request or a later one.
func TestReadHeaderTimeoutEndsSlowHeaders(t *testing.T) {
	t.Parallel()
	addr := serve(t, &h1server.Server{Handler: echo, ReadHeaderTimeout: short})
	tests := []struct {
		name string
		sent string
		want []string // the paths answered before the connection ends
		// refused: a 400 ends the connection. When the timeout cuts a
		// request line short, the parser gets it as a malformed line, and
		// net/http's server answers 400 too.
		refused bool
	}{
		{name: "nothing sent", sent: ""},
		{name: "half a request line", sent: "GET /slow HT", refused: true},
		{name: "headers without their end", sent: "GET /slow HTTP/1.1\r\nHost: example.com\r\nX-Test: one\r\n"},
		{name: "second request's headers unfinished", sent: get("/first") + "GET /slow HTTP/1.1\r\nHost: exa", want: []string{"/first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, addr)
			io.WriteString(c, tt.sent)
			br := bufio.NewReader(c)
			var got []string
			for range tt.want {
				_, body, err := readAnswer(br, http.MethodGet)
				if err != nil {
					t.Fatalf("after answers %q: %v", got, err)
				}
				got = append(got, body)
			}
			want := ""
			if tt.refused {
				want = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
			}
			if rest := ended(t, c, br); rest != want {
				t.Errorf("after the timeout the server sent %q, want %q", rest, want)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("answered %q, want %q", got, tt.want)
			}
		})
	}
}

// TestIdleTimeoutEndsIdleConnection: a kept-alive connection on which no
// next request comes is closed after IdleTimeout, or ReadTimeout when
// IdleTimeout is zero.
func TestIdleTimeoutEndsIdleConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		srv  *h1server.Server
	}{
		{name: "IdleTimeout", srv: &h1server.Server{Handler: echo, IdleTimeout: short}},
		{name: "ReadTimeout when IdleTimeout is zero", srv: &h1server.Server{Handler: echo, ReadTimeout: short}},
		{name: "IdleTimeout beside long read timeouts", srv: &h1server.Server{Handler: echo, IdleTimeout: short, ReadHeaderTimeout: testenv.Patience, ReadTimeout: testenv.Patience}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := serve(t, tt.srv)
			// With ReadTimeout this short, a busy machine may let it pass
			// before the request is read: then the connection ends
			// unanswered and the test tries again.
			for deadline := time.Now().Add(testenv.Patience); ; {
				if time.Now().After(deadline) {
					t.Fatalf("no request was answered in %v", testenv.Patience)
				}
				c := dial(t, addr)
				io.WriteString(c, get("/idle"))
				br := bufio.NewReader(c)
				resp, body, err := readAnswer(br, http.MethodGet)
				if err != nil {
					c.Close()
					continue
				}
				if body != "/idle" || resp.Close {
					t.Fatalf("answer %q, Connection: close %v; want /idle, kept alive", body, resp.Close)
				}
				if rest := ended(t, c, br); rest != "" {
					t.Errorf("the server sent %q on an idle connection", rest)
				}
				return
			}
		})
	}
}

// TestReadTimeoutFailsSlowBody: a handler reading a request body the
// client stops sending gets a timeout error once ReadTimeout passes, and
// the connection is not kept.
func TestReadTimeoutFailsSlowBody(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 1)
	addr := serve(t, &h1server.Server{ReadTimeout: short, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		errs <- err
		io.WriteString(w, "read")
	})})
	// The timeout runs from the start of the request, headers included: on
	// a busy machine it may pass before the handler runs, and then the
	// connection ends unanswered and the test tries again.
	for deadline := time.Now().Add(testenv.Patience); ; {
		if time.Now().After(deadline) {
			t.Fatalf("no request reached the handler in %v", testenv.Patience)
		}
		c := dial(t, addr)
		io.WriteString(c, post("/slow", "half", "Content-Length: 10\r\n"))
		br := bufio.NewReader(c)
		resp, _, err := readAnswer(br, http.MethodPost)
		if err != nil {
			c.Close()
			continue
		}
		if err := <-errs; !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("reading the body failed with %v, want a timeout", err)
		}
		if rest := ended(t, c, br); rest != "" || resp.StatusCode != 200 {
			t.Errorf("answer %d, then %q; want 200 then the end", resp.StatusCode, rest)
		}
		return
	}
}

// TestWriteTimeoutFailsSlowClient: an answer that a client does not read
// fails with a timeout once WriteTimeout passes, instead of holding the
// handler forever.
func TestWriteTimeoutFailsSlowClient(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 1)
	addr := serve(t, &h1server.Server{WriteTimeout: short, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				errs <- err
				return
			}
		}
	})})
	c := dial(t, addr)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10) // fill up sooner
	}
	io.WriteString(c, get("/flood"))
	select {
	case err := <-errs:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("writing to a client that does not read failed with %v, want a timeout", err)
		}
	case <-time.After(testenv.Patience):
		t.Fatalf("writing to a client that does not read still blocks after %v", testenv.Patience)
	}
}

// TestHandlerCannotInjectHeaders: a header value with line breaks, or a
// header name that is not a token, cannot add a header or start the body;
// the connection carries the next answer as if nothing happened.
func TestHandlerCannotInjectHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, value string
	}{
		{name: "CRLF in a value", key: "X-A", value: "v\r\nInjected: yes"},
		{name: "LF in a value", key: "X-A", value: "v\nInjected: yes"},
		{name: "CR in a value", key: "X-A", value: "v\rInjected: yes"},
		{name: "empty line in a value", key: "X-A", value: "v\r\n\r\nInjected: yes"},
		{name: "NUL in a value", key: "X-A", value: "v\x00Injected: yes"},
		{name: "colon in a name", key: "Injected: yes\r\nX-A", value: "v"},
		{name: "colon and space in a name", key: "Injected: yes", value: "v"},
		{name: "space in a name", key: "Injected yes", value: "v"},
		{name: "CRLF in a name", key: "X-A\r\nInjected", value: "yes"},
		{name: "empty name", key: "", value: "Injected: yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := serve(t, &h1server.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/inject" {
					w.Header()[tt.key] = []string{tt.value}
				}
				io.WriteString(w, "body of "+r.URL.Path)
			})})
			c := dial(t, addr)
			io.WriteString(c, get("/inject")+get("/next"))
			br := bufio.NewReader(c)
			for _, path := range []string{"/inject", "/next"} {
				resp, body, err := readAnswer(br, http.MethodGet)
				if err != nil {
					t.Fatalf("answer to %s: %v", path, err)
				}
				if body != "body of "+path {
					t.Errorf("answer to %s has body %q", path, body)
				}
				for k := range resp.Header {
					if strings.Contains(k, "Injected") {
						t.Errorf("answer to %s carries an injected header %q: %q", path, k, resp.Header[k])
					}
				}
			}
		})
	}
}

// TestConnState: a connection reports StateNew when accepted, StateActive
// while a request is served, StateIdle between requests and StateClosed
// at its end, in that order, as http.Server reports them.
func TestConnState(t *testing.T) {
	t.Parallel()
	n, a, i, c := http.StateNew, http.StateActive, http.StateIdle, http.StateClosed
	tests := []struct {
		name     string
		requests int
		want     []http.ConnState
	}{
		{name: "no request", requests: 0, want: []http.ConnState{n, c}},
		{name: "one request", requests: 1, want: []http.ConnState{n, a, i, c}},
		{name: "two requests", requests: 2, want: []http.ConnState{n, a, i, a, i, c}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			states := make(chan http.ConnState, 16)
			addr := serve(t, &h1server.Server{Handler: echo, ConnState: func(_ net.Conn, st http.ConnState) { states <- st }})
			conn := dial(t, addr)
			br := bufio.NewReader(conn)
			for range tt.requests {
				io.WriteString(conn, get("/state"))
				if _, _, err := readAnswer(br, http.MethodGet); err != nil {
					t.Fatal(err)
				}
			}
			conn.Close()
			var got []http.ConnState
			for st := http.ConnState(-1); st != http.StateClosed; {
				select {
				case st = <-states:
					got = append(got, st)
				case <-time.After(testenv.Patience):
					t.Fatalf("states %v, and no StateClosed after %v", got, testenv.Patience)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("states %v, want %v", got, tt.want)
			}
		})
	}
}

// blocker is a handler that tells started when it runs and answers when
// release is closed.
type blocker struct {
	started chan string
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{started: make(chan string, 4), release: make(chan struct{})}
}

func (b *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/block" {
		b.started <- r.URL.Path
		<-b.release
	}
	io.WriteString(w, "done "+r.URL.Path)
}

// await waits for a value on ch under testenv.Patience.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testenv.Patience):
		t.Fatalf("no %s after %v", what, testenv.Patience)
		panic("unreachable")
	}
}

// idleConn opens a connection to addr and makes one request on it, which
// leaves it idle (idle receives StateIdle from the server's ConnState).
func idleConn(t *testing.T, addr string, idle <-chan struct{}) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dial(t, addr)
	io.WriteString(c, get("/idle"))
	br := bufio.NewReader(c)
	if _, _, err := readAnswer(br, http.MethodGet); err != nil {
		t.Fatal(err)
	}
	await(t, idle, "StateIdle")
	return c, br
}

// idleSignal is a ConnState that tells idle whenever a connection turns
// idle.
func idleSignal(idle chan struct{}) func(net.Conn, http.ConnState) {
	return func(_ net.Conn, st http.ConnState) {
		if st == http.StateIdle {
			idle <- struct{}{}
		}
	}
}

// TestShutdownClosesIdleConnections: Shutdown ends idle connections at
// once, returns nil when none is left, and Serve returns
// http.ErrServerClosed.
func TestShutdownClosesIdleConnections(t *testing.T) {
	t.Parallel()
	idle := make(chan struct{}, 4)
	srv := &h1server.Server{Handler: echo, ConnState: idleSignal(idle)}
	ln := listen(t)
	served := start(t, srv, ln)
	c, br := idleConn(t, ln.Addr().String(), idle)
	ctx, cancel := testenv.PatienceContext(t)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown with only an idle connection: %v", err)
	}
	if rest := ended(t, c, br); rest != "" {
		t.Errorf("the server sent %q on an idle connection", rest)
	}
	if err := served(); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
}

// TestShutdownFinishesRequestInFlight: Shutdown lets a request in flight
// finish its answer, marked Connection: close, then closes its connection
// and returns nil.
func TestShutdownFinishesRequestInFlight(t *testing.T) {
	t.Parallel()
	srv, served, c, b := blockedRequest(t)
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := testenv.PatienceContext(t)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// Serve returns once Shutdown has closed the listener, that is once
	// the server is shutting down.
	if err := served(); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
	close(b.release)
	br := bufio.NewReader(c)
	resp, body, err := readAnswer(br, http.MethodGet)
	if err != nil {
		t.Fatalf("the request in flight was not answered: %v", err)
	}
	if body != "done /block" || !resp.Close {
		t.Errorf("answer %q, Connection: close %v; want \"done /block\", closing", body, resp.Close)
	}
	if rest := ended(t, c, br); rest != "" {
		t.Errorf("the server sent %q after the last answer", rest)
	}
	if err := await(t, shut, "Shutdown's return"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestShutdownReturnsContextError: a handler that outlives Shutdown's
// context makes Shutdown return that context's error and leaves the
// connection to Close.
func TestShutdownReturnsContextError(t *testing.T) {
	t.Parallel()
	srv, served, c, b := blockedRequest(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with a handler still running returned %v, want context.Canceled", err)
	}
	if err := served(); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
	srv.Close()
	if rest := ended(t, c, c); rest != "" {
		t.Errorf("Close let an answer out: %q", rest)
	}
	close(b.release)
}

// TestCloseCutsEverything: Close ends idle connections and those in the
// middle of a request at once, without answers, and Serve returns
// http.ErrServerClosed.
func TestCloseCutsEverything(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	idle := make(chan struct{}, 4)
	mux := http.NewServeMux()
	mux.Handle("/block", b)
	mux.Handle("/idle", echo)
	srv := &h1server.Server{Handler: mux, ConnState: idleSignal(idle)}
	ln := listen(t)
	served := start(t, srv, ln)
	addr := ln.Addr().String()
	ic, ibr := idleConn(t, addr, idle)
	bc := dial(t, addr)
	io.WriteString(bc, get("/block"))
	await(t, b.started, "request")
	srv.Close()
	defer close(b.release)
	if rest := ended(t, ic, ibr); rest != "" {
		t.Errorf("the server sent %q on the idle connection", rest)
	}
	if rest := ended(t, bc, bc); rest != "" {
		t.Errorf("Close let an answer out: %q", rest)
	}
	if err := served(); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
	ln2 := listen(t)
	defer ln2.Close()
	if err := srv.Serve(ln2); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Close returned %v, want http.ErrServerClosed", err)
	}
}

// TestFlushSendsEarly: http.ResponseController's Flush sends the status,
// headers and what was written so far while the handler still runs, with
// the framing the request allows.
func TestFlushSendsEarly(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	addr := serve(t, &h1server.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("length") {
			w.Header().Set("Content-Length", fmt.Sprint(len("first, then second")))
		}
		io.WriteString(w, "first")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		<-release
		io.WriteString(w, ", then second")
	})})
	tests := []struct {
		name    string
		request string
		framing string // as in answer.Framing
	}{
		{name: "HTTP/1.1 is chunked", request: get("/"), framing: "chunked"},
		{name: "handler's Content-Length", request: get("/?length"), framing: "length"},
		{name: "HTTP/1.0 ends with the connection", request: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", framing: "close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			io.WriteString(c, tt.request)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no headers before the handler returned: %v", err)
			}
			framing := "close"
			switch {
			case slices.Equal(resp.TransferEncoding, []string{"chunked"}):
				framing = "chunked"
			case resp.ContentLength >= 0:
				framing = "length"
			}
			if framing != tt.framing {
				t.Errorf("framing %s, want %s", framing, tt.framing)
			}
			first := make([]byte, len("first"))
			if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first" {
				t.Fatalf("read %q, %v before the handler returned; want \"first\"", first, err)
			}
			release <- struct{}{}
			if rest, err := io.ReadAll(resp.Body); err != nil || string(rest) != ", then second" {
				t.Errorf("then read %q, %v; want \", then second\"", rest, err)
			}
		})
	}
}

// TestContentLengthMatchesFraming: whatever the handler leaves in its
// Content-Length header, an answer carries exactly the framing its body
// is sent with: one Content-Length that counts it, or chunked without a
// Content-Length, or neither when the connection's end delimits it. Go's
// client forgives a Content-Length beside chunked; a proxy in front may
// not, and read the next answer out of this one's body.
func TestContentLengthMatchesFraming(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789abcdef", 400)
	tests := []struct {
		name    string
		request string
		handler func(w http.ResponseWriter)
		te, cl  string // the Transfer-Encoding and Content-Length headers
		body    string
	}{{
		name:    "Content-Length set after WriteHeader, chunked answer",
		request: get("/", "Connection: close\r\n"),
		handler: func(w http.ResponseWriter) {
			w.WriteHeader(200)
			w.Header().Set("Content-Length", "3")
			io.WriteString(w, big)
		},
		te: "chunked", body: big,
	}, {
		name:    "Content-Length set after WriteHeader, short answer",
		request: get("/", "Connection: close\r\n"),
		handler: func(w http.ResponseWriter) {
			w.WriteHeader(200)
			w.Header().Set("Content-Length", "3")
			io.WriteString(w, "hello")
		},
		cl: "5", body: "hello",
	}, {
		name:    "Content-Length set after WriteHeader, HTTP/1.0 answer ends with the connection",
		request: "GET / HTTP/1.0\r\n\r\n",
		handler: func(w http.ResponseWriter) {
			w.WriteHeader(200)
			w.Header().Set("Content-Length", "3")
			io.WriteString(w, big)
		},
		body: big,
	}, {
		name:    "Content-Length changed after WriteHeader",
		request: get("/", "Connection: close\r\n"),
		handler: func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(200)
			w.Header().Set("Content-Length", "500")
			io.WriteString(w, "hello")
		},
		cl: "5", body: "hello",
	}, {
		name:    "two Content-Lengths",
		request: get("/", "Connection: close\r\n"),
		handler: func(w http.ResponseWriter) {
			w.Header()["Content-Length"] = []string{"5", "500"}
			io.WriteString(w, "hello")
		},
		cl: "5", body: "hello",
	}, {
		name:    "signed Content-Length",
		request: get("/", "Connection: close\r\n"),
		handler: func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "+5")
			io.WriteString(w, "hello")
		},
		cl: "5", body: "hello",
	}, {
		name:    "handler's Transfer-Encoding",
		request: get("/", "Connection: close\r\n"),
		handler: func(w http.ResponseWriter) {
			w.Header().Set("Transfer-Encoding", "chunked")
			io.WriteString(w, "hello")
		},
		cl: "5", body: "hello",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := serve(t, &h1server.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tt.handler(w) })})
			c := dial(t, addr)
			io.WriteString(c, tt.request)
			tp := textproto.NewReader(bufio.NewReader(c))
			if _, err := tp.ReadLine(); err != nil {
				t.Fatal(err)
			}
			h, err := tp.ReadMIMEHeader()
			if err != nil {
				t.Fatal(err)
			}
			if te, cl := h.Values("Transfer-Encoding"), h.Values("Content-Length"); strings.Join(te, ", ") != tt.te || strings.Join(cl, ", ") != tt.cl {
				t.Errorf("Transfer-Encoding %q, Content-Length %q; want %q, %q", te, cl, tt.te, tt.cl)
			}
			var body io.Reader = tp.R
			if tt.te == "chunked" {
				body = httputil.NewChunkedReader(tp.R)
			}
			if b, err := io.ReadAll(body); err != nil || string(b) != tt.body {
				t.Errorf("body %.40q... (%d bytes), %v; want %.40q... (%d bytes)", b, len(b), err, tt.body, len(tt.body))
			}
		})
	}
}

// TestCloseEndsRequestContexts: Close ends the contexts of the requests
// in flight, so that handlers waiting on them return.
func TestCloseEndsRequestContexts(t *testing.T) {
	t.Parallel()
	started, ended := make(chan struct{}), make(chan error, 1)
	srv := &h1server.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			ended <- r.Context().Err()
		case <-time.After(testenv.Patience):
			ended <- errors.New("the context did not end")
		}
	})}
	addr := serve(t, srv)
	c := dial(t, addr)
	io.WriteString(c, get("/wait"))
	await(t, started, "request")
	srv.Close()
	if err := await(t, ended, "handler's return"); !errors.Is(err, context.Canceled) {
		t.Errorf("after Close the request's context ended with %v, want context.Canceled", err)
	}
}

// blockedRequest starts a server whose handler blocks until b.release is
// closed, and returns it with one request in that handler.
func blockedRequest(t *testing.T) (*h1server.Server, func() error, net.Conn, *blocker) {
	t.Helper()
	b := newBlocker()
	srv := &h1server.Server{Handler: b}
	ln := listen(t)
	served := start(t, srv, ln)
	c := dial(t, ln.Addr().String())
	io.WriteString(c, get("/block"))
	await(t, b.started, "request")
	return srv, served, c, b
}

// TestConnContextRunsInAcceptOrder: ConnContext sees connections in the
// order they were accepted (it runs in the accept loop, as http.Server's
// does), so a hook that counts connections against a cap refuses the
// newest, never an older one that waited for its goroutine.
func TestConnContextRunsInAcceptOrder(t *testing.T) {
	t.Parallel()
	const n = 64
	seen := make(chan string, n)
	addr := serve(t, &h1server.Server{Handler: echo, ConnContext: func(ctx context.Context, c net.Conn) context.Context {
		seen <- c.RemoteAddr().String()
		return ctx
	}})
	var dialed []string
	for range n {
		c := dial(t, addr) // returns once the handshake is done: accept order
		dialed = append(dialed, c.LocalAddr().String())
	}
	for i := range n {
		if got := await(t, seen, "ConnContext's call"); got != dialed[i] {
			t.Fatalf("ConnContext's call %d is for connection %s, want %s (dialed %d-th)", i+1, got, dialed[i], i+1)
		}
	}
}
