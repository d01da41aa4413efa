package cli

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/testenv"
)

// reservedSKUs are SKUs real catalogues hold that need escaping in a path.
var reservedSKUs = []string{"AB/12", "A B", "A#1", "50%", "A+B", "Größe-ß", "商品"}

// TestSKUsWithReservedCharacters: a listing whose SKU holds '/', ' ', '#',
// '%', '+' or non-ASCII letters is written with `spgate call` and read
// back through `spgate serve`, reaching the offline Amazon as one SKU.
func TestSKUsWithReservedCharacters(t *testing.T) {
	f := newServeFixture(t)
	out, _ := e2eMust(t, ExitOK, "", "client", "add", "catalog", "--seller", f.na.ID, "--operation", "listings-items")
	key := strings.TrimSpace(out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	base, _ := e2eServe(t, ctx, &stderr, "--audit-log", f.audit)
	mkt := f.na.Marketplaces[0]
	body := e2eWriteFile(t, f.dir, "listing.json", `{"productType":"PRODUCT","requirements":"LISTING_OFFER_ONLY","attributes":{"condition_type":[{"value":"new_new","marketplace_id":"`+mkt+`"}]}}`)
	for _, sku := range reservedSKUs {
		t.Run(sku, func(t *testing.T) {
			// Written through the CLI…
			e2eMust(t, ExitOK, "", "call", "putListingsItem", "sellerId="+f.na.ID, "sku="+sku, "marketplaceIds="+mkt,
				"--body", body, "--seller", f.na.ID)
			if !slices.Contains(f.srv.ListingSKUs(f.na.ID), sku) {
				t.Fatalf("Amazon holds SKUs %q, not %q", f.srv.ListingSKUs(f.na.ID), sku)
			}
			// …read through the gateway.
			path := "/listings/2021-08-01/items/" + f.na.ID + "/" + url.PathEscape(sku) + "?marketplaceIds=" + mkt + "&includedData=summaries"
			code, _, got := gatewayCall(t, base, path, key, f.na.ID)
			if code != http.StatusOK || !strings.Contains(got, `"sku":`) {
				t.Fatalf("getListingsItem %q through the gateway: %d %.300s", sku, code, got)
			}
			// …and deleted through the gateway with a strict encoding.
			req, _ := http.NewRequest(http.MethodDelete, base+"/listings/2021-08-01/items/"+f.na.ID+"/"+strictEscape(sku)+"?marketplaceIds="+mkt, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("X-Spgate-Seller", f.na.ID)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || slices.Contains(f.srv.ListingSKUs(f.na.ID), sku) {
				t.Errorf("deleteListingsItem %q: %d, still held: %v", sku, resp.StatusCode, slices.Contains(f.srv.ListingSKUs(f.na.ID), sku))
			}
		})
	}
}

// strictEscape percent-encodes every byte outside RFC 3986's unreserved set.
func strictEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
	}
	return b.String()
}
