package spapi

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/spgate/spgate/internal/rawconn"
)

// h1Transport is the default wire under the chain: HTTP/1.1 over a pool
// of keep-alive connections per host, each request written and its
// answer read on the caller's own goroutine. http.Transport hands every
// request to a writer goroutine and every answer back from a reader
// goroutine; each hand-off may wake another OS thread, which cost a
// gateway call more than all its own work. Parsing and writing are
// net/http's (Request.Write, ReadResponse); a request that goes through a
// proxy ($HTTPS_PROXY…) is handed to proxied, an http.Transport.
//
// Every wait is bounded: dialling (30 s) and the TLS handshake (10 s) by
// their timeouts, everything by the request's context (which the chain's
// stall guard cancels after Config.ResponseTimeout of silence), response
// headers to maxHeaderBytes, idle connections to idleTimeout.
type h1Transport struct {
	proxied http.RoundTripper
	proxy   func(*http.Request) (*url.URL, error)
	dialer  net.Dialer
	tls     *tls.Config // cloned per connection, with its server name
	// tlsTimeout bounds a TLS handshake; maxIdle is how many idle
	// connections a host keeps; idleTimeout closes older ones.
	tlsTimeout  time.Duration
	maxIdle     int
	idleTimeout time.Duration

	mu      sync.Mutex
	idle    map[string][]*h1Conn // host key → idle connections, most recent last
	reaping bool                 // a timer will close idle connections past idleTimeout
}

// Limits of the wire.
const (
	wireDialTimeout = 30 * time.Second
	wireTLSTimeout  = 10 * time.Second
	wireIdleTimeout = 90 * time.Second
	wireMaxIdle     = 64 // per host: Go's default of 2 would reconnect under load
	// maxHeaderBytes bounds a response's status line and headers.
	maxHeaderBytes = 1 << 20
)

// newH1Transport returns the wire with its defaults; proxied carries the
// requests that go through a proxy.
func newH1Transport(proxied *http.Transport) *h1Transport {
	return &h1Transport{
		proxied: proxied, proxy: proxied.Proxy,
		dialer:     net.Dialer{Timeout: wireDialTimeout, KeepAlive: 30 * time.Second},
		tls:        &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}},
		tlsTimeout: wireTLSTimeout, maxIdle: wireMaxIdle, idleTimeout: wireIdleTimeout,
	}
}

// h1Conn is one keep-alive connection. It serves one request at a time.
type h1Conn struct {
	key    string
	nc     net.Conn // TCP, or TLS over it
	tcp    net.Conn // the TCP connection, for the liveness probe
	lim    *limitedReader
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

// limitedReader fails a read once n bytes have been read: it bounds a
// response's headers (n is lifted for the body).
type limitedReader struct {
	r io.Reader
	n int64
}

var errHeaderTooLong = fmt.Errorf("the response's headers exceed %d bytes", maxHeaderBytes)

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeaderTooLong
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// RoundTrip implements http.RoundTripper.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	u := req.URL
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		closeBody(req)
		return nil, fmt.Errorf("spapi: unsupported URL %q", u)
	}
	if t.proxy != nil {
		p, err := t.proxy(req)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		if p != nil {
			return t.proxied.RoundTrip(req)
		}
	}
	key := u.Scheme + "://" + canonicalAddr(u)
	for retried := false; ; retried = true {
		// A request that may be sent again skips the idle connection's
		// liveness check (a syscall) the first time: a connection found
		// closed fails at once, and the request goes on a checked one.
		c, reused, err := t.conn(req.Context(), key, u, retried || !replayable(req, true))
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, sent, err := t.exchange(c, req)
		if err == nil {
			return resp, nil
		}
		// A connection the server closed while it was idle fails at once;
		// the request is sent again on a new one when that is safe.
		if retried || !reused || req.Context().Err() != nil || !replayable(req, sent) {
			return nil, err
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r := *req // the caller's request is not ours to change
			r.Body = body
			req = &r
		}
	}
}

// replayable reports whether a request that failed on a reused
// connection before any answer may be sent again: when it was never
// written, or when it is idempotent and its body can be had again.
func replayable(req *http.Request, sent bool) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	if !sent {
		return true
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// canonicalAddr is u's host:port, the scheme's default port filled in.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// conn takes an idle connection to key that is still open (checked with
// check), or dials one.
func (t *h1Transport) conn(ctx context.Context, key string, u *url.URL, check bool) (*h1Conn, bool, error) {
	for {
		t.mu.Lock()
		l := t.idle[key]
		if len(l) == 0 {
			t.mu.Unlock()
			break
		}
		c := l[len(l)-1]
		l[len(l)-1] = nil
		t.idle[key] = l[:len(l)-1]
		t.mu.Unlock()
		if time.Since(c.idleAt) < t.idleTimeout && (!check || alive(c.tcp)) {
			return c, true, nil
		}
		c.nc.Close()
	}
	c, err := t.dial(ctx, key, u)
	return c, false, err
}

// dial opens a connection to u's host, with TLS for https.
func (t *h1Transport) dial(ctx context.Context, key string, u *url.URL) (*h1Conn, error) {
	addr := canonicalAddr(u)
	tcp, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// Raw reads and writes: see package rawconn.
	tcp = rawconn.Wrap(tcp)
	nc := tcp
	if u.Scheme == "https" {
		cfg := t.tls.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(tcp, cfg)
		hctx, cancel := context.WithTimeout(ctx, t.tlsTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			tcp.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		nc = tc
	}
	lim := &limitedReader{r: nc, n: math.MaxInt64}
	return &h1Conn{key: key, nc: nc, tcp: tcp, lim: lim, br: bufio.NewReaderSize(lim, 8<<10), bw: bufio.NewWriterSize(nc, 4<<10)}, nil
}

// aLongTimeAgo, as a deadline, makes a blocked read or write fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// exchange writes req on c and reads the answer's headers; sent reports
// whether any of the request may have reached the server. On error c is
// closed. The answer's body gives c back to the pool once read to its end.
func (t *h1Transport) exchange(c *h1Conn, req *http.Request) (resp *http.Response, sent bool, err error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, bool, error) {
		stop()
		c.nc.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
		}
		return nil, sent, err
	}
	gz := wantsGzip(req)
	out := req
	if gz {
		out = new(http.Request)
		*out = *req
		// A shallow copy: Write only reads the values.
		out.Header = make(http.Header, len(req.Header)+1)
		for k, v := range req.Header {
			out.Header[k] = v
		}
		out.Header["Accept-Encoding"] = acceptGzip
	}
	sent = true
	if err := out.Write(c.bw); err != nil {
		return fail(err)
	}
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	c.lim.n = maxHeaderBytes
	for {
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			return fail(err)
		}
		// 1xx answers precede the real one (101 switches protocols,
		// which a call never asks for).
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	c.lim.n = math.MaxInt64
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return fail(errors.New("the server switched protocols, which no SP-API call asks for"))
	}
	b := &h1Body{rc: resp.Body, t: t, c: c, stop: stop, reuse: !resp.Close && !req.Close}
	resp.Body = b
	if gz && strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		// Like http.Transport: a compressed answer the transport asked
		// for is handed on uncompressed.
		resp.Body = &gzipBody{body: b}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength, resp.Uncompressed = -1, true
	}
	return resp, sent, nil
}

var acceptGzip = []string{"gzip"}

// wantsGzip reports whether the wire asks for a compressed answer, as
// http.Transport does: unless the caller chose an encoding or a range.
func wantsGzip(req *http.Request) bool {
	return req.Method != http.MethodHead && req.Header.Get("Accept-Encoding") == "" && req.Header.Get("Range") == ""
}

// put gives c back to its host's idle connections.
func (t *h1Transport) put(c *h1Conn) {
	c.idleAt = time.Now()
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*h1Conn{}
	}
	l := t.idle[c.key]
	if len(l) >= t.maxIdle {
		t.mu.Unlock()
		c.nc.Close()
		return
	}
	t.idle[c.key] = append(l, c)
	reap := !t.reaping
	t.reaping = true
	t.mu.Unlock()
	if reap {
		time.AfterFunc(t.idleTimeout, t.reap)
	}
}

// reap closes the idle connections older than idleTimeout, and comes back
// while any remain.
func (t *h1Transport) reap() {
	now := time.Now()
	var old []*h1Conn
	t.mu.Lock()
	left := 0
	for key, l := range t.idle {
		keep := l[:0]
		for _, c := range l {
			if now.Sub(c.idleAt) >= t.idleTimeout {
				old = append(old, c)
			} else {
				keep = append(keep, c)
			}
		}
		clear(l[len(keep):])
		if len(keep) == 0 {
			delete(t.idle, key)
		} else {
			t.idle[key] = keep
		}
		left += len(keep)
	}
	t.reaping = left > 0
	t.mu.Unlock()
	for _, c := range old {
		c.nc.Close()
	}
	if left > 0 {
		time.AfterFunc(t.idleTimeout/2, t.reap)
	}
}

// CloseIdleConnections closes the idle connections (http.Client calls it).
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, l := range idle {
		for _, c := range l {
			c.nc.Close()
		}
	}
	if ci, ok := t.proxied.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// h1Body is an answer's body: read to its end, it gives the connection
// back to the pool (unless the answer or the request closes it); closed
// before, it closes the connection.
type h1Body struct {
	rc    io.ReadCloser
	t     *h1Transport
	c     *h1Conn
	stop  func() bool // stops the context's watch on the connection
	reuse bool
	done  bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		b.finish(false)
	}
	return n, err
}

func (b *h1Body) Close() error {
	b.finish(false)
	return nil
}

// finish ends the exchange: the connection goes back to the pool when the
// body was read to its end and the context never fired, else it closes.
func (b *h1Body) finish(complete bool) {
	if b.done {
		return
	}
	b.done = true
	if b.stop() && complete && b.reuse {
		b.t.put(b.c)
		return
	}
	b.c.nc.Close()
}

// gzipBody decompresses body, opening the gzip stream on the first read.
type gzipBody struct {
	body *h1Body
	zr   *gzip.Reader
	err  error
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.zr == nil && g.err == nil {
		g.zr, g.err = gzip.NewReader(g.body)
	}
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.zr.Read(p)
	if err == io.EOF {
		// The gzip stream ended: read the body to its end too, so the
		// connection can be reused.
		if _, derr := io.Copy(io.Discard, io.LimitReader(g.body, 4<<10)); derr != nil {
			return n, derr
		}
	}
	return n, err
}

func (g *gzipBody) Close() error { return g.body.Close() }
