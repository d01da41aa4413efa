package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/spgate/spgate/operations"
)

// target is a request's path and query decoded as Amazon decodes them. The
// gateway decides on this form and forwards its own encoding of it, never
// the caller's raw string, so what was checked is what is sent.
type target struct {
	op       *operations.Operation
	segments []string // decoded path segments
	query    url.Values
	path     string // the path to send: each segment escaped afresh
	rawQuery string // the query to send: each name and value escaped afresh
}

// Limits on what a caller may send; far above any SP-API call.
const (
	maxSegments    = 32
	maxQueryParams = 64
)

// parseTarget decodes u's path segment by segment and its query, refusing
// what Amazon and the gateway could read differently: invalid escapes,
// empty, "." and ".." segments, control characters and invalid UTF-8.
func parseTarget(method string, u *url.URL) (target, error) {
	var t target
	raw := u.EscapedPath()
	if !strings.HasPrefix(raw, "/") || raw == "/" {
		return t, errors.New("the path must be an SP-API path such as /orders/v0/orders")
	}
	parts := strings.Split(raw[1:], "/")
	if len(parts) > maxSegments {
		return t, fmt.Errorf("the path has more than %d segments", maxSegments)
	}
	t.segments = make([]string, 0, len(parts))
	for i, p := range parts {
		seg, err := url.PathUnescape(p)
		switch {
		case err != nil:
			return t, fmt.Errorf("path segment %d has an invalid %%-escape", i+1)
		case seg == "":
			return t, errors.New("the path has an empty segment (//)")
		case seg == "." || seg == "..":
			return t, errors.New("the path has a . or .. segment")
		case !cleanText(seg):
			return t, fmt.Errorf("path segment %d holds a control character or invalid UTF-8", i+1)
		}
		t.segments = append(t.segments, seg)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return t, errors.New("the query string is malformed (an invalid %-escape or a ';')")
	}
	if len(q) > maxQueryParams {
		return t, fmt.Errorf("the query has more than %d parameters", maxQueryParams)
	}
	for name, vals := range q {
		if name == "" || !cleanText(name) {
			return t, errors.New("a query parameter name is empty or holds a control character or invalid UTF-8")
		}
		for _, v := range vals {
			if !cleanText(v) {
				return t, fmt.Errorf("query parameter %q holds a control character or invalid UTF-8", clip(name, 40))
			}
		}
	}
	t.query = q
	t.path = escapeSegments(t.segments, len(raw))
	if len(q) > 0 {
		t.rawQuery = q.Encode()
	}
	if op, _, ok := operations.LookupEscaped(method, t.path); ok {
		t.op = op
	}
	return t, nil
}

// cleanText reports whether s is valid UTF-8 without control characters.
func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// escapeSegments is the path of the decoded segments, each escaped
// afresh; size (the caller's escaped path's length) sizes the buffer.
func escapeSegments(segments []string, size int) string {
	var b strings.Builder
	b.Grow(size)
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// encode is the path and query to send, as one string.
func (t target) encode() string {
	if t.rawQuery == "" {
		return t.path
	}
	return t.path + "?" + t.rawQuery
}

// displayPath is the decoded path, for messages.
func (t target) displayPath() string {
	return "/" + strings.Join(t.segments, "/")
}
