package amazontest

import (
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/spgate/spgate/operations"
)

// Routing. The emulator finds the operation a request addresses with its
// own table of the paths it implements (routes below, written from Amazon's
// API references) and its own matcher. It shares no lookup code with the
// client side: if both sides resolved paths with the same code, a mistake
// in it would pass every test. From the operations table it reads only
// data: each implemented operation's rate plan and grant type, and the
// method and path template of the operations it does not implement, so
// that those are told apart from paths Amazon does not have (see
// serveSPAPI).
//
// Matching works on the escaped path, one segment at a time: a placeholder
// takes one segment, decoded exactly once, so an SKU sent as AB%2F12 is
// "AB/12" and never two segments, "A%2BB" and "A+B" are both "A+B" (a '+'
// in a path is a plus, not a space), "50%2525" is "50%25", and "%2F" alone
// is the SKU "/". Literal segments are compared decoded and win over
// placeholders; methods match exactly (GET does not take HEAD). Paths that
// are not in canonical form (empty, "." or ".." segments, a trailing
// slash) address nothing.
//
// The patterns use net/http's ServeMux syntax, but ServeMux itself is not
// the matcher: it cannot give a placeholder a segment that decodes to
// exactly "/" (it takes that for a trailing slash), and it answers
// non-canonical paths with redirects.

// route is one operation the emulator implements.
type route struct {
	// pattern is the method and path template ("GET /a/{b}"); the
	// placeholders carry the models' parameter names.
	pattern string
	// key names the operation ("api/version/operationId"): its handler in
	// Server.handlers and its rate plan in the operations table.
	key string
}

// routes lists every operation the emulator implements.
var routes = []route{
	{"GET /sellers/v1/marketplaceParticipations", "sellers/v1/getMarketplaceParticipations"},
	{"GET /sellers/v1/account", "sellers/v1/getAccount"},

	{"GET /orders/v0/orders", "orders/v0/getOrders"},
	{"GET /orders/v0/orders/{orderId}", "orders/v0/getOrder"},
	{"GET /orders/v0/orders/{orderId}/orderItems", "orders/v0/getOrderItems"},
	{"GET /orders/v0/orders/{orderId}/address", "orders/v0/getOrderAddress"},
	{"GET /orders/v0/orders/{orderId}/buyerInfo", "orders/v0/getOrderBuyerInfo"},
	{"GET /orders/v0/orders/{orderId}/orderItems/buyerInfo", "orders/v0/getOrderItemsBuyerInfo"},

	{"GET /orders/2026-01-01/orders", "orders/2026-01-01/searchOrders"},
	{"GET /orders/2026-01-01/orders/{orderId}", "orders/2026-01-01/getOrder"},

	{"POST /tokens/2021-03-01/restrictedDataToken", "tokens/2021-03-01/createRestrictedDataToken"},

	{"POST /applications/2023-11-30/clientSecret", "application-management/2023-11-30/rotateApplicationClientSecret"},

	{"GET /listings/2021-08-01/items/{sellerId}/{sku}", "listings-items/2021-08-01/getListingsItem"},
	{"PUT /listings/2021-08-01/items/{sellerId}/{sku}", "listings-items/2021-08-01/putListingsItem"},
	{"PATCH /listings/2021-08-01/items/{sellerId}/{sku}", "listings-items/2021-08-01/patchListingsItem"},
	{"DELETE /listings/2021-08-01/items/{sellerId}/{sku}", "listings-items/2021-08-01/deleteListingsItem"},
}

// resolved is what routing found for a request.
type resolved struct {
	op *operations.Operation
	// tmpl is the path template that matched, e.g.
	// "/orders/v0/orders/{orderId}/address".
	tmpl string
	// params are the placeholders' values, each decoded once.
	params map[string]string
	// implemented is false for an operation of the models that the
	// emulator has no route for.
	implemented bool
}

// entry is a registered pattern: the operation and its segments.
type entry struct {
	op          *operations.Operation
	method      string
	tmpl        string
	implemented bool

	segs  []string // literal segments decoded; "" marks a placeholder
	names []string // placeholder names, in order
	wild  int      // number of placeholders
}

// router matches requests against its entries.
type router struct {
	byShape map[string][]*entry // "METHOD n" (n segments) → entries
}

func newRouter() *router { return &router{byShape: map[string][]*entry{}} }

func shape(method string, n int) string { return method + " " + strconv.Itoa(n) }

// add registers e. It reports false when the template is not an absolute
// canonical path of literal and {name} segments, or when an entry of the
// same method already matches exactly the same paths.
func (rt *router) add(e *entry) bool {
	if !canonicalPath(e.tmpl) || e.tmpl == "/" {
		return false
	}
	for _, seg := range strings.Split(e.tmpl[1:], "/") {
		if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
			name := seg[1 : len(seg)-1]
			if strings.ContainsAny(name, "{}") || slices.Contains(e.names, name) {
				return false
			}
			e.segs = append(e.segs, "")
			e.names = append(e.names, name)
			e.wild++
			continue
		}
		lit, err := url.PathUnescape(seg)
		if err != nil || lit == "" || strings.ContainsAny(seg, "{}") {
			return false
		}
		e.segs = append(e.segs, lit)
	}
	k := shape(e.method, len(e.segs))
	for _, o := range rt.byShape[k] {
		if slices.Equal(o.segs, e.segs) {
			return false
		}
	}
	rt.byShape[k] = append(rt.byShape[k], e)
	return true
}

// match finds the entry r addresses and its placeholder values. When
// several match, the one with a literal at the first position where they
// differ wins.
func (rt *router) match(r *http.Request) (*entry, map[string]string, bool) {
	if r.URL == nil {
		return nil, nil, false
	}
	p := r.URL.EscapedPath()
	if !canonicalPath(p) || p == "/" {
		return nil, nil, false
	}
	raw := strings.Split(p[1:], "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		d, err := url.PathUnescape(s)
		if err != nil {
			return nil, nil, false
		}
		segs[i] = d
	}
	var best *entry
	for _, e := range rt.byShape[shape(r.Method, len(segs))] {
		if e.matches(segs) && (best == nil || e.moreSpecific(best)) {
			best = e
		}
	}
	if best == nil {
		return nil, nil, false
	}
	var params map[string]string
	if best.wild > 0 {
		params = make(map[string]string, best.wild)
		j := 0
		for i, s := range best.segs {
			if s == "" {
				params[best.names[j]] = segs[i]
				j++
			}
		}
	}
	return best, params, true
}

func (e *entry) matches(segs []string) bool {
	for i, s := range e.segs {
		if s != "" && s != segs[i] {
			return false
		}
	}
	return true
}

// moreSpecific reports whether e has a literal at the first position where
// e and o differ in kind.
func (e *entry) moreSpecific(o *entry) bool {
	for i := range e.segs {
		if (e.segs[i] == "") != (o.segs[i] == "") {
			return e.segs[i] != ""
		}
	}
	return false
}

// canonicalPath reports whether p is absolute and has no empty, "." or
// ".." segments (an escaped "%2E" is an ordinary character).
func canonicalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	return path.Clean(p) == p
}

// spRoutes is the emulator's routing: the implemented routes, and every
// operation of the models behind them.
type spRoutes struct {
	own   *router
	model *router
	// unroutable lists model operations the router could not register.
	unroutable []string
	// missing lists route keys the operations table lacks.
	missing []string
}

var emulatorRoutes = sync.OnceValue(func() *spRoutes {
	byKey := make(map[string]*operations.Operation, len(operations.All))
	for i := range operations.All {
		op := &operations.All[i]
		byKey[op.Key()] = op
	}
	sr := &spRoutes{own: newRouter(), model: newRouter()}
	for _, r := range routes {
		method, tmpl, _ := strings.Cut(r.pattern, " ")
		op := byKey[r.key]
		if op == nil {
			// No rate plan to apply: refuse the path rather than guess.
			sr.missing = append(sr.missing, r.key)
			continue
		}
		if !sr.own.add(&entry{op: op, method: method, tmpl: tmpl, implemented: true}) {
			panic("amazontest: route " + r.pattern + " is not a valid, unique pattern")
		}
	}
	for i := range operations.All {
		op := &operations.All[i]
		if !sr.model.add(&entry{op: op, method: op.Method, tmpl: op.Path}) {
			sr.unroutable = append(sr.unroutable, op.Key())
		}
	}
	return sr
})

// resolve finds the operation r addresses: an implemented route first, then
// any operation of the models (implemented=false). ok is false for a path
// that is no SP-API operation.
func (sr *spRoutes) resolve(r *http.Request) (resolved, bool) {
	if e, params, ok := sr.own.match(r); ok {
		return resolved{op: e.op, tmpl: e.tmpl, params: params, implemented: true}, true
	}
	if e, params, ok := sr.model.match(r); ok {
		return resolved{op: e.op, tmpl: e.tmpl, params: params}, true
	}
	return resolved{}, false
}
