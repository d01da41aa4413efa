// Package operations holds the facts about every Selling Partner API
// operation, generated from Amazon's official models: method, path template,
// default rate limit, whether it is grantless or restricted.
//
// It is the only code shared by the client side (spapi and friends) and the
// emulator (amazontest): both read the same facts, neither shares the other's
// logic.
package operations

//go:generate go run ./internal/gen -models ../../shared/sp-api-models -out table.go

import (
	"net/url"
	"strings"
	"sync"
)

// Operation describes one SP-API operation as the official model states it.
type Operation struct {
	API     string // model family, e.g. "orders", "tokens", "sellers"
	Version string // e.g. "v0", "2021-03-01"
	ID      string // operationId, e.g. "getOrders"
	Method  string // upper-case HTTP method
	Path    string // path template, e.g. "/orders/v0/orders/{orderId}"

	// Rate is the default requests per second from the model's usage plan;
	// Burst the bucket size. RateFromModel is false when the model states no
	// usage plan and FallbackRate/FallbackBurst were used.
	Rate          float64
	Burst         int
	RateFromModel bool

	// Grantless operations take a client_credentials token of Scope instead
	// of a seller's token.
	Grantless bool
	Scope     string

	// Restricted operations return PII only with a Restricted Data Token.
	// DataElements lists the dataElements the RDT may name for it (empty when
	// the operation takes none).
	Restricted   bool
	DataElements []string
}

// Fallback usage plan for operations whose model states none. Amazon's most
// conservative published plan for comparable operations.
const (
	FallbackRate  = 0.5
	FallbackBurst = 10
)

// Key identifies an operation uniquely: "api/version/operationId".
func (o *Operation) Key() string { return o.API + "/" + o.Version + "/" + o.ID }

// Match reports whether path (no query string) fits o.Path's template and
// returns the placeholder values. Placeholders match one non-empty segment.
func (o *Operation) Match(method, path string) (map[string]string, bool) {
	if !strings.EqualFold(method, o.Method) {
		return nil, false
	}
	return matchTemplate(o.Path, path)
}

func matchTemplate(tmpl, path string) (map[string]string, bool) {
	var params map[string]string
	for {
		ti := strings.IndexByte(tmpl, '/')
		pi := strings.IndexByte(path, '/')
		if (ti < 0) != (pi < 0) {
			return nil, false
		}
		var ts, ps string
		if ti < 0 {
			ts, ps = tmpl, path
		} else {
			ts, ps = tmpl[:ti], path[:pi]
		}
		if len(ts) > 2 && ts[0] == '{' && ts[len(ts)-1] == '}' {
			if ps == "" {
				return nil, false
			}
			if params == nil {
				params = make(map[string]string, 2)
			}
			params[ts[1:len(ts)-1]] = ps
		} else if ts != ps {
			return nil, false
		}
		if ti < 0 {
			return params, true
		}
		tmpl, path = tmpl[ti+1:], path[pi+1:]
	}
}

// Lookup finds the operation a request addresses. Literal path segments win
// over placeholders, so "/orders/v0/orders/{orderId}/orderItems/buyerInfo"
// never resolves to a template with a placeholder in that position.
func Lookup(method, path string) (*Operation, map[string]string, bool) {
	idx := index()
	var best *Operation
	var bestParams map[string]string
	try := func(i int) {
		op := &All[i]
		params, ok := op.Match(method, path)
		if ok && (best == nil || len(params) < len(bestParams)) {
			best, bestParams = op, params
		}
	}
	for _, i := range idx.byPrefix[prefix(strings.ToUpper(method), path)] {
		try(i)
	}
	for _, i := range idx.other {
		try(i)
	}
	return best, bestParams, best != nil
}

// lookupIndex narrows Lookup to the operations sharing a request's method
// and first two path segments (the API and its version).
type lookupIndex struct {
	byPrefix map[string][]int
	other    []int // templates with a placeholder in their first two segments
}

var index = sync.OnceValue(func() *lookupIndex {
	idx := &lookupIndex{byPrefix: map[string][]int{}}
	for i, op := range All {
		p := prefix(op.Method, op.Path)
		if strings.Contains(p, "{") {
			idx.other = append(idx.other, i)
			continue
		}
		idx.byPrefix[p] = append(idx.byPrefix[p], i)
	}
	return idx
})

// prefix is "METHOD /seg1/seg2" of a path.
func prefix(method, path string) string {
	n, end := 0, len(path)
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			n++
			if n == 2 {
				end = i
				break
			}
		}
	}
	return method + " " + path[:end]
}

// ByID returns the operation with the given API family, version and id.
func ByID(api, version, id string) (*Operation, bool) {
	for i := range All {
		op := &All[i]
		if op.API == api && op.Version == version && op.ID == id {
			return op, true
		}
	}
	return nil, false
}

// MustByID is ByID for the operations a package calls by name: their
// absence means the generated table is stale, a build defect, so it panics
// with the fix.
func MustByID(api, version, id string) *Operation {
	op, ok := ByID(api, version, id)
	if !ok {
		panic("operations: the table lacks " + api + "/" + version + "/" + id + "; run go generate ./operations")
	}
	return op
}

// Find returns every operation with this operationId (ids repeat across
// versions, e.g. Orders v0 and 2026-01-01 both have getOrder).
func Find(id string) []*Operation {
	var out []*Operation
	for i := range All {
		if All[i].ID == id {
			out = append(out, &All[i])
		}
	}
	return out
}

// LookupEscaped finds the operation a request addresses from its escaped
// path (url.URL.EscapedPath): each segment is decoded on its own, so an
// encoded '/' in a value (a SKU such as AB%2F12) stays within its segment,
// where Lookup on the decoded path would see two. The placeholder values
// returned are decoded. ok is false for an invalid escape, too.
func LookupEscaped(method, escapedPath string) (op *Operation, params map[string]string, ok bool) {
	if !strings.HasPrefix(escapedPath, "/") {
		return nil, nil, false
	}
	parts := strings.Split(escapedPath[1:], "/")
	lookup := make([]string, len(parts))
	decoded := make([]string, len(parts))
	for i, p := range parts {
		seg, err := url.PathUnescape(p)
		if err != nil {
			return nil, nil, false
		}
		decoded[i], lookup[i] = seg, seg
		if strings.Contains(seg, "/") {
			// Only a placeholder can take it; no literal holds this byte.
			lookup[i] = slashPlaceholder
		}
	}
	op, params, ok = Lookup(method, "/"+strings.Join(lookup, "/"))
	if !ok {
		return nil, nil, false
	}
	// Placeholder values from the decoded segments (the stand-in removed).
	tmpl := strings.Split(op.Path[1:], "/")
	for i, ts := range tmpl {
		if len(ts) > 2 && ts[0] == '{' && ts[len(ts)-1] == '}' && i < len(decoded) {
			params[ts[1:len(ts)-1]] = decoded[i]
		}
	}
	return op, params, true
}

// slashPlaceholder stands in for a decoded segment holding a '/'.
const slashPlaceholder = "\x00"
