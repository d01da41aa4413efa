package h1server_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/h1server"
	"github.com/spgate/spgate/internal/testenv"
)

// listen listens on a loopback port.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// start runs s on ln until the test ends; served waits for Serve's
// result, which must be http.ErrServerClosed.
func start(t testing.TB, s *h1server.Server, ln net.Listener) (served func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	served = sync.OnceValue(func() error { return <-done })
	t.Cleanup(func() {
		_ = s.Close()
		_ = ln.Close()
		if err := served(); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return served
}

// serve runs s on a loopback listener until the test ends and returns
// its address.
func serve(t testing.TB, s *h1server.Server) string {
	t.Helper()
	ln := listen(t)
	start(t, s, ln)
	return ln.Addr().String()
}

// serveNetHTTP runs s, net/http's server, like serve.
func serveNetHTTP(t testing.TB, s *http.Server) string {
	t.Helper()
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()
		<-done
	})
	return ln.Addr().String()
}

// dial connects to addr; the connection is closed when the test ends, and
// no read or write on it waits longer than testenv.Patience.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(testenv.Patience))
	return c
}

// probePath answers probeBody. The differential test sends a request to it
// after each row's requests: its answer shows that the connection was kept
// open after the row's last answer, without waiting on a clock.
const (
	probePath = "/probe"
	probeBody = "probe answered"
	probe     = "GET " + probePath + " HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"
)

// diffHandler serves both servers of the differential test; the path
// chooses what it does.
func diffHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case probePath:
		io.WriteString(w, probeBody)
	case "/big":
		// Past both servers' buffers: the answer is chunked on HTTP/1.1.
		w.Write(bytes.Repeat([]byte("0123456789abcdef"), 5000/16+1))
	case "/short-cl":
		// Announces more than it writes: only closing the connection
		// tells the client the answer is cut short.
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "abc")
	case "/panic":
		panic("diffHandler panics on purpose")
	case "/noread":
		io.WriteString(w, "left the body unread")
	case "/flush":
		// The answer is under way before the body is read.
		io.WriteString(w, "flushed; ")
		http.NewResponseController(w).Flush()
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "body=%q, %v", b, err)
	case "/3000":
		io.WriteString(w, strings.Repeat("3", 3000))
	default:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "reading the body failed")
			return
		}
		fmt.Fprintf(w, "%s %s host=%q x=%q body=%q", r.Method, r.URL.Path, r.Host, r.Header.Get("X-Test"), b)
	}
}

// answer is what a client saw of one answer.
type answer struct {
	Status  int
	Framing string // "length", "chunked", or "close" (ends with the connection)
	Body    string
}

// exchange is what a client saw on one connection.
type exchange struct {
	Answers []answer
	Closed  bool // the connection ended after the last answer; a request sent after it was not answered
}

// converse sends parts to addr on one connection, each in one write; after
// each part but the last it reads one answer (the answer to a request, or
// "100 Continue"). The last part goes out with the probe request after it,
// and answers are read until the connection ends. head says the first
// request is a HEAD, whose answer has no body.
func converse(t *testing.T, addr string, parts []string, head bool) exchange {
	t.Helper()
	c := dial(t, addr)
	br := bufio.NewReader(c)
	var ex exchange
	// read reads one answer and reports whether there was one, and whether
	// it was the probe's.
	read := func() (got, probed bool) {
		method := http.MethodGet
		if len(ex.Answers) == 0 && head {
			method = http.MethodHead
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			if !isEnd(err) {
				t.Fatalf("reading answer %d: %v", len(ex.Answers)+1, err)
			}
			return false, false
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil && !isEnd(err) {
			t.Fatalf("reading the body of answer %d (%d): %v", len(ex.Answers)+1, resp.StatusCode, err)
		}
		a := answer{Status: resp.StatusCode, Body: string(b), Framing: "close"}
		switch {
		case slices.Equal(resp.TransferEncoding, []string{"chunked"}):
			a.Framing = "chunked"
		case resp.ContentLength >= 0:
			a.Framing = "length"
		}
		if a.Body == probeBody {
			return true, true
		}
		ex.Answers = append(ex.Answers, a)
		return true, false
	}
	// Writes run apart from reads: a server may answer, or close, before it
	// has read everything it was sent.
	writes := make(chan string)
	defer close(writes)
	go func() {
		failed := false
		for p := range writes {
			if !failed {
				_, err := io.WriteString(c, p)
				failed = err != nil
			}
		}
	}()
	for _, p := range parts[:len(parts)-1] {
		writes <- p
		if got, _ := read(); !got {
			t.Fatalf("the connection ended after %d answers, before all the parts were sent", len(ex.Answers))
		}
	}
	writes <- parts[len(parts)-1] + probe
	for {
		got, probed := read()
		if !got || probed {
			ex.Closed = !probed
			return ex
		}
	}
}

// isEnd reports whether err ends a connection: EOF, or a reset when the
// server closed it with bytes unread (the answers before it still arrive).
func isEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET)
}

// maxHeaderBytes is both servers' MaxHeaderBytes in the differential
// tests: small, so that a row exceeds it cheaply. Both read at most 4096
// bytes more before refusing.
const maxHeaderBytes = 1 << 10

// diffServers starts an h1server.Server and a net/http.Server with the same
// handler and settings; it returns their addresses and h1server's log.
func diffServers(t *testing.T) (h1, std string, logs *testenv.Buffer) {
	logs = &testenv.Buffer{}
	h1 = serve(t, &h1server.Server{
		Handler:        http.HandlerFunc(diffHandler),
		MaxHeaderBytes: maxHeaderBytes,
		ErrorLog:       slog.New(slog.NewTextHandler(logs, nil)),
	})
	std = serveNetHTTP(t, &http.Server{
		Handler:        http.HandlerFunc(diffHandler),
		MaxHeaderBytes: maxHeaderBytes,
		ErrorLog:       log.New(io.Discard, "", 0),
	})
	return h1, std, logs
}

// get is a GET of path on HTTP/1.1 with a Host and the given header lines.
func get(path string, lines ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: example.com\r\n" + strings.Join(lines, "") + "\r\n"
}

// post is a POST of path on HTTP/1.1 with a Host, the given header lines
// and body.
func post(path, body string, lines ...string) string {
	return "POST " + path + " HTTP/1.1\r\nHost: example.com\r\n" + strings.Join(lines, "") + "\r\n" + body
}

// diffRow is one conversation of the differential test: parts are sent as
// converse sends them.
type diffRow struct {
	name  string
	parts []string
	head  bool   // the first request is a HEAD
	logs  string // h1server's log has it after the conversation
}

// diffRows are conversations on which h1server must answer as net/http's
// server does. They seed FuzzServe too.
var diffRows = []diffRow{
	{name: "GET", parts: []string{get("/echo", "X-Test: one\r\n")}},
	{name: "two keep-alive requests", parts: []string{get("/echo", "X-Test: one\r\n"), get("/two", "X-Test: two\r\n")}},
	{name: "two pipelined requests", parts: []string{get("/echo", "X-Test: one\r\n") + get("/two", "X-Test: two\r\n")}},
	{name: "HTTP/1.0 closes", parts: []string{"GET /echo HTTP/1.0\r\n\r\n"}},
	{name: "HTTP/1.0 keep-alive", parts: []string{"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"}},
	{name: "HTTP/1.0 keep-alive, a big answer ends with the connection", parts: []string{"GET /big HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"}},
	{name: "Connection: close", parts: []string{get("/echo", "Connection: close\r\n")}},
	{name: "HTTP/1.1 without Host", parts: []string{"GET /echo HTTP/1.1\r\n\r\n"}},
	{name: "empty Host", parts: []string{"GET /echo HTTP/1.1\r\nHost:\r\n\r\n"}},
	{name: "two Host headers", parts: []string{get("/echo", "Host: other.example.com\r\n")}},
	{name: "two Host headers in other cases", parts: []string{"GET /echo HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n"}},
	{name: "Host with a space", parts: []string{"GET /echo HTTP/1.1\r\nHost: exa mple.com\r\n\r\n"}},
	{name: "Host with a slash", parts: []string{"GET /echo HTTP/1.1\r\nHost: example.com/x\r\n\r\n"}},
	{name: "Host with a quote", parts: []string{"GET /echo HTTP/1.1\r\nHost: \"example.com\"\r\n\r\n"}},
	{name: "absolute URL overrides the Host header", parts: []string{"GET http://example.com/echo HTTP/1.1\r\nHost: other.example.com\r\n\r\n"}},
	{name: "absolute URL with a malformed Host header", parts: []string{"GET http://example.com/echo HTTP/1.1\r\nHost: exa mple.com\r\n\r\n"}},
	{name: "folded Host header", parts: []string{"GET /echo HTTP/1.1\r\nHost: example.com\r\n .org\r\n\r\n"}},
	{name: "absolute URL with a folded Host header", parts: []string{"GET http://example.com/echo HTTP/1.1\r\nHost: example.com\r\n .org\r\n\r\n"}},
	{name: "folded header", parts: []string{get("/echo", "X-Test: one\r\n two\r\n")}},
	{name: "invalid header name", parts: []string{get("/echo", "X(Test): one\r\n")}},
	{name: "space before a header's colon", parts: []string{get("/echo", "X-Test : one\r\n")}},
	// A proxy in front that takes it for chunked sends the chunks as this
	// request's body; a server that goes by Content-Length reads them as
	// the next request.
	{name: "space before Transfer-Encoding's colon", parts: []string{post("/echo", "5\r\nhello\r\n0\r\n\r\n", "Content-Length: 0\r\n", "Transfer-Encoding : chunked\r\n")}},
	{name: "header value with a control character", parts: []string{get("/echo", "X-Test: o\x01ne\r\n")}},
	{name: "header value with a bare CR", parts: []string{get("/echo", "X-Test: o\rne\r\n")}},
	{name: "header block over MaxHeaderBytes", parts: []string{get("/echo", "X-Test: "+strings.Repeat("a", maxHeaderBytes+4096)+"\r\n")}},
	{name: "header block just within MaxHeaderBytes", parts: []string{get("/echo", "X-Test: "+strings.Repeat("a", maxHeaderBytes-100)+"\r\n")}},
	{name: "HTTP/2.0 request line", parts: []string{"GET /echo HTTP/2.0\r\nHost: example.com\r\n\r\n"}},
	{name: "HTTP/0.9 request line", parts: []string{"GET /echo\r\n"}},
	{name: "HTTP/0.9 version", parts: []string{"GET /echo HTTP/0.9\r\nHost: example.com\r\n\r\n"}},
	{name: "malformed version", parts: []string{"GET /echo HTTP/1.x\r\nHost: example.com\r\n\r\n"}},
	{name: "POST with Content-Length", parts: []string{post("/echo", "hello", "Content-Length: 5\r\n")}},
	{name: "chunked POST", parts: []string{post("/echo", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n")}},
	{name: "chunked POST then a GET", parts: []string{post("/echo", "5\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n") + get("/two")}},
	{name: "Content-Length and chunked: chunked wins", parts: []string{post("/echo", "5\r\nhello\r\n0\r\n\r\n", "Content-Length: 3\r\n", "Transfer-Encoding: chunked\r\n") + get("/two")}},
	{name: "HTTP/1.0 ignores Transfer-Encoding", parts: []string{"POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc"}},
	{name: "two differing Content-Lengths", parts: []string{post("/echo", "hello", "Content-Length: 3\r\n", "Content-Length: 5\r\n")}},
	{name: "two equal Content-Lengths", parts: []string{post("/echo", "hello", "Content-Length: 5\r\n", "Content-Length: 5\r\n")}},
	{name: "non-numeric Content-Length", parts: []string{post("/echo", "hello", "Content-Length: five\r\n")}},
	{name: "signed Content-Length", parts: []string{post("/echo", "hello", "Content-Length: +5\r\n")}},
	{name: "negative Content-Length", parts: []string{post("/echo", "hello", "Content-Length: -1\r\n")}},
	{name: "malformed chunk size", parts: []string{post("/echo", "z\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n")}},
	{name: "Expect: 100-continue, body read", parts: []string{post("/echo", "", "Content-Length: 5\r\n", "Expect: 100-continue\r\n"), "hello"}},
	{name: "Expect: 100-continue, body sent at once", parts: []string{post("/echo", "hello", "Content-Length: 5\r\n", "Expect: 100-continue\r\n")}},
	{name: "Expect: 100-continue, body never read", parts: []string{post("/noread", "", "Content-Length: 5\r\n", "Expect: 100-continue\r\n")}},
	{name: "Expect: 100-continue without a body", parts: []string{get("/echo", "Expect: 100-continue\r\n")}},
	{name: "Expect: 100-continue, answer under way before the body is read", parts: []string{post("/flush", "hello", "Content-Length: 5\r\n", "Expect: 100-continue\r\n")}},
	{name: "HEAD", parts: []string{"HEAD /echo HTTP/1.1\r\nHost: example.com\r\n\r\n"}, head: true},
	{name: "answer over 4 KiB is chunked", parts: []string{get("/big")}},
	{name: "short answer has a Content-Length", parts: []string{get("/echo")}},
	{name: "handler writes less than its Content-Length", parts: []string{get("/short-cl")}},
	{name: "handler panics", parts: []string{get("/panic")}, logs: "diffHandler panics on purpose"},
	{name: "small body left unread", parts: []string{post("/noread", "0123456789", "Content-Length: 10\r\n")}},
	{name: "small chunked body left unread", parts: []string{post("/noread", "a\r\n0123456789\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n")}},
	{name: "body over 256 KiB left unread", parts: []string{post("/noread", strings.Repeat("z", 300<<10), "Content-Length: "+fmt.Sprint(300<<10)+"\r\n")}},
}

// TestMatchesNetHTTP sends the same bytes to an h1server.Server and a
// net/http.Server serving the same handler: h1server claims net/http's
// parsing, checks and framing, so a client must see the same answers,
// bodies and connection ends from both.
func TestMatchesNetHTTP(t *testing.T) {
	t.Parallel()
	h1, std, logs := diffServers(t)
	for _, row := range diffRows {
		t.Run(row.name, func(t *testing.T) {
			want := converse(t, std, row.parts, row.head)
			got := converse(t, h1, row.parts, row.head)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("h1server: %s\nnet/http: %s", got, want)
			}
			if row.logs != "" && !strings.Contains(logs.String(), row.logs) {
				t.Errorf("h1server's log lacks %q:\n%s", row.logs, logs)
			}
		})
	}
}

// TestDiffersFromNetHTTP pins down where h1server answers otherwise than
// net/http's server, on purpose; each row says why.
func TestDiffersFromNetHTTP(t *testing.T) {
	t.Parallel()
	h1, _, _ := diffServers(t)
	refused := func(status int, body string) exchange {
		return exchange{Answers: []answer{{Status: status, Framing: "close", Body: body}}, Closed: true}
	}
	tests := []struct {
		name  string
		parts []string
		head  bool
		want  exchange
	}{{
		// h1server serves no HTTP/2; net/http hands the HTTP/2 preface to
		// the handler, for h2c upgrades.
		name:  "HTTP/2 preface",
		parts: []string{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
		want:  refused(505, "505 HTTP Version Not Supported: unsupported protocol version"),
	}, {
		// net/http answers 501 by an error type http.ReadRequest does not
		// export; both refuse the request and close.
		name:  "unsupported Transfer-Encoding",
		parts: []string{post("/echo", "hello", "Transfer-Encoding: gzip\r\n")},
		want:  refused(400, "400 Bad Request"),
	}, {
		name:  "two Transfer-Encodings",
		parts: []string{post("/echo", "5\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n", "Transfer-Encoding: chunked\r\n")},
		want:  refused(400, "400 Bad Request"),
	}, {
		// h1server refuses as it refuses any other request (net/http
		// answers with an empty body and a Content-Length).
		name:  "Expect other than 100-continue",
		parts: []string{post("/echo", "hello", "Content-Length: 5\r\n", "Expect: something-else\r\n")},
		want:  refused(417, "417 Expectation Failed"),
	}, {
		// h1server holds back 4 KiB of an answer, net/http 2 KiB: between
		// the two, h1server still sends a Content-Length.
		name:  "3000-byte answer",
		parts: []string{get("/3000")},
		want:  exchange{Answers: []answer{{Status: 200, Framing: "length", Body: strings.Repeat("3", 3000)}}},
	}, {
		// h1server counts what the handler writes to a HEAD and announces
		// it, at any size; net/http only up to its buffer.
		name:  "HEAD of a big answer",
		parts: []string{"HEAD /big HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		head:  true,
		want:  exchange{Answers: []answer{{Status: 200, Framing: "length"}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := converse(t, h1, tt.parts, tt.head); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func (e exchange) String() string {
	var b strings.Builder
	for _, a := range e.Answers {
		body := a.Body
		if len(body) > 80 {
			body = fmt.Sprintf("%.60s... (%d bytes)", body, len(body))
		}
		fmt.Fprintf(&b, "[%d %s %q] ", a.Status, a.Framing, body)
	}
	if e.Closed {
		b.WriteString("then closed")
	} else {
		b.WriteString("then kept open")
	}
	return b.String()
}
