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
	if op, _, ok := operations.LookupEscaped(method, t.encodedPath()); ok {
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

// encodedPath is the path to send: each decoded segment escaped afresh.
func (t target) encodedPath() string {
	var b strings.Builder
	for _, s := range t.segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// encode is the path and query to send: each segment and each query name
// and value escaped afresh.
func (t target) encode() string {
	var b strings.Builder
	b.WriteString(t.encodedPath())
	if len(t.query) > 0 {
		b.WriteByte('?')
		b.WriteString(t.query.Encode())
	}
	return b.String()
}

// displayPath is the decoded path, for messages.
func (t target) displayPath() string {
	return "/" + strings.Join(t.segments, "/")
}
