// Package orders calls the Orders API v0: getOrders, getOrder,
// getOrderItems, getOrderAddress, getOrderBuyerInfo, getOrderItemsBuyerInfo.
// PII comes through Restricted Data Tokens that the client gets on its own
// when a call asks for data elements.
package orders

import (
	"context"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/spapi"
)

// Data elements for WithPII.
const (
	PIIShippingAddress     = "shippingAddress"
	PIIBuyerInfo           = "buyerInfo"
	PIIBuyerTaxInformation = "buyerTaxInformation"
)

// Client calls Orders v0 through an spapi.Client.
type Client struct{ c *spapi.Client }

// New returns an Orders v0 client.
func New(c *spapi.Client) *Client { return &Client{c: c} }

func op(id string) *operations.Operation { return operations.MustByID("orders", "v0", id) }

// Money is an amount in a currency.
type Money struct {
	CurrencyCode string `json:"CurrencyCode,omitempty"`
	Amount       string `json:"Amount,omitempty"`
}

// Address is a shipping address. Without a Restricted Data Token only City,
// StateOrRegion, PostalCode and CountryCode are filled.
type Address struct {
	Name          string `json:"Name,omitempty"`
	CompanyName   string `json:"CompanyName,omitempty"`
	AddressLine1  string `json:"AddressLine1,omitempty"`
	AddressLine2  string `json:"AddressLine2,omitempty"`
	AddressLine3  string `json:"AddressLine3,omitempty"`
	City          string `json:"City,omitempty"`
	County        string `json:"County,omitempty"`
	District      string `json:"District,omitempty"`
	StateOrRegion string `json:"StateOrRegion,omitempty"`
	Municipality  string `json:"Municipality,omitempty"`
	PostalCode    string `json:"PostalCode,omitempty"`
	CountryCode   string `json:"CountryCode,omitempty"`
	Phone         string `json:"Phone,omitempty"`
	AddressType   string `json:"AddressType,omitempty"`
}

// BuyerInfo is the buyer's contact and tax data.
type BuyerInfo struct {
	BuyerEmail          string `json:"BuyerEmail,omitempty"`
	BuyerName           string `json:"BuyerName,omitempty"`
	BuyerCounty         string `json:"BuyerCounty,omitempty"`
	PurchaseOrderNumber string `json:"PurchaseOrderNumber,omitempty"`
}

// Order is an Orders v0 order (the fields spgate uses; the raw JSON keeps
// the rest).
type Order struct {
	AmazonOrderId          string     `json:"AmazonOrderId"`
	SellerOrderId          string     `json:"SellerOrderId,omitempty"`
	PurchaseDate           string     `json:"PurchaseDate"`
	LastUpdateDate         string     `json:"LastUpdateDate"`
	OrderStatus            string     `json:"OrderStatus"`
	FulfillmentChannel     string     `json:"FulfillmentChannel,omitempty"`
	SalesChannel           string     `json:"SalesChannel,omitempty"`
	ShipServiceLevel       string     `json:"ShipServiceLevel,omitempty"`
	OrderTotal             *Money     `json:"OrderTotal,omitempty"`
	NumberOfItemsShipped   int        `json:"NumberOfItemsShipped,omitempty"`
	NumberOfItemsUnshipped int        `json:"NumberOfItemsUnshipped,omitempty"`
	PaymentMethod          string     `json:"PaymentMethod,omitempty"`
	MarketplaceId          string     `json:"MarketplaceId,omitempty"`
	OrderType              string     `json:"OrderType,omitempty"`
	IsBusinessOrder        bool       `json:"IsBusinessOrder,omitempty"`
	IsPrime                bool       `json:"IsPrime,omitempty"`
	ShippingAddress        *Address   `json:"ShippingAddress,omitempty"`
	BuyerInfo              *BuyerInfo `json:"BuyerInfo,omitempty"`
}

// OrderItem is a line of an order.
type OrderItem struct {
	ASIN            string `json:"ASIN"`
	SellerSKU       string `json:"SellerSKU,omitempty"`
	OrderItemId     string `json:"OrderItemId"`
	Title           string `json:"Title,omitempty"`
	QuantityOrdered int    `json:"QuantityOrdered"`
	QuantityShipped int    `json:"QuantityShipped,omitempty"`
	ItemPrice       *Money `json:"ItemPrice,omitempty"`
	ItemTax         *Money `json:"ItemTax,omitempty"`
}

// Query selects orders for ListOrders.
type Query struct {
	Seller         string
	MarketplaceIDs []string
	// Exactly one of CreatedAfter and LastUpdatedAfter is required.
	CreatedAfter, CreatedBefore         time.Time
	LastUpdatedAfter, LastUpdatedBefore time.Time
	OrderStatuses                       []string
	FulfillmentChannels                 []string // AFN, MFN
	MaxResultsPerPage                   int      // 1–100, default 100
	// PII lists the data elements wanted (PIIShippingAddress, PIIBuyerInfo…); the
	// client gets a Restricted Data Token covering them.
	PII []string
}

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (q Query) values(next string) url.Values {
	v := url.Values{}
	v.Set("MarketplaceIds", strings.Join(q.MarketplaceIDs, ","))
	if next != "" {
		v.Set("NextToken", next)
		return v
	}
	if !q.CreatedAfter.IsZero() {
		v.Set("CreatedAfter", iso(q.CreatedAfter))
	}
	if !q.CreatedBefore.IsZero() {
		v.Set("CreatedBefore", iso(q.CreatedBefore))
	}
	if !q.LastUpdatedAfter.IsZero() {
		v.Set("LastUpdatedAfter", iso(q.LastUpdatedAfter))
	}
	if !q.LastUpdatedBefore.IsZero() {
		v.Set("LastUpdatedBefore", iso(q.LastUpdatedBefore))
	}
	if len(q.OrderStatuses) > 0 {
		v.Set("OrderStatuses", strings.Join(q.OrderStatuses, ","))
	}
	if len(q.FulfillmentChannels) > 0 {
		v.Set("FulfillmentChannels", strings.Join(q.FulfillmentChannels, ","))
	}
	n := q.MaxResultsPerPage
	if n <= 0 || n > 100 {
		n = 100
	}
	v.Set("MaxResultsPerPage", strconv.Itoa(n))
	return v
}

// Page is one getOrders answer.
type Page struct {
	Orders            []Order `json:"Orders"`
	NextToken         string  `json:"NextToken,omitempty"`
	LastUpdatedBefore string  `json:"LastUpdatedBefore,omitempty"`
	CreatedBefore     string  `json:"CreatedBefore,omitempty"`
}

// GetOrders fetches one page (next is empty for the first page).
func (c *Client) GetOrders(ctx context.Context, q Query, next string) (*Page, error) {
	var out struct {
		Payload Page `json:"payload"`
	}
	err := c.c.DoJSON(ctx, spapi.Call{Operation: op("getOrders"), Seller: q.Seller, Query: q.values(next), DataElements: q.PII}, &out)
	if err != nil {
		return nil, err
	}
	return &out.Payload, nil
}

// ListOrders iterates over every order the query selects, page after page.
func (c *Client) ListOrders(ctx context.Context, q Query) iter.Seq2[Order, error] {
	return spapi.Paginate(ctx, func(ctx context.Context, token string) ([]Order, string, error) {
		p, err := c.GetOrders(ctx, q, token)
		if err != nil {
			return nil, "", err
		}
		return p.Orders, p.NextToken, nil
	})
}

// GetOrder fetches one order; pii as in Query.PII.
func (c *Client) GetOrder(ctx context.Context, seller, orderID string, pii ...string) (*Order, error) {
	var out struct {
		Payload Order `json:"payload"`
	}
	err := c.c.DoJSON(ctx, spapi.Call{Operation: op("getOrder"), Seller: seller,
		PathParams: map[string]string{"orderId": orderID}, DataElements: pii}, &out)
	if err != nil {
		return nil, err
	}
	return &out.Payload, nil
}

// OrderAddress is getOrderAddress's answer.
type OrderAddress struct {
	AmazonOrderId    string   `json:"AmazonOrderId"`
	BuyerCompanyName string   `json:"BuyerCompanyName,omitempty"`
	ShippingAddress  *Address `json:"ShippingAddress,omitempty"`
}

// GetOrderAddress fetches the shipping address (always restricted: the
// client gets an RDT for the generic path, so one token serves every order).
func (c *Client) GetOrderAddress(ctx context.Context, seller, orderID string) (*OrderAddress, error) {
	var out struct {
		Payload OrderAddress `json:"payload"`
	}
	err := c.c.DoJSON(ctx, spapi.Call{Operation: op("getOrderAddress"), Seller: seller,
		PathParams: map[string]string{"orderId": orderID}}, &out)
	if err != nil {
		return nil, err
	}
	return &out.Payload, nil
}

// OrderBuyerInfo is getOrderBuyerInfo's answer.
type OrderBuyerInfo struct {
	AmazonOrderId string `json:"AmazonOrderId"`
	BuyerInfo
}

// GetOrderBuyerInfo fetches the buyer's information (restricted).
func (c *Client) GetOrderBuyerInfo(ctx context.Context, seller, orderID string) (*OrderBuyerInfo, error) {
	var out struct {
		Payload OrderBuyerInfo `json:"payload"`
	}
	err := c.c.DoJSON(ctx, spapi.Call{Operation: op("getOrderBuyerInfo"), Seller: seller,
		PathParams: map[string]string{"orderId": orderID}}, &out)
	if err != nil {
		return nil, err
	}
	return &out.Payload, nil
}

// ItemsPage is one getOrderItems answer.
type ItemsPage struct {
	AmazonOrderId string      `json:"AmazonOrderId"`
	OrderItems    []OrderItem `json:"OrderItems"`
	NextToken     string      `json:"NextToken,omitempty"`
}

// ListOrderItems iterates over an order's items.
func (c *Client) ListOrderItems(ctx context.Context, seller, orderID string, pii ...string) iter.Seq2[OrderItem, error] {
	return spapi.Paginate(ctx, func(ctx context.Context, token string) ([]OrderItem, string, error) {
		var q url.Values
		if token != "" {
			q = url.Values{"NextToken": {token}}
		}
		var out struct {
			Payload ItemsPage `json:"payload"`
		}
		err := c.c.DoJSON(ctx, spapi.Call{Operation: op("getOrderItems"), Seller: seller,
			PathParams: map[string]string{"orderId": orderID}, Query: q, DataElements: pii}, &out)
		if err != nil {
			return nil, "", err
		}
		return out.Payload.OrderItems, out.Payload.NextToken, nil
	})
}

// ItemBuyerInfo is one entry of getOrderItemsBuyerInfo.
type ItemBuyerInfo struct {
	OrderItemId     string `json:"OrderItemId"`
	GiftMessageText string `json:"GiftMessageText,omitempty"`
	GiftWrapLevel   string `json:"GiftWrapLevel,omitempty"`
}

// ListOrderItemsBuyerInfo iterates over the buyer information of an order's
// items (restricted).
func (c *Client) ListOrderItemsBuyerInfo(ctx context.Context, seller, orderID string) iter.Seq2[ItemBuyerInfo, error] {
	return spapi.Paginate(ctx, func(ctx context.Context, token string) ([]ItemBuyerInfo, string, error) {
		var q url.Values
		if token != "" {
			q = url.Values{"NextToken": {token}}
		}
		var out struct {
			Payload struct {
				OrderItems []ItemBuyerInfo `json:"OrderItems"`
				NextToken  string          `json:"NextToken,omitempty"`
			} `json:"payload"`
		}
		err := c.c.DoJSON(ctx, spapi.Call{Operation: op("getOrderItemsBuyerInfo"), Seller: seller,
			PathParams: map[string]string{"orderId": orderID}, Query: q}, &out)
		if err != nil {
			return nil, "", err
		}
		return out.Payload.OrderItems, out.Payload.NextToken, nil
	})
}
