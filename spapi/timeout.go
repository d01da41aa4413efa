package spapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/spgate/spgate/clock"
)

// DefaultResponseTimeout is Config.ResponseTimeout when unset. Amazon
// answers in well under a second; a minute of silence is a stalled
// connection, not a slow answer.
const DefaultResponseTimeout = 60 * time.Second

// ResponseTimeoutError reports that Amazon (or LWA) stayed silent longer
// than Config.ResponseTimeout: no response headers after the request was
// sent, or no more of the body while it was being read. The request was
// abandoned and its connection closed.
type ResponseTimeoutError struct {
	Host    string        // the host that stalled
	Headers bool          // true: no response headers; false: the body stalled
	After   time.Duration // the silence that was tolerated
}

// Error implements the error interface.
func (e *ResponseTimeoutError) Error() string {
	what := "sent no response headers"
	if !e.Headers {
		what = "stopped sending its answer"
	}
	return fmt.Sprintf("%s %s for %v; the request was abandoned (the connection stalled; raise Config.ResponseTimeout only if answers legitimately take longer)", e.Host, what, e.After)
}

// Timeout reports true, like net.Error.
func (e *ResponseTimeoutError) Timeout() bool { return true }

// stallGuard is a RoundTripper that abandons a request when the peer stays
// silent for ResponseTimeout: before the response headers, or during one
// read of the response body. It works over any transport (a caller's
// Config.Base too). It measures real time, not Config.Clock: a stalled
// connection is a fact of the network, and code that runs a fake clock
// fast while requests are in flight must not time them out.
type stallGuard struct {
	next http.RoundTripper
	c    *Client
}

func (g *stallGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	clk, limit := clock.Or(g.c.ioClock), g.c.cfg.ResponseTimeout
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watch{clk: clk, limit: limit, cancel: cancel, host: req.URL.Host,
		waiting: true, headers: true, since: clk.Now()}
	// Armed before the request leaves, so the bound holds from the start.
	// A timer callback, not a goroutine per request.
	w.mu.Lock()
	w.stopTimer = clock.AfterFunc(clk, limit, w.tick)
	w.mu.Unlock()
	resp, err := g.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		w.stop()
		cancel(nil)
		if te := w.timedOut(); te != nil {
			return nil, te
		}
		return nil, err
	}
	w.idle()
	resp.Body = &watchedBody{rc: resp.Body, w: w, cancel: cancel}
	return resp, nil
}

// watch is one request's watchdog. Its timer fires every limit while the
// peer is not awaited (the caller is between reads), and it cancels the
// request when one wait has lasted limit.
type watch struct {
	clk    clock.Clock
	limit  time.Duration
	cancel context.CancelCauseFunc
	host   string

	mu        sync.Mutex
	stopTimer func() bool
	waiting   bool      // a read (or the headers) is awaited
	headers   bool      // what is awaited is the headers
	since     time.Time // when the wait began
	fired     *ResponseTimeoutError
	finished  bool
}

// tick runs when the timer fires: it cancels the request if the current
// wait has lasted limit, else re-arms for when it would.
func (w *watch) tick() {
	w.mu.Lock()
	if w.finished {
		w.mu.Unlock()
		return
	}
	d := w.limit
	if w.waiting {
		el := w.clk.Now().Sub(w.since)
		if el >= w.limit {
			w.fired = &ResponseTimeoutError{Host: w.host, Headers: w.headers, After: w.limit}
			w.finished = true
			w.mu.Unlock()
			w.cancel(w.fired)
			return
		}
		d = w.limit - el
	}
	w.stopTimer = clock.AfterFunc(w.clk, d, w.tick)
	w.mu.Unlock()
}

// await marks the start of a body read; idle its end.
func (w *watch) await() {
	w.mu.Lock()
	w.waiting, w.headers, w.since = true, false, w.clk.Now()
	w.mu.Unlock()
}

func (w *watch) idle() {
	w.mu.Lock()
	w.waiting = false
	w.mu.Unlock()
}

// stop ends the watch (the answer is complete, failed or closed); its
// timer is gone when stop returns.
func (w *watch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.finished {
		w.finished = true
		w.stopTimer()
	}
}

func (w *watch) timedOut() *ResponseTimeoutError {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

// watchedBody is a response body whose reads the watch bounds.
type watchedBody struct {
	rc     io.ReadCloser
	w      *watch
	cancel context.CancelCauseFunc
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.w.await()
	n, err := b.rc.Read(p)
	b.w.idle()
	if err != nil {
		if te := b.w.timedOut(); te != nil {
			return n, te
		}
		if err == io.EOF {
			b.w.stop()
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.w.stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
