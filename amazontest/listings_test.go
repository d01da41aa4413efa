package amazontest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spgate/spgate/internal/modelschema"
)

// reservedSKUs are SKUs real catalogues hold that must survive the trip
// through a URL path: a slash, a space, a fragment mark, a percent sign, a
// plus, non-ASCII letters.
var reservedSKUs = []string{"AB/12", "A B", "A#1", "50%", "A+B", "Größe-ß", "商品"}

const listingsBase = "/listings/2021-08-01/items/"

// strictEscape percent-encodes every byte but RFC 3986's unreserved
// characters, so "A+B" travels as A%2BB, where url.PathEscape leaves the '+'.
func strictEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// raw sends method to the NA listener with the escaped path put on the
// wire byte for byte (URL.Opaque), so no client library re-encodes it.
func (e *emu) raw(method, escapedPath, query, token, body string, hdr ...string) hresp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.s.URL+"/", rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.URL.Opaque, req.URL.RawQuery = escapedPath, query
	req.Header.Set("x-amz-access-token", token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, escapedPath, err)
	}
	defer hr.Body.Close()
	b, err := io.ReadAll(hr.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return hresp{hr.StatusCode, b, hr.Header}
}

// listingsModel loads the Listings Items 2021-08-01 model, strict; nil when
// the models are absent (unless SPGATE_REQUIRE_MODELS=1).
func listingsModel(t *testing.T) *modelschema.Model {
	t.Helper()
	dir, err := modelschema.Dir()
	if err != nil {
		if os.Getenv("SPGATE_REQUIRE_MODELS") == "1" {
			t.Fatalf("SPGATE_REQUIRE_MODELS=1: %v", err)
		}
		t.Logf("answers not checked against the model: %v", err)
		return nil
	}
	m, err := modelschema.Load(filepath.Join(dir, "listings-items-api-model/listingsItems_2021-08-01.json"), modelschema.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// conform checks answers against the model and counts what it checked.
type conform struct {
	t    *testing.T
	m    *modelschema.Model
	seen map[string]int
}

func newConform(t *testing.T) *conform {
	return &conform{t: t, m: listingsModel(t), seen: map[string]int{}}
}

func (c *conform) check(opID string, r hresp) hresp {
	c.t.Helper()
	if r.status >= 500 {
		c.t.Fatalf("%s: server error %d %s", opID, r.status, r.body)
	}
	if c.m != nil {
		if err := c.m.Validate(opID, r.status, r.body); err != nil {
			c.t.Errorf("%s %d does not match the model: %v\nbody: %.600s", opID, r.status, err, r.body)
		}
	}
	c.seen[opID+"/"+http3(r.status)]++
	return r
}

func (c *conform) require(keys ...string) {
	c.t.Helper()
	if c.m == nil {
		return
	}
	for _, k := range keys {
		if c.seen[k] == 0 {
			c.t.Errorf("no answer %s was checked against the model", k)
		}
	}
}

type liSubmissionReply struct {
	SKU          string            `json:"sku"`
	Status       string            `json:"status"`
	SubmissionID string            `json:"submissionId"`
	Issues       []json.RawMessage `json:"issues"`
	Identifiers  []liIdentifiers   `json:"identifiers"`
}

type liItemReply struct {
	SKU                     string                     `json:"sku"`
	Summaries               []liSummary                `json:"summaries"`
	Attributes              map[string]json.RawMessage `json:"attributes"`
	Offers                  []liOffer                  `json:"offers"`
	FulfillmentAvailability []liFulfillment            `json:"fulfillmentAvailability"`
	ProductTypes            []liProductType            `json:"productTypes"`
}

const putBody = `{"productType":"PRODUCT","requirements":"LISTING","attributes":{
	"item_name":[{"value":"Blue mug","language_tag":"en_US","marketplace_id":"ATVPDKIKX0DER"}],
	"condition_type":[{"value":"new_new","marketplace_id":"ATVPDKIKX0DER"}],
	"purchasable_offer":[{"marketplace_id":"ATVPDKIKX0DER","currency":"USD","our_price":[{"schedule":[{"value_with_tax":12.99}]}]}],
	"fulfillment_availability":[{"fulfillment_channel_code":"DEFAULT","quantity":5}]}}`

const patchBody = `{"productType":"PRODUCT","patches":[
	{"op":"replace","path":"/attributes/item_name","value":[{"value":"Red mug","language_tag":"en_US","marketplace_id":"ATVPDKIKX0DER"}]},
	{"op":"delete","path":"/attributes/condition_type"}]}`

// TestListingsRoundTripReservedSKUs puts, reads, patches and deletes a
// listing for each reserved SKU over raw HTTP, with the SKU escaped as
// url.PathEscape does ('+' kept) and as strictly as RFC 3986 allows ('+'
// as %2B); both spell the same SKU. Every answer is checked against the
// model.
func TestListingsRoundTripReservedSKUs(t *testing.T) {
	e := newEmu(t)
	cf := newConform(t)
	seller := e.demo.Sellers[0].ID
	tok := e.sellerToken(0)
	const mkt = "marketplaceIds=ATVPDKIKX0DER"
	all := "&includedData=summaries,attributes,issues,offers,fulfillmentAvailability,procurement,relationships,productTypes"

	for _, sku := range reservedSKUs {
		t.Run(sku, func(t *testing.T) {
			cf.t = t
			loose := listingsBase + seller + "/" + url.PathEscape(sku) // as spapi's expandPath escapes
			strict := listingsBase + seller + "/" + strictEscape(sku)
			if want := map[string]string{"AB/12": "AB%2F12", "A B": "A%20B", "A#1": "A%231", "50%": "50%25", "A+B": "A+B"}[sku]; want != "" && !strings.HasSuffix(loose, "/"+want) {
				t.Fatalf("test encoding of %q is %s", sku, loose)
			}

			r := cf.check("getListingsItem", e.raw("GET", strict, mkt, tok, ""))
			if r.status != http.StatusNotFound {
				t.Fatalf("get before put: %d %s", r.status, r.body)
			}
			if code, msg := r.errCode(); code != "NOT_FOUND" || !strings.Contains(msg, "'"+sku+"'") {
				t.Errorf("404 names %q: %s %q", sku, code, msg)
			}

			r = cf.check("putListingsItem", e.raw("PUT", loose, mkt, tok, putBody))
			var sub liSubmissionReply
			mustJSON(t, r.body, &sub)
			if r.status != http.StatusOK || sub.Status != "ACCEPTED" || sub.SKU != sku || sub.SubmissionID == "" || sub.Issues == nil {
				t.Fatalf("put: %d %s", r.status, r.body)
			}
			if got := e.s.ListingSKUs(seller); !slices.Equal(got, []string{sku}) {
				t.Fatalf("stored SKUs %q, want exactly %q", got, sku)
			}

			for _, p := range []string{loose, strict} {
				r = cf.check("getListingsItem", e.raw("GET", p, mkt+all, tok, ""))
				var it liItemReply
				mustJSON(t, r.body, &it)
				if r.status != http.StatusOK || it.SKU != sku || len(it.Summaries) != 1 || it.Summaries[0].ItemName != "Blue mug" ||
					!slices.Equal(it.Summaries[0].Status, []string{"BUYABLE", "DISCOVERABLE"}) || it.Summaries[0].ConditionType != "new_new" ||
					len(it.Offers) != 1 || it.Offers[0].Price != (liMoney{"USD", "12.99"}) ||
					len(it.FulfillmentAvailability) != 1 || *it.FulfillmentAvailability[0].Quantity != 5 ||
					len(it.ProductTypes) != 1 || it.ProductTypes[0].ProductType != "PRODUCT" {
					t.Fatalf("get %s: %d %s", p, r.status, r.body)
				}
			}

			r = cf.check("patchListingsItem", e.raw("PATCH", strict, mkt, tok, patchBody))
			mustJSON(t, r.body, &sub)
			if r.status != http.StatusOK || sub.Status != "ACCEPTED" || sub.SKU != sku {
				t.Fatalf("patch: %d %s", r.status, r.body)
			}
			r = cf.check("getListingsItem", e.raw("GET", loose, mkt+"&includedData=summaries,attributes", tok, ""))
			var it liItemReply
			mustJSON(t, r.body, &it)
			if r.status != http.StatusOK || it.Summaries[0].ItemName != "Red mug" || it.Summaries[0].ConditionType != "" || it.Attributes["condition_type"] != nil {
				t.Fatalf("get after patch: %d %s", r.status, r.body)
			}

			r = cf.check("deleteListingsItem", e.raw("DELETE", loose, mkt, tok, ""))
			mustJSON(t, r.body, &sub)
			if r.status != http.StatusOK || sub.Status != "ACCEPTED" || sub.SKU != sku {
				t.Fatalf("delete: %d %s", r.status, r.body)
			}
			if got := e.s.ListingSKUs(seller); len(got) != 0 {
				t.Fatalf("SKUs left after delete: %q", got)
			}
			if r = cf.check("getListingsItem", e.raw("GET", strict, mkt, tok, "")); r.status != http.StatusNotFound {
				t.Fatalf("get after delete: %d %s", r.status, r.body)
			}
		})
	}
	cf.t = t
	cf.require("getListingsItem/200", "getListingsItem/404", "putListingsItem/200", "patchListingsItem/200", "deleteListingsItem/200")
}

// TestListingsSKUIsDecodedOnce: the path segment is decoded exactly once, so
// an escaped escape stays an escape, and a raw '/' is a segment boundary
// (no such path), not part of the SKU.
func TestListingsSKUIsDecodedOnce(t *testing.T) {
	e := newEmu(t)
	seller := e.demo.Sellers[0].ID
	tok := e.sellerToken(0)
	tests := []struct {
		segment string
		want    string // stored SKU; "" when the path addresses no operation
	}{
		{"AB%2F12", "AB/12"},
		{"AB%252F12", "AB%2F12"},
		{"50%2525", "50%25"},
		{"A%2BB", "A+B"},
		{"A+B", "A+B"},
		{"A%20B", "A B"},
		{"%2E", "."},
		{"%2E%2E", ".."},
		{"Gr%C3%B6%C3%9Fe-%C3%9F", "Größe-ß"},
		{"%E5%95%86%E5%93%81", "商品"},
		{"AB/12", ""},
		{".", ""},
		{"..", ""},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.segment, func(t *testing.T) {
			r := e.raw("PUT", listingsBase+seller+"/"+tc.segment, "marketplaceIds=ATVPDKIKX0DER", tok, putBody)
			if tc.want == "" {
				if code, _ := r.errCode(); r.status != http.StatusForbidden || code != "MissingAuthenticationToken" {
					t.Fatalf("PUT …/%s: %d %s, want 403 MissingAuthenticationToken", tc.segment, r.status, r.body)
				}
				return
			}
			var sub liSubmissionReply
			mustJSON(t, r.body, &sub)
			if r.status != http.StatusOK || sub.SKU != tc.want {
				t.Fatalf("PUT …/%s: %d %s, want SKU %q", tc.segment, r.status, r.body, tc.want)
			}
			if !slices.Contains(e.s.ListingSKUs(seller), tc.want) {
				t.Fatalf("SKU %q not stored: %q", tc.want, e.s.ListingSKUs(seller))
			}
		})
	}
}

// TestListingsRefusals covers what a listings call can get wrong, each
// answer checked against the model.
func TestListingsRefusals(t *testing.T) {
	e := newEmu(t, WithSeed(3))
	e.s.cfg.MaxBodyBytes = 4 << 10
	cf := newConform(t)
	seller := e.demo.Sellers[0].ID
	other := e.demo.Sellers[1].ID
	tok := e.sellerToken(0)
	p := listingsBase + seller + "/MUG-1"
	const us = "marketplaceIds=ATVPDKIKX0DER"
	if r := e.raw("PUT", p, us, tok, putBody); r.status != 200 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	big := `{"productType":"PRODUCT","attributes":{"item_name":[{"value":"` + strings.Repeat("x", 5<<10) + `"}]}}`
	tests := []struct {
		name, op, method, path, query, body string
		hdr                                 []string
		status                              int
		code                                string
		detail                              string
	}{
		{"other seller's listings", "getListingsItem", "GET", listingsBase + other + "/MUG-1", us, "", nil, 403, "Unauthorized", ""},
		{"no marketplaceIds", "getListingsItem", "GET", p, "", "", nil, 400, "InvalidInput", "marketplaceIds"},
		{"unknown marketplace", "getListingsItem", "GET", p, "marketplaceIds=XXX", "", nil, 400, "InvalidInput", "XXX"},
		{"marketplace of another region", "getListingsItem", "GET", p, "marketplaceIds=A1PA6795UKMFR9", "", nil, 400, "InvalidInput", "EU"},
		{"bad includedData", "getListingsItem", "GET", p, us + "&includedData=summaries,identifiers", "", nil, 400, "InvalidInput", "identifiers"},
		{"bad issueLocale", "getListingsItem", "GET", p, us + "&issueLocale=english", "", nil, 400, "InvalidInput", "issueLocale"},
		{"unknown parameter", "getListingsItem", "GET", p, us + "&sku=MUG-1", "", nil, 400, "InvalidInput", "'sku'"},
		{"not in this marketplace", "getListingsItem", "GET", p, "marketplaceIds=A2EUQ1WTGCTBG2", "", nil, 404, "NOT_FOUND", ""},
		{"put to two marketplaces", "putListingsItem", "PUT", p, "marketplaceIds=ATVPDKIKX0DER,A2EUQ1WTGCTBG2", putBody, nil, 400, "InvalidInput", "1 marketplace"},
		{"put without productType", "putListingsItem", "PUT", p, us, `{"attributes":{}}`, nil, 400, "InvalidInput", "productType"},
		{"put without attributes", "putListingsItem", "PUT", p, us, `{"productType":"PRODUCT"}`, nil, 400, "InvalidInput", "attributes"},
		{"put with unknown field", "putListingsItem", "PUT", p, us, `{"productType":"PRODUCT","attributes":{},"sku":"x"}`, nil, 400, "InvalidInput", "ListingsItemPutRequest"},
		{"put attribute not an array", "putListingsItem", "PUT", p, us, `{"productType":"PRODUCT","attributes":{"item_name":"mug"}}`, nil, 400, "InvalidInput", "item_name"},
		{"put bad requirements", "putListingsItem", "PUT", p, us, `{"productType":"PRODUCT","requirements":"ALL","attributes":{}}`, nil, 400, "InvalidInput", "requirements"},
		{"put identifiers without preview", "putListingsItem", "PUT", p, us + "&includedData=identifiers", putBody, nil, 400, "InvalidInput", "VALIDATION_PREVIEW"},
		{"put bad mode", "putListingsItem", "PUT", p, us + "&mode=PREVIEW", putBody, nil, 400, "InvalidInput", "mode"},
		{"put SKU too long", "putListingsItem", "PUT", listingsBase + seller + "/" + strictEscape(strings.Repeat("é", 41)), us, putBody, nil, 400, "InvalidInput", "41 characters"},
		{"put too large", "putListingsItem", "PUT", p, us, big, nil, 413, "RequestEntityTooLarge", ""},
		{"put as XML", "putListingsItem", "PUT", p, us, putBody, []string{"Content-Type", "application/xml"}, 415, "UnsupportedMediaType", ""},
		{"patch without patches", "patchListingsItem", "PATCH", p, us, `{"productType":"PRODUCT","patches":[]}`, nil, 400, "InvalidInput", "patch"},
		{"patch nested attribute", "patchListingsItem", "PATCH", p, us, `{"productType":"PRODUCT","patches":[{"op":"replace","path":"/attributes/item_name/0/value","value":[{}]}]}`, nil, 400, "InvalidInput", "nested"},
		{"patch bad op", "patchListingsItem", "PATCH", p, us, `{"productType":"PRODUCT","patches":[{"op":"move","path":"/attributes/item_name"}]}`, nil, 400, "InvalidInput", "move"},
		{"patch without value", "patchListingsItem", "PATCH", p, us, `{"productType":"PRODUCT","patches":[{"op":"add","path":"/attributes/color"}]}`, nil, 400, "InvalidInput", "value"},
		{"delete from two marketplaces", "deleteListingsItem", "DELETE", p, "marketplaceIds=ATVPDKIKX0DER,A2EUQ1WTGCTBG2", "", nil, 400, "InvalidInput", "1 marketplace"},
		{"delete with includedData", "deleteListingsItem", "DELETE", p, us + "&includedData=issues", "", nil, 400, "InvalidInput", "includedData"},
		{"delete, no token", "deleteListingsItem", "DELETE", p, us, "", []string{"x-amz-access-token", ""}, 403, "Unauthorized", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cf.t = t
			r := cf.check(tc.op, e.raw(tc.method, tc.path, tc.query, tok, tc.body, tc.hdr...))
			code, _ := r.errCode()
			if r.status != tc.status || code != tc.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if tc.detail != "" && !strings.Contains(string(r.body), tc.detail) {
				t.Errorf("answer does not mention %q: %s", tc.detail, r.body)
			}
		})
	}
	cf.t = t
	// The refusals changed nothing.
	if got := e.s.ListingSKUs(seller); !slices.Equal(got, []string{"MUG-1"}) {
		t.Errorf("SKUs after refusals: %q", got)
	}
	cf.require("getListingsItem/400", "getListingsItem/403", "getListingsItem/404", "putListingsItem/400", "putListingsItem/413",
		"putListingsItem/415", "patchListingsItem/400", "deleteListingsItem/400", "deleteListingsItem/403")
}

// TestListingsSubmissionOutcomes: INVALID submissions and previews leave
// the store alone; identifiers come with previews.
func TestListingsSubmissionOutcomes(t *testing.T) {
	e := newEmu(t)
	cf := newConform(t)
	seller := e.demo.Sellers[0].ID
	tok := e.sellerToken(0)
	p := listingsBase + seller + "/NEW-1"
	const us = "marketplaceIds=ATVPDKIKX0DER"
	var sub liSubmissionReply

	r := cf.check("putListingsItem", e.raw("PUT", p, us, tok, `{"productType":"PRODUCT","attributes":{}}`))
	mustJSON(t, r.body, &sub)
	if r.status != 200 || sub.Status != "INVALID" || len(sub.Issues) != 1 || !strings.Contains(string(sub.Issues[0]), "item_name") {
		t.Fatalf("put without item_name: %d %s", r.status, r.body)
	}
	r = cf.check("putListingsItem", e.raw("PUT", p, us+"&mode=VALIDATION_PREVIEW&includedData=identifiers,issues", tok, putBody))
	sub = liSubmissionReply{}
	mustJSON(t, r.body, &sub)
	if r.status != 200 || sub.Status != "VALID" || len(sub.Identifiers) != 1 || sub.Identifiers[0].MarketplaceID != "ATVPDKIKX0DER" || len(sub.Identifiers[0].ASIN) != 10 || sub.Issues == nil {
		t.Fatalf("preview: %d %s", r.status, r.body)
	}
	r = cf.check("patchListingsItem", e.raw("PATCH", p, us, tok, patchBody))
	sub = liSubmissionReply{}
	mustJSON(t, r.body, &sub)
	if r.status != 200 || sub.Status != "INVALID" || len(sub.Issues) != 1 {
		t.Fatalf("patch of a missing listing: %d %s", r.status, r.body)
	}
	if got := e.s.ListingSKUs(seller); len(got) != 0 {
		t.Fatalf("INVALID and preview submissions stored %q", got)
	}

	// An offer-only listing needs no item_name; a second marketplace adds
	// to the same SKU, and a delete removes one marketplace at a time.
	offer := `{"productType":"PRODUCT","requirements":"LISTING_OFFER_ONLY","attributes":{"purchasable_offer":[{"our_price":[{"schedule":[{"value_with_tax":"9.50"}]}]}],"fulfillment_availability":[{"fulfillment_channel_code":"DEFAULT","quantity":0}]}}`
	for _, m := range []string{"ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"} {
		r = cf.check("putListingsItem", e.raw("PUT", p, "marketplaceIds="+m+"&includedData=issues", tok, offer))
		if mustJSON(t, r.body, &sub); r.status != 200 || sub.Status != "ACCEPTED" {
			t.Fatalf("offer-only put in %s: %d %s", m, r.status, r.body)
		}
	}
	r = cf.check("getListingsItem", e.raw("GET", p, "marketplaceIds=A2EUQ1WTGCTBG2,ATVPDKIKX0DER&includedData=summaries,offers,productTypes,relationships", tok, ""))
	var it liItemReply
	mustJSON(t, r.body, &it)
	if r.status != 200 || len(it.Summaries) != 2 || it.Summaries[0].MarketplaceID != "A2EUQ1WTGCTBG2" || !slices.Equal(it.Summaries[0].Status, []string{"DISCOVERABLE"}) ||
		len(it.Offers) != 2 || it.Offers[0].Price != (liMoney{"CAD", "9.50"}) {
		t.Fatalf("two marketplaces: %d %s", r.status, r.body)
	}
	cf.check("deleteListingsItem", e.raw("DELETE", p, "marketplaceIds=A2EUQ1WTGCTBG2", tok, ""))
	r = cf.check("getListingsItem", e.raw("GET", p, "marketplaceIds=A2EUQ1WTGCTBG2,ATVPDKIKX0DER", tok, ""))
	it = liItemReply{}
	if mustJSON(t, r.body, &it); r.status != 200 || len(it.Summaries) != 1 || it.Summaries[0].MarketplaceID != "ATVPDKIKX0DER" {
		t.Fatalf("after deleting one marketplace: %d %s", r.status, r.body)
	}
	// Deleting what does not exist is accepted.
	r = cf.check("deleteListingsItem", e.raw("DELETE", listingsBase+seller+"/NOPE", us, tok, ""))
	if mustJSON(t, r.body, &sub); r.status != 200 || sub.Status != "ACCEPTED" {
		t.Fatalf("delete of a missing listing: %d %s", r.status, r.body)
	}
	// Each seller has its own listings.
	if got := e.s.ListingSKUs(e.demo.Sellers[1].ID); len(got) != 0 {
		t.Errorf("another seller sees %q", got)
	}
	cf.require("putListingsItem/200", "patchListingsItem/200", "getListingsItem/200", "deleteListingsItem/200")
}

// TestListingsRateLimits: each operation has the model's plan (get and put
// 5/s burst 10, patch and delete 5/s burst 5), metered per seller, app and
// operation.
func TestListingsRateLimits(t *testing.T) {
	h := start(t, nil)
	tok := h.accessToken(h.demo.RefreshToken)
	p := listingsBase + h.demo.SellerID + "/RATE%2F1?marketplaceIds=ATVPDKIKX0DER"
	for _, tc := range []struct {
		method string
		burst  int
	}{{"GET", 10}, {"PUT", 10}, {"PATCH", 5}, {"DELETE", 5}} {
		for i := range tc.burst + 1 {
			req, _ := http.NewRequest(tc.method, h.srv.URL+p, strings.NewReader(map[string]string{"PUT": putBody, "PATCH": patchBody}[tc.method]))
			req.Header.Set("x-amz-access-token", tok)
			r := h.do(req)
			switch {
			case i < tc.burst && r.status == http.StatusTooManyRequests:
				t.Fatalf("%s call %d throttled within the burst of %d", tc.method, i+1, tc.burst)
			case i == tc.burst && r.status != http.StatusTooManyRequests:
				t.Fatalf("%s call %d: %d %s, want 429 after a burst of %d", tc.method, i+1, r.status, r.body, tc.burst)
			}
			if got := r.header.Get(headerRateLimit); r.status != http.StatusTooManyRequests && got != "5" {
				t.Fatalf("%s: x-amzn-RateLimit-Limit %q, want 5", tc.method, got)
			}
		}
	}
	// A fifth of a second later a token is back.
	h.clk.Advance(200 * time.Millisecond)
	req, _ := http.NewRequest("GET", h.srv.URL+p, nil)
	req.Header.Set("x-amz-access-token", tok)
	if r := h.do(req); r.status == http.StatusTooManyRequests {
		t.Fatalf("GET after refill: %d", r.status)
	}
}

// FuzzListingsSKU: any SKU, escaped as url.PathEscape does, is stored as
// exactly that SKU and read back under it; what cannot be a SKU is refused
// with Amazon's shapes, never a 5xx.
func FuzzListingsSKU(f *testing.F) {
	s, err := New(Config{Seed: 1, OrdersPerSeller: 1, Sellers: 1, NoRateLimits: true})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	d := s.Demo()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {d.RefreshToken}, "client_id": {d.ClientID}, "client_secret": {d.ClientSecret}}
	req := httptest.NewRequest("POST", "/auth/o2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil || tr.AccessToken == "" {
		f.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	send := func(method, sku, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/", strings.NewReader(body))
		r.URL.Path, r.URL.RawPath = listingsBase+d.SellerID+"/"+sku, listingsBase+d.SellerID+"/"+url.PathEscape(sku)
		r.URL.RawQuery = "marketplaceIds=ATVPDKIKX0DER"
		r.Header.Set("x-amz-access-token", tr.AccessToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, sku := range append(slices.Clone(reservedSKUs), "", ".", "..", "%2F", "a\x00b", "\xff", strings.Repeat("x", 41), "?q=1", ";", "~") {
		f.Add(sku)
	}
	f.Fuzz(func(t *testing.T, sku string) {
		w := send("PUT", sku, putBody)
		code, _ := hresp{body: w.Body.Bytes()}.errCode()
		switch {
		case sku == "" || sku == "." || sku == "..":
			// Not a path segment a client can send unescaped.
			if w.Code != http.StatusForbidden || code != "MissingAuthenticationToken" {
				t.Fatalf("PUT %q: %d %s", sku, w.Code, w.Body)
			}
			return
		case !utf8.ValidString(sku) || utf8.RuneCountInString(sku) > maxSKULength:
			if w.Code != http.StatusBadRequest || code != "InvalidInput" {
				t.Fatalf("PUT %q: %d %s", sku, w.Code, w.Body)
			}
			return
		}
		var sub liSubmissionReply
		if err := json.Unmarshal(w.Body.Bytes(), &sub); err != nil || w.Code != http.StatusOK || sub.SKU != sku {
			t.Fatalf("PUT %q: %d %s", sku, w.Code, w.Body)
		}
		if !slices.Contains(s.ListingSKUs(d.SellerID), sku) {
			t.Fatalf("PUT %q stored %q", sku, s.ListingSKUs(d.SellerID))
		}
		w = send("GET", sku, "")
		var it liItemReply
		if err := json.Unmarshal(w.Body.Bytes(), &it); err != nil || w.Code != http.StatusOK || it.SKU != sku {
			t.Fatalf("GET %q: %d %s", sku, w.Code, w.Body)
		}
		if w = send("DELETE", sku, ""); w.Code != http.StatusOK || slices.Contains(s.ListingSKUs(d.SellerID), sku) {
			t.Fatalf("DELETE %q: %d %s", sku, w.Code, w.Body)
		}
	})
}
