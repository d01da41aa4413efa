// Package h1server serves HTTP/1.x with each connection's requests read,
// handled and answered one after another on that connection's goroutine.
//
// net/http's server hands every request to a second goroutine that
// watches the connection while the handler runs, and stops it again after
// the answer; on a gateway whose handler itself waits on one upstream
// call, those hand-offs wake idle OS threads and cost more than the
// gateway's own work. This server parses with net/http's own
// http.ReadRequest and applies the checks net/http's server applies on top
// of it (one valid Host on HTTP/1.1, header names that are tokens, HTTP/1.x
// only, header size, Expect), and bounds every wait the way http.Server's
// timeouts do.
//
// What it leaves out: HTTP/2, Hijack, trailers, and noticing that a client
// went away while its handler runs (the request's context ends when the
// handler returns, on Close, or by the handler's own deadline).
package h1server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server serves HTTP/1.x on the listeners given to Serve. Zero durations
// mean no limit, as in http.Server; set them all for a public listener.
type Server struct {
	Handler http.Handler
	// ReadHeaderTimeout bounds reading a request's headers; ReadTimeout
	// the whole request, body included; WriteTimeout a request from its
	// headers to the end of its answer; IdleTimeout the wait for the next
	// request on a kept-alive connection (ReadTimeout when zero).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's line and headers (default 1 MiB,
	// as http.DefaultMaxHeaderBytes).
	MaxHeaderBytes int
	// LingerTimeout bounds how long a connection closed while the client
	// may still be sending (a refusal, a body left unread) reads and
	// throws away what arrives before it closes (default 500 ms).
	LingerTimeout time.Duration
	// BaseContext returns the context of a listener's connections
	// (default context.Background()).
	BaseContext func(net.Listener) context.Context
	// ConnContext, when set, derives a connection's context from it; it
	// runs in the accept loop, as http.Server's does.
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	// ConnState, when set, is told each connection's state changes
	// (StateNew, StateActive, StateIdle, StateClosed), as http.Server does.
	ConnState func(net.Conn, http.ConnState)
	// ErrorLog receives handler panics and failed TLS handshakes (default:
	// discarded).
	ErrorLog *slog.Logger

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   atomic.Bool
	dates     atomic.Pointer[dateStamp]
}

// dateStamp is the Date header of the answers of one second.
type dateStamp struct {
	sec int64
	val []string
}

// date is the Date header for now, formatted once a second.
func (s *Server) date(now time.Time) []string {
	sec := now.Unix()
	if d := s.dates.Load(); d != nil && d.sec == sec {
		return d.val
	}
	d := &dateStamp{sec: sec, val: []string{now.UTC().Format(http.TimeFormat)}}
	s.dates.Store(d)
	return d.val
}

// maxDiscard is how much of a request body the handler left unread is
// read and thrown away to keep the connection; past it the connection is
// closed instead.
const maxDiscard = 256 << 10

// A connection closed while the client may still be sending is half-closed
// first, and what arrives is read and thrown away until the client closes
// too, for at most Server.LingerTimeout (default lingerTimeout) and
// lingerMax bytes. Closing a socket with unread input makes the kernel
// answer with a reset, and a client whose TCP stack drops what it
// received on a reset (Windows' does) then loses the answer it was sent:
// a refusal of an upload would read as a broken connection. net/http's
// server waits 500 ms the same way.
const (
	lingerTimeout = 500 * time.Millisecond
	lingerMax     = 4 << 20
)

// bufferBeforeCommit is how much of an answer is held back, so that a
// short answer goes out with a Content-Length instead of chunked.
const bufferBeforeCommit = 4 << 10

// Serve accepts connections on ln and serves each on its own goroutine
// until Shutdown or Close, then returns http.ErrServerClosed. Temporary
// accept errors (out of file descriptors) are retried with a back-off.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(&ln, true) {
		return http.ErrServerClosed
	}
	defer s.track(&ln, false)
	ctx := context.Background()
	if s.BaseContext != nil {
		ctx = s.BaseContext(ln)
	}
	var backoff time.Duration
	for {
		rw, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if !temporary(err) {
				return err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger().Warn("accepting a connection failed; retrying", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		cctx, cancel := context.WithCancel(ctx)
		// Here, as in http.Server, not in the connection's goroutine: a
		// ConnContext that counts or refuses connections sees them in the
		// order they were accepted.
		if f := s.ConnContext; f != nil {
			if cctx = f(cctx, rw); cctx == nil {
				panic("h1server: ConnContext returned nil")
			}
		}
		c := s.newConn(rw, cancel)
		if c == nil {
			cancel()
			_ = rw.Close()
			return http.ErrServerClosed
		}
		go c.serve(cctx)
	}
}

// temporary reports whether an accept error passes by itself.
func temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (s *Server) logger() *slog.Logger {
	if s.ErrorLog != nil {
		return s.ErrorLog
	}
	return slog.New(slog.DiscardHandler)
}

// track adds or removes a listener; it refuses to add one once the
// server is closing.
func (s *Server) track(ln *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, ln)
		return true
	}
	if s.closing.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = map[*net.Listener]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) newConn(rw net.Conn, cancel context.CancelFunc) *conn {
	c := &conn{srv: s, rwc: rw, cancel: cancel, remote: rw.RemoteAddr().String()}
	c.cr.conn = rw
	c.br = bufio.NewReaderSize(&c.cr, 4<<10)
	c.bw = bufio.NewWriterSize(rw, 4<<10)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return nil
	}
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	c.setState(http.StateNew)
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting connections, closes the idle ones, and waits
// for those serving a request to finish their answer, until ctx ends;
// then it returns ctx's error and leaves the rest to Close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.closeListeners()
	wait := time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		if s.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			wait = min(2*wait, 100*time.Millisecond)
			t.Reset(wait)
		}
	}
}

// Close stops accepting connections, closes every one at once and ends
// the contexts of the requests they were serving.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.closeListeners()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.cancel()
		_ = c.rwc.Close()
	}
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		_ = (*ln).Close()
	}
}

// closeIdle closes connections waiting for a request (or that have sent
// nothing for five seconds since they opened) and reports whether none
// are left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		st, since := c.getState()
		if st == http.StateIdle || (st == http.StateNew && time.Since(since) > 5*time.Second) {
			_ = c.rwc.Close()
		}
	}
	return len(s.conns) == 0
}

// conn is one client connection.
type conn struct {
	srv    *Server
	rwc    net.Conn
	cancel context.CancelFunc // ends the connection's context, and its requests'
	remote string
	tls    *tls.ConnectionState
	cr     connReader
	br     *bufio.Reader
	bw     *bufio.Writer
	// held and copyBuf are reused by the connection's answers: the part
	// of an answer held back, and ReadFrom's buffer.
	held    []byte
	copyBuf []byte
	state   atomic.Uint64 // http.ConnState<<56 | unix seconds of the change
	// linger: the connection ends while the client may still be sending
	// (a refusal, or a body left unread), so it is closed lingering.
	linger bool
}

func (c *conn) setState(st http.ConnState) {
	c.state.Store(uint64(st)<<56 | uint64(time.Now().Unix()))
	if f := c.srv.ConnState; f != nil {
		f(c.rwc, st)
	}
}

func (c *conn) getState() (http.ConnState, time.Time) {
	v := c.state.Load()
	return http.ConnState(v >> 56), time.Unix(int64(v&(1<<56-1)), 0)
}

// connReader reads the connection, at most remain bytes while a
// request's headers are read.
type connReader struct {
	conn   net.Conn
	limit  bool
	remain int64
	hit    bool
	// rec keeps what is read while limited: the raw headers, in which
	// the Host lines are counted (http.ReadRequest keeps only the first).
	rec []byte
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.limit {
		if r.remain <= 0 {
			r.hit = true
			return 0, io.EOF
		}
		if int64(len(p)) > r.remain {
			p = p[:r.remain]
		}
	}
	n, err := r.conn.Read(p)
	r.remain -= int64(n)
	if r.limit {
		r.rec = append(r.rec, p[:n]...)
	}
	return n, err
}

func (c *conn) serve(ctx context.Context) {
	defer func() {
		c.cancel()
		if c.linger {
			c.lingerClose()
		}
		_ = c.rwc.Close()
		c.srv.forget(c)
		c.setState(http.StateClosed)
	}()
	if tc, ok := c.rwc.(*tls.Conn); ok && !c.handshake(ctx, tc) {
		return
	}
	for first := true; ; first = false {
		if !first && !c.awaitRequest() {
			return
		}
		if !c.serveOne(ctx) || c.srv.closing.Load() {
			return
		}
	}
}

// handshake runs the TLS handshake within the header timeout.
func (c *conn) handshake(ctx context.Context, tc *tls.Conn) bool {
	if d := c.srv.ReadHeaderTimeout; d > 0 {
		_ = tc.SetDeadline(time.Now().Add(d))
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		c.srv.logger().Debug("TLS handshake failed", "remote", c.remote, "err", err)
		return false
	}
	_ = tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.tls = &st
	return true
}

// awaitRequest waits, idle, for the first byte of the next request.
func (c *conn) awaitRequest() bool {
	c.setState(http.StateIdle)
	d := c.srv.IdleTimeout
	if d == 0 {
		d = c.srv.ReadTimeout
	}
	if d > 0 {
		_ = c.rwc.SetReadDeadline(time.Now().Add(d))
	} else {
		_ = c.rwc.SetReadDeadline(time.Time{})
	}
	c.cr.limit = false
	if _, err := c.br.Peek(1); err != nil || c.srv.closing.Load() {
		return false
	}
	c.setState(http.StateActive)
	return true
}

// serveOne reads one request, runs the handler and answers; it reports
// whether the connection may carry another request.
func (c *conn) serveOne(ctx context.Context) bool {
	req, status, msg := c.readRequest()
	if req == nil {
		if status != 0 {
			c.refuse(status, msg)
			c.linger = true
		}
		return false
	}
	if st, _ := c.getState(); st == http.StateNew {
		c.setState(http.StateActive)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req = req.WithContext(rctx)
	req.RemoteAddr, req.TLS = c.remote, c.tls
	w := newResponse(c, req)
	if b, ok := req.Body.(*body); ok {
		if cr, ok := b.r.(*continueReader); ok {
			cr.w = w
		}
	}
	if !c.runHandler(w, req) || !w.finish() || !c.drainBody(req) {
		c.linger = unread(req)
		return false
	}
	return true
}

// lingerClose half-closes the connection and reads what the client still
// sends, until it closes its side, the linger timeout passes or lingerMax
// bytes arrived (see lingerTimeout).
func (c *conn) lingerClose() {
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	d := c.srv.LingerTimeout
	if d <= 0 {
		d = lingerTimeout
	}
	_ = c.rwc.SetReadDeadline(time.Now().Add(d))
	_, _ = io.CopyN(io.Discard, c.rwc, lingerMax)
}

// readRequest reads and checks a request; without one it returns the
// status to refuse with, or 0 when the connection just ended.
func (c *conn) readRequest() (*http.Request, int, string) {
	now := time.Now()
	max := c.srv.MaxHeaderBytes
	if max <= 0 {
		max = http.DefaultMaxHeaderBytes
	}
	c.cr.limit, c.cr.remain, c.cr.hit = true, int64(max)+4096, false
	ahead, _ := c.br.Peek(c.br.Buffered())
	c.cr.rec = append(c.cr.rec[:0], ahead...)
	if d := c.srv.ReadHeaderTimeout; d > 0 {
		_ = c.rwc.SetReadDeadline(now.Add(d))
	} else if d := c.srv.ReadTimeout; d > 0 {
		_ = c.rwc.SetReadDeadline(now.Add(d))
	} else {
		_ = c.rwc.SetReadDeadline(time.Time{})
	}
	req, err := http.ReadRequest(c.br)
	if err != nil {
		switch {
		case c.cr.hit:
			return nil, http.StatusRequestHeaderFieldsTooLarge, ""
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), isTimeout(err):
			return nil, 0, ""
		}
		return nil, http.StatusBadRequest, ""
	}
	c.cr.limit = false
	hosts, hostOK := countHosts(c.cr.rec)
	if cap(c.cr.rec) > 8<<10 {
		c.cr.rec = nil
	}
	if status, msg := check(req, hosts, hostOK); status != 0 {
		return nil, status, msg
	}
	if d := c.srv.ReadTimeout; d > 0 {
		_ = c.rwc.SetReadDeadline(now.Add(d))
	} else {
		_ = c.rwc.SetReadDeadline(time.Time{})
	}
	if d := c.srv.WriteTimeout; d > 0 {
		_ = c.rwc.SetWriteDeadline(now.Add(d))
	}
	cont, status := expect(req)
	if status != 0 {
		return nil, status, ""
	}
	if req.Body != nil && req.Body != http.NoBody {
		var r io.Reader = req.Body
		if cont {
			r = &continueReader{body: r, c: c}
		}
		req.Body = &body{r: r}
	}
	return req, 0, ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// check applies what net/http's server checks beyond http.ReadRequest;
// hosts is how many Host lines the request's headers had, hostOK whether
// their values are valid hosts.
func check(req *http.Request, hosts int, hostOK bool) (int, string) {
	if req.ProtoMajor != 1 {
		return http.StatusHTTPVersionNotSupported, "unsupported protocol version"
	}
	if req.ProtoAtLeast(1, 1) && hosts == 0 && req.Method != http.MethodConnect {
		return http.StatusBadRequest, "missing required Host header"
	}
	if hosts > 1 {
		return http.StatusBadRequest, "too many Host headers"
	}
	// The Host header is checked even when the request line's absolute URL
	// overrides it, as net/http does: a proxy in front may go by it.
	if !hostOK || !validHost(req.Host) {
		return http.StatusBadRequest, "malformed Host header"
	}
	// http.ReadRequest lets a space through before a header's colon
	// ("Transfer-Encoding : chunked"), which it then does not take for the
	// header a proxy in front may have taken it for.
	for k := range req.Header {
		if !validName(k) {
			return http.StatusBadRequest, "invalid header name"
		}
	}
	return 0, ""
}

// countHosts counts the Host lines in a request's raw headers, which
// start at raw[0] and end at the first empty line, and reports whether
// their values are valid hosts: http.ReadRequest drops the Host header
// when the request line has an absolute URL. Folded continuation lines
// belong to the header before them, joined with a space.
func countHosts(raw []byte) (n int, valid bool) {
	valid = true
	requestLine, inHost := false, false
	for len(raw) > 0 {
		var line []byte
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			line, raw = raw, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case !requestLine: // empty lines may precede it
			requestLine = len(line) > 0
		case len(line) == 0:
			return n, valid
		case line[0] == ' ' || line[0] == '\t':
			if inHost && len(bytes.Trim(line, " \t")) > 0 {
				valid = false
			}
		case len(line) >= 5 && bytes.EqualFold(line[:5], []byte("host:")):
			n++
			inHost = true
			valid = valid && validHost(bytes.Trim(line[5:], " \t"))
		default:
			inHost = false
		}
	}
	return n, valid
}

// validHost accepts the bytes RFC 3986 allows in a host and port (as
// x/net/http/httpguts.ValidHostHeader does).
func validHost[T string | []byte](h T) bool { return alnumOr(h, "!$%&'()*+,-.:;=[]_~") }

// expect reports whether the body waits for "100 Continue", sent when
// the handler first reads it, and refuses any other expectation.
func expect(req *http.Request) (bool, int) {
	e := req.Header.Get("Expect")
	switch {
	case e == "":
		return false, 0
	case !strings.EqualFold(e, "100-continue"):
		return false, http.StatusExpectationFailed
	}
	return req.ProtoAtLeast(1, 1) && req.ContentLength != 0, 0
}

// continueReader sends "100 Continue" before the body's first read,
// unless the answer is already under way: the interim answer would land in
// its body. The client may then never send the body, and the connection
// is not kept.
type continueReader struct {
	body  io.Reader
	c     *conn
	w     *response
	asked bool // the body was read
	sent  bool // "100 Continue" was sent
}

func (r *continueReader) Read(p []byte) (int, error) {
	if !r.asked {
		r.asked = true
		if r.w != nil && r.w.committed {
			return r.body.Read(p)
		}
		r.sent = true
		if _, err := r.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			return 0, err
		}
		if err := r.c.bw.Flush(); err != nil {
			return 0, err
		}
	}
	return r.body.Read(p)
}

// refuse answers a request that never reached the handler, and the
// connection is closed after it. The body reads as net/http's server's:
// the status, and the reason after a colon.
func (c *conn) refuse(status int, msg string) {
	text := http.StatusText(status)
	if msg != "" {
		text += ": " + msg
	}
	_ = c.rwc.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c.bw, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n%d %s", status, http.StatusText(status), status, text)
	_ = c.bw.Flush()
}

// runHandler calls the handler; a panic is logged and closes the
// connection, as in http.Server.
func (c *conn) runHandler(w *response, req *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v != http.ErrAbortHandler {
				c.srv.logger().Error("panic serving a request", "remote", c.remote, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
		}
	}()
	c.srv.Handler.ServeHTTP(w, req)
	return true
}

// drainBody reads what the handler left of the request body, up to
// maxDiscard; a longer rest closes the connection instead.
func (c *conn) drainBody(req *http.Request) bool {
	if req.Close {
		return false
	}
	b, ok := req.Body.(*body)
	if !ok {
		return true // no body
	}
	if cr, ok := b.r.(*continueReader); ok && !cr.sent {
		// The client waits for our go-ahead: it has not sent the body.
		return false
	}
	n, err := io.CopyN(io.Discard, b.r, maxDiscard+1)
	b.eof = b.eof || errors.Is(err, io.EOF)
	return n <= maxDiscard && b.eof
}

// unread reports whether the client may still be sending req's body: it
// has one that was not read to its end, and was not held back waiting for
// "100 Continue".
func unread(req *http.Request) bool {
	b, ok := req.Body.(*body)
	if !ok || b.eof || req.ContentLength >= 0 && b.read >= req.ContentLength {
		return false
	}
	if cr, ok := b.r.(*continueReader); ok && !cr.sent {
		return false
	}
	return true
}

// unreadBeyond reports whether more than n bytes of req's body, of a
// known length, are still to be read.
func unreadBeyond(req *http.Request, n int64) bool {
	b, ok := req.Body.(*body)
	return ok && !b.eof && req.ContentLength >= 0 && req.ContentLength-b.read > n
}

// body is a request body whose Close only stops the handler's reads:
// net/http's own would read the rest of an unbounded body.
type body struct {
	r      io.Reader
	closed bool
	read   int64 // bytes read
	eof    bool  // read to its end
}

var errBodyClosed = errors.New("http: invalid Read on closed Body")

func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errBodyClosed
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	b.eof = b.eof || err == io.EOF
	return n, err
}

func (b *body) Close() error {
	b.closed = true
	return nil
}
