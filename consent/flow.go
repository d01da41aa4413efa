package consent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/vault"
)

// DefaultTimeout bounds a flow whose Options leave Timeout zero.
const DefaultTimeout = 10 * time.Minute

// Options configure a flow started with [Start].
type Options struct {
	// Link is the consent link; an empty State is filled with NewState.
	// Link.RedirectURI is required: the redirect arrives there.
	Link Link
	// Exchange trades the code for the refresh token (required); see LWA.
	Exchange Exchange

	// Paste, when set, is where the redirected address arrives instead of
	// a callback server: one line, the address the browser was sent to
	// (for a redirect URI that is not on this machine).
	Paste io.Reader
	// Listener, when set, serves the callback at the redirect URI's path.
	// It must listen on a loopback address; the flow closes it.
	Listener net.Listener
	// Listen is the address the callback server listens on when Listener
	// is nil, e.g. 127.0.0.1:8765; empty means the redirect URI's
	// host:port. Either must be a loopback host.
	Listen string

	// Timeout bounds the whole flow from Start (default DefaultTimeout).
	Timeout time.Duration
	// Clock times the flow (default the wall clock).
	Clock clock.Clock
}

// Flow is one running consent flow. Its methods are safe for concurrent
// use.
type Flow struct {
	link, redirectURI, state string
	exchange                 Exchange
	timeout                  time.Duration

	ctx    context.Context // ends with the flow: Close, or Start's ctx
	cancel context.CancelFunc

	// arrived takes the first redirect's outcome; finished is closed once
	// the flow has its outcome (res, err).
	arrived  chan outcome
	finished chan struct{}
	res      Result
	err      error

	srv     *http.Server
	stopped chan struct{} // closed once the callback server has stopped

	mu       sync.Mutex
	handled  bool
	stopOnce sync.Once
}

type outcome struct {
	res Result
	err error
}

// Start begins a flow: it makes the state, builds the consent link and
// starts the callback server (or the read of the pasted address). The flow
// ends with the first redirect, after Options.Timeout, when ctx ends or on
// Close; the callback server answers only the redirect URI's path, handles
// one redirect and stops with the flow.
func Start(ctx context.Context, o Options) (_ *Flow, err error) {
	if o.Listener != nil {
		defer func() {
			if err != nil {
				o.Listener.Close()
			}
		}()
	}
	if o.Exchange == nil {
		return nil, errors.New("consent: Options.Exchange is required")
	}
	if o.Paste != nil && o.Listener != nil {
		return nil, errors.New("consent: Options.Paste and Options.Listener exclude each other")
	}
	if o.Link.RedirectURI == "" {
		return nil, errors.New("consent: Options.Link.RedirectURI is required: the redirect URI registered for the app")
	}
	if err := vault.ValidateRedirectURI(o.Link.RedirectURI); err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	if o.Link.State == "" {
		s, err := NewState()
		if err != nil {
			return nil, err
		}
		o.Link.State = s
	}
	link, err := o.Link.URL()
	if err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	f := &Flow{link: link, redirectURI: o.Link.RedirectURI, state: o.Link.State, exchange: o.Exchange, timeout: o.Timeout,
		arrived: make(chan outcome, 1), finished: make(chan struct{}), stopped: make(chan struct{})}
	var ln net.Listener
	var path string
	if o.Paste == nil {
		if ln, path, err = listen(o); err != nil {
			return nil, err
		}
	}
	f.ctx, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if o.Paste != nil {
		close(f.stopped)
		go f.readPasted(o.Paste)
	} else {
		f.serve(ln, path)
	}
	go f.await(ctx, clock.Or(o.Clock).NewTimer(o.Timeout))
	return f, nil
}

// URL returns the consent link the seller opens.
func (f *Flow) URL() string { return f.link }

// RedirectURI returns where Amazon sends the seller after the consent.
func (f *Flow) RedirectURI() string { return f.redirectURI }

// Wait returns the flow's outcome once it has one, or ctx's error when ctx
// ends first (the flow keeps running). The errors match ErrState,
// ErrDenied, ErrCode, ErrRedirect and ErrTimeout with errors.Is.
func (f *Flow) Wait(ctx context.Context) (Result, error) {
	select {
	case <-f.finished:
		return f.res, f.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Close ends the flow and stops its callback server; an exchange under way
// is cancelled. It returns once the server has stopped (within seconds).
func (f *Flow) Close() error {
	f.cancel()
	<-f.finished
	<-f.stopped
	return nil
}

// await decides the outcome: the first redirect, the timeout, or the end
// of ctx or of the flow.
func (f *Flow) await(ctx context.Context, timer clock.Timer) {
	defer timer.Stop()
	var o outcome
	select {
	case o = <-f.arrived:
	case <-timer.C():
		o.err = fmt.Errorf("%w: none within %s: check that %s is the redirect URI registered for the app and that the browser can reach it", ErrTimeout, f.timeout, f.redirectURI)
	case <-ctx.Done():
		o.err = fmt.Errorf("consent: the flow ended before the redirect arrived: %w", ctx.Err())
	case <-f.ctx.Done():
		o.err = errors.New("consent: the flow was closed before the redirect arrived")
	}
	f.res, f.err = o.res, o.err
	close(f.finished)
	f.cancel()
	f.stopServer()
}

// readPasted reads the one line of the pasted address.
func (f *Flow) readPasted(r io.Reader) {
	line, err := bufio.NewReader(r).ReadString('\n')
	var o outcome
	switch {
	case err != nil && line == "":
		o.err = fmt.Errorf("consent: reading the pasted address: %w", err)
	default:
		q, perr := ParseRedirect(line)
		if perr != nil {
			o.err = perr
			break
		}
		o.res, o.err = Complete(f.ctx, q, f.state, f.redirectURI, f.exchange)
	}
	f.arrived <- o // buffered, and the only sender in paste mode
}

// listen returns the callback server's loopback listener and the path it
// serves.
func listen(o Options) (net.Listener, string, error) {
	ru, err := url.Parse(o.Link.RedirectURI)
	if err != nil {
		return nil, "", fmt.Errorf("consent: redirect URI: %w", err)
	}
	path := ru.Path
	if path == "" {
		path = "/"
	}
	ln := o.Listener
	if ln == nil {
		addr := o.Listen
		if addr == "" {
			if !isLoopbackHost(ru.Hostname()) {
				return nil, "", fmt.Errorf("%w: the redirect URI %s is not on this machine; paste the redirected address instead", ErrNotLoopback, o.Link.RedirectURI)
			}
			if ru.Scheme != "http" {
				return nil, "", fmt.Errorf("%w: the callback server speaks plain http, so it cannot answer the https redirect URI %s; register an http://127.0.0.1:PORT/… redirect URI or paste the redirected address", ErrNotLoopback, o.Link.RedirectURI)
			}
			addr = ru.Host
			if ru.Port() == "" {
				addr = net.JoinHostPort(ru.Hostname(), "80")
			}
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, "", fmt.Errorf("consent: callback address %q: %w", addr, err)
		}
		if !isLoopbackHost(host) {
			return nil, "", fmt.Errorf("%w: %s is not a loopback address (use 127.0.0.1:PORT, [::1]:PORT or localhost:PORT)", ErrNotLoopback, addr)
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, "", fmt.Errorf("consent: cannot listen on %s for the callback: %w (free the port or paste the redirected address)", addr, err)
		}
	}
	if !loopbackAddr(ln.Addr()) {
		ln.Close()
		return nil, "", fmt.Errorf("%w: the listener is on %s", ErrNotLoopback, ln.Addr())
	}
	return ln, path, nil
}

func loopbackAddr(a net.Addr) bool {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.IsLoopback()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Bounds of the callback server.
const (
	callbackReadTimeout  = 10 * time.Second
	callbackWriteTimeout = 90 * time.Second // the code exchange runs inside
	callbackHeaderBytes  = 16 << 10
	callbackShutdown     = 2 * time.Second
)

func (f *Flow) serve(ln net.Listener, path string) {
	f.srv = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.callback(w, r, path) }),
		ReadHeaderTimeout: callbackReadTimeout,
		ReadTimeout:       callbackReadTimeout,
		WriteTimeout:      callbackWriteTimeout,
		IdleTimeout:       callbackReadTimeout,
		MaxHeaderBytes:    callbackHeaderBytes,
	}
	go func() { _ = f.srv.Serve(ln) }()
}

func (f *Flow) stopServer() {
	f.stopOnce.Do(func() {
		if f.srv == nil {
			return
		}
		go func() {
			defer close(f.stopped)
			ctx, cancel := context.WithTimeout(context.Background(), callbackShutdown)
			defer cancel()
			if f.srv.Shutdown(ctx) != nil {
				_ = f.srv.Close()
			}
		}()
	})
}

// callback handles Amazon's redirect: the first request to the redirect
// URI's path ends the flow, whatever it carries; any later one is told it
// came too late.
func (f *Flow) callback(w http.ResponseWriter, r *http.Request, path string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the address holds the code
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	if r.URL.Path != path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	f.mu.Lock()
	first := !f.handled
	f.handled = true
	f.mu.Unlock()
	if !first {
		w.WriteHeader(http.StatusConflict)
		_, _ = io.WriteString(w, page("Already handled", "This authorization was already processed; you can close this tab."))
		return
	}
	// The flow's context, not the request's: a closed tab must not cancel
	// an exchange that uses up the one-time code.
	res, err := Complete(f.ctx, r.URL.Query(), f.state, f.redirectURI, f.exchange)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, page("Authorization failed", err.Error()))
	} else {
		_, _ = io.WriteString(w, page("Authorized", "Seller "+res.SellerID+" authorized the app. You can close this tab."))
	}
	f.arrived <- outcome{res, err} // buffered; only the first request sends
}

func page(title, msg string) string {
	return "<!DOCTYPE html><html><head><title>spgate: " + html.EscapeString(title) + "</title></head><body><h1>" +
		html.EscapeString(title) + "</h1><p>" + html.EscapeString(msg) + "</p></body></html>"
}
