package amazontest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

type ordersPage struct {
	Payload v0OrdersList `json:"payload"`
}

// allOrders pages through getOrders and returns every order.
func (e *emu) allOrders(token, query string) []v0Order {
	e.t.Helper()
	var out []v0Order
	q := query
	for range 1000 {
		r := e.get(token, "/orders/v0/orders?"+q)
		if r.status != http.StatusOK {
			e.t.Fatalf("getOrders?%s: %d %s", q, r.status, r.body)
		}
		var p ordersPage
		mustJSON(e.t, r.body, &p)
		out = append(out, p.Payload.Orders...)
		if p.Payload.NextToken == "" {
			return out
		}
		if len(p.Payload.Orders) == 0 {
			e.t.Fatal("empty page with a NextToken")
		}
		q = "MarketplaceIds=ATVPDKIKX0DER&NextToken=" + url.QueryEscape(p.Payload.NextToken)
	}
	e.t.Fatal("pagination did not end")
	return nil
}

func ids(orders []v0Order) []string {
	out := make([]string, len(orders))
	for i, o := range orders {
		out[i] = o.AmazonOrderId
	}
	return out
}

func TestGetOrdersPagination(t *testing.T) {
	e := newEmu(t)
	tok := e.sellerToken(0)
	mk := strings.Join(e.demo.Sellers[0].Marketplaces, ",")
	for _, mode := range []string{"CreatedAfter", "LastUpdatedAfter"} {
		t.Run(mode, func(t *testing.T) {
			base := mode + "=" + e.since(20*24*time.Hour) + "&MarketplaceIds=" + mk
			big := e.allOrders(tok, base+"&MaxResultsPerPage=100")
			small := e.allOrders(tok, base+"&MaxResultsPerPage=37")
			if len(big) < 300 {
				t.Fatalf("only %d orders in 20 days of 90 with 3000 orders", len(big))
			}
			if !slices.Equal(ids(big), ids(small)) {
				t.Fatalf("page size changes the result: %d vs %d orders", len(big), len(small))
			}
			seen := map[string]bool{}
			from := e.s.Now().Add(-20 * 24 * time.Hour).Truncate(time.Second)
			prev := ""
			for _, o := range big {
				if seen[o.AmazonOrderId] {
					t.Fatalf("duplicate order %s", o.AmazonOrderId)
				}
				seen[o.AmazonOrderId] = true
				key := o.PurchaseDate
				if mode == "LastUpdatedAfter" {
					key = o.LastUpdateDate
				}
				ts, err := time.Parse(time.RFC3339, key)
				if err != nil || ts.Before(from) {
					t.Fatalf("order %s date %s outside the range from %s", o.AmazonOrderId, key, from)
				}
				if key < prev {
					t.Fatalf("orders not sorted by %s: %s after %s", mode, key, prev)
				}
				prev = key
				if o.LastUpdateDate < o.PurchaseDate {
					t.Fatalf("order %s updated %s before purchase %s", o.AmazonOrderId, o.LastUpdateDate, o.PurchaseDate)
				}
			}
		})
	}
}

func TestGetOrdersFilters(t *testing.T) {
	e := newEmu(t)
	tok := e.sellerToken(0)
	base := "CreatedAfter=" + e.since(60*24*time.Hour) + "&MarketplaceIds=ATVPDKIKX0DER"
	all := e.allOrders(tok, base)
	count := func(pred func(v0Order) bool) int {
		n := 0
		for _, o := range all {
			if pred(o) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		query string
		pred  func(v0Order) bool
	}{
		{"&OrderStatuses=Shipped,Canceled", func(o v0Order) bool { return o.OrderStatus == "Shipped" || o.OrderStatus == "Canceled" }},
		{"&OrderStatuses=Unshipped&OrderStatuses=PartiallyShipped", func(o v0Order) bool { return o.OrderStatus == "Unshipped" || o.OrderStatus == "PartiallyShipped" }},
		{"&FulfillmentChannels=AFN", func(o v0Order) bool { return o.FulfillmentChannel == "AFN" }},
		{"&FulfillmentChannels=MFN&OrderStatuses=Shipped", func(o v0Order) bool { return o.FulfillmentChannel == "MFN" && o.OrderStatus == "Shipped" }},
		{"&PaymentMethods=COD", func(v0Order) bool { return false }},
		{"&IsISPU=false", func(v0Order) bool { return true }},
		{"&AmazonOrderIds=" + all[3].AmazonOrderId + "," + all[7].AmazonOrderId, func(o v0Order) bool {
			return o.AmazonOrderId == all[3].AmazonOrderId || o.AmazonOrderId == all[7].AmazonOrderId
		}},
		{"&SellerOrderId=" + all[5].AmazonOrderId, func(o v0Order) bool { return o.AmazonOrderId == all[5].AmazonOrderId }},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			got := e.allOrders(tok, base+tc.query)
			for _, o := range got {
				if !tc.pred(o) {
					t.Fatalf("order %s (%s, %s) does not match the filter", o.AmazonOrderId, o.OrderStatus, o.FulfillmentChannel)
				}
			}
			if want := count(tc.pred); len(got) != want {
				t.Fatalf("got %d orders, want %d", len(got), want)
			}
		})
	}
	// AmazonOrderIds without a date filter is allowed.
	r := e.get(tok, "/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER&AmazonOrderIds="+all[1].AmazonOrderId)
	var p ordersPage
	mustJSON(t, r.body, &p)
	if r.status != 200 || len(p.Payload.Orders) != 1 || p.Payload.Orders[0].AmazonOrderId != all[1].AmazonOrderId {
		t.Fatalf("AmazonOrderIds lookup: %d %s", r.status, r.body)
	}
}

func TestGetOrdersBadInput(t *testing.T) {
	e := newEmu(t)
	tok := e.sellerToken(0)
	after := "CreatedAfter=" + e.since(24*time.Hour)
	future := url.QueryEscape(e.s.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
	good := e.get(tok, "/orders/v0/orders?"+after+"&MarketplaceIds=ATVPDKIKX0DER&MaxResultsPerPage=1")
	var p ordersPage
	mustJSON(t, good.body, &p)
	if p.Payload.NextToken == "" {
		t.Fatal("no NextToken on a one-order page")
	}
	tampered := []byte(p.Payload.NextToken)
	tampered[10] ^= 1
	euTok := e.sellerToken(1)
	euPage := e.do(RegionEU, "GET", "/orders/v0/orders?"+after+"&MarketplaceIds="+e.demo.Sellers[1].Marketplaces[0]+"&MaxResultsPerPage=1", euTok, "")
	var ep ordersPage
	mustJSON(t, euPage.body, &ep)

	tests := []struct{ name, query, wantMsg string }{
		{"no MarketplaceIds", after, msgInvalidInput},
		{"no date", "MarketplaceIds=ATVPDKIKX0DER", msgInvalidInput},
		{"both afters", after + "&LastUpdatedAfter=" + e.since(time.Hour) + "&MarketplaceIds=ATVPDKIKX0DER", msgInvalidInput},
		{"created with updated before", after + "&LastUpdatedBefore=" + e.since(time.Hour) + "&MarketplaceIds=ATVPDKIKX0DER", msgInvalidInput},
		{"bad date", "CreatedAfter=yesterday&MarketplaceIds=ATVPDKIKX0DER", msgInvalidInput},
		{"before too recent", after + "&CreatedBefore=" + future + "&MarketplaceIds=ATVPDKIKX0DER", msgInvalidInput},
		{"before earlier than after", after + "&CreatedBefore=" + e.since(48*time.Hour) + "&MarketplaceIds=ATVPDKIKX0DER", msgInvalidInput},
		{"after in the future", "CreatedAfter=" + future + "&MarketplaceIds=ATVPDKIKX0DER", msgInvalidInput},
		{"page size 0", after + "&MarketplaceIds=ATVPDKIKX0DER&MaxResultsPerPage=0", msgInvalidInput},
		{"page size 101", after + "&MarketplaceIds=ATVPDKIKX0DER&MaxResultsPerPage=101", msgInvalidInput},
		{"page size text", after + "&MarketplaceIds=ATVPDKIKX0DER&MaxResultsPerPage=ten", msgInvalidInput},
		{"unknown parameter", after + "&MarketplaceIds=ATVPDKIKX0DER&Foo=1", msgInvalidInput},
		{"parameter case", after + "&marketplaceIds=ATVPDKIKX0DER", msgInvalidInput},
		{"bad status", after + "&MarketplaceIds=ATVPDKIKX0DER&OrderStatuses=Lost", msgInvalidInput},
		{"bad channel", after + "&MarketplaceIds=ATVPDKIKX0DER&FulfillmentChannels=FBA", msgInvalidInput},
		{"unknown marketplace", after + "&MarketplaceIds=XXXXXXXX", msgInvalidInput},
		{"bad order id", after + "&MarketplaceIds=ATVPDKIKX0DER&AmazonOrderIds=12-3", msgInvalidInput},
		{"SellerOrderId with status", after + "&MarketplaceIds=ATVPDKIKX0DER&SellerOrderId=x&OrderStatuses=Shipped", msgInvalidInput},
		{"bad escape", after + "&MarketplaceIds=%zz", msgInvalidInput},
		{"garbage NextToken", "MarketplaceIds=ATVPDKIKX0DER&NextToken=notatoken", msgBadNextToken},
		{"tampered NextToken", "MarketplaceIds=ATVPDKIKX0DER&NextToken=" + url.QueryEscape(string(tampered)), msgBadNextToken},
		{"truncated NextToken", "MarketplaceIds=ATVPDKIKX0DER&NextToken=" + url.QueryEscape(p.Payload.NextToken[:len(p.Payload.NextToken)-6]), msgBadNextToken},
		{"other seller's NextToken", "MarketplaceIds=ATVPDKIKX0DER&NextToken=" + url.QueryEscape(ep.Payload.NextToken), msgBadNextToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(tok, "/orders/v0/orders?"+tc.query)
			code, msg := r.errCode()
			if r.status != http.StatusBadRequest || code != "InvalidInput" || msg != tc.wantMsg {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if r.hdr.Get("x-amzn-ErrorType") != "InvalidInput" {
				t.Errorf("x-amzn-ErrorType = %q", r.hdr.Get("x-amzn-ErrorType"))
			}
		})
	}
	// The untampered token works.
	if r := e.get(tok, "/orders/v0/orders?NextToken="+url.QueryEscape(p.Payload.NextToken)); r.status != 200 {
		t.Fatalf("valid NextToken refused: %d %s", r.status, r.body)
	}
}

func firstOrder(e *emu, tok string) v0Order {
	e.t.Helper()
	r := e.get(tok, "/orders/v0/orders?CreatedAfter="+e.since(80*24*time.Hour)+"&MarketplaceIds=ATVPDKIKX0DER&MaxResultsPerPage=5")
	var p ordersPage
	mustJSON(e.t, r.body, &p)
	if len(p.Payload.Orders) < 5 {
		e.t.Fatalf("want 5 orders: %s", r.body)
	}
	return p.Payload.Orders[0]
}

func TestOrdersV0PII(t *testing.T) {
	e := newEmu(t)
	tok := e.sellerToken(0)
	o := firstOrder(e, tok)
	id := o.AmazonOrderId
	if a := o.ShippingAddress; a == nil || a.Name != "" || a.AddressLine1 != "" || a.Phone != "" || a.City == "" || a.PostalCode == "" || a.CountryCode != "US" || o.BuyerInfo != nil {
		t.Fatalf("LWA token: want non-PII address only, got %+v / %+v", o.ShippingAddress, o.BuyerInfo)
	}

	rdt := e.rdt(tok, RestrictedResource{Method: "GET", Path: "/orders/v0/orders", DataElements: []string{"shippingAddress", "buyerInfo"}})
	r := e.get(rdt, "/orders/v0/orders?CreatedAfter="+e.since(80*24*time.Hour)+"&MarketplaceIds=ATVPDKIKX0DER&MaxResultsPerPage=5")
	var p ordersPage
	mustJSON(t, r.body, &p)
	if r.status != 200 || p.Payload.Orders[0].AmazonOrderId != id {
		t.Fatalf("getOrders with RDT: %d %s", r.status, r.body)
	}
	withPII := p.Payload.Orders[0]
	if withPII.ShippingAddress.Name == "" || withPII.ShippingAddress.AddressLine1 == "" || withPII.BuyerInfo == nil || !strings.Contains(withPII.BuyerInfo.BuyerEmail, "@marketplace.amazon.") {
		t.Fatalf("RDT with shippingAddress+buyerInfo: PII missing: %+v %+v", withPII.ShippingAddress, withPII.BuyerInfo)
	}
	// The same RDT does not cover getOrder or getOrderAddress.
	for _, path := range []string{"/orders/v0/orders/" + id, "/orders/v0/orders/" + id + "/address"} {
		if r := e.get(rdt, path); r.status != http.StatusForbidden {
			t.Fatalf("%s with a getOrders RDT: %d %s", path, r.status, r.body)
		}
	}

	// Only shippingAddress: no buyer info.
	rdt = e.rdt(tok, RestrictedResource{Method: "GET", Path: "/orders/v0/orders/{orderId}", DataElements: []string{"shippingAddress"}})
	var one struct{ Payload v0Order }
	r = e.get(rdt, "/orders/v0/orders/"+id)
	mustJSON(t, r.body, &one)
	if r.status != 200 || one.Payload.ShippingAddress.Name == "" || one.Payload.BuyerInfo != nil {
		t.Fatalf("generic getOrder RDT with shippingAddress: %d %s", r.status, r.body)
	}

	// getOrderAddress: a generic path covers every id, a specific one only its own.
	other := firstOrderN(e, tok, 3)
	generic := e.rdt(tok, RestrictedResource{Method: "GET", Path: "/orders/v0/orders/{orderId}/address"})
	specific := e.rdt(tok, RestrictedResource{Method: "GET", Path: "/orders/v0/orders/" + id + "/address"})
	var addr struct{ Payload v0OrderAddress }
	for _, x := range []string{id, other} {
		r := e.get(generic, "/orders/v0/orders/"+x+"/address")
		mustJSON(t, r.body, &addr)
		if r.status != 200 || addr.Payload.AmazonOrderId != x || addr.Payload.ShippingAddress.AddressLine1 == "" {
			t.Fatalf("generic address RDT for %s: %d %s", x, r.status, r.body)
		}
	}
	if r := e.get(specific, "/orders/v0/orders/"+id+"/address"); r.status != 200 {
		t.Fatalf("specific address RDT: %d %s", r.status, r.body)
	}
	if r := e.get(specific, "/orders/v0/orders/"+other+"/address"); r.status != http.StatusForbidden {
		t.Fatalf("specific address RDT used for another order: %d %s", r.status, r.body)
	}
	// Without an RDT the address comes without PII.
	r = e.get(tok, "/orders/v0/orders/"+id+"/address")
	addr = struct{ Payload v0OrderAddress }{}
	mustJSON(t, r.body, &addr)
	if r.status != 200 || addr.Payload.ShippingAddress.AddressLine1 != "" || addr.Payload.ShippingAddress.City == "" {
		t.Fatalf("address without RDT: %d %s", r.status, r.body)
	}
	// ... or 403 when the data set is strict.
	e.s.data.strictPII = true
	if r := e.get(tok, "/orders/v0/orders/"+id+"/buyerInfo"); r.status != http.StatusForbidden {
		t.Fatalf("strict buyerInfo without RDT: %d %s", r.status, r.body)
	}
	e.s.data.strictPII = false

	// Buyer info and items buyer info with RDTs.
	bi := e.rdt(tok, RestrictedResource{Method: "GET", Path: "/orders/v0/orders/{orderId}/buyerInfo"},
		RestrictedResource{Method: "GET", Path: "/orders/v0/orders/{orderId}/orderItems", DataElements: []string{"buyerInfo"}},
		RestrictedResource{Method: "GET", Path: "/orders/v0/orders/{orderId}/orderItems/buyerInfo"})
	var b struct{ Payload v0OrderBuyerInfo }
	r = e.get(bi, "/orders/v0/orders/"+id+"/buyerInfo")
	mustJSON(t, r.body, &b)
	if r.status != 200 || b.Payload.BuyerEmail == "" || b.Payload.BuyerName == "" {
		t.Fatalf("buyerInfo with RDT: %d %s", r.status, r.body)
	}
	for _, p := range []string{"/orderItems", "/orderItems/buyerInfo"} {
		if r := e.get(bi, "/orders/v0/orders/"+id+p); r.status != 200 {
			t.Fatalf("%s with RDT: %d %s", p, r.status, r.body)
		}
	}
}

func firstOrderN(e *emu, tok string, n int) string {
	r := e.get(tok, "/orders/v0/orders?CreatedAfter="+e.since(80*24*time.Hour)+"&MarketplaceIds=ATVPDKIKX0DER&MaxResultsPerPage=5")
	var p ordersPage
	mustJSON(e.t, r.body, &p)
	return p.Payload.Orders[n].AmazonOrderId
}

func TestRoleIsNeededForPII(t *testing.T) {
	e := newEmu(t)
	tok := e.roleless()
	body := `{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders","dataElements":["buyerInfo","shippingAddress"]}]}`
	r := e.do(RegionNA, "POST", "/tokens/2021-03-01/restrictedDataToken", tok, body)
	if code, msg := r.errCode(); r.status != 400 || code != "InvalidInput" || msg != "Application does not have access to one or more requested data elements: [buyerInfo, shippingAddress]" {
		t.Fatalf("RDT without roles: %d %s", r.status, r.body)
	}
	r = e.do(RegionNA, "POST", "/tokens/2021-03-01/restrictedDataToken", tok, `{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders/{orderId}/address"}]}`)
	if _, msg := r.errCode(); r.status != 400 || msg != msgNoResource {
		t.Fatalf("address RDT without role: %d %s", r.status, r.body)
	}
	// An RDT without data elements is fine and shows no PII.
	rdt := e.rdt(tok, RestrictedResource{Method: "GET", Path: "/orders/v0/orders"})
	o := firstOrder(e, rdt)
	if o.ShippingAddress.Name != "" || o.BuyerInfo != nil {
		t.Fatalf("RDT without data elements returned PII: %+v", o)
	}
	// 2026-01-01: includedData=BUYER,RECIPIENT without roles gives no PII.
	r = e.get(tok, "/orders/2026-01-01/orders/"+o.AmazonOrderId+"?includedData=BUYER,RECIPIENT")
	var g o26GetResponse
	mustJSON(t, r.body, &g)
	if r.status != 200 || g.Order.Buyer != nil || g.Order.Recipient == nil || g.Order.Recipient.DeliveryAddress.Name != "" || g.Order.Recipient.DeliveryAddress.City == "" {
		t.Fatalf("2026 getOrder without roles: %d %s", r.status, r.body)
	}
}

func TestCreateRestrictedDataTokenBadInput(t *testing.T) {
	e := newEmu(t)
	tok := e.sellerToken(0)
	many := `{"restrictedResources":[` + strings.Repeat(`{"method":"GET","path":"/orders/v0/orders"},`, 50) + `{"method":"GET","path":"/orders/v0/orders"}]}`
	tests := []struct{ name, body, wantMsg string }{
		{"not JSON", `{"restrictedResources":`, msgInvalidInput},
		{"wrong type", `{"restrictedResources":{"method":"GET"}}`, msgInvalidInput},
		{"trailing data", `{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders"}]} {}`, msgInvalidInput},
		{"empty", `{"restrictedResources":[]}`, msgNoResources},
		{"missing", `{}`, msgNoResources},
		{"51 resources", many, msgInvalidInput},
		{"bad method", `{"restrictedResources":[{"method":"PATCH","path":"/orders/v0/orders"}]}`, msgInvalidInput},
		{"lower-case method", `{"restrictedResources":[{"method":"get","path":"/orders/v0/orders"}]}`, msgInvalidInput},
		{"not restricted", `{"restrictedResources":[{"method":"GET","path":"/sellers/v1/account"}]}`, msgInvalidInput},
		{"wrong placeholder", `{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders/{id}/address"}]}`, msgInvalidInput},
		{"query string", `{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders?CreatedAfter=x"}]}`, msgInvalidInput},
		{"elements not allowed", `{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders/{orderId}/address","dataElements":["shippingAddress"]}]}`, msgInvalidInput},
		{"unknown element", `{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders","dataElements":["creditCard"]}]}`, msgInvalidInput},
		{"bad target", `{"targetApplication":"my-app","restrictedResources":[{"method":"GET","path":"/orders/v0/orders"}]}`, msgInvalidInput},
		{"unknown target", `{"targetApplication":"amzn1.sp.solution.00000000-0000-0000-0000-000000000000","restrictedResources":[{"method":"GET","path":"/orders/v0/orders"}]}`, msgInvalidInput},
		{"report generic path", `{"restrictedResources":[{"method":"GET","path":"/reports/2021-06-30/documents/{reportDocumentId}"}]}`, msgBadDocumentID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(RegionNA, "POST", "/tokens/2021-03-01/restrictedDataToken", tok, tc.body)
			code, msg := r.errCode()
			if r.status != 400 || code != "InvalidInput" || msg != tc.wantMsg {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
	// Delegation to a known app with the roles works; the null target is the caller.
	e.rdt(tok, RestrictedResource{Method: "GET", Path: "/orders/v0/orders/123-1234567-1234567/address"})
	r := e.do(RegionNA, "POST", "/tokens/2021-03-01/restrictedDataToken", tok, `{"targetApplication":null,"restrictedResources":[{"method":"GET","path":"/mfn/v0/shipments/{shipmentId}"}]}`)
	if r.status != 200 {
		t.Fatalf("null targetApplication: %d %s", r.status, r.body)
	}
	r = e.do(RegionNA, "POST", "/tokens/2021-03-01/restrictedDataToken", tok, `{"targetApplication":"`+e.demo.AppID+`","restrictedResources":[{"method":"GET","path":"/orders/v0/orders","dataElements":["buyerInfo"]}]}`)
	if r.status != 200 {
		t.Fatalf("targetApplication: %d %s", r.status, r.body)
	}
}

func TestSingleOrderOperations(t *testing.T) {
	e := newEmu(t)
	tok := e.sellerToken(0)
	o := firstOrder(e, tok)
	var one struct{ Payload v0Order }
	r := e.get(tok, "/orders/v0/orders/"+o.AmazonOrderId)
	mustJSON(t, r.body, &one)
	if r.status != 200 || one.Payload.AmazonOrderId != o.AmazonOrderId || one.Payload.PurchaseDate != o.PurchaseDate || one.Payload.OrderStatus != o.OrderStatus {
		t.Fatalf("getOrder: %d %s", r.status, r.body)
	}
	var items struct{ Payload v0OrderItemsList }
	r = e.get(tok, "/orders/v0/orders/"+o.AmazonOrderId+"/orderItems")
	mustJSON(t, r.body, &items)
	n := len(items.Payload.OrderItems)
	if r.status != 200 || n < 1 || n > 4 || items.Payload.AmazonOrderId != o.AmazonOrderId {
		t.Fatalf("getOrderItems: %d %s", r.status, r.body)
	}
	for _, it := range items.Payload.OrderItems {
		if len(it.ASIN) != 10 || !strings.HasPrefix(it.ASIN, "B0") || it.SellerSKU == "" || len(it.OrderItemId) != 14 || it.QuantityOrdered < 1 || it.ItemPrice == nil || it.ItemPrice.CurrencyCode != "USD" {
			t.Fatalf("implausible item %+v", it)
		}
	}
	// Item paging with one item per page yields the same items.
	e.s.data.itemsPageSize = 1
	var paged []string
	q := ""
	for range 10 {
		r := e.get(tok, "/orders/v0/orders/"+o.AmazonOrderId+"/orderItems"+q)
		var p struct{ Payload v0OrderItemsList }
		mustJSON(t, r.body, &p)
		if r.status != 200 {
			t.Fatalf("items page: %d %s", r.status, r.body)
		}
		for _, it := range p.Payload.OrderItems {
			paged = append(paged, it.OrderItemId)
		}
		if p.Payload.NextToken == "" {
			break
		}
		q = "?NextToken=" + url.QueryEscape(p.Payload.NextToken)
	}
	e.s.data.itemsPageSize = 30
	if len(paged) != n || paged[0] != items.Payload.OrderItems[0].OrderItemId {
		t.Fatalf("paged items %v, want %d items", paged, n)
	}

	tests := []struct {
		name, path string
		status     int
		code       string
	}{
		{"unknown order", "/orders/v0/orders/999-9999999-9999999", 404, "NotFound"},
		{"bad id", "/orders/v0/orders/123-45", 400, "InvalidInput"},
		{"query on getOrder", "/orders/v0/orders/" + o.AmazonOrderId + "?x=1", 400, "InvalidInput"},
		{"bad items token", "/orders/v0/orders/" + o.AmazonOrderId + "/orderItems?NextToken=abc", 400, "InvalidInput"},
		{"unknown address", "/orders/v0/orders/999-9999999-9999999/address", 404, "NotFound"},
		{"2026 unknown", "/orders/2026-01-01/orders/999-9999999-9999999", 404, "NotFound"},
		{"2026 bad includedData", "/orders/2026-01-01/orders/" + o.AmazonOrderId + "?includedData=EVERYTHING", 400, "InvalidInput"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(tok, tc.path)
			if code, _ := r.errCode(); r.status != tc.status || code != tc.code {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
	// Another seller's order is not found, even in the same region.
	eu := e.sellerToken(1)
	if r := e.do(RegionEU, "GET", "/orders/v0/orders/"+o.AmazonOrderId, eu, ""); r.status != 404 {
		t.Fatalf("another seller's order: %d %s", r.status, r.body)
	}
}

func TestSearchOrders2026(t *testing.T) {
	e := newEmu(t)
	tok := e.sellerToken(0)
	base := "/orders/2026-01-01/orders?createdAfter=" + e.since(30*24*time.Hour)
	var all []o26Order
	q := base + "&maxResultsPerPage=50&includedData=BUYER,RECIPIENT,FULFILLMENT,PROCEEDS"
	for range 100 {
		r := e.get(tok, q)
		if r.status != 200 {
			t.Fatalf("searchOrders: %d %s", r.status, r.body)
		}
		var p o26SearchResponse
		mustJSON(t, r.body, &p)
		all = append(all, p.Orders...)
		if p.Pagination == nil {
			break
		}
		q = "/orders/2026-01-01/orders?paginationToken=" + url.QueryEscape(p.Pagination.NextToken)
	}
	if len(all) < 500 {
		t.Fatalf("only %d orders", len(all))
	}
	for _, o := range all {
		if o.Buyer == nil || o.Buyer.BuyerName == "" || o.Recipient.DeliveryAddress.AddressLine1 == "" || o.Fulfillment == nil || len(o.OrderItems) == 0 {
			t.Fatalf("includedData (with roles) missing from %+v", o)
		}
	}
	r := e.get(tok, base+"&fulfillmentStatuses=SHIPPED&fulfilledBy=AMAZON&includedData=FULFILLMENT")
	var p o26SearchResponse
	mustJSON(t, r.body, &p)
	if r.status != 200 || len(p.Orders) == 0 {
		t.Fatalf("filtered searchOrders: %d %s", r.status, r.body)
	}
	for _, o := range p.Orders {
		if o.Fulfillment.FulfillmentStatus != "SHIPPED" || o.Fulfillment.FulfilledBy != "AMAZON" || o.Buyer != nil {
			t.Fatalf("order %s does not match: %+v", o.OrderID, o.Fulfillment)
		}
	}
	for name, q := range map[string]string{
		"no date":        "/orders/2026-01-01/orders?maxResultsPerPage=5",
		"both dates":     base + "&lastUpdatedAfter=" + e.since(time.Hour),
		"no zone":        "/orders/2026-01-01/orders?createdAfter=2026-01-01T00:00:00",
		"bad status":     base + "&fulfillmentStatuses=Shipped",
		"bad page size":  base + "&maxResultsPerPage=500",
		"v0 param name":  base + "&MarketplaceIds=ATVPDKIKX0DER",
		"bad token":      "/orders/2026-01-01/orders?paginationToken=xyz",
		"bad fulfiller":  base + "&fulfilledBy=SELLER",
		"foreign market": base + "&marketplaceIds=A1PA6795UKMFR9",
	} {
		r := e.get(tok, q)
		if code, _ := r.errCode(); r.status/100 != 4 || (code != "InvalidInput" && code != "Unauthorized") {
			t.Errorf("%s: got %d %s", name, r.status, r.body)
		}
	}
}

func TestSellersOperations(t *testing.T) {
	e := newEmu(t)
	for i, sl := range e.demo.Sellers {
		tok := e.sellerToken(i)
		r := e.do(sl.Region, "GET", "/sellers/v1/marketplaceParticipations", tok, "")
		var p struct{ Payload []sMarketplaceParticipation }
		mustJSON(t, r.body, &p)
		if r.status != 200 || len(p.Payload) != len(sl.Marketplaces) {
			t.Fatalf("seller %d participations: %d %s", i, r.status, r.body)
		}
		for _, mp := range p.Payload {
			m, ok := marketplaceByID(mp.Marketplace.ID)
			if !ok || m.Region != sl.Region || mp.Marketplace.DefaultCurrencyCode != m.Currency || !mp.Participation.IsParticipating {
				t.Fatalf("participation %+v does not fit region %s", mp, sl.Region)
			}
		}
		r = e.do(sl.Region, "GET", "/sellers/v1/account", tok, "")
		var a struct{ Payload sAccount }
		mustJSON(t, r.body, &a)
		if r.status != 200 || a.Payload.SellingPlan != "PROFESSIONAL" || len(a.Payload.MarketplaceParticipationList) != len(sl.Marketplaces) {
			t.Fatalf("seller %d account: %d %s", i, r.status, r.body)
		}
	}
}
