package h1server_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/h1server"
	"github.com/spgate/spgate/internal/testenv"
)

// fuzzConn is a connection whose client sent in at once and then shut
// its side: the server reads in, then EOF. What the server writes is kept
// in out, and what its handler did in handled.
type fuzzConn struct {
	in      *bytes.Reader
	out     bytes.Buffer
	handled []handled
	closed  chan struct{}
	once    sync.Once
}

// handled is one request as the handler saw and answered it.
type handled struct {
	method string
	status int
	header string // the header it set from the query, if any
	body   string // what the handler's writes accepted
}

type fuzzAddr struct{}

func (fuzzAddr) Network() string { return "fuzz" }
func (fuzzAddr) String() string  { return "fuzz" }

func (c *fuzzConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *fuzzConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *fuzzConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return fuzzAddr{} }
func (c *fuzzConn) RemoteAddr() net.Addr             { return fuzzAddr{} }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

// chanListener accepts the connections sent on conns.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *chanListener) Addr() net.Addr { return fuzzAddr{} }

type fuzzConnKey struct{}

// fuzzHandler answers as the request asks: the path picks the body
// (/big: past the buffer, so chunked or ended by the connection; /flush:
// flushed before the request body is read; /noread: the body left unread;
// else an echo of the request), the query a status (s) and a header (n, v).
// It records each answer on its connection.
func fuzzHandler(w http.ResponseWriter, r *http.Request) {
	c := r.Context().Value(fuzzConnKey{}).(*fuzzConn)
	h := handled{method: r.Method, status: http.StatusOK}
	q := r.URL.Query()
	if n := q.Get("n"); n != "" && textproto.CanonicalMIMEHeaderKey(n) != "Content-Length" {
		// A handler that announces a length and writes another makes the
		// answer wrong by its own fault.
		w.Header().Set(n, q.Get("v"))
		h.header = textproto.CanonicalMIMEHeaderKey(n)
	}
	w.Header().Set("X-Fuzz", "handled")
	if s, err := strconv.Atoi(q.Get("s")); err == nil && s >= 100 && s <= 599 && s != http.StatusSwitchingProtocols {
		w.WriteHeader(s)
		if s >= 200 {
			h.status = s
		}
	}
	write := func(s string) {
		n, _ := io.WriteString(w, s)
		h.body += s[:n]
	}
	switch r.URL.Path {
	case "/big":
		write(strings.Repeat("0123456789abcdef", 200))
		write(strings.Repeat("fedcba9876543210", 200))
	case "/flush":
		write("flushed; ")
		http.NewResponseController(w).Flush()
		b, err := io.ReadAll(r.Body)
		write(string(b) + " " + strconv.FormatBool(err == nil))
	case "/noread":
		write("left the body unread")
	default:
		b, err := io.ReadAll(r.Body)
		write(r.Method + " " + r.URL.Path + " " + r.Host + " " + string(b) + " " + strconv.FormatBool(err == nil))
	}
	c.handled = append(c.handled, h)
}

// FuzzServe feeds arbitrary bytes to the server as what a client sent.
// The server must not panic, and what it sends must read as a sequence of
// well-framed answers: each parses, its body ends where its framing says,
// the handler's answers come in order with what the handler wrote, only a
// refusal or the last answer ends the connection, and no header appears
// that neither the handler nor the server set.
func FuzzServe(f *testing.F) {
	for _, row := range diffRows {
		f.Add([]byte(strings.Join(row.parts, "")))
	}
	for _, seed := range []string{
		get("/big") + get("/echo"),
		"GET /big HTTP/1.0\r\n\r\n",
		"HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n" + get("/echo"),
		post("/flush", "hello", "Content-Length: 5\r\n") + get("/echo"),
		post("/flush", "hello", "Content-Length: 5\r\n", "Expect: 100-continue\r\n"),
		get("/echo?s=204") + get("/echo?s=304") + get("/echo?s=103") + get("/echo?s=404"),
		get("/echo?n=X-A&v=a%0d%0aInjected:%20yes") + get("/echo?n=Injected:%20yes%0d%0aX-A&v=b") + get("/echo"),
		get("/echo?n=Connection&v=close") + get("/echo"),
		get("/echo?n=Transfer-Encoding&v=chunked") + get("/big?n=Transfer-Encoding&v=identity"),
		post("/noread", "5\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n") + get("/echo"),
	} {
		f.Add([]byte(seed))
	}
	logs := &testenv.Buffer{}
	ln := &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
	srv := &h1server.Server{
		Handler:        http.HandlerFunc(fuzzHandler),
		MaxHeaderBytes: maxHeaderBytes,
		// Only errors, which handler panics are: warnings (a header name
		// dropped) would pile up over a fuzzing run.
		ErrorLog: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError})),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, fuzzConnKey{}, c)
		},
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	f.Cleanup(func() {
		srv.Close()
		<-served
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &fuzzConn{in: bytes.NewReader(in), closed: make(chan struct{})}
		select {
		case ln.conns <- c:
		case <-time.After(testenv.Patience):
			t.Fatalf("the server accepted no connection in %v", testenv.Patience)
		}
		select {
		case <-c.closed:
		case <-time.After(testenv.Patience):
			t.Fatalf("the server still holds a connection whose client sent everything %v ago", testenv.Patience)
		}
		if strings.Contains(logs.String(), "panic") {
			t.Fatalf("the server panicked: %s", logs)
		}
		checkAnswers(t, c.out.Bytes(), c.handled)
	})
}

// checkAnswers checks that out is a well-framed sequence of answers: those
// to the requests the handler answered, in order, then perhaps a refusal.
func checkAnswers(t *testing.T, out []byte, handled []handled) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(out))
	next := 0 // the next answer of the handler's
	for n := 1; ; n++ {
		if _, err := br.Peek(1); err == io.EOF {
			break
		}
		method, header := http.MethodGet, ""
		if next < len(handled) {
			method, header = handled[next].method, handled[next].header
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("answer %d does not parse: %v\n%q", n, err, out)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("answer %d's body ends early: %v\n%q", n, err, out)
		}
		for k := range resp.Header {
			switch k {
			case "X-Fuzz", "Content-Length", "Content-Type", "Date", "Connection":
			default:
				if k != header {
					t.Errorf("answer %d has a header no one set: %q: %q\n%q", n, k, resp.Header[k], out)
				}
			}
		}
		if resp.StatusCode < 200 {
			continue
		}
		if resp.Header.Get("X-Fuzz") == "handled" {
			if next >= len(handled) {
				t.Fatalf("answer %d is the handler's, which answered only %d requests\n%q", n, len(handled), out)
			}
			h := handled[next]
			next++
			want := h.body
			if h.method == http.MethodHead || h.status == http.StatusNoContent || h.status == http.StatusNotModified {
				want = ""
			}
			if resp.StatusCode != h.status || string(body) != want {
				t.Errorf("answer %d: %d %q; the handler answered %d %q\n%q", n, resp.StatusCode, body, h.status, want, out)
			}
		} else if resp.StatusCode < 400 || !resp.Close {
			t.Errorf("answer %d is a refusal with status %d, Connection: close %v\n%q", n, resp.StatusCode, resp.Close, out)
		}
		delimited := resp.ContentLength >= 0 || len(resp.TransferEncoding) > 0 || method == http.MethodHead ||
			resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified
		if !delimited && !resp.Close {
			t.Errorf("answer %d ends with the connection but does not say Connection: close\n%q", n, out)
		}
		if _, err := br.Peek(1); resp.Close && err != io.EOF {
			t.Fatalf("answer %d says Connection: close, and more follows\n%q", n, out)
		}
	}
	if next != len(handled) {
		t.Errorf("the handler answered %d requests, the client got %d of those answers\n%q", len(handled), next, out)
	}
}
