// Package orders2026 calls the Orders API 2026-01-01 (searchOrders,
// getOrder). PII comes with includedData (BUYER, RECIPIENT) when the app
// holds the role; no Restricted Data Token is needed.
package orders2026

import (
	"context"
	"encoding/json"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/spapi"
)

// includedData values.
const (
	Buyer       = "BUYER"
	Recipient   = "RECIPIENT"
	Proceeds    = "PROCEEDS"
	Fulfillment = "FULFILLMENT"
)

// Client calls Orders 2026-01-01.
type Client struct{ c *spapi.Client }

// New returns an Orders 2026-01-01 client.
func New(c *spapi.Client) *Client { return &Client{c: c} }

func op(id string) *operations.Operation { return operations.MustByID("orders", "2026-01-01", id) }

// Order is a 2026-01-01 order: the fields spgate reads, plus Raw with the
// whole object for everything else.
type Order struct {
	OrderID         string          `json:"orderId"`
	CreatedTime     string          `json:"createdTime"`
	LastUpdatedTime string          `json:"lastUpdatedTime"`
	Raw             json.RawMessage `json:"-"`
}

// UnmarshalJSON keeps the raw object.
func (o *Order) UnmarshalJSON(b []byte) error {
	type plain Order
	if err := json.Unmarshal(b, (*plain)(o)); err != nil {
		return err
	}
	o.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON writes the raw object back.
func (o Order) MarshalJSON() ([]byte, error) {
	if o.Raw != nil {
		return o.Raw, nil
	}
	type plain Order
	return json.Marshal(plain(o))
}

// Query selects orders for Search.
type Query struct {
	Seller                              string
	MarketplaceIDs                      []string
	CreatedAfter, CreatedBefore         time.Time
	LastUpdatedAfter, LastUpdatedBefore time.Time
	FulfillmentStatuses                 []string
	FulfilledBy                         []string // MERCHANT, AMAZON
	MaxResultsPerPage                   int
	IncludedData                        []string
}

func (q Query) values(token string) url.Values {
	v := url.Values{}
	set := func(k string, t time.Time) {
		if !t.IsZero() {
			v.Set(k, t.UTC().Format(time.RFC3339))
		}
	}
	set("createdAfter", q.CreatedAfter)
	set("createdBefore", q.CreatedBefore)
	set("lastUpdatedAfter", q.LastUpdatedAfter)
	set("lastUpdatedBefore", q.LastUpdatedBefore)
	if len(q.MarketplaceIDs) > 0 {
		v.Set("marketplaceIds", strings.Join(q.MarketplaceIDs, ","))
	}
	if len(q.FulfillmentStatuses) > 0 {
		v.Set("fulfillmentStatuses", strings.Join(q.FulfillmentStatuses, ","))
	}
	if len(q.FulfilledBy) > 0 {
		v.Set("fulfilledBy", strings.Join(q.FulfilledBy, ","))
	}
	if q.MaxResultsPerPage > 0 {
		v.Set("maxResultsPerPage", strconv.Itoa(q.MaxResultsPerPage))
	}
	if len(q.IncludedData) > 0 {
		v.Set("includedData", strings.Join(q.IncludedData, ","))
	}
	if token != "" {
		v.Set("paginationToken", token)
	}
	return v
}

// Page is one searchOrders answer.
type Page struct {
	Orders     []Order `json:"orders"`
	Pagination *struct {
		NextToken string `json:"nextToken,omitempty"`
	} `json:"pagination,omitempty"`
	LastUpdatedBefore string `json:"lastUpdatedBefore,omitempty"`
	CreatedBefore     string `json:"createdBefore,omitempty"`
}

// SearchOrders fetches one page.
func (c *Client) SearchOrders(ctx context.Context, q Query, token string) (*Page, error) {
	var p Page
	if err := c.c.DoJSON(ctx, spapi.Call{Operation: op("searchOrders"), Seller: q.Seller, Query: q.values(token)}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Search iterates over every order the query selects.
func (c *Client) Search(ctx context.Context, q Query) iter.Seq2[Order, error] {
	return spapi.Paginate(ctx, func(ctx context.Context, token string) ([]Order, string, error) {
		p, err := c.SearchOrders(ctx, q, token)
		if err != nil {
			return nil, "", err
		}
		next := ""
		if p.Pagination != nil {
			next = p.Pagination.NextToken
		}
		return p.Orders, next, nil
	})
}

// GetOrder fetches one order with the included data.
func (c *Client) GetOrder(ctx context.Context, seller, orderID string, includedData ...string) (*Order, error) {
	var q url.Values
	if len(includedData) > 0 {
		q = url.Values{"includedData": {strings.Join(includedData, ",")}}
	}
	var out struct {
		Order Order `json:"order"`
	}
	if err := c.c.DoJSON(ctx, spapi.Call{Operation: op("getOrder"), Seller: seller,
		PathParams: map[string]string{"orderId": orderID}, Query: q}, &out); err != nil {
		return nil, err
	}
	return &out.Order, nil
}
