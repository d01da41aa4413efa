package spapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spgate/spgate/operations"
)

// ErrCallArgs is wrapped by every error of ParseCall: the words naming the
// call are wrong (no such operation, a missing path parameter, …), not
// anything Amazon said.
var ErrCallArgs = errors.New("bad call arguments")

// callArgsErr is an error of ParseCall.
func callArgsErr(format string, a ...any) error {
	return &callArgsError{msg: fmt.Sprintf(format, a...)}
}

type callArgsError struct{ msg string }

func (e *callArgsError) Error() string        { return e.msg }
func (e *callArgsError) Is(target error) bool { return target == ErrCallArgs }

// ParseCall turns the words of a raw call into a Call: an operationId
// (getOrders) or a METHOD and PATH (GET /orders/v0/orders?…), then
// key=value arguments that fill the path's placeholders first and become
// query parameters otherwise (a repeated key gives several values). api
// (orders/v0, or a version alone) chooses among the APIs an operationId
// exists in; without it PreferredOperation chooses, and note says which it
// chose and why. ParseCall needs no network and no vault; its errors wrap
// ErrCallArgs.
func ParseCall(args []string, api string) (call Call, note string, err error) {
	if len(args) == 0 {
		return Call{}, "", callArgsErr("name an operation: an operationId or METHOD PATH")
	}
	call = Call{PathParams: map[string]string{}, Query: url.Values{}}
	rest := args[1:]
	if len(args) >= 2 && isHTTPMethod(args[0]) && strings.HasPrefix(args[1], "/") {
		if err := call.resolvePath(args[0], args[1]); err != nil {
			return Call{}, "", err
		}
		rest = args[2:]
	} else if call.Operation, note, err = resolveID(args[0], api); err != nil {
		return Call{}, "", err
	}
	if err := call.fill(rest); err != nil {
		return Call{}, "", err
	}
	return call, note, nil
}

// resolvePath sets the operation, path parameters and query of METHOD PATH.
func (c *Call) resolvePath(method, path string) error {
	method = strings.ToUpper(method)
	u, err := url.Parse(path)
	if err != nil {
		return callArgsErr("path %q is not a URL path: %v", path, err)
	}
	op, p, ok := operations.Lookup(method, u.Path)
	if !ok {
		return callArgsErr("%s %s is no SP-API operation: check the path against the API's reference (e.g. GET /orders/v0/orders)", method, u.Path)
	}
	c.Operation, c.PathParams = op, p
	for k, vs := range u.Query() {
		c.Query[k] = append(c.Query[k], vs...)
	}
	return nil
}

// resolveID finds the operation called id, in api when given.
func resolveID(id, api string) (*operations.Operation, string, error) {
	if strings.HasPrefix(id, "/") {
		return nil, "", callArgsErr("a path needs its method first: spgate call GET %s", id)
	}
	found := operations.Find(id)
	if api != "" {
		var keep []*operations.Operation
		for _, o := range found {
			if o.API+"/"+o.Version == api || o.Version == api {
				keep = append(keep, o)
			}
		}
		if len(keep) == 0 && len(found) > 0 {
			return nil, "", callArgsErr("%s is not in %s; it is in: %s", id, api, choices(found))
		}
		found = keep
	}
	switch len(found) {
	case 0:
		return nil, "", callArgsErr("no SP-API operation is called %q (operationIds are case-sensitive, e.g. getOrders)", id)
	case 1:
		return found[0], "", nil
	}
	op := PreferredOperation(found)
	if op == nil {
		return nil, "", callArgsErr("%s exists in several APIs; choose one with --api: %s", id, choices(found))
	}
	note := fmt.Sprintf("%s is in several APIs; calling %s/%s (%s %s), %s; choose another with --api: %s",
		id, op.API, op.Version, op.Method, op.Path, whyPreferred(op, found), choices(others(found, op)))
	return op, note, nil
}

// fill puts key=value arguments into the path's empty placeholders, the
// rest into the query, and checks that every placeholder has a value.
func (c *Call) fill(args []string) error {
	placeholders := pathParams(c.Operation.Path)
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return callArgsErr("argument %q is not key=value", kv)
		}
		if _, isPath := placeholders[k]; isPath && c.PathParams[k] == "" {
			c.PathParams[k] = v
			continue
		}
		c.Query.Add(k, v)
	}
	for p := range placeholders {
		if c.PathParams[p] == "" {
			return callArgsErr("%s needs the path parameter %s: add %s=…", c.Operation.ID, p, p)
		}
	}
	return nil
}

// PreferredOperation picks, among the APIs an operationId exists in, the
// one a seller's app calls, or nil when that is still a matter of choice:
//   - vendor APIs (vendor-…) are for Vendor Central accounts, and the vault
//     holds Seller Central selling partners, so they drop out when another
//     API remains;
//   - of several versions of one API, the newest: Amazon deprecates the
//     older one (Orders v0 is marked deprecated in its model; Listings Items
//     2020-09-01 and Catalog Items 2020-12-01 were retired).
//
// getOrders resolves to orders/v0, putListingsItem to listings-items
// 2021-08-01; getOrder stays ambiguous (Orders or Fulfillment Outbound).
func PreferredOperation(found []*operations.Operation) *operations.Operation {
	var keep []*operations.Operation
	for _, o := range found {
		if !isVendorAPI(o.API) {
			keep = append(keep, o)
		}
	}
	if len(keep) == 0 {
		keep = found
	}
	newest := map[string]*operations.Operation{}
	var apis []string
	for _, o := range keep {
		cur, ok := newest[o.API]
		if !ok {
			apis = append(apis, o.API)
		}
		if !ok || versionNewer(o.Version, cur.Version) {
			newest[o.API] = o
		}
	}
	if len(apis) != 1 {
		return nil
	}
	op := newest[apis[0]]
	for _, o := range keep {
		if o != op && o.API == op.API && o.Version == op.Version {
			return nil // the same id twice in one version: only the path tells
		}
	}
	return op
}

// whyPreferred says in a few words why PreferredOperation chose op.
func whyPreferred(op *operations.Operation, found []*operations.Operation) string {
	var why []string
	for _, o := range found {
		if isVendorAPI(o.API) && !isVendorAPI(op.API) {
			why = append(why, "the only one for seller accounts (vendor APIs are for Vendor Central)")
			break
		}
	}
	for _, o := range found {
		if o.API == op.API && o != op {
			why = append(why, "its newest version")
			break
		}
	}
	return strings.Join(why, " and ")
}

func others(found []*operations.Operation, op *operations.Operation) []*operations.Operation {
	var out []*operations.Operation
	for _, o := range found {
		if o != op {
			out = append(out, o)
		}
	}
	return out
}

func isVendorAPI(api string) bool { return strings.HasPrefix(api, "vendor-") }

// versionNewer reports whether API version a is newer than b: dated
// versions (2021-08-01) by date, v-numbers (v0, v1) by number, and any
// dated version newer than a v-number.
func versionNewer(a, b string) bool {
	va, aIsV := strings.CutPrefix(a, "v")
	vb, bIsV := strings.CutPrefix(b, "v")
	switch {
	case aIsV && bIsV:
		na, ea := strconv.Atoi(va)
		nb, eb := strconv.Atoi(vb)
		if ea == nil && eb == nil {
			return na > nb
		}
		return a > b
	case aIsV != bIsV:
		return bIsV // a is dated, b is a v-number
	}
	return a > b
}

func choices(ops []*operations.Operation) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = fmt.Sprintf("--api %s/%s (%s %s)", o.API, o.Version, o.Method, o.Path)
	}
	return strings.Join(s, ", ")
}

func pathParams(tmpl string) map[string]struct{} {
	out := map[string]struct{}{}
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			return out
		}
		out[tmpl[i+1:i+j]] = struct{}{}
		tmpl = tmpl[i+j+1:]
	}
}

func isHTTPMethod(s string) bool {
	switch strings.ToUpper(s) {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead:
		return true
	}
	return false
}
