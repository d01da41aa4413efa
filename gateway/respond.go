package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
)

// ErrorBody is the JSON shape of the gateway's own refusals.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is one refusal: a stable code, a message saying what to do,
// and the gateway request id to quote.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId,omitempty"`
}

// refuse answers with the gateway's JSON error.
func (g *Gateway) refuse(w http.ResponseWriter, c *call, status int, code, msg string) {
	c.status, c.code = status, code
	b, _ := json.Marshal(ErrorBody{ErrorDetail{Code: code, Message: msg, RequestID: c.id}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// denied reports whether the gateway refused the call for lack of
// permission (what the audit log records besides PII access).
func (c *call) denied() bool {
	switch c.code {
	case CodeUnauthenticated, CodeSellerForbidden, CodeOperationForbidden, CodePIIForbidden, CodeNotServed:
		return true
	}
	return false
}

// finish logs, audits and counts a call.
func (g *Gateway) finish(c *call) {
	d := time.Since(c.start)
	if m := g.cfg.Metrics; m != nil {
		m.observeRequest(c.opName(), c.status, d)
	}
	if g.log.Enabled(context.Background(), slog.LevelInfo) {
		attrs := []slog.Attr{
			slog.String("request_id", c.id),
			slog.String("client", c.client),
			slog.String("seller", c.seller),
			slog.String("operation", c.opName()),
			slog.String("method", c.method),
			slog.String("path", clip(c.path, 200)),
			slog.Int("status", c.status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		}
		if c.code != "" {
			attrs = append(attrs, slog.String("error_code", c.code))
		}
		if c.amazonID != "" {
			attrs = append(attrs, slog.String("amzn_request_id", c.amazonID))
		}
		if c.piiCall {
			attrs = append(attrs, slog.Bool("pii", true))
		}
		g.log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
	}
	// Personal-data answers were recorded before release; denied calls
	// and PII calls that ended without an answer from Amazon are recorded
	// here, best effort (nothing personal was released).
	if (c.denied() || c.piiCall && !c.recorded) && g.cfg.Audit != nil {
		if err := g.cfg.Audit.Write(c.entry()); err != nil {
			g.log.Error("writing the audit log failed", "request_id", c.id, "error", err.Error())
		}
	}
}
