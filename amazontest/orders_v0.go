package amazontest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Wire shapes of the Orders API v0 (ordersV0.json).

type v0Money struct {
	CurrencyCode string `json:"CurrencyCode"`
	Amount       string `json:"Amount"`
}

type v0Address struct {
	Name          string `json:"Name,omitempty"`
	CompanyName   string `json:"CompanyName,omitempty"`
	AddressLine1  string `json:"AddressLine1,omitempty"`
	AddressLine2  string `json:"AddressLine2,omitempty"`
	City          string `json:"City,omitempty"`
	StateOrRegion string `json:"StateOrRegion,omitempty"`
	PostalCode    string `json:"PostalCode,omitempty"`
	CountryCode   string `json:"CountryCode,omitempty"`
	Phone         string `json:"Phone,omitempty"`
	AddressType   string `json:"AddressType,omitempty"`
}

type v0BuyerTaxInfo struct {
	CompanyLegalName string `json:"CompanyLegalName,omitempty"`
	TaxingRegion     string `json:"TaxingRegion,omitempty"`
}

type v0BuyerInfo struct {
	BuyerEmail          string          `json:"BuyerEmail,omitempty"`
	BuyerName           string          `json:"BuyerName,omitempty"`
	BuyerTaxInfo        *v0BuyerTaxInfo `json:"BuyerTaxInfo,omitempty"`
	PurchaseOrderNumber string          `json:"PurchaseOrderNumber,omitempty"`
}

type v0BuyerTaxInformation struct {
	BuyerLegalCompanyName  string `json:"BuyerLegalCompanyName,omitempty"`
	BuyerBusinessAddress   string `json:"BuyerBusinessAddress,omitempty"`
	BuyerTaxRegistrationId string `json:"BuyerTaxRegistrationId,omitempty"`
	BuyerTaxOffice         string `json:"BuyerTaxOffice,omitempty"`
}

type v0AutomatedShipping struct {
	HasAutomatedShippingSettings bool `json:"HasAutomatedShippingSettings"`
}

type v0Order struct {
	AmazonOrderId                string                 `json:"AmazonOrderId"`
	SellerOrderId                string                 `json:"SellerOrderId,omitempty"`
	PurchaseDate                 string                 `json:"PurchaseDate"`
	LastUpdateDate               string                 `json:"LastUpdateDate"`
	OrderStatus                  string                 `json:"OrderStatus"`
	FulfillmentChannel           string                 `json:"FulfillmentChannel"`
	SalesChannel                 string                 `json:"SalesChannel"`
	ShipServiceLevel             string                 `json:"ShipServiceLevel"`
	OrderTotal                   *v0Money               `json:"OrderTotal,omitempty"`
	NumberOfItemsShipped         int                    `json:"NumberOfItemsShipped"`
	NumberOfItemsUnshipped       int                    `json:"NumberOfItemsUnshipped"`
	PaymentMethod                string                 `json:"PaymentMethod"`
	PaymentMethodDetails         []string               `json:"PaymentMethodDetails"`
	MarketplaceId                string                 `json:"MarketplaceId"`
	ShipmentServiceLevelCategory string                 `json:"ShipmentServiceLevelCategory"`
	OrderType                    string                 `json:"OrderType"`
	EarliestShipDate             string                 `json:"EarliestShipDate"`
	LatestShipDate               string                 `json:"LatestShipDate"`
	EarliestDeliveryDate         string                 `json:"EarliestDeliveryDate,omitempty"`
	LatestDeliveryDate           string                 `json:"LatestDeliveryDate,omitempty"`
	IsBusinessOrder              bool                   `json:"IsBusinessOrder"`
	IsPrime                      bool                   `json:"IsPrime"`
	IsPremiumOrder               bool                   `json:"IsPremiumOrder"`
	IsGlobalExpressEnabled       bool                   `json:"IsGlobalExpressEnabled"`
	IsReplacementOrder           bool                   `json:"IsReplacementOrder"`
	IsSoldByAB                   bool                   `json:"IsSoldByAB"`
	IsISPU                       bool                   `json:"IsISPU"`
	IsAccessPointOrder           bool                   `json:"IsAccessPointOrder"`
	HasRegulatedItems            bool                   `json:"HasRegulatedItems"`
	ShippingAddress              *v0Address             `json:"ShippingAddress,omitempty"`
	BuyerInfo                    *v0BuyerInfo           `json:"BuyerInfo,omitempty"`
	BuyerTaxInformation          *v0BuyerTaxInformation `json:"BuyerTaxInformation,omitempty"`
	AutomatedShippingSettings    *v0AutomatedShipping   `json:"AutomatedShippingSettings,omitempty"`
}

type v0OrdersList struct {
	Orders            []v0Order `json:"Orders"`
	NextToken         string    `json:"NextToken,omitempty"`
	LastUpdatedBefore string    `json:"LastUpdatedBefore,omitempty"`
	CreatedBefore     string    `json:"CreatedBefore,omitempty"`
}

type v0ProductInfo struct {
	NumberOfItems string `json:"NumberOfItems"`
}

type v0ItemBuyerInfo struct {
	GiftWrapPrice   *v0Money `json:"GiftWrapPrice,omitempty"`
	GiftMessageText string   `json:"GiftMessageText,omitempty"`
	GiftWrapLevel   string   `json:"GiftWrapLevel,omitempty"`
}

type v0OrderItem struct {
	ASIN                 string           `json:"ASIN"`
	SellerSKU            string           `json:"SellerSKU"`
	OrderItemId          string           `json:"OrderItemId"`
	Title                string           `json:"Title"`
	QuantityOrdered      int              `json:"QuantityOrdered"`
	QuantityShipped      int              `json:"QuantityShipped"`
	ProductInfo          v0ProductInfo    `json:"ProductInfo"`
	ItemPrice            *v0Money         `json:"ItemPrice,omitempty"`
	ShippingPrice        *v0Money         `json:"ShippingPrice,omitempty"`
	ItemTax              *v0Money         `json:"ItemTax,omitempty"`
	ShippingTax          *v0Money         `json:"ShippingTax,omitempty"`
	ShippingDiscount     *v0Money         `json:"ShippingDiscount,omitempty"`
	ShippingDiscountTax  *v0Money         `json:"ShippingDiscountTax,omitempty"`
	PromotionDiscount    *v0Money         `json:"PromotionDiscount,omitempty"`
	PromotionDiscountTax *v0Money         `json:"PromotionDiscountTax,omitempty"`
	PromotionIds         []string         `json:"PromotionIds,omitempty"`
	IsGift               string           `json:"IsGift"`
	ConditionId          string           `json:"ConditionId"`
	ConditionSubtypeId   string           `json:"ConditionSubtypeId"`
	IsTransparency       bool             `json:"IsTransparency"`
	SerialNumberRequired bool             `json:"SerialNumberRequired"`
	BuyerInfo            *v0ItemBuyerInfo `json:"BuyerInfo,omitempty"`
}

type v0OrderItemsList struct {
	OrderItems    []v0OrderItem `json:"OrderItems"`
	NextToken     string        `json:"NextToken,omitempty"`
	AmazonOrderId string        `json:"AmazonOrderId"`
}

type v0OrderAddress struct {
	AmazonOrderId    string     `json:"AmazonOrderId"`
	BuyerCompanyName string     `json:"BuyerCompanyName,omitempty"`
	ShippingAddress  *v0Address `json:"ShippingAddress,omitempty"`
}

type v0OrderBuyerInfo struct {
	AmazonOrderId       string          `json:"AmazonOrderId"`
	BuyerEmail          string          `json:"BuyerEmail,omitempty"`
	BuyerName           string          `json:"BuyerName,omitempty"`
	BuyerTaxInfo        *v0BuyerTaxInfo `json:"BuyerTaxInfo,omitempty"`
	PurchaseOrderNumber string          `json:"PurchaseOrderNumber,omitempty"`
}

type v0OrderItemBuyerInfo struct {
	OrderItemId     string   `json:"OrderItemId"`
	GiftWrapPrice   *v0Money `json:"GiftWrapPrice,omitempty"`
	GiftMessageText string   `json:"GiftMessageText,omitempty"`
	GiftWrapLevel   string   `json:"GiftWrapLevel,omitempty"`
}

type v0OrderItemsBuyerInfoList struct {
	OrderItems    []v0OrderItemBuyerInfo `json:"OrderItems"`
	NextToken     string                 `json:"NextToken,omitempty"`
	AmazonOrderId string                 `json:"AmazonOrderId"`
}

type payload[T any] struct {
	Payload T `json:"payload"`
}

// --- getOrders ------------------------------------------------------------

// getOrdersParams are the query parameters of getOrders in the model.
var getOrdersParams = []string{"CreatedAfter", "CreatedBefore", "LastUpdatedAfter", "LastUpdatedBefore", "OrderStatuses", "MarketplaceIds", "FulfillmentChannels", "PaymentMethods", "BuyerEmail", "SellerOrderId", "MaxResultsPerPage", "EasyShipShipmentStatuses", "ElectronicInvoiceStatuses", "NextToken", "AmazonOrderIds", "ActualFulfillmentSupplySourceId", "IsISPU", "StoreChainStoreId", "EarliestDeliveryDateBefore", "EarliestDeliveryDateAfter", "LatestDeliveryDateBefore", "LatestDeliveryDateAfter"}

// Token kinds: a token is valid only for the operation that issued it.
const (
	tokGetOrders      = "o0"
	tokSearchOrders   = "o26"
	tokOrderItems     = "i0"
	tokItemsBuyerInfo = "b0"
)

// orderQuery is a validated order search; it is also the content of a
// NextToken (JSON, sealed with a MAC, base64).
type orderQuery struct {
	Kind     string   `json:"k"`
	Seller   string   `json:"s"`
	ByUpdate bool     `json:"u,omitempty"`
	After    int64    `json:"a"`
	Before   int64    `json:"b"`
	Statuses uint16   `json:"st,omitempty"` // bit per status; 0 = any
	Channels uint8    `json:"ch,omitempty"` // 1 MFN, 2 AFN; 0 = any
	Mkts     uint64   `json:"m"`            // bit per sd.mkts index
	Max      int      `json:"n"`
	IDs      []string `json:"ids,omitempty"`
	SellerID string   `json:"so,omitempty"` // SellerOrderId
	Email    string   `json:"e,omitempty"`
	None     bool     `json:"x,omitempty"` // a filter no generated order matches
	EDAfter  int64    `json:"eda,omitempty"`
	EDBefore int64    `json:"edb,omitempty"`
	LDAfter  int64    `json:"lda,omitempty"`
	LDBefore int64    `json:"ldb,omitempty"`
	Included uint16   `json:"inc,omitempty"` // 2026 includedData bits
	Pos      int      `json:"p"`
	Order    int      `json:"o,omitempty"` // order index, for item tokens
}

func (d *dataset) encodeToken(q *orderQuery) string {
	b, _ := json.Marshal(q)
	return base64.StdEncoding.EncodeToString(d.sealToken(b))
}

func (d *dataset) decodeToken(tok, kind, seller string) (*orderQuery, bool) {
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return nil, false
	}
	p, ok := d.openToken(raw)
	if !ok {
		return nil, false
	}
	var q orderQuery
	if json.Unmarshal(p, &q) != nil || q.Kind != kind || q.Seller != seller || q.Max < 1 || q.Max > 100 || q.Pos < 0 {
		return nil, false
	}
	return &q, true
}

// deliveryWindow returns the promised delivery dates of an MFN order.
func deliveryWindow(o *order) (earliest, latest int64, ok bool) {
	if o.afn {
		return 0, 0, false
	}
	days := int64(3)
	if o.flags&flExpedited != 0 {
		days = 1
	}
	return o.purchase + days*86400, o.purchase + (days+4)*86400, true
}

// matches applies the non-range filters to order i.
func (d *dataset) matches(sd *sellerData, q *orderQuery, i int) bool {
	o := &sd.orders[i]
	if q.None {
		return false
	}
	if q.Mkts != 0 && q.Mkts&(1<<o.mkt) == 0 {
		return false
	}
	if q.Statuses != 0 {
		st := o.status
		if q.Kind == tokSearchOrders {
			st = fulfillmentStatusBit(st)
		}
		if q.Statuses&(1<<st) == 0 {
			return false
		}
	}
	if q.Channels != 0 {
		bit := uint8(1)
		if o.afn {
			bit = 2
		}
		if q.Channels&bit == 0 {
			return false
		}
	}
	if q.SellerID != "" && d.orderID(sd, i) != q.SellerID {
		return false
	}
	if q.Email != "" && !strings.EqualFold(d.buyerOf(sd, i).Email, q.Email) {
		return false
	}
	if q.EDAfter != 0 || q.EDBefore != 0 || q.LDAfter != 0 || q.LDBefore != 0 {
		ed, ld, ok := deliveryWindow(o)
		if !ok || (q.EDAfter != 0 && ed < q.EDAfter) || (q.EDBefore != 0 && ed > q.EDBefore) ||
			(q.LDAfter != 0 && ld < q.LDAfter) || (q.LDBefore != 0 && ld > q.LDBefore) {
			return false
		}
	}
	return true
}

// page runs q from q.Pos and returns up to q.Max matching order indices and
// the position of the next match (-1 when there is none).
func (d *dataset) page(sd *sellerData, q *orderQuery) ([]int, int) {
	out := make([]int, 0, q.Max)
	if len(q.IDs) > 0 {
		var idx []int
		for _, id := range q.IDs {
			if i, ok := d.lookupOrder(sd, id); ok && !slices.Contains(idx, i) {
				idx = append(idx, i)
			}
		}
		slices.Sort(idx)
		for p := q.Pos; p < len(idx); p++ {
			i := idx[p]
			o := &sd.orders[i]
			t := o.purchase
			if q.ByUpdate {
				t = o.updated
			}
			if (q.After != 0 && t < q.After) || (q.Before != 0 && t > q.Before) || !d.matches(sd, q, i) {
				continue
			}
			if len(out) == q.Max {
				return out, p
			}
			out = append(out, i)
		}
		return out, -1
	}
	if q.ByUpdate {
		start := max(q.Pos, sd.firstUpdated(q.After))
		for p := start; p < len(sd.byUpd); p++ {
			i := int(sd.byUpd[p])
			if sd.orders[i].updated > q.Before {
				break
			}
			if !d.matches(sd, q, i) {
				continue
			}
			if len(out) == q.Max {
				return out, p
			}
			out = append(out, i)
		}
		return out, -1
	}
	start := max(q.Pos, sd.firstCreated(q.After))
	for i := start; i < len(sd.orders); i++ {
		if sd.orders[i].purchase > q.Before {
			break
		}
		if !d.matches(sd, q, i) {
			continue
		}
		if len(out) == q.Max {
			return out, i
		}
		out = append(out, i)
	}
	return out, -1
}

func handleGetOrders(s *Server, c *call) {
	d, sd, ok := dataOf(s, c)
	if !ok {
		return
	}
	vals, ok := parseQuery(c, getOrdersParams...)
	if !ok {
		return
	}
	g, ok := v0Grant(c)
	if !ok {
		return
	}
	var q *orderQuery
	if tok := vals.Get("NextToken"); tok != "" {
		// As on Amazon, a NextToken carries the whole search; other filters
		// in the request are ignored.
		if q, ok = d.decodeToken(tok, tokGetOrders, sd.seller.ID); !ok {
			writeError(c.w, http.StatusBadRequest, "InvalidInput", msgBadNextToken, "")
			return
		}
	} else if q, ok = parseGetOrders(c, sd, vals); !ok {
		return
	}
	idx, next := d.page(sd, q)
	out := v0OrdersList{Orders: make([]v0Order, 0, len(idx))}
	for _, i := range idx {
		out.Orders = append(out.Orders, d.v0Order(sd, i, g))
	}
	if next >= 0 {
		nq := *q
		nq.Pos = next
		out.NextToken = d.encodeToken(&nq)
	}
	if q.ByUpdate {
		out.LastUpdatedBefore = isoTime(q.Before)
	} else {
		out.CreatedBefore = isoTime(q.Before)
	}
	writeJSON(c.w, http.StatusOK, payload[v0OrdersList]{out})
}

// parseGetOrders validates getOrders' filters as Amazon documents them. The
// checks run in Amazon's order, so the first mistake is the one reported.
func parseGetOrders(c *call, sd *sellerData, v url.Values) (*orderQuery, bool) {
	q := &orderQuery{Kind: tokGetOrders, Seller: sd.seller.ID, Max: 100}
	for _, check := range []func(*call, *sellerData, url.Values, *orderQuery) bool{
		v0Marketplaces, v0OrderIDs, v0Dates, v0StatusFilters, v0UnmatchedFilters, v0SellerFilters,
	} {
		if !check(c, sd, v, q) {
			return nil, false
		}
	}
	return q, true
}

// hasParam says whether the query names the parameter at all.
func hasParam(v url.Values, name string) bool { _, ok := v[name]; return ok }

func v0Marketplaces(c *call, sd *sellerData, v url.Values, q *orderQuery) bool {
	mkts := listParam(v, "MarketplaceIds")
	if len(mkts) == 0 {
		invalidInput(c, "MarketplaceIds is required: give at least one marketplace id, e.g. MarketplaceIds=ATVPDKIKX0DER.")
		return false
	}
	if len(mkts) > 50 {
		invalidInput(c, "MarketplaceIds accepts at most 50 values.")
		return false
	}
	var ok bool
	q.Mkts, ok = checkMarketplaces(c, sd, mkts, "MarketplaceIds")
	return ok
}

func v0OrderIDs(c *call, _ *sellerData, v url.Values, q *orderQuery) bool {
	ids := listParam(v, "AmazonOrderIds")
	if len(ids) > 50 {
		invalidInput(c, "AmazonOrderIds accepts at most 50 values.")
		return false
	}
	for _, id := range ids {
		if !validOrderID(id) {
			invalidInput(c, "Invalid AmazonOrderIds value "+quoteParam(id)+": an AmazonOrderId has the 3-7-7 format, e.g. 123-1234567-1234567.")
			return false
		}
	}
	q.IDs = ids
	return true
}

// v0Dates reads the created or last-updated window and the delivery
// windows. Amazon names every malformed date at once, then checks the
// window against the time of the request.
func v0Dates(c *call, _ *sellerData, v url.Values, q *orderQuery) bool {
	has := func(name string) bool { return hasParam(v, name) }
	ca, cb, la, lb := has("CreatedAfter"), has("CreatedBefore"), has("LastUpdatedAfter"), has("LastUpdatedBefore")
	switch {
	case ca && la:
		invalidInput(c, "Give exactly one of CreatedAfter and LastUpdatedAfter, not both.")
		return false
	case !ca && !la && len(q.IDs) == 0:
		invalidInput(c, "Either CreatedAfter or LastUpdatedAfter is required.")
		return false
	case ca && lb, la && cb:
		invalidInput(c, "CreatedAfter/CreatedBefore and LastUpdatedAfter/LastUpdatedBefore cannot be combined.")
		return false
	case !ca && !la && (cb || lb):
		invalidInput(c, "CreatedBefore needs CreatedAfter and LastUpdatedBefore needs LastUpdatedAfter.")
		return false
	}
	limit := c.now.Add(-2 * time.Minute)
	var bad []string
	parse := func(name string) int64 {
		t, ok := parseISO8601(v[name][0])
		if !ok {
			bad = append(bad, name)
			return 0
		}
		return t.Unix()
	}
	afterName, beforeName := "CreatedAfter", "CreatedBefore"
	if la {
		q.ByUpdate = true
		afterName, beforeName = "LastUpdatedAfter", "LastUpdatedBefore"
	}
	if ca || la {
		q.After = parse(afterName)
		q.Before = limit.Unix()
		if has(beforeName) {
			q.Before = parse(beforeName)
		}
	} else {
		q.Before = limit.Unix() // AmazonOrderIds alone: no date filter
	}
	// In this order, so that bad lists the fields as Amazon does.
	for _, d := range []struct {
		name  string
		field *int64
	}{
		{"EarliestDeliveryDateAfter", &q.EDAfter}, {"EarliestDeliveryDateBefore", &q.EDBefore},
		{"LatestDeliveryDateAfter", &q.LDAfter}, {"LatestDeliveryDateBefore", &q.LDBefore},
	} {
		if has(d.name) {
			*d.field = parse(d.name)
		}
	}
	if len(bad) > 0 {
		invalidInput(c, "Invalid date-time field(s) ["+strings.Join(bad, ", ")+"]: use ISO 8601, e.g. 2024-01-10T22:09:17Z.")
		return false
	}
	if !ca && !la {
		return true
	}
	if q.After > limit.Unix() {
		invalidInput(c, afterName+" must be at least two minutes before the time of the request.")
		return false
	}
	if has(beforeName) {
		if q.Before < q.After {
			invalidInput(c, beforeName+" must be equal to or after "+afterName+".")
			return false
		}
		if q.Before > limit.Unix() {
			invalidInput(c, beforeName+" must be at least two minutes before the time of the request.")
			return false
		}
	}
	return true
}

func v0StatusFilters(c *call, _ *sellerData, v url.Values, q *orderQuery) bool {
	if !statusAndChannelFilters(c, v, q, "OrderStatuses", statusNames[:], "FulfillmentChannels", [2]string{"MFN", "AFN"}) {
		return false
	}
	pms := listParam(v, "PaymentMethods")
	for _, pm := range pms {
		switch pm {
		case "Other":
		case "COD", "CVS":
			q.None = q.None || len(pms) == countOf(pms, "COD", "CVS")
		default:
			invalidInput(c, "Invalid PaymentMethods value "+quoteParam(pm)+"; use COD, CVS or Other.")
			return false
		}
	}
	return true
}

// v0UnmatchedFilters validates the filters no generated order can match and
// turns any use of them into an empty answer.
func v0UnmatchedFilters(c *call, _ *sellerData, v url.Values, q *orderQuery) bool {
	if !checkEnum(c, listParam(v, "EasyShipShipmentStatuses"), "EasyShipShipmentStatuses", "PendingSchedule", "PendingPickUp", "PendingDropOff", "LabelCanceled", "PickedUp", "DroppedOff", "AtOriginFC", "AtDestinationFC", "Delivered", "RejectedByBuyer", "Undeliverable", "ReturningToSeller", "ReturnedToSeller", "Lost", "OutForDelivery", "Damaged") {
		return false
	}
	if !checkEnum(c, listParam(v, "ElectronicInvoiceStatuses"), "ElectronicInvoiceStatuses", "NotRequired", "NotFound", "Processing", "Errored", "Accepted") {
		return false
	}
	// The generated orders are not Easy Ship, carry no electronic invoice,
	// are not store pick-ups and have no supply source or store chain.
	if len(listParam(v, "EasyShipShipmentStatuses")) > 0 || len(listParam(v, "ElectronicInvoiceStatuses")) > 0 || hasParam(v, "StoreChainStoreId") || hasParam(v, "ActualFulfillmentSupplySourceId") {
		q.None = true
	}
	if hasParam(v, "IsISPU") {
		switch v["IsISPU"][0] {
		case "true":
			q.None = true
		case "false":
		default:
			invalidInput(c, "IsISPU must be true or false.")
			return false
		}
	}
	return true
}

func v0SellerFilters(c *call, _ *sellerData, v url.Values, q *orderQuery) bool {
	if hasParam(v, "SellerOrderId") {
		for _, n := range []string{"FulfillmentChannels", "OrderStatuses", "PaymentMethods", "LastUpdatedAfter", "LastUpdatedBefore", "BuyerEmail"} {
			if hasParam(v, n) {
				invalidInput(c, n+" cannot be combined with SellerOrderId.")
				return false
			}
		}
		q.SellerID = v["SellerOrderId"][0]
	}
	if hasParam(v, "BuyerEmail") {
		q.Email = v["BuyerEmail"][0]
	}
	if hasParam(v, "MaxResultsPerPage") {
		n, err := strconv.Atoi(v["MaxResultsPerPage"][0])
		if err != nil || n < 1 || n > 100 {
			invalidInput(c, "MaxResultsPerPage must be an integer from 1 to 100.")
			return false
		}
		q.Max = n
	}
	return true
}

func countOf(list []string, vals ...string) int {
	n := 0
	for _, s := range list {
		if slices.Contains(vals, s) {
			n++
		}
	}
	return n
}

// statusAndChannelFilters reads a status list parameter into q.Statuses
// (one bit per name in statuses) and a channel list parameter into
// q.Channels (1 for channels[0], the seller's own, 2 for channels[1],
// Amazon's), answering 400 with the valid values for any other value.
func statusAndChannelFilters(c *call, v url.Values, q *orderQuery, statusParam string, statuses []string, channelParam string, channels [2]string) bool {
	for _, st := range listParam(v, statusParam) {
		i := slices.Index(statuses, st)
		if i < 0 {
			invalidInput(c, "Invalid "+statusParam+" value "+quoteParam(st)+"; use "+strings.Join(statuses, ", ")+".")
			return false
		}
		q.Statuses |= 1 << i
	}
	for _, ch := range listParam(v, channelParam) {
		i := slices.Index(channels[:], ch)
		if i < 0 {
			invalidInput(c, "Invalid "+channelParam+" value "+quoteParam(ch)+"; use "+channels[0]+" or "+channels[1]+".")
			return false
		}
		q.Channels |= 1 << i
	}
	return true
}

func checkEnum(c *call, got []string, param string, allowed ...string) bool {
	for _, g := range got {
		if !slices.Contains(allowed, g) {
			invalidInput(c, "Invalid "+param+" value "+quoteParam(g)+".")
			return false
		}
	}
	return true
}

// v0Order renders order i with the PII that g allows.
func (d *dataset) v0Order(sd *sellerData, i int, g piiGrant) v0Order {
	o := &sd.orders[i]
	m := sd.mkts[o.mkt]
	id := d.orderID(sd, i)
	items := sd.items(i)
	shipped, unshipped := 0, 0
	for _, it := range items {
		shipped += it.Shipped
		unshipped += it.Qty - it.Shipped
	}
	if o.status == stCanceled || o.status == stUnfulfillable {
		unshipped = 0
	}
	out := v0Order{
		AmazonOrderId:                id,
		SellerOrderId:                id,
		PurchaseDate:                 isoTime(o.purchase),
		LastUpdateDate:               isoTime(o.updated),
		OrderStatus:                  statusNames[o.status],
		FulfillmentChannel:           "MFN",
		SalesChannel:                 m.Name,
		ShipServiceLevel:             "Std " + m.Country + " Dom",
		NumberOfItemsShipped:         shipped,
		NumberOfItemsUnshipped:       unshipped,
		PaymentMethod:                "Other",
		PaymentMethodDetails:         []string{"Standard"},
		MarketplaceId:                m.ID,
		ShipmentServiceLevelCategory: "Standard",
		OrderType:                    "StandardOrder",
		EarliestShipDate:             isoTime(o.purchase + 3600),
		LatestShipDate:               isoTime(o.purchase + 2*86400),
		IsBusinessOrder:              o.flags&flBusiness != 0,
		IsPrime:                      o.flags&flPrime != 0,
	}
	if o.afn {
		out.FulfillmentChannel = "AFN"
	} else {
		out.AutomatedShippingSettings = &v0AutomatedShipping{}
	}
	if o.flags&flExpedited != 0 {
		out.ShipServiceLevel = "Exp " + m.Country + " Dom"
		out.ShipmentServiceLevelCategory = "Expedited"
	}
	if o.flags&flPreorder != 0 {
		out.OrderType = "Preorder"
	}
	if ed, ld, ok := deliveryWindow(o); ok {
		out.EarliestDeliveryDate, out.LatestDeliveryDate = isoTime(ed), isoTime(ld)
	}
	if o.status != stCanceled {
		out.OrderTotal = &v0Money{m.Currency, formatMoney(m, orderTotal(items))}
	}
	b := d.buyerOf(sd, i)
	addr := &v0Address{City: b.City, StateOrRegion: b.State, PostalCode: b.Postal, CountryCode: b.Country}
	if g.shipping {
		addr.Name, addr.AddressLine1, addr.AddressLine2, addr.Phone = b.Name, b.Line1, b.Line2, b.Phone
		addr.CompanyName = b.Company
		addr.AddressType = "Residential"
		if !b.Residential {
			addr.AddressType = "Commercial"
		}
	}
	out.ShippingAddress = addr
	if g.buyer {
		out.BuyerInfo = &v0BuyerInfo{BuyerEmail: b.Email, BuyerName: b.Name}
		if b.Company != "" {
			out.BuyerInfo.BuyerTaxInfo = &v0BuyerTaxInfo{CompanyLegalName: b.Company, TaxingRegion: b.State}
		}
	}
	if g.tax && b.Company != "" {
		out.BuyerTaxInformation = &v0BuyerTaxInformation{
			BuyerLegalCompanyName:  b.Company,
			BuyerBusinessAddress:   b.Line1 + ", " + b.Postal + " " + b.City,
			BuyerTaxRegistrationId: b.TaxID,
			BuyerTaxOffice:         b.Office,
		}
	}
	return out
}

// --- single-order operations ------------------------------------------------

// orderFromPath resolves {orderId} of the request for the calling seller.
func orderFromPath(s *Server, c *call) (*dataset, *sellerData, int, bool) {
	d, sd, ok := dataOf(s, c)
	if !ok {
		return nil, nil, 0, false
	}
	id := c.params["orderId"]
	if !validOrderID(id) {
		invalidInput(c, "Invalid orderId "+quoteParam(id)+": an AmazonOrderId has the 3-7-7 format, e.g. 123-1234567-1234567.")
		return nil, nil, 0, false
	}
	i, found := d.lookupOrder(sd, id)
	if !found {
		orderNotFound(c, id)
		return nil, nil, 0, false
	}
	return d, sd, i, true
}

func handleGetOrderV0(s *Server, c *call) {
	if _, ok := parseQuery(c); !ok {
		return
	}
	d, sd, i, ok := orderFromPath(s, c)
	if !ok {
		return
	}
	g, ok := v0Grant(c)
	if !ok {
		return
	}
	writeJSON(c.w, http.StatusOK, payload[v0Order]{d.v0Order(sd, i, g)})
}

// piiOnly handles the operations whose whole purpose is PII
// (getOrderAddress, getOrderBuyerInfo, getOrderItemsBuyerInfo): they need an
// RDT for this path and one of roles. Without an RDT Amazon answers with the
// non-PII part only (or 403 when the data set is configured strict).
func piiOnly(d *dataset, c *call, roles ...string) (pii, ok bool) {
	g, ok := v0Grant(c)
	if !ok {
		return false, false
	}
	if c.rdt == nil && d.strictPII {
		accessDenied(c)
		return false, false
	}
	return g.resource && hasRole(c.app, roles...), true
}

func handleGetOrderAddress(s *Server, c *call) {
	if _, ok := parseQuery(c); !ok {
		return
	}
	d, sd, i, ok := orderFromPath(s, c)
	if !ok {
		return
	}
	pii, ok := piiOnly(d, c, RoleShipping)
	if !ok {
		return
	}
	full := d.v0Order(sd, i, piiGrant{shipping: pii})
	out := v0OrderAddress{AmazonOrderId: full.AmazonOrderId, ShippingAddress: full.ShippingAddress}
	if pii {
		out.BuyerCompanyName = d.buyerOf(sd, i).Company
	}
	writeJSON(c.w, http.StatusOK, payload[v0OrderAddress]{out})
}

func handleGetOrderBuyerInfo(s *Server, c *call) {
	if _, ok := parseQuery(c); !ok {
		return
	}
	d, sd, i, ok := orderFromPath(s, c)
	if !ok {
		return
	}
	pii, ok := piiOnly(d, c, RoleTaxInvoicing, RoleTaxRemittance)
	if !ok {
		return
	}
	out := v0OrderBuyerInfo{AmazonOrderId: d.orderID(sd, i)}
	if pii {
		b := d.buyerOf(sd, i)
		out.BuyerEmail, out.BuyerName = b.Email, b.Name
		if b.Company != "" {
			out.BuyerTaxInfo = &v0BuyerTaxInfo{CompanyLegalName: b.Company, TaxingRegion: b.State}
		}
	}
	writeJSON(c.w, http.StatusOK, payload[v0OrderBuyerInfo]{out})
}

// itemsPage decodes an items NextToken or starts at 0.
func itemsPage(d *dataset, c *call, sd *sellerData, i int, kind string) (start int, ok bool) {
	vals, ok := parseQuery(c, "NextToken")
	if !ok {
		return 0, false
	}
	tok := vals.Get("NextToken")
	if tok == "" {
		return 0, true
	}
	q, ok := d.decodeToken(tok, kind, sd.seller.ID)
	if !ok || q.Order != i || q.Pos >= int(sd.orders[i].items) {
		writeError(c.w, http.StatusBadRequest, "InvalidInput", msgBadNextToken, "")
		return 0, false
	}
	return q.Pos, true
}

func (d *dataset) itemsToken(sd *sellerData, i, next int, kind string) string {
	if next >= int(sd.orders[i].items) {
		return ""
	}
	return d.encodeToken(&orderQuery{Kind: kind, Seller: sd.seller.ID, Max: 1, Pos: next, Order: i})
}

func handleGetOrderItems(s *Server, c *call) {
	d, sd, i, ok := orderFromPath(s, c)
	if !ok {
		return
	}
	start, ok := itemsPage(d, c, sd, i, tokOrderItems)
	if !ok {
		return
	}
	g, ok := v0Grant(c)
	if !ok {
		return
	}
	m := sd.mkts[sd.orders[i].mkt]
	money := func(v int64) *v0Money { return &v0Money{m.Currency, formatMoney(m, v)} }
	items := sd.items(i)
	end := min(len(items), start+d.itemsPageSize)
	out := v0OrderItemsList{AmazonOrderId: d.orderID(sd, i), OrderItems: make([]v0OrderItem, 0, end-start)}
	for _, it := range items[start:end] {
		oi := v0OrderItem{
			ASIN: it.Product.ASIN, SellerSKU: it.Product.SKU, OrderItemId: it.ID, Title: it.Product.Title,
			QuantityOrdered: it.Qty, QuantityShipped: it.Shipped, ProductInfo: v0ProductInfo{"1"},
			ItemPrice: money(it.Unit * int64(it.Qty)), ShippingPrice: money(it.Shipping), ItemTax: money(it.Tax),
			ShippingTax: money(0), ShippingDiscount: money(0), ShippingDiscountTax: money(0),
			PromotionDiscount: money(it.Discount), PromotionDiscountTax: money(0),
			IsGift: strconv.FormatBool(it.GiftMsg != ""), ConditionId: "New", ConditionSubtypeId: "New",
		}
		if it.Discount != 0 {
			oi.PromotionIds = []string{"PLM-" + it.ID[:8]}
		}
		if g.buyer && it.GiftMsg != "" {
			oi.BuyerInfo = &v0ItemBuyerInfo{GiftMessageText: it.GiftMsg, GiftWrapLevel: "Classic", GiftWrapPrice: money(0)}
		}
		out.OrderItems = append(out.OrderItems, oi)
	}
	out.NextToken = d.itemsToken(sd, i, end, tokOrderItems)
	writeJSON(c.w, http.StatusOK, payload[v0OrderItemsList]{out})
}

func handleGetOrderItemsBuyerInfo(s *Server, c *call) {
	d, sd, i, ok := orderFromPath(s, c)
	if !ok {
		return
	}
	start, ok := itemsPage(d, c, sd, i, tokItemsBuyerInfo)
	if !ok {
		return
	}
	pii, ok := piiOnly(d, c, RoleShipping, RoleTaxInvoicing)
	if !ok {
		return
	}
	m := sd.mkts[sd.orders[i].mkt]
	items := sd.items(i)
	end := min(len(items), start+d.itemsPageSize)
	out := v0OrderItemsBuyerInfoList{AmazonOrderId: d.orderID(sd, i), OrderItems: make([]v0OrderItemBuyerInfo, 0, end-start)}
	for _, it := range items[start:end] {
		bi := v0OrderItemBuyerInfo{OrderItemId: it.ID}
		if pii && it.GiftMsg != "" {
			bi.GiftMessageText, bi.GiftWrapLevel = it.GiftMsg, "Classic"
			bi.GiftWrapPrice = &v0Money{m.Currency, formatMoney(m, 0)}
		}
		out.OrderItems = append(out.OrderItems, bi)
	}
	out.NextToken = d.itemsToken(sd, i, end, tokItemsBuyerInfo)
	writeJSON(c.w, http.StatusOK, payload[v0OrderItemsBuyerInfoList]{out})
}
