package amazontest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Orders API v2026-01-01 (orders_2026-01-01.json). PII comes with
// includedData=BUYER/RECIPIENT/TAX when the app holds the role; no RDT.

// fulfillmentStatuses26 is the model's FulfillmentStatus enum, in order.
var fulfillmentStatuses26 = [...]string{"PENDING_AVAILABILITY", "PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED", "UNFULFILLABLE"}

// fulfillmentStatusBit maps a v0 status to its index in fulfillmentStatuses26.
func fulfillmentStatusBit(st uint8) uint8 {
	switch st {
	case stPendingAvailability:
		return 0
	case stPending:
		return 1
	case stUnshipped:
		return 2
	case stPartiallyShipped:
		return 3
	case stShipped, stInvoiceUnconfirmed:
		return 4
	case stCanceled:
		return 5
	default:
		return 6
	}
}

// includedData26 is the model's includedData enum, in order.
var includedData26 = [...]string{"BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION", "FULFILLMENT", "PACKAGES", "TAX", "PAYMENT", "FULFILLMENT_ORDERS"}

const (
	incBuyer uint16 = 1 << iota
	incRecipient
	incProceeds
	incExpense
	incPromotion
	incCancellation
	incFulfillment
	incPackages
	incTax
	incPayment
	incFulfillmentOrders
)

type m26 struct {
	Amount       string `json:"amount"`
	CurrencyCode string `json:"currencyCode"`
}

type o26Alias struct {
	AliasID   string `json:"aliasId"`
	AliasType string `json:"aliasType"`
}

type o26SalesChannel struct {
	ChannelName     string `json:"channelName"`
	MarketplaceID   string `json:"marketplaceId,omitempty"`
	MarketplaceName string `json:"marketplaceName,omitempty"`
}

type o26Buyer struct {
	BuyerName        string `json:"buyerName,omitempty"`
	BuyerEmail       string `json:"buyerEmail,omitempty"`
	BuyerCompanyName string `json:"buyerCompanyName,omitempty"`
}

type o26Address struct {
	Name          string `json:"name,omitempty"`
	CompanyName   string `json:"companyName,omitempty"`
	AddressLine1  string `json:"addressLine1,omitempty"`
	AddressLine2  string `json:"addressLine2,omitempty"`
	City          string `json:"city,omitempty"`
	StateOrRegion string `json:"stateOrRegion,omitempty"`
	PostalCode    string `json:"postalCode,omitempty"`
	CountryCode   string `json:"countryCode,omitempty"`
	Phone         string `json:"phone,omitempty"`
	AddressType   string `json:"addressType,omitempty"`
}

type o26Recipient struct {
	DeliveryAddress *o26Address `json:"deliveryAddress,omitempty"`
}

type o26Breakdown struct {
	Type     string `json:"type"`
	Subtotal m26    `json:"subtotal"`
}

type o26Proceeds struct {
	GrandTotal *m26           `json:"grandTotal,omitempty"`
	Breakdowns []o26Breakdown `json:"breakdowns,omitempty"`
}

type o26Window struct {
	EarliestDateTime string `json:"earliestDateTime,omitempty"`
	LatestDateTime   string `json:"latestDateTime,omitempty"`
}

type o26Fulfillment struct {
	FulfillmentStatus       string     `json:"fulfillmentStatus"`
	FulfilledBy             string     `json:"fulfilledBy,omitempty"`
	FulfillmentServiceLevel string     `json:"fulfillmentServiceLevel,omitempty"`
	ShipByWindow            *o26Window `json:"shipByWindow,omitempty"`
	DeliverByWindow         *o26Window `json:"deliverByWindow,omitempty"`
}

type o26PaymentExecution struct {
	PaymentMethod string `json:"paymentMethod,omitempty"`
	PaymentAmount *m26   `json:"paymentAmount,omitempty"`
}

type o26Payment struct {
	PaymentExecutions []o26PaymentExecution `json:"paymentExecutions,omitempty"`
}

type o26TaxRegistration struct {
	EntityType            string `json:"entityType,omitempty"`
	LegalName             string `json:"legalName,omitempty"`
	TaxRegistrationType   string `json:"taxRegistrationType,omitempty"`
	TaxRegistrationNumber string `json:"taxRegistrationNumber,omitempty"`
}

type o26Tax struct {
	TaxRegistrations []o26TaxRegistration `json:"taxRegistrations,omitempty"`
}

type o26Condition struct {
	ConditionType    string `json:"conditionType,omitempty"`
	ConditionSubtype string `json:"conditionSubtype,omitempty"`
}

type o26Price struct {
	UnitPrice *m26 `json:"unitPrice,omitempty"`
}

type o26Product struct {
	Asin      string        `json:"asin,omitempty"`
	Title     string        `json:"title,omitempty"`
	SellerSku string        `json:"sellerSku,omitempty"`
	Condition *o26Condition `json:"condition,omitempty"`
	Price     *o26Price     `json:"price,omitempty"`
}

type o26ItemProceeds struct {
	ProceedsTotal *m26           `json:"proceedsTotal,omitempty"`
	Breakdowns    []o26Breakdown `json:"breakdowns,omitempty"`
}

type o26PromotionBreakdown struct {
	PromotionID string `json:"promotionId,omitempty"`
}

type o26ItemPromotion struct {
	Breakdowns []o26PromotionBreakdown `json:"breakdowns,omitempty"`
}

type o26CancelRequest struct {
	Requester    string `json:"requester,omitempty"`
	CancelReason string `json:"cancelReason,omitempty"`
}

type o26ItemCancellation struct {
	CancellationRequest *o26CancelRequest `json:"cancellationRequest,omitempty"`
}

type o26ItemFulfillment struct {
	QuantityFulfilled   int `json:"quantityFulfilled"`
	QuantityUnfulfilled int `json:"quantityUnfulfilled"`
}

type o26TaxCollection struct {
	Model            string `json:"model,omitempty"`
	ResponsibleParty string `json:"responsibleParty,omitempty"`
}

type o26ItemTax struct {
	TaxCollections []o26TaxCollection `json:"taxCollections,omitempty"`
}

type o26Item struct {
	OrderItemID     string               `json:"orderItemId"`
	QuantityOrdered int                  `json:"quantityOrdered"`
	Product         o26Product           `json:"product"`
	Proceeds        *o26ItemProceeds     `json:"proceeds,omitempty"`
	Promotion       *o26ItemPromotion    `json:"promotion,omitempty"`
	Cancellation    *o26ItemCancellation `json:"cancellation,omitempty"`
	Fulfillment     *o26ItemFulfillment  `json:"fulfillment,omitempty"`
	Tax             *o26ItemTax          `json:"tax,omitempty"`
}

type o26PackageStatus struct {
	Status string `json:"status"`
}

type o26PackageItem struct {
	OrderItemID string `json:"orderItemId"`
	Quantity    int    `json:"quantity"`
}

type o26Package struct {
	PackageReferenceID string            `json:"packageReferenceId"`
	CreatedTime        string            `json:"createdTime,omitempty"`
	PackageStatus      *o26PackageStatus `json:"packageStatus,omitempty"`
	Carrier            string            `json:"carrier,omitempty"`
	ShipTime           string            `json:"shipTime,omitempty"`
	ShippingService    string            `json:"shippingService,omitempty"`
	TrackingNumber     string            `json:"trackingNumber,omitempty"`
	PackageItems       []o26PackageItem  `json:"packageItems,omitempty"`
}

type o26Order struct {
	OrderID         string          `json:"orderId"`
	OrderAliases    []o26Alias      `json:"orderAliases,omitempty"`
	CreatedTime     string          `json:"createdTime"`
	LastUpdatedTime string          `json:"lastUpdatedTime"`
	Programs        []string        `json:"programs,omitempty"`
	SalesChannel    o26SalesChannel `json:"salesChannel"`
	Buyer           *o26Buyer       `json:"buyer,omitempty"`
	Recipient       *o26Recipient   `json:"recipient,omitempty"`
	Proceeds        *o26Proceeds    `json:"proceeds,omitempty"`
	Payment         *o26Payment     `json:"payment,omitempty"`
	Tax             *o26Tax         `json:"tax,omitempty"`
	Fulfillment     *o26Fulfillment `json:"fulfillment,omitempty"`
	OrderItems      []o26Item       `json:"orderItems"`
	Packages        []o26Package    `json:"packages,omitempty"`
}

type o26Pagination struct {
	NextToken string `json:"nextToken,omitempty"`
}

type o26SearchResponse struct {
	Orders            []o26Order     `json:"orders"`
	Pagination        *o26Pagination `json:"pagination,omitempty"`
	LastUpdatedBefore string         `json:"lastUpdatedBefore,omitempty"`
	CreatedBefore     string         `json:"createdBefore,omitempty"`
}

type o26GetResponse struct {
	Order o26Order `json:"order"`
}

// parseIncluded validates includedData.
func parseIncluded(c *call, vals url.Values) (uint16, bool) {
	var inc uint16
	for _, v := range listParam(vals, "includedData") {
		i := slices.Index(includedData26[:], v)
		if i < 0 {
			invalidInput(c, "Invalid includedData value "+quoteParam(v)+"; use "+strings.Join(includedData26[:], ", ")+".")
			return 0, false
		}
		inc |= 1 << i
	}
	return inc, true
}

var searchOrdersParams = []string{"createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore", "fulfillmentStatuses", "marketplaceIds", "fulfilledBy", "maxResultsPerPage", "paginationToken", "includedData"}

func handleSearchOrders(s *Server, c *call) {
	d, sd, ok := dataOf(s, c)
	if !ok {
		return
	}
	vals, ok := parseQuery(c, searchOrdersParams...)
	if !ok {
		return
	}
	var q *orderQuery
	if tok := vals.Get("paginationToken"); tok != "" {
		if q, ok = d.decodeToken(tok, tokSearchOrders, sd.seller.ID); !ok {
			invalidInput(c, "The paginationToken is invalid or was altered; pass the nextToken of the previous response unchanged (URL-encoded).")
			return
		}
	} else if q, ok = parseSearchOrders(c, sd, vals); !ok {
		return
	}
	idx, next := d.page(sd, q)
	out := o26SearchResponse{Orders: make([]o26Order, 0, len(idx))}
	for _, i := range idx {
		out.Orders = append(out.Orders, d.order26(c, sd, i, q.Included))
	}
	if next >= 0 {
		nq := *q
		nq.Pos = next
		out.Pagination = &o26Pagination{NextToken: d.encodeToken(&nq)}
	}
	if q.ByUpdate {
		out.LastUpdatedBefore = isoTime(q.Before)
	} else {
		out.CreatedBefore = isoTime(q.Before)
	}
	writeJSON(c.w, http.StatusOK, out)
}

// parseSearchOrders validates searchOrders' filters as Amazon documents
// them, the first mistake being the one reported.
func parseSearchOrders(c *call, sd *sellerData, v url.Values) (*orderQuery, bool) {
	q := &orderQuery{Kind: tokSearchOrders, Seller: sd.seller.ID, Max: 100}
	if !searchOrdersWindow(c, v, q) || !searchOrdersFilters(c, sd, v, q) {
		return nil, false
	}
	var ok bool
	if q.Included, ok = parseIncluded(c, v); !ok {
		return nil, false
	}
	return q, true
}

// searchOrdersWindow reads the created or last-updated window, which must
// end two minutes before the request.
func searchOrdersWindow(c *call, v url.Values, q *orderQuery) bool {
	has := func(n string) bool { return hasParam(v, n) }
	ca, cb, la, lb := has("createdAfter"), has("createdBefore"), has("lastUpdatedAfter"), has("lastUpdatedBefore")
	switch {
	case ca == la:
		invalidInput(c, "Exactly one of createdAfter and lastUpdatedAfter is required.")
		return false
	case ca && lb, la && cb:
		invalidInput(c, "createdAfter/createdBefore and lastUpdatedAfter/lastUpdatedBefore cannot be combined.")
		return false
	}
	afterName, beforeName := "createdAfter", "createdBefore"
	if la {
		q.ByUpdate = true
		afterName, beforeName = "lastUpdatedAfter", "lastUpdatedBefore"
	}
	limit := c.now.Add(-2 * time.Minute).Unix()
	after, ok := parseRFC3339(v.Get(afterName))
	if !ok {
		invalidInput(c, afterName+" must be an ISO 8601 date-time, e.g. 2026-01-10T22:09:17Z.")
		return false
	}
	q.After, q.Before = after.Unix(), limit
	if q.After > limit {
		invalidInput(c, afterName+" must be at least two minutes before the time of the request.")
		return false
	}
	if has(beforeName) {
		before, ok := parseRFC3339(v.Get(beforeName))
		switch {
		case !ok:
			invalidInput(c, beforeName+" must be an ISO 8601 date-time, e.g. 2026-01-10T22:09:17Z.")
			return false
		case before.Unix() < q.After:
			invalidInput(c, beforeName+" must be equal to or after "+afterName+".")
			return false
		case before.Unix() > limit:
			invalidInput(c, beforeName+" must be at least two minutes before the time of the request.")
			return false
		}
		q.Before = before.Unix()
	}
	return true
}

// searchOrdersFilters reads the status, channel and marketplace filters and
// the page size.
func searchOrdersFilters(c *call, sd *sellerData, v url.Values, q *orderQuery) bool {
	return statusAndChannelFilters(c, v, q,
		"fulfillmentStatuses", fulfillmentStatuses26[:],
		"fulfilledBy", [2]string{"MERCHANT", "AMAZON"}) &&
		searchOrdersScope(c, sd, v, q)
}

// searchOrdersScope reads the marketplace filter and the page size.
func searchOrdersScope(c *call, sd *sellerData, v url.Values, q *orderQuery) bool {
	if mk := listParam(v, "marketplaceIds"); len(mk) > 0 {
		if len(mk) > 50 {
			invalidInput(c, "marketplaceIds accepts at most 50 values.")
			return false
		}
		var ok bool
		if q.Mkts, ok = checkMarketplaces(c, sd, mk, "marketplaceIds"); !ok {
			return false
		}
	}
	if hasParam(v, "maxResultsPerPage") {
		n, err := strconv.Atoi(v.Get("maxResultsPerPage"))
		if err != nil || n < 1 || n > 100 {
			invalidInput(c, "maxResultsPerPage must be an integer from 1 to 100.")
			return false
		}
		q.Max = n
	}
	return true
}

func handleGetOrder2026(s *Server, c *call) {
	vals, ok := parseQuery(c, "includedData")
	if !ok {
		return
	}
	inc, ok := parseIncluded(c, vals)
	if !ok {
		return
	}
	d, sd, ok := dataOf(s, c)
	if !ok {
		return
	}
	id := c.params["orderId"]
	i, found := d.lookupOrder(sd, id)
	if !found {
		if !validOrderID(id) {
			invalidInput(c, "Invalid orderId "+quoteParam(id)+": an Amazon order id has the 3-7-7 format, e.g. 123-1234567-1234567.")
			return
		}
		orderNotFound(c, id)
		return
	}
	writeJSON(c.w, http.StatusOK, o26GetResponse{Order: d.order26(c, sd, i, inc)})
}

// order26 renders order i with the datasets in inc; PII only where the app
// holds the role.
func (d *dataset) order26(c *call, sd *sellerData, i int, inc uint16) o26Order {
	o := &sd.orders[i]
	m := sd.mkts[o.mkt]
	id := d.orderID(sd, i)
	items := sd.items(i)
	out := o26Order{
		OrderID:         id,
		OrderAliases:    []o26Alias{{AliasID: id, AliasType: "SELLER_ORDER_ID"}},
		CreatedTime:     isoTime(o.purchase),
		LastUpdatedTime: isoTime(o.updated),
		SalesChannel:    o26SalesChannel{ChannelName: "AMAZON", MarketplaceID: m.ID, MarketplaceName: m.Name},
		Programs:        programs26(o),
	}
	if inc&(incBuyer|incRecipient|incTax) != 0 {
		d.parties26(c, sd, i, inc, &out)
	}
	proceeds26(o, m, items, inc, &out)
	if inc&incFulfillment != 0 {
		out.Fulfillment = fulfillment26(o)
	}
	out.OrderItems = items26(o, m, items, inc)
	if inc&incPackages != 0 && slices.ContainsFunc(items, func(it orderItem) bool { return it.Shipped > 0 }) {
		out.Packages = []o26Package{d.package26(sd, i, items)}
	}
	return out
}

// money26 is an amount in the marketplace's currency.
func money26(m *marketplaceInfo, v int64) m26 { return m26{formatMoney(m, v), m.Currency} }

// moneyPtr26 is money26 for the optional fields.
func moneyPtr26(m *marketplaceInfo, v int64) *m26 { x := money26(m, v); return &x }

func programs26(o *order) []string {
	var ps []string
	if o.flags&flPrime != 0 {
		ps = append(ps, "PRIME")
	}
	if o.flags&flBusiness != 0 {
		ps = append(ps, "AMAZON_BUSINESS")
	}
	if o.flags&flPreorder != 0 {
		ps = append(ps, "PREORDER")
	}
	return ps
}

// parties26 fills the buyer, the recipient and the buyer's tax registration,
// each with only the PII the app's roles allow.
func (d *dataset) parties26(c *call, sd *sellerData, i int, inc uint16, out *o26Order) {
	o := &sd.orders[i]
	b := d.buyerOf(sd, i)
	if inc&incBuyer != 0 && hasRole(c.app, RoleTaxInvoicing) {
		out.Buyer = &o26Buyer{BuyerName: b.Name, BuyerCompanyName: b.Company}
		if !o.afn {
			out.Buyer.BuyerEmail = b.Email // the model: e-mail only for merchant-fulfilled orders
		}
	}
	if inc&incRecipient != 0 {
		a := &o26Address{City: b.City, StateOrRegion: b.State, PostalCode: b.Postal, CountryCode: b.Country}
		if hasRole(c.app, RoleShipping) {
			a.Name, a.CompanyName, a.AddressLine1, a.AddressLine2 = b.Name, b.Company, b.Line1, b.Line2
			if !o.afn {
				a.Phone = b.Phone
			}
			a.AddressType = "RESIDENTIAL"
			if !b.Residential {
				a.AddressType = "COMMERCIAL"
			}
		}
		out.Recipient = &o26Recipient{DeliveryAddress: a}
	}
	if inc&incTax != 0 && b.Company != "" && hasRole(c.app, RoleTaxInvoicing, RoleTaxRemittance) {
		out.Tax = &o26Tax{TaxRegistrations: []o26TaxRegistration{{EntityType: "BUYER", LegalName: b.Company, TaxRegistrationType: "VAT", TaxRegistrationNumber: b.TaxID}}}
	}
}

// proceeds26 fills the order's proceeds and payment, which a canceled order
// (and, for the payment, one not yet paid) does not have.
func proceeds26(o *order, m *marketplaceInfo, items []orderItem, inc uint16, out *o26Order) {
	var sumItems, sumShip, sumTax, sumDisc int64
	for _, it := range items {
		sumItems += it.Unit * int64(it.Qty)
		sumShip += it.Shipping
		sumTax += it.Tax
		sumDisc += it.Discount
	}
	if inc&incProceeds != 0 && o.status != stCanceled {
		out.Proceeds = &o26Proceeds{GrandTotal: moneyPtr26(m, orderTotal(items)), Breakdowns: []o26Breakdown{
			{"ITEM", money26(m, sumItems)}, {"SHIPPING", money26(m, sumShip)}, {"TAX", money26(m, sumTax)}, {"DISCOUNT", money26(m, -sumDisc)},
		}}
	}
	if inc&incPayment != 0 && o.status != stCanceled && o.status != stPending && o.status != stPendingAvailability {
		out.Payment = &o26Payment{PaymentExecutions: []o26PaymentExecution{{PaymentMethod: "CreditCard", PaymentAmount: moneyPtr26(m, orderTotal(items))}}}
	}
}

func fulfillment26(o *order) *o26Fulfillment {
	f := &o26Fulfillment{
		FulfillmentStatus:       fulfillmentStatuses26[fulfillmentStatusBit(o.status)],
		FulfilledBy:             "MERCHANT",
		FulfillmentServiceLevel: "STANDARD",
		ShipByWindow:            &o26Window{EarliestDateTime: isoTime(o.purchase + 3600), LatestDateTime: isoTime(o.purchase + 2*86400)},
	}
	if o.afn {
		f.FulfilledBy = "AMAZON"
	}
	if o.flags&flExpedited != 0 {
		f.FulfillmentServiceLevel = "EXPEDITED"
	}
	if ed, ld, ok := deliveryWindow(o); ok {
		f.DeliverByWindow = &o26Window{EarliestDateTime: isoTime(ed), LatestDateTime: isoTime(ld)}
	}
	return f
}

func items26(o *order, m *marketplaceInfo, items []orderItem, inc uint16) []o26Item {
	out := make([]o26Item, 0, len(items))
	for _, it := range items {
		oi := o26Item{
			OrderItemID:     it.ID,
			QuantityOrdered: it.Qty,
			Product: o26Product{
				Asin: it.Product.ASIN, Title: it.Product.Title, SellerSku: it.Product.SKU,
				Condition: &o26Condition{ConditionType: "NEW", ConditionSubtype: "NEW"},
				Price:     &o26Price{UnitPrice: moneyPtr26(m, it.Unit)},
			},
		}
		if inc&incProceeds != 0 {
			oi.Proceeds = &o26ItemProceeds{
				ProceedsTotal: moneyPtr26(m, it.Unit*int64(it.Qty)+it.Shipping+it.Tax-it.Discount),
				Breakdowns:    []o26Breakdown{{"ITEM", money26(m, it.Unit*int64(it.Qty))}, {"SHIPPING", money26(m, it.Shipping)}, {"TAX", money26(m, it.Tax)}},
			}
		}
		if inc&incPromotion != 0 && it.Discount != 0 {
			oi.Promotion = &o26ItemPromotion{Breakdowns: []o26PromotionBreakdown{{PromotionID: "PLM-" + it.ID[:8]}}}
		}
		if inc&incCancellation != 0 && o.status == stCanceled {
			oi.Cancellation = &o26ItemCancellation{CancellationRequest: &o26CancelRequest{Requester: "BUYER", CancelReason: "Order no longer needed"}}
		}
		if inc&incFulfillment != 0 {
			oi.Fulfillment = &o26ItemFulfillment{QuantityFulfilled: it.Shipped, QuantityUnfulfilled: it.Qty - it.Shipped}
		}
		if inc&incTax != 0 && m.Country == "US" {
			oi.Tax = &o26ItemTax{TaxCollections: []o26TaxCollection{{Model: "MarketplaceFacilitator", ResponsibleParty: "Amazon Services, Inc."}}}
		}
		out = append(out, oi)
	}
	return out
}

// package26 is the one package of a shipped order, delivered five days
// after its last update.
func (d *dataset) package26(sd *sellerData, i int, items []orderItem) o26Package {
	o := &sd.orders[i]
	p := o26Package{
		PackageReferenceID: "1",
		CreatedTime:        isoTime(o.purchase + 3*3600),
		PackageStatus:      &o26PackageStatus{Status: "SHIPPED"},
		Carrier:            "UPS",
		ShipTime:           isoTime(min(o.purchase+4*3600, o.updated)),
		ShippingService:    "Standard",
		TrackingNumber:     "1Z" + strings.ToUpper(strconv.FormatUint(mix64(sd.key^uint64(i)), 36)),
	}
	if d.now.Unix()-o.updated > 5*86400 {
		p.PackageStatus.Status = "DELIVERED"
	}
	for _, it := range items {
		if it.Shipped > 0 {
			p.PackageItems = append(p.PackageItems, o26PackageItem{OrderItemID: it.ID, Quantity: it.Shipped})
		}
	}
	return p
}
