package orderpull

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/spapi/orders"
	"github.com/spgate/spgate/spapi/orders2026"
)

// The Orders API versions a pull speaks (Options.API).
const (
	V0    = "v0"
	V2026 = "2026-01-01"
)

// Personal data a pull can include (Options.PII).
const (
	// Address is the shipping address (v0: shippingAddress through a
	// Restricted Data Token; 2026-01-01: includedData RECIPIENT).
	Address = "address"
	// Buyer is the buyer's name and e-mail (v0: buyerInfo; 2026-01-01:
	// includedData BUYER).
	Buyer = "buyer"
)

// version is what differs between the Orders API versions: the one place
// where a page is fetched and turned into Orders for either of them.
type version struct {
	operation      string // the operation a page calls, for Release
	address, buyer string // the version's names for Address and Buyer
	csvHeader      []string
	csvRow         func(Order) []string
	fetch          func(ctx context.Context, c *spapi.Client, q query, token string) (page, error)
}

var versions = map[string]*version{
	V0: {operation: "getOrders", address: orders.PIIShippingAddress, buyer: orders.PIIBuyerInfo,
		csvHeader: []string{"AmazonOrderId", "PurchaseDate", "LastUpdateDate", "OrderStatus", "MarketplaceId", "FulfillmentChannel",
			"Currency", "Amount", "ShipName", "AddressLine1", "AddressLine2", "City", "StateOrRegion", "PostalCode", "CountryCode", "Phone",
			"BuyerEmail", "BuyerName"},
		csvRow: v0Row, fetch: fetchV0},
	V2026: {operation: "searchOrders", address: orders2026.Recipient, buyer: orders2026.Buyer,
		csvHeader: []string{"orderId", "createdTime", "lastUpdatedTime", "json"},
		csvRow: func(o Order) []string {
			return []string{o.ID, o.V2026.CreatedTime, o.V2026.LastUpdatedTime, string(o.JSON)}
		},
		fetch: fetchV2026},
}

func lookupVersion(api string) (*version, error) {
	if v, ok := versions[api]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("orderpull: API %q is not an Orders API version a pull speaks: use %q or %q", api, V0, V2026)
}

// DataElements maps Address and Buyer (and their aliases shippingAddress,
// recipient, buyerInfo, in any case) to the names the API version asks
// Amazon for: Restricted Data Token data elements for V0, includedData
// values for V2026.
func DataElements(api string, pii []string) ([]string, error) {
	v, err := lookupVersion(api)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range pii {
		switch strings.ToLower(strings.TrimSpace(p)) {
		case Address, "shippingaddress", "recipient":
			out = append(out, v.address)
		case Buyer, "buyerinfo":
			out = append(out, v.buyer)
		case "":
		default:
			return nil, fmt.Errorf("%q is not personal data a pull can include: use %s and/or %s", p, Address, Buyer)
		}
	}
	return out, nil
}

// query is one run's search: the same for every page of it.
type query struct {
	seller       string
	marketplaces []string
	after        time.Time
	before       time.Time
	pageSize     int
	dataElements []string
}

// page is one answer, whichever the version.
type page struct {
	orders []Order
	next   string
	// watermark is the LastUpdatedBefore Amazon applied: the next run's
	// start once this is the last page.
	watermark time.Time
}

func fetchV0(ctx context.Context, c *spapi.Client, q query, token string) (page, error) {
	p, err := orders.New(c).GetOrders(ctx, orders.Query{Seller: q.seller, MarketplaceIDs: q.marketplaces,
		LastUpdatedAfter: q.after, LastUpdatedBefore: q.before, MaxResultsPerPage: q.pageSize, PII: q.dataElements}, token)
	if err != nil {
		return page{}, err
	}
	return newPage(p.Orders, p.NextToken, p.LastUpdatedBefore, func(o *orders.Order) (Order, string) {
		return Order{ID: o.AmazonOrderId, V0: o}, o.LastUpdateDate
	})
}

func fetchV2026(ctx context.Context, c *spapi.Client, q query, token string) (page, error) {
	p, err := orders2026.New(c).SearchOrders(ctx, orders2026.Query{Seller: q.seller, MarketplaceIDs: q.marketplaces,
		LastUpdatedAfter: q.after, LastUpdatedBefore: q.before, MaxResultsPerPage: q.pageSize, IncludedData: q.dataElements}, token)
	if err != nil {
		return page{}, err
	}
	next := ""
	if p.Pagination != nil {
		next = p.Pagination.NextToken
	}
	return newPage(p.Orders, next, p.LastUpdatedBefore, func(o *orders2026.Order) (Order, string) {
		return Order{ID: o.OrderID, V2026: o}, o.LastUpdatedTime
	})
}

// newPage turns a version's orders into Orders with their JSON; order
// gives an Order's id and typed value, and its last-update time as sent.
func newPage[T any](list []T, next, lastUpdatedBefore string, order func(*T) (Order, string)) (page, error) {
	pg := page{orders: make([]Order, 0, len(list)), next: next}
	pg.watermark, _ = time.Parse(time.RFC3339, lastUpdatedBefore)
	for i := range list {
		raw, err := json.Marshal(list[i])
		if err != nil {
			return page{}, fmt.Errorf("encode order: %w", err)
		}
		o, updated := order(&list[i])
		o.JSON = raw
		o.LastUpdated, _ = time.Parse(time.RFC3339, updated)
		pg.orders = append(pg.orders, o)
	}
	return pg, nil
}

func v0Row(o Order) []string {
	v := o.V0
	row := []string{v.AmazonOrderId, v.PurchaseDate, v.LastUpdateDate, v.OrderStatus, v.MarketplaceId, v.FulfillmentChannel}
	if v.OrderTotal != nil {
		row = append(row, v.OrderTotal.CurrencyCode, v.OrderTotal.Amount)
	} else {
		row = append(row, "", "")
	}
	a := v.ShippingAddress
	if a == nil {
		a = &orders.Address{}
	}
	row = append(row, a.Name, a.AddressLine1, a.AddressLine2, a.City, a.StateOrRegion, a.PostalCode, a.CountryCode, a.Phone)
	bi := v.BuyerInfo
	if bi == nil {
		bi = &orders.BuyerInfo{}
	}
	return append(row, bi.BuyerEmail, bi.BuyerName)
}
