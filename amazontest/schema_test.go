package amazontest

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/modelschema"
)

// models loads Amazon's models for the implemented APIs, strict (no
// undeclared fields), or skips when they are absent.
func models(t *testing.T) map[string]*modelschema.Model {
	t.Helper()
	dir, err := modelschema.Dir()
	if err != nil {
		if os.Getenv("SPGATE_REQUIRE_MODELS") == "1" {
			t.Fatalf("SPGATE_REQUIRE_MODELS=1: %v", err)
		}
		t.Skipf("skipping schema conformance: %v", err)
	}
	out := map[string]*modelschema.Model{}
	for name, file := range map[string]string{
		"sellers":  "sellers-api-model/sellers.json",
		"ordersV0": "orders-api-model/ordersV0.json",
		"orders26": "orders-api-model/orders_2026-01-01.json",
		"tokens":   "tokens-api-model/tokens_2021-03-01.json",
	} {
		m, err := modelschema.Load(filepath.Join(dir, file), modelschema.Options{Strict: true})
		if err != nil {
			t.Fatal(err)
		}
		out[name] = m
	}
	return out
}

// TestResponsesMatchModels sends every implemented operation a range of
// requests (success and error, with and without PII, all filters) and
// validates each body against the official model's schema for its status.
func TestResponsesMatchModels(t *testing.T) {
	ms := models(t)
	e := newEmu(t)
	tok := e.sellerToken(0)
	seen := map[string]int{}
	check := func(model, opID string, r hresp) {
		t.Helper()
		if r.status >= 500 {
			t.Fatalf("%s: server error %d %s", opID, r.status, r.body)
		}
		if err := ms[model].Validate(opID, r.status, r.body); err != nil {
			t.Errorf("%s %d does not match the model: %v\nbody: %.600s", opID, r.status, err, r.body)
		}
		seen[opID+"/"+http3(r.status)]++
	}

	// Sellers, in every region.
	for i, sl := range e.demo.Sellers {
		st := e.sellerToken(i)
		check("sellers", "getMarketplaceParticipations", e.do(sl.Region, "GET", "/sellers/v1/marketplaceParticipations", st, ""))
		check("sellers", "getAccount", e.do(sl.Region, "GET", "/sellers/v1/account", st, ""))
	}

	// Tokens.
	pii := e.rdt(tok,
		RestrictedResource{Method: "GET", Path: "/orders/v0/orders", DataElements: []string{"buyerInfo", "shippingAddress", "buyerTaxInformation"}},
		RestrictedResource{Method: "GET", Path: "/orders/v0/orders/{orderId}", DataElements: []string{"buyerInfo", "shippingAddress", "buyerTaxInformation"}},
		RestrictedResource{Method: "GET", Path: "/orders/v0/orders/{orderId}/orderItems", DataElements: []string{"buyerInfo"}},
		RestrictedResource{Method: "GET", Path: "/orders/v0/orders/{orderId}/address"},
		RestrictedResource{Method: "GET", Path: "/orders/v0/orders/{orderId}/buyerInfo"},
		RestrictedResource{Method: "GET", Path: "/orders/v0/orders/{orderId}/orderItems/buyerInfo"},
	)
	for _, body := range []string{
		`{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders"}]}`,
		`{"restrictedResources":[]}`,
		`{"restrictedResources":`,
		`{"restrictedResources":[{"method":"GET","path":"/sellers/v1/account"}]}`,
	} {
		check("tokens", "createRestrictedDataToken", e.do(RegionNA, "POST", "/tokens/2021-03-01/restrictedDataToken", tok, body))
	}
	check("tokens", "createRestrictedDataToken", e.do(RegionNA, "POST", "/tokens/2021-03-01/restrictedDataToken", e.roleless(),
		`{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders","dataElements":["buyerInfo"]}]}`))

	// Orders v0: getOrders with and without PII, filters, pages and errors.
	after := "CreatedAfter=" + e.since(89*24*time.Hour) + "&MarketplaceIds=ATVPDKIKX0DER"
	var orderIDs []string
	for _, q := range []string{
		after, after + "&MaxResultsPerPage=3&OrderStatuses=Canceled,Pending,PendingAvailability,Unfulfillable,InvoiceUnconfirmed",
		after + "&FulfillmentChannels=MFN&OrderStatuses=PartiallyShipped", "LastUpdatedAfter=" + e.since(3*24*time.Hour) + "&MarketplaceIds=ATVPDKIKX0DER",
		after + "&PaymentMethods=COD",
	} {
		for _, token := range []string{tok, pii} {
			r := e.get(token, "/orders/v0/orders?"+q)
			check("ordersV0", "getOrders", r)
			var p ordersPage
			_ = json.Unmarshal(r.body, &p)
			if token == tok {
				orderIDs = append(orderIDs, ids(p.Payload.Orders)...)
			}
			if p.Payload.NextToken != "" {
				check("ordersV0", "getOrders", e.get(token, "/orders/v0/orders?NextToken="+url.QueryEscape(p.Payload.NextToken)))
			}
		}
	}
	for _, q := range []string{"MarketplaceIds=ATVPDKIKX0DER", after + "&MaxResultsPerPage=0", "NextToken=bad", after + "&Foo=bar"} {
		check("ordersV0", "getOrders", e.get(tok, "/orders/v0/orders?"+q))
	}
	check("ordersV0", "getOrders", e.get(e.rdt(tok, RestrictedResource{Method: "GET", Path: "/orders/v0/orders/{orderId}"}), "/orders/v0/orders?"+after))

	// Single-order operations over many orders (business orders, gifts,
	// every status), with and without PII.
	if len(orderIDs) > 120 {
		orderIDs = orderIDs[:120]
	}
	for _, id := range orderIDs {
		for _, token := range []string{tok, pii} {
			check("ordersV0", "getOrder", e.get(token, "/orders/v0/orders/"+id))
			check("ordersV0", "getOrderItems", e.get(token, "/orders/v0/orders/"+id+"/orderItems"))
			check("ordersV0", "getOrderAddress", e.get(token, "/orders/v0/orders/"+id+"/address"))
			check("ordersV0", "getOrderBuyerInfo", e.get(token, "/orders/v0/orders/"+id+"/buyerInfo"))
			check("ordersV0", "getOrderItemsBuyerInfo", e.get(token, "/orders/v0/orders/"+id+"/orderItems/buyerInfo"))
		}
	}
	e.s.data.itemsPageSize = 1
	for _, id := range orderIDs[:20] {
		r := e.get(pii, "/orders/v0/orders/"+id+"/orderItems")
		check("ordersV0", "getOrderItems", r)
		var p struct{ Payload v0OrderItemsList }
		_ = json.Unmarshal(r.body, &p)
		if p.Payload.NextToken != "" {
			check("ordersV0", "getOrderItems", e.get(pii, "/orders/v0/orders/"+id+"/orderItems?NextToken="+url.QueryEscape(p.Payload.NextToken)))
		}
	}
	e.s.data.itemsPageSize = 30
	for _, path := range []string{"/orders/v0/orders/999-9999999-9999999", "/orders/v0/orders/bad"} {
		check("ordersV0", "getOrder", e.get(tok, path))
		check("ordersV0", "getOrderItems", e.get(tok, path+"/orderItems"))
		check("ordersV0", "getOrderAddress", e.get(tok, path+"/address"))
		check("ordersV0", "getOrderBuyerInfo", e.get(tok, path+"/buyerInfo"))
		check("ordersV0", "getOrderItemsBuyerInfo", e.get(tok, path+"/orderItems/buyerInfo"))
	}
	check("ordersV0", "getOrderAddress", e.get(e.rdt(tok, RestrictedResource{Method: "GET", Path: "/orders/v0/orders"}), "/orders/v0/orders/"+orderIDs[0]+"/address"))

	// Orders 2026-01-01: every includedData, with and without roles.
	all := "BUYER,RECIPIENT,PROCEEDS,EXPENSE,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,TAX,PAYMENT,FULFILLMENT_ORDERS"
	roleless := e.roleless()
	base := "/orders/2026-01-01/orders?createdAfter=" + e.since(89*24*time.Hour)
	for _, token := range []string{tok, roleless} {
		for _, q := range []string{base + "&includedData=" + all, base + "&maxResultsPerPage=7&fulfillmentStatuses=CANCELLED,PARTIALLY_SHIPPED,PENDING_AVAILABILITY&includedData=" + all,
			"/orders/2026-01-01/orders?lastUpdatedAfter=" + e.since(24*time.Hour) + "&fulfilledBy=MERCHANT&marketplaceIds=ATVPDKIKX0DER"} {
			r := e.get(token, q)
			check("orders26", "searchOrders", r)
			var p o26SearchResponse
			_ = json.Unmarshal(r.body, &p)
			if p.Pagination != nil {
				check("orders26", "searchOrders", e.get(token, "/orders/2026-01-01/orders?paginationToken="+url.QueryEscape(p.Pagination.NextToken)))
			}
		}
		for _, id := range orderIDs[:60] {
			check("orders26", "getOrder", e.get(token, "/orders/2026-01-01/orders/"+id+"?includedData="+all))
		}
	}
	check("orders26", "searchOrders", e.get(tok, "/orders/2026-01-01/orders?maxResultsPerPage=3"))
	check("orders26", "getOrder", e.get(tok, "/orders/2026-01-01/orders/999-9999999-9999999"))
	check("orders26", "getOrder", e.get(tok, "/orders/2026-01-01/orders/"+orderIDs[0]+"?includedData=ALL"))

	for _, want := range []string{
		"getOrders/200", "getOrders/400", "getOrders/403", "getOrder/200", "getOrder/404", "getOrder/400",
		"getOrderItems/200", "getOrderAddress/200", "getOrderAddress/403", "getOrderBuyerInfo/200", "getOrderItemsBuyerInfo/200",
		"searchOrders/200", "searchOrders/400", "createRestrictedDataToken/200", "createRestrictedDataToken/400",
		"getMarketplaceParticipations/200", "getAccount/200",
	} {
		if seen[want] == 0 {
			t.Errorf("no response %s was checked", want)
		}
	}
}

func http3(status int) string {
	return string(rune('0'+status/100)) + string(rune('0'+status/10%10)) + string(rune('0'+status%10))
}
