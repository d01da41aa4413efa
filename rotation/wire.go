package rotation

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
)

// sendTrack follows one rotation request from the Rotator into its Requester:
// whether it went (or may have gone) on the wire.
type sendTrack struct {
	mu sync.Mutex
	// mark records the step "requesting" in the vault, once.
	mark   func(context.Context) error
	marked bool
	// called is set by any Sending call, also one that failed.
	called bool
	// attempts counts Sending calls; unsent those known not to have left.
	attempts, unsent int
}

type wireKey struct{}

// Sending must be called by a Requester right before its request goes on
// the wire (after rate limiting and authorization): it records in the
// vault that Amazon may have been asked, so a crash from here on never
// asks Amazon twice. An error means the record could not be written; the
// request must then not be sent. SPAPIRequester calls it. A Requester that
// never calls it and fails without Amazon's answer is taken as having sent.
func Sending(ctx context.Context) error {
	w, _ := ctx.Value(wireKey{}).(*sendTrack)
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.called = true
	if !w.marked && w.mark != nil {
		if err := w.mark(ctx); err != nil {
			return err
		}
	}
	w.marked = true
	w.attempts++
	return nil
}

// aware tells the tracker that the Requester calls Sending when it sends:
// a failure without a Sending call then means nothing left.
func aware(ctx context.Context) {
	if w, _ := ctx.Value(wireKey{}).(*sendTrack); w != nil {
		w.mu.Lock()
		w.called = true
		w.mu.Unlock()
	}
}

// notSent tells the tracker that the attempt announced by the last Sending
// left nothing on the wire (the connection failed before the request was
// written).
func notSent(ctx context.Context) {
	if w, _ := ctx.Value(wireKey{}).(*sendTrack); w != nil {
		w.mu.Lock()
		w.unsent++
		w.mu.Unlock()
	}
}

// mayHaveSent reports whether some attempt may have reached Amazon; a
// Requester that never called Sending is assumed to have sent.
func (w *sendTrack) mayHaveSent() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.called || w.attempts > w.unsent
}

// announced reports whether Sending was called (and so "requesting" is
// recorded).
func (w *sendTrack) announced() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.marked
}

// wireTransport sits last in the SP-API chain of SPAPIRequester, below rate
// limiting and authorization: for the rotation call it calls Sending before
// handing the request to the network, and notes attempts whose headers were
// never written.
type wireTransport struct{ next http.RoundTripper }

func (t wireTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || !strings.HasSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/applications/2023-11-30/clientSecret") {
		return t.next.RoundTrip(req)
	}
	ctx := req.Context()
	if err := Sending(ctx); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	var mu sync.Mutex
	wrote := false
	trace := &httptrace.ClientTrace{WroteHeaders: func() { mu.Lock(); wrote = true; mu.Unlock() }}
	resp, err := t.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(ctx, trace)))
	mu.Lock()
	defer mu.Unlock()
	if err != nil && !wrote {
		notSent(ctx)
	}
	return resp, err
}
