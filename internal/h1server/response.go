package h1server

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// response is the http.ResponseWriter of one request. An answer is held
// back until it outgrows bufferBeforeCommit, is flushed or the handler
// returns, so that short answers carry a Content-Length.
type response struct {
	c      *conn
	req    *http.Request
	header http.Header

	status      int
	wroteHeader bool  // the handler chose a status
	committed   bool  // the status line and headers are written
	length      int64 // the handler's Content-Length, or -1
	written     int64
	buf         []byte
	chunked     bool
	noBody      bool // HEAD, 1xx, 204, 304
	closeAfter  bool
	failed      bool // a write to the connection failed
}

func newResponse(c *conn, req *http.Request) *response {
	return &response{c: c, req: req, header: make(http.Header, 4), length: -1, buf: c.held[:0]}
}

// Header implements http.ResponseWriter.
func (w *response) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter. Informational statuses
// (1xx but 101) go out at once; a second final status is ignored.
func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if w.wroteHeader {
		w.c.srv.logger().Warn("superfluous WriteHeader call", "status", code)
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		if !w.committed {
			_ = w.writeStatus(code, w.header, false)
		}
		return
	}
	if code == http.StatusSwitchingProtocols {
		panic("h1server: protocol switches are not supported")
	}
	w.wroteHeader, w.status = true, code
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.length = n
		} else {
			w.header.Del("Content-Length")
		}
	}
}

// Write implements http.ResponseWriter.
func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			w.written += int64(len(p))
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if !w.committed {
		if len(w.buf)+len(p) <= bufferBeforeCommit {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		if err := w.commit(false); err != nil {
			return 0, err
		}
	}
	if err := w.body(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ReadFrom copies r into the answer through the connection's buffer
// (io.Copy would allocate 32 KiB for every answer).
func (w *response) ReadFrom(r io.Reader) (int64, error) {
	if w.c.copyBuf == nil {
		w.c.copyBuf = make([]byte, 4<<10)
	}
	buf := w.c.copyBuf
	var n int64
	for {
		m, rerr := r.Read(buf)
		if m > 0 {
			if _, err := w.Write(buf[:m]); err != nil {
				return n, err
			}
			n += int64(m)
		}
		switch {
		case rerr == io.EOF:
			return n, nil
		case rerr != nil:
			return n, rerr
		}
	}
}

// Flush implements http.Flusher: what is written so far goes out.
func (w *response) Flush() {
	_ = w.FlushError()
}

// FlushError flushes and reports a failed write (http.ResponseController
// uses it).
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		if err := w.commit(false); err != nil {
			return err
		}
	}
	return w.flush()
}

// SetWriteDeadline lets http.ResponseController extend or shorten the
// write deadline of a long answer.
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.rwc.SetWriteDeadline(t) }

// commit writes the status line and headers, choosing how the body is
// framed: Content-Length when known (final: the handler has returned),
// else chunked, else (HTTP/1.0) delimited by closing the connection. The
// held-back part of the body follows.
func (w *response) commit(final bool) error {
	w.committed = true
	h := w.header
	h.Del("Transfer-Encoding")
	// The handler may have changed Content-Length since WriteHeader read
	// it: what goes out must be the framing the body is sent with.
	switch {
	case w.noBody:
		if w.status == http.StatusNoContent || w.status == http.StatusNotModified {
			h.Del("Content-Length")
		} else if w.length < 0 && final && w.written > 0 {
			h.Set("Content-Length", strconv.FormatInt(w.written, 10))
		}
	case w.length >= 0:
		if vs := h["Content-Length"]; len(vs) != 1 || !isLength(vs[0], w.length) {
			h.Set("Content-Length", strconv.FormatInt(w.length, 10))
		}
	case final:
		w.length = int64(len(w.buf))
		h.Set("Content-Length", strconv.Itoa(len(w.buf)))
	case w.req.ProtoAtLeast(1, 1):
		w.chunked = true
		delete(h, "Content-Length")
		h.Set("Transfer-Encoding", "chunked")
	default:
		delete(h, "Content-Length")
		w.closeAfter = true
	}
	if !w.noBody && len(w.buf) > 0 {
		if _, ok := h["Content-Type"]; !ok {
			h.Set("Content-Type", http.DetectContentType(w.buf))
		}
	}
	if _, ok := h["Date"]; !ok {
		h["Date"] = w.c.srv.date(time.Now())
	}
	// A body left unread beyond what is drained after the answer ends
	// the connection: say so now, as net/http's server does.
	w.closeAfter = w.closeAfter || w.req.Close || w.c.srv.closing.Load() || hasToken(h.Get("Connection"), "close") ||
		unreadBeyond(w.req, maxDiscard)
	switch {
	case w.closeAfter:
		h.Set("Connection", "close")
	case !w.req.ProtoAtLeast(1, 1):
		h.Set("Connection", "keep-alive")
	}
	if err := w.writeStatus(w.status, h, true); err != nil {
		return err
	}
	buf := w.buf
	w.buf = nil
	if cap(buf) <= bufferBeforeCommit {
		w.c.held = buf[:0]
	}
	if len(buf) > 0 && !w.noBody {
		return w.body(buf)
	}
	return nil
}

// writeStatus writes a status line and headers, leaving out header
// names that are not tokens; values have their line breaks replaced, so a
// handler cannot inject headers.
func (w *response) writeStatus(code int, h http.Header, final bool) error {
	bw := w.c.bw
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(code))
	bw.WriteByte(' ')
	bw.WriteString(text)
	bw.WriteString("\r\n")
	for k, vs := range h {
		if !validName(k) {
			w.c.srv.logger().Warn("dropped a response header with an invalid name", "name", k)
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(headerValue(v))
			bw.WriteString("\r\n")
		}
	}
	_, err := bw.WriteString("\r\n")
	if err == nil && !final {
		err = bw.Flush()
	}
	return w.fail(err)
}

func (w *response) body(p []byte) error {
	bw := w.c.bw
	if w.chunked {
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
		bw.Write(p)
		_, err := bw.WriteString("\r\n")
		return w.fail(err)
	}
	_, err := bw.Write(p)
	return w.fail(err)
}

func (w *response) flush() error { return w.fail(w.c.bw.Flush()) }

// fail records a failed write: the connection is closed after the
// handler returns. bufio's errors are sticky, so the last write of a
// sequence reports any before it.
func (w *response) fail(err error) error {
	if err != nil {
		w.failed = true
	}
	return err
}

// finish ends the answer once the handler returns and reports whether
// the connection may carry another request.
func (w *response) finish() bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		_ = w.commit(true)
	}
	if w.chunked {
		w.c.bw.WriteString("0\r\n\r\n")
	}
	if w.length >= 0 && w.written < w.length && !w.noBody {
		// Fewer bytes than announced: only closing tells the client.
		w.closeAfter = true
	}
	return w.flush() == nil && !w.failed && !w.closeAfter
}

// isLength reports whether v is the Content-Length n, written as clients
// parse it.
func isLength(v string, n int64) bool {
	m, err := strconv.ParseUint(v, 10, 63)
	return err == nil && int64(m) == n
}

// validName reports whether k is an HTTP token.
func validName(k string) bool { return k != "" && alnumOr(k, "!#$%&'*+-.^_`|~") }

// alnumOr reports whether every byte of s is an ASCII letter or digit, or
// one of extra.
func alnumOr[T string | []byte](s T, extra string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case strings.IndexByte(extra, b) >= 0:
		default:
			return false
		}
	}
	return true
}

// headerValue replaces CR, LF and NUL with spaces and trims.
func headerValue(v string) string {
	if strings.ContainsAny(v, "\r\n\x00") {
		v = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == 0 {
				return ' '
			}
			return r
		}, v)
	}
	return strings.TrimSpace(v)
}

// hasToken reports whether a comma-separated header value lists token.
func hasToken(v, token string) bool {
	for part := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(part), token) {
			return true
		}
	}
	return false
}
