package listings_test

// These tests run the typed calls through spapi.Client against the
// emulator. They need spapi to keep the escaped path end to end: Call's
// PathParams are escaped into the path (expandPath), the request must keep
// that form (URL.RawPath) on the wire, and the transport must resolve the
// operation on it. A client that drops the escaped form sends AB/12 as two
// segments (or refuses it with spapi.UnknownOperationError before sending),
// and these tests fail for the SKUs with '/' — the emulator side of the
// same round trips is tested over raw HTTP in amazontest.

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/spapi/listings"
)

const us = "ATVPDKIKX0DER"

// wire records the request targets the client put on the wire.
type wire struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string // "METHOD request-uri"
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.seen = append(w.seen, r.Method+" "+r.URL.RequestURI())
	w.mu.Unlock()
	return w.next.RoundTrip(r)
}

func (w *wire) listingsTargets() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, s := range w.seen {
		if strings.Contains(s, " /listings/") {
			out = append(out, s)
		}
	}
	return out
}

type env struct {
	srv    *amazontest.Server
	seller string
	wire   *wire
	li     *listings.Client
}

// newEnv starts an emulator and a client for its demo seller; each env has
// its own client, so its rate-limit buckets start full.
func newEnv(t *testing.T) *env {
	t.Helper()
	srv := amazontest.NewServer()
	t.Cleanup(srv.Close)
	d := srv.Demo()
	eps, err := spapi.Custom(srv.URL, map[spapi.Region]string{
		spapi.EU: srv.RegionURL(amazontest.RegionEU),
		spapi.FE: srv.RegionURL(amazontest.RegionFE),
	}, srv.TokenURL())
	if err != nil {
		t.Fatal(err)
	}
	w := &wire{next: http.DefaultTransport}
	var sellers spapi.StaticSellers
	for _, s := range d.Sellers {
		sellers = append(sellers, spapi.Seller{ID: s.ID, Region: spapi.Region(s.Region), RefreshToken: secret.New(s.RefreshToken)})
	}
	c, err := spapi.New(spapi.Config{
		AppID:       d.AppID,
		Credentials: lwa.StaticCredentials{ClientID: d.ClientID, ClientSecret: secret.New(d.ClientSecret)},
		Sellers:     sellers,
		Endpoints:   eps,
		Base:        w,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, seller: d.SellerID, wire: w, li: listings.New(c)}
}

var mug = listings.PutRequest{
	ProductType:  "PRODUCT",
	Requirements: listings.RequirementsListing,
	Attributes: map[string]any{
		"item_name":                []map[string]any{{"value": "Blue mug", "language_tag": "en_US", "marketplace_id": us}},
		"purchasable_offer":        []map[string]any{{"marketplace_id": us, "currency": "USD", "our_price": []any{map[string]any{"schedule": []any{map[string]any{"value_with_tax": 12.99}}}}}},
		"fulfillment_availability": []map[string]any{{"fulfillment_channel_code": "DEFAULT", "quantity": 3}},
	},
}

// TestReservedSKUsRoundTrip puts, reads, patches and deletes a listing
// for each SKU that needs escaping, through the library, and checks both
// what went on the wire and what the emulator stored.
func TestReservedSKUsRoundTrip(t *testing.T) {
	tests := []struct {
		sku, segment string // segment: the SKU as the path carries it
	}{
		{"AB/12", "AB%2F12"},
		{"A B", "A%20B"},
		{"A#1", "A%231"},
		{"50%", "50%25"},
		{"A+B", "A+B"}, // url.PathEscape keeps '+'; in a path it is a plus
		{"Größe-ß", "Gr%C3%B6%C3%9Fe-%C3%9F"},
		{"商品", "%E5%95%86%E5%93%81"},
	}
	for _, tc := range tests {
		t.Run(tc.sku, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()

			sub, err := e.li.PutItem(ctx, e.seller, tc.sku, us, mug, listings.SubmitOptions{})
			if err != nil {
				t.Fatalf("PutItem: %v", err)
			}
			if sub.Status != listings.StatusAccepted || sub.SKU != tc.sku || sub.SubmissionID == "" {
				t.Fatalf("PutItem: %+v", sub)
			}
			if got := e.srv.ListingSKUs(e.seller); !slices.Equal(got, []string{tc.sku}) {
				t.Fatalf("Amazon stored SKUs %q, want exactly %q", got, tc.sku)
			}

			it, err := e.li.GetItem(ctx, e.seller, tc.sku, []string{us}, listings.GetOptions{IncludedData: []string{listings.Summaries, listings.Attributes, listings.Offers, listings.FulfillmentAvailability}})
			if err != nil {
				t.Fatalf("GetItem: %v", err)
			}
			if it.SKU != tc.sku || len(it.Summaries) != 1 || it.Summaries[0].ItemName != "Blue mug" || len(it.Offers) != 1 ||
				it.Offers[0].Price != (listings.Money{CurrencyCode: "USD", Amount: "12.99"}) || it.Attributes["item_name"] == nil ||
				len(it.FulfillmentAvailability) != 1 || *it.FulfillmentAvailability[0].Quantity != 3 {
				t.Fatalf("GetItem: %+v", it)
			}

			sub, err = e.li.PatchItem(ctx, e.seller, tc.sku, []string{us}, listings.PatchRequest{ProductType: "PRODUCT", Patches: []listings.PatchOperation{
				{Op: "replace", Path: "/attributes/item_name", Value: []map[string]any{{"value": "Red mug", "language_tag": "en_US", "marketplace_id": us}}},
			}}, listings.SubmitOptions{})
			if err != nil || sub.Status != listings.StatusAccepted || sub.SKU != tc.sku {
				t.Fatalf("PatchItem: %+v %v", sub, err)
			}
			it, err = e.li.GetItem(ctx, e.seller, tc.sku, []string{us}, listings.GetOptions{})
			if err != nil || it.Summaries[0].ItemName != "Red mug" {
				t.Fatalf("GetItem after patch: %+v %v", it, err)
			}

			sub, err = e.li.DeleteItem(ctx, e.seller, tc.sku, us, "")
			if err != nil || sub.Status != listings.StatusAccepted || sub.SKU != tc.sku {
				t.Fatalf("DeleteItem: %+v %v", sub, err)
			}
			_, err = e.li.GetItem(ctx, e.seller, tc.sku, []string{us}, listings.GetOptions{})
			var ae *spapi.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Code != "NOT_FOUND" {
				t.Fatalf("GetItem after delete: %v, want 404 NOT_FOUND", err)
			}

			want := "/listings/2021-08-01/items/" + e.seller + "/" + tc.segment + "?"
			targets := e.wire.listingsTargets()
			if len(targets) != 6 {
				t.Fatalf("%d listings requests on the wire, want 6: %q", len(targets), targets)
			}
			for _, got := range targets {
				if _, target, _ := strings.Cut(got, " "); !strings.HasPrefix(target, want) {
					t.Errorf("on the wire: %s, want the path %s", got, strings.TrimSuffix(want, "?"))
				}
			}
		})
	}
}

// TestSubmissionsAndErrors: an INVALID submission is an answer, not an
// error; previews change nothing; mistakes the client can see are refused
// before anything is sent.
func TestSubmissionsAndErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	sub, err := e.li.PutItem(ctx, e.seller, "NO-NAME", us, listings.PutRequest{ProductType: "PRODUCT"}, listings.SubmitOptions{})
	if err != nil || sub.Status != listings.StatusInvalid || len(sub.Issues) != 1 || sub.Issues[0].Severity != "ERROR" || !slices.Equal(sub.Issues[0].AttributeNames, []string{"item_name"}) {
		t.Fatalf("put without item_name: %+v %v", sub, err)
	}
	sub, err = e.li.PutItem(ctx, e.seller, "MUG/1", us, mug, listings.SubmitOptions{ValidationPreview: true, IncludedData: []string{listings.Identifiers, listings.Issues}})
	if err != nil || sub.Status != listings.StatusValid || len(sub.Identifiers) != 1 || sub.Identifiers[0].ASIN == "" {
		t.Fatalf("preview: %+v %v", sub, err)
	}
	if got := e.srv.ListingSKUs(e.seller); len(got) != 0 {
		t.Fatalf("stored %q", got)
	}

	// Amazon's refusals are *spapi.APIError.
	_, err = e.li.PutItem(ctx, e.seller, "MUG-1", us, mug, listings.SubmitOptions{IncludedData: []string{listings.Identifiers}})
	var ae *spapi.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != "InvalidInput" {
		t.Fatalf("identifiers without preview: %v", err)
	}

	before := len(e.wire.listingsTargets())
	for name, f := range map[string]func() error{
		"no marketplace": func() error {
			_, err := e.li.GetItem(ctx, e.seller, "MUG-1", nil, listings.GetOptions{})
			return err
		},
		"empty SKU": func() error {
			_, err := e.li.DeleteItem(ctx, e.seller, "", us, "")
			return err
		},
		"no patches": func() error {
			_, err := e.li.PatchItem(ctx, e.seller, "MUG-1", []string{us}, listings.PatchRequest{ProductType: "PRODUCT"}, listings.SubmitOptions{})
			return err
		},
	} {
		if err := f(); err == nil || errors.As(err, &ae) {
			t.Errorf("%s: %v, want a local error", name, err)
		}
	}
	if after := len(e.wire.listingsTargets()); after != before {
		t.Errorf("refused calls reached the wire: %q", e.wire.listingsTargets()[before:])
	}
}
