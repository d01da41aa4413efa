package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spgate/spgate/internal/h1server"
	"github.com/spgate/spgate/internal/rawconn"
)

// ServeOptions configure Serve. Zero values take the defaults below.
type ServeOptions struct {
	// TLSCert and TLSKey are PEM files; both empty means plain HTTP (fine
	// on loopback, the default address).
	TLSCert, TLSKey string
	// DrainTimeout bounds how long calls in flight may take to finish after
	// ctx ends (default 60 s); the rest are cut off.
	DrainTimeout time.Duration
	// ReadHeaderTimeout bounds reading a request's headers (default 10 s);
	// ReadTimeout the whole request, body included (default 60 s).
	ReadHeaderTimeout, ReadTimeout time.Duration
	// WriteTimeout bounds a request from its headers to the end of the
	// answer (default: DefaultMaxDeadline + 30 s). Keep it longer than the
	// gateway's MaxDeadline, so queued calls get their 429 or 504 rather
	// than a cut connection.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long (default
	// 120 s).
	IdleTimeout time.Duration
	// MaxConns caps open connections (default 4096); past it, new ones
	// wait in the kernel's accept queue.
	MaxConns int
	// MaxUnauthenticatedConns caps connections that have not yet made a
	// request with a valid client key (default 1024); past it, new
	// connections are closed at once, so unauthenticated clients cannot
	// starve those with keys.
	MaxUnauthenticatedConns int
	Logger                  *slog.Logger
}

func (o *ServeOptions) defaults() {
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 60 * time.Second
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 60 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultMaxDeadline + 30*time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 4096
	}
	if o.MaxUnauthenticatedConns <= 0 {
		o.MaxUnauthenticatedConns = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Serve serves h (a Gateway) on ln until ctx ends, then stops accepting
// connections and waits (up to DrainTimeout) for the calls in flight to
// finish. Those calls keep their own contexts: ending ctx does not cancel
// them. Every read, write, idle period and connection count is bounded.
// Serve returns nil after a clean shutdown.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, o ServeOptions) error {
	o.defaults()
	log := o.Logger
	conns := newConnGuard(o.MaxUnauthenticatedConns, log)
	// Each connection's calls run on its own goroutine from request to
	// answer (see h1server): net/http's server and transport hand every
	// call between three goroutines, which costs more than the gateway.
	srv := &h1server.Server{
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log,
		// Requests must outlive ctx so that shutdown drains them.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext: conns.connContext,
		ConnState:   conns.connState,
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return errors.New("gateway: give both --tls-cert and --tls-key, or neither")
	}
	ln = &limitListener{Listener: ln, sem: make(chan struct{}, o.MaxConns)}
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return fmt.Errorf("gateway: loading the TLS certificate and key: %w (both PEM files; the key unencrypted)", err)
		}
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing calls in flight", "drain_timeout", o.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), o.DrainTimeout)
	defer cancel()
	err := srv.Shutdown(dctx)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("gateway: calls still running after the %v drain timeout were cut off: %w", o.DrainTimeout, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: serving: %w", err)
	}
	log.Info("shut down cleanly")
	return nil
}

// limitListener holds at most cap(sem) connections open: Accept waits for
// a free slot, so extra clients queue in the kernel instead of costing
// the gateway memory and file descriptors.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	// The gateway's sockets read and write without waking the runtime's
	// monitor thread (see package rawconn).
	return &limitConn{Conn: rawconn.Wrap(c), release: func() { <-l.sem }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// CloseWrite half-closes the connection when it can (TCP, and TLS with
// its close_notify), so a refusal can linger for the rest of an upload.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// connGuard counts connections that have not yet made a request with a
// valid client key and closes new ones past its cap.
type connGuard struct {
	max    int64
	log    *slog.Logger
	unauth atomic.Int64
	conns  sync.Map // net.Conn → *connInfo
}

// connInfo is one connection's state, reachable from its requests'
// contexts so the gateway can mark it authenticated.
type connInfo struct {
	guard   *connGuard
	counted atomic.Bool // counts toward guard.unauth
}

type connInfoKey struct{}

func newConnGuard(max int, log *slog.Logger) *connGuard {
	return &connGuard{max: int64(max), log: log}
}

func (g *connGuard) connContext(ctx context.Context, c net.Conn) context.Context {
	info := &connInfo{guard: g}
	if g.unauth.Add(1) > g.max {
		g.unauth.Add(-1)
		g.log.Warn("too many connections without a valid client key; closing a new one", "limit", g.max, "remote", c.RemoteAddr().String())
		_ = c.Close()
		return ctx
	}
	info.counted.Store(true)
	g.conns.Store(c, info)
	return context.WithValue(ctx, connInfoKey{}, info)
}

func (g *connGuard) connState(c net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	if v, ok := g.conns.LoadAndDelete(c); ok {
		v.(*connInfo).release()
	}
}

func (i *connInfo) release() {
	if i.counted.CompareAndSwap(true, false) {
		i.guard.unauth.Add(-1)
	}
}

// markAuthenticated takes the request's connection out of the
// unauthenticated count: it has shown a valid client key.
func markAuthenticated(ctx context.Context) {
	if i, ok := ctx.Value(connInfoKey{}).(*connInfo); ok {
		i.release()
	}
}
