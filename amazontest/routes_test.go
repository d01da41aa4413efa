package amazontest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestRoutingSharesNoCodeWithTheClient reads the package's source (tests
// included): it imports nothing of the client side, and of the operations
// table it uses only data (All, Operation) — never Lookup, LookupEscaped,
// Find, ByID or Operation.Match, the client's path resolution.
func TestRoutingSharesNoCodeWithTheClient(t *testing.T) {
	const module = "github.com/spgate/spgate/"
	allowedImports := []string{"clock", "secret", "operations", "internal/modelschema", "internal/testenv", "internal/mototest"}
	allowedOps := []string{"All", "Operation"}
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources: %v", err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		opsName := ""
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			rest, ours := strings.CutPrefix(p, module)
			if !ours {
				continue
			}
			if !slices.Contains(allowedImports, rest) {
				t.Errorf("%s imports %s: the emulator shares no code with the client side", name, p)
			}
			if rest == "operations" {
				opsName = "operations"
				if imp.Name != nil {
					opsName = imp.Name.Name
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && opsName != "" && id.Name == opsName && !slices.Contains(allowedOps, sel.Sel.Name) {
				t.Errorf("%s: uses operations.%s; the emulator routes with its own table (routes.go) and reads only the table's data", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			switch sel.Sel.Name {
			case "Match", "Lookup", "LookupEscaped":
				t.Errorf("%s: calls .%s, the operations table's path matching; use emulatorRoutes", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}

// TestRoutesAgreeWithModels compares the hand-written routes with the
// operations table generated from the models: two sources written
// independently must agree. Every route has a handler and every handler a
// route, and every operation of the models can be told from an unknown
// path.
func TestRoutesAgreeWithModels(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range routes {
		if seen[r.key] {
			t.Errorf("route %s listed twice", r.key)
		}
		seen[r.key] = true
		op := tableOp(r.key)
		if op == nil {
			t.Errorf("route %s: the operations table has no such operation", r.key)
			continue
		}
		if got := op.Method + " " + op.Path; got != r.pattern {
			t.Errorf("route %s is %q; the model says %q", r.key, r.pattern, got)
		}
	}
	handlers := operationHandlers()
	maps.Copy(handlers, coreHandlers())
	for k := range handlers {
		if !seen[k] {
			t.Errorf("handler %s has no route", k)
		}
	}
	for k := range seen {
		if handlers[k] == nil {
			t.Errorf("route %s has no handler", k)
		}
	}
	sr := emulatorRoutes()
	if len(sr.missing) > 0 || len(sr.unroutable) > 0 {
		t.Errorf("routes without a rate plan: %q; model operations the router cannot register: %q", sr.missing, sr.unroutable)
	}
}

// TestRouting resolves raw request targets: matching is on the escaped path
// one segment at a time, literal segments beat placeholders, methods match
// exactly, and non-canonical paths address nothing.
func TestRouting(t *testing.T) {
	tests := []struct {
		method, target string
		key            string // "" for no operation
		implemented    bool
		params         map[string]string
	}{
		{"GET", "/sellers/v1/account", "sellers/v1/getAccount", true, nil},
		{"GET", "/orders/v0/orders/123-1234567-1234567", "orders/v0/getOrder", true, map[string]string{"orderId": "123-1234567-1234567"}},
		{"GET", "/orders/v0/orders/123-1234567-1234567/orderItems/buyerInfo", "orders/v0/getOrderItemsBuyerInfo", true, map[string]string{"orderId": "123-1234567-1234567"}},
		{"GET", "/orders/v0/orders/%7BorderId%7D/address", "orders/v0/getOrderAddress", true, map[string]string{"orderId": "{orderId}"}},
		{"GET", "/orders/2026-01-01/orders?createdAfter=x", "orders/2026-01-01/searchOrders", true, nil},
		{"GET", "/listings/2021-08-01/items/A1SELLER/AB%2F12", "listings-items/2021-08-01/getListingsItem", true, map[string]string{"sellerId": "A1SELLER", "sku": "AB/12"}},
		{"PUT", "/listings/2021-08-01/items/A1SELLER/A+B", "listings-items/2021-08-01/putListingsItem", true, map[string]string{"sellerId": "A1SELLER", "sku": "A+B"}},
		{"PATCH", "/listings/2021-08-01/items/A1SELLER/A%2BB%20C", "listings-items/2021-08-01/patchListingsItem", true, map[string]string{"sellerId": "A1SELLER", "sku": "A+B C"}},
		{"DELETE", "/listings/2021-08-01/items/A1SELLER/50%2525", "listings-items/2021-08-01/deleteListingsItem", true, map[string]string{"sellerId": "A1SELLER", "sku": "50%25"}},
		{"GET", "/listings/2021-08-01/items/A1%2FSELLER/%E5%95%86%E5%93%81", "listings-items/2021-08-01/getListingsItem", true, map[string]string{"sellerId": "A1/SELLER", "sku": "商品"}},
		{"GET", "/listings/2021-08-01/items/A1SELLER/%2F", "listings-items/2021-08-01/getListingsItem", true, map[string]string{"sellerId": "A1SELLER", "sku": "/"}},
		{"GET", "/listings/2021-08-01/items/A1SELLER/%2F%2F", "listings-items/2021-08-01/getListingsItem", true, map[string]string{"sellerId": "A1SELLER", "sku": "//"}},
		{"GET", "/listings/2021-08-01/items/A1SELLER/%2E%2E", "listings-items/2021-08-01/getListingsItem", true, map[string]string{"sellerId": "A1SELLER", "sku": ".."}},
		{"GET", "/listings/2021-08-01/%69tems/A1SELLER/X", "listings-items/2021-08-01/getListingsItem", true, map[string]string{"sellerId": "A1SELLER", "sku": "X"}},
		// Operations of the models the emulator does not implement.
		{"GET", "/listings/2021-08-01/items/A1SELLER", "listings-items/2021-08-01/searchListingsItems", false, map[string]string{"sellerId": "A1SELLER"}},
		{"PUT", "/listings/2020-09-01/items/A1SELLER/AB%2F12", "listings-items/2020-09-01/putListingsItem", false, map[string]string{"sellerId": "A1SELLER", "sku": "AB/12"}},
		{"GET", "/fba/inventory/v1/summaries", "fba-inventory/v1/getInventorySummaries", false, nil},
		// Not SP-API operations.
		{"GET", "/listings/2021-08-01/items/A1SELLER/AB/12", "", false, nil},
		{"GET", "/listings/2021-08-01/items/A1SELLER/", "", false, nil},
		{"GET", "/listings/2021-08-01/items//X", "", false, nil},
		{"GET", "/listings/2021-08-01/items/A1SELLER/.", "", false, nil},
		{"GET", "/listings/2021-08-01/items/A1SELLER/../X", "", false, nil},
		{"GET", "/listings/2020-09-01/items/A1SELLER/X", "", false, nil},
		{"HEAD", "/sellers/v1/account", "", false, nil},
		{"POST", "/sellers/v1/account", "", false, nil},
		{"get", "/sellers/v1/account", "", false, nil},
		{"GET", "/sellers/v1/account/", "", false, nil},
		{"GET", "//sellers/v1/account", "", false, nil},
		{"GET", "/nope/v1/things", "", false, nil},
		{"GET", "/", "", false, nil},
	}
	sr := emulatorRoutes()
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			got, ok := sr.resolve(r)
			if tc.key == "" {
				if ok {
					t.Fatalf("resolved to %s, want no operation", got.op.Key())
				}
				return
			}
			if !ok {
				t.Fatalf("no operation, want %s", tc.key)
			}
			if got.op.Key() != tc.key || got.implemented != tc.implemented || !maps.Equal(got.params, tc.params) {
				t.Fatalf("got %s implemented=%v params=%q, want %s implemented=%v params=%q", got.op.Key(), got.implemented, got.params, tc.key, tc.implemented, tc.params)
			}
		})
	}
}

// TestUnknownAndUnimplementedOverHTTP: what Amazon answers a path it does
// not have (403 MissingAuthenticationToken, before any token check) and an
// operation the emulator does not implement (403 Unauthorized after the
// token check, with the operation in x-amzntest-unimplemented).
func TestUnknownAndUnimplementedOverHTTP(t *testing.T) {
	e := newEmu(t)
	tok := e.sellerToken(0)
	seller := e.demo.Sellers[0].ID
	for _, tc := range []struct {
		method, path, token string
		status              int
		code, unimpl        string
	}{
		{"GET", listingsBase + seller + "/AB/12", tok, 403, "MissingAuthenticationToken", ""},
		{"GET", listingsBase + seller + "/AB/12", "", 403, "MissingAuthenticationToken", ""},
		{"HEAD", "/sellers/v1/account", tok, 403, "", ""},
		{"GET", listingsBase + seller, tok, 403, "Unauthorized", "listings-items/2021-08-01/searchListingsItems"},
		{"GET", listingsBase + seller, "", 403, "Unauthorized", ""},
		{"GET", listingsBase + seller + "/AB%2F12", tok, 404, "NOT_FOUND", ""},
	} {
		r := e.raw(tc.method, tc.path, "marketplaceIds=ATVPDKIKX0DER", tc.token, "")
		code, _ := r.errCode()
		if r.status != tc.status || code != tc.code || r.hdr.Get(headerUnimpl) != tc.unimpl {
			t.Errorf("%s %s (token %v): %d %s %q %s, want %d %s %q", tc.method, tc.path, tc.token != "", r.status, code, r.hdr.Get(headerUnimpl), r.body, tc.status, tc.code, tc.unimpl)
		}
	}
}

// TestRouterPrecedence: among templates that fit, a literal at the first
// position where they differ wins; duplicates and malformed templates are
// refused.
func TestRouterPrecedence(t *testing.T) {
	rt := newRouter()
	for _, tmpl := range []string{"/a/{x}/{y}", "/a/{x}/b", "/a/b/{y}", "/a/b/c%2Fd"} {
		if !rt.add(&entry{method: "GET", tmpl: tmpl}) {
			t.Fatalf("add %s refused", tmpl)
		}
	}
	for _, tmpl := range []string{"/a/{z}/b", "/a//b", "/a/./b", "/a/b/", "a/b", "/a/{x}/{x}", "/a/x{y}/b", "/"} {
		if rt.add(&entry{method: "GET", tmpl: tmpl}) {
			t.Errorf("add %s accepted", tmpl)
		}
	}
	for target, want := range map[string]string{
		"/a/b/b":       "/a/b/{y}",
		"/a/x/b":       "/a/{x}/b",
		"/a/x/y":       "/a/{x}/{y}",
		"/a/b/c%2Fd":   "/a/b/c%2Fd",
		"/a/b/c%2fd":   "/a/b/c%2Fd",
		"/a/b%2Fc/d":   "/a/{x}/{y}",
		"/a/%2F/b":     "/a/{x}/b",
		"/a/%2F/%2F":   "/a/{x}/{y}",
		"/a/b/c/d":     "",
		"/a/b":         "",
		"/a/b/c%2F":    "/a/b/{y}",
		"/a/b/%63%2Fd": "/a/b/c%2Fd",
	} {
		e, _, ok := rt.match(httptest.NewRequest("GET", target, nil))
		got := ""
		if ok {
			got = e.tmpl
		}
		if got != want {
			t.Errorf("%s matched %q, want %q", target, got, want)
		}
	}
}
