// Package listings calls the Listings Items API 2021-08-01: read, create or
// replace, patch and delete a seller's listing by SKU.
//
// The SKU travels in the URL path. Amazon requires it URL-encoded there, so
// a SKU is passed to these calls as the seller wrote it ("AB/12", "A B",
// "50%", "Größe-ß") and spapi escapes it into one path segment (AB%2F12);
// never escape it yourself, or Amazon sees the escape as part of the SKU.
package listings

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/spapi"
)

// includedData values of GetItem.
const (
	Summaries               = "summaries"
	Attributes              = "attributes"
	Issues                  = "issues"
	Offers                  = "offers"
	FulfillmentAvailability = "fulfillmentAvailability"
	Procurement             = "procurement"
	Relationships           = "relationships"
	ProductTypes            = "productTypes"
)

// includedData values of PutItem and PatchItem (Issues is the default).
const (
	Identifiers = "identifiers" // only with SubmitOptions.ValidationPreview
)

// Requirements of a PutRequest.
const (
	RequirementsListing            = "LISTING"
	RequirementsListingProductOnly = "LISTING_PRODUCT_ONLY"
	RequirementsListingOfferOnly   = "LISTING_OFFER_ONLY"
)

// Statuses of a submission.
const (
	StatusAccepted = "ACCEPTED"
	StatusInvalid  = "INVALID"
	StatusValid    = "VALID" // ValidationPreview found no issue
)

// Client calls the Listings Items API.
type Client struct{ c *spapi.Client }

// New returns a Listings Items client.
func New(c *spapi.Client) *Client { return &Client{c: c} }

func op(id string) *operations.Operation {
	return operations.MustByID("listings-items", "2021-08-01", id)
}

// Item is a listings item as getListingsItem returns it; only the parts
// asked for with GetOptions.IncludedData are set.
type Item struct {
	SKU                     string                        `json:"sku"`
	Summaries               []Summary                     `json:"summaries,omitempty"`
	Attributes              map[string]json.RawMessage    `json:"attributes,omitempty"`
	Issues                  []Issue                       `json:"issues,omitempty"`
	Offers                  []Offer                       `json:"offers,omitempty"`
	FulfillmentAvailability []FulfillmentAvailabilityInfo `json:"fulfillmentAvailability,omitempty"`
	Procurement             json.RawMessage               `json:"procurement,omitempty"`
	Relationships           json.RawMessage               `json:"relationships,omitempty"`
	ProductTypes            []ProductType                 `json:"productTypes,omitempty"`
}

// Summary is an item's summary in one marketplace.
type Summary struct {
	MarketplaceID   string   `json:"marketplaceId"`
	ASIN            string   `json:"asin,omitempty"`
	ProductType     string   `json:"productType"`
	ConditionType   string   `json:"conditionType,omitempty"`
	Status          []string `json:"status"` // BUYABLE, DISCOVERABLE
	FnSKU           string   `json:"fnSku,omitempty"`
	ItemName        string   `json:"itemName,omitempty"`
	CreatedDate     string   `json:"createdDate"`
	LastUpdatedDate string   `json:"lastUpdatedDate"`
}

// Issue is a problem Amazon found with a listing or a submission.
type Issue struct {
	Code           string          `json:"code"`
	Message        string          `json:"message"`
	Severity       string          `json:"severity"` // ERROR, WARNING, INFO
	AttributeNames []string        `json:"attributeNames,omitempty"`
	Categories     []string        `json:"categories"`
	MarketplaceIDs []string        `json:"marketplaceIds,omitempty"`
	Enforcements   json.RawMessage `json:"enforcements,omitempty"`
}

// Money is an amount in a currency; Amount is a decimal string.
type Money struct {
	CurrencyCode string `json:"currencyCode"`
	Amount       string `json:"amount"`
}

// Offer is an item's offer in one marketplace.
type Offer struct {
	MarketplaceID string          `json:"marketplaceId"`
	OfferType     string          `json:"offerType"` // B2C, B2B
	Price         Money           `json:"price"`
	Points        json.RawMessage `json:"points,omitempty"`
	Audience      json.RawMessage `json:"audience,omitempty"`
}

// FulfillmentAvailabilityInfo is the quantity available in one
// fulfillment network.
type FulfillmentAvailabilityInfo struct {
	FulfillmentChannelCode string `json:"fulfillmentChannelCode"`
	Quantity               *int   `json:"quantity,omitempty"`
}

// ProductType is an item's product type in one marketplace.
type ProductType struct {
	MarketplaceID string `json:"marketplaceId"`
	ProductType   string `json:"productType"`
}

// PutRequest creates or fully replaces a listing. Attributes are keyed by
// attribute name; each value is a list of objects, as the product type's
// schema defines them, e.g.
//
//	"item_name": []map[string]any{{"value": "Blue mug", "language_tag": "en_US", "marketplace_id": "ATVPDKIKX0DER"}}
type PutRequest struct {
	ProductType  string         `json:"productType"`
	Requirements string         `json:"requirements,omitempty"` // default LISTING
	Attributes   map[string]any `json:"attributes"`
}

// PatchRequest changes top-level attributes of a listing.
type PatchRequest struct {
	ProductType string           `json:"productType"`
	Patches     []PatchOperation `json:"patches"`
}

// PatchOperation is one JSON Patch operation: Op is add, replace, merge or
// delete; Path is "/attributes/<name>".
type PatchOperation struct {
	Op    string           `json:"op"`
	Path  string           `json:"path"`
	Value []map[string]any `json:"value,omitempty"`
}

// Submission is Amazon's answer to a put, patch or delete. An INVALID
// submission is not an error of the call: read Issues.
type Submission struct {
	SKU          string                  `json:"sku"`
	Status       string                  `json:"status"`
	SubmissionID string                  `json:"submissionId"`
	Issues       []Issue                 `json:"issues,omitempty"`
	Identifiers  []MarketplaceIdentifier `json:"identifiers,omitempty"`
}

// MarketplaceIdentifier is the catalog identity of an item in one
// marketplace.
type MarketplaceIdentifier struct {
	MarketplaceID string `json:"marketplaceId"`
	ASIN          string `json:"asin,omitempty"`
}

// GetOptions tune GetItem.
type GetOptions struct {
	// IncludedData lists the parts to return (default: summaries).
	IncludedData []string
	// IssueLocale localizes issue messages, e.g. "en_US".
	IssueLocale string
}

// SubmitOptions tune PutItem and PatchItem.
type SubmitOptions struct {
	// IncludedData lists the parts of the answer (default: issues).
	IncludedData []string
	// ValidationPreview checks the submission without applying it
	// (mode=VALIDATION_PREVIEW); a clean one answers VALID.
	ValidationPreview bool
	// IssueLocale localizes issue messages, e.g. "en_US".
	IssueLocale string
}

// GetItem returns a seller's listing of sku in marketplaceIDs. A SKU listed
// in none of them is an *spapi.APIError with Status 404.
func (c *Client) GetItem(ctx context.Context, seller, sku string, marketplaceIDs []string, opts GetOptions) (*Item, error) {
	q, err := query(marketplaceIDs, opts.IncludedData, opts.IssueLocale)
	if err != nil {
		return nil, err
	}
	var out Item
	if err := c.c.DoJSON(ctx, call("getListingsItem", seller, sku, q, nil), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutItem creates or fully replaces a seller's listing of sku in one
// marketplace.
func (c *Client) PutItem(ctx context.Context, seller, sku, marketplaceID string, req PutRequest, opts SubmitOptions) (*Submission, error) {
	if req.Attributes == nil {
		req.Attributes = map[string]any{}
	}
	return c.submit(ctx, "putListingsItem", seller, sku, []string{marketplaceID}, req, opts)
}

// PatchItem changes top-level attributes of a seller's listing of sku in
// marketplaceIDs.
func (c *Client) PatchItem(ctx context.Context, seller, sku string, marketplaceIDs []string, req PatchRequest, opts SubmitOptions) (*Submission, error) {
	if len(req.Patches) == 0 {
		return nil, errors.New("listings patchListingsItem: no patches: give at least one PatchOperation")
	}
	return c.submit(ctx, "patchListingsItem", seller, sku, marketplaceIDs, req, opts)
}

// DeleteItem deletes a seller's listing of sku in one marketplace.
// issueLocale may be empty.
func (c *Client) DeleteItem(ctx context.Context, seller, sku, marketplaceID, issueLocale string) (*Submission, error) {
	q, err := query([]string{marketplaceID}, nil, issueLocale)
	if err != nil {
		return nil, err
	}
	var out Submission
	if err := c.c.DoJSON(ctx, call("deleteListingsItem", seller, sku, q, nil), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) submit(ctx context.Context, id, seller, sku string, marketplaceIDs []string, body any, opts SubmitOptions) (*Submission, error) {
	q, err := query(marketplaceIDs, opts.IncludedData, opts.IssueLocale)
	if err != nil {
		return nil, err
	}
	if opts.ValidationPreview {
		q.Set("mode", "VALIDATION_PREVIEW")
	}
	var out Submission
	if err := c.c.DoJSON(ctx, call(id, seller, sku, q, body), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// call builds the call; spapi escapes sku (and seller) into the path.
func call(id, seller, sku string, q url.Values, body any) spapi.Call {
	return spapi.Call{
		Operation:  op(id),
		Seller:     seller,
		PathParams: map[string]string{"sellerId": seller, "sku": sku},
		Query:      q,
		Body:       body,
	}
}

func query(marketplaceIDs, included []string, issueLocale string) (url.Values, error) {
	var ids []string
	for _, m := range marketplaceIDs {
		if m != "" {
			ids = append(ids, m)
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("listings: no marketplace id given: name the marketplace of the listing, e.g. ATVPDKIKX0DER")
	}
	q := url.Values{"marketplaceIds": {strings.Join(ids, ",")}}
	if len(included) > 0 {
		q.Set("includedData", strings.Join(included, ","))
	}
	if issueLocale != "" {
		q.Set("issueLocale", issueLocale)
	}
	return q, nil
}
