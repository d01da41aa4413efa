package operations

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/testenv"
)

func TestPersonalQuery(t *testing.T) {
	search, _, _ := Lookup("GET", "/orders/2026-01-01/orders")
	getOrder, _, _ := Lookup("GET", "/orders/2026-01-01/orders/123-1234567-1234567")
	v0, _, _ := Lookup("GET", "/orders/v0/orders")
	catalog, _, _ := Lookup("GET", "/catalog/2022-04-01/items")
	tests := []struct {
		name  string
		op    *Operation
		query string
		want  bool
	}{
		{"no includedData", search, "marketplaceIds=ATVPDKIKX0DER", false},
		{"order datasets only", search, "includedData=PROCEEDS,FULFILLMENT,PACKAGES", false},
		{"buyer", search, "includedData=BUYER", true},
		{"recipient among others", search, "includedData=PACKAGES,RECIPIENT", true},
		{"tax carries the buyer's legal name and VAT number", search, "includedData=TAX", true},
		{"payment", getOrder, "includedData=PAYMENT", true},
		{"percent-encoded value", search, "includedData=%42UYER", true},
		{"percent-encoded name", search, "%69ncludedData=BUYER", true},
		{"name in another case", search, "INCLUDEDDATA=recipient", true},
		{"lower-case value", search, "includedData=buyer", true},
		{"repeated parameter", search, "includedData=PACKAGES&includedData=BUYER", true},
		{"spaces around values", search, "includedData=PACKAGES,%20BUYER%20", true},
		{"unknown value fails closed", search, "includedData=BUYERS", true},
		{"empty value", search, "includedData=", false},
		{"v0 has no includedData", v0, "includedData=BUYER", false},
		{"catalog datasets are about products", catalog, "includedData=attributes,summaries", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.op.PersonalQuery(q); got != tt.want {
				t.Errorf("%s ?%s: PersonalQuery = %v, want %v", tt.op.Key(), tt.query, got, tt.want)
			}
		})
	}
}

func TestReturnsPersonalData(t *testing.T) {
	tests := []struct {
		method, path string
		elements     []string
		query        string
		want         bool
	}{
		{"GET", "/orders/v0/orders", nil, "", false},
		{"GET", "/orders/v0/orders", []string{"shippingAddress"}, "", true},
		{"GET", "/orders/v0/orders/1/address", nil, "", true},
		{"GET", "/orders/v0/orders/1/buyerInfo", nil, "", true},
		{"GET", "/orders/2026-01-01/orders", nil, "includedData=RECIPIENT", true},
		{"GET", "/sellers/v1/marketplaceParticipations", nil, "", false},
	}
	for _, tt := range tests {
		op, _, ok := Lookup(tt.method, tt.path)
		if !ok {
			t.Fatalf("%s %s: no operation", tt.method, tt.path)
		}
		q, _ := url.ParseQuery(tt.query)
		if got := op.ReturnsPersonalData(tt.elements, q); got != tt.want {
			t.Errorf("%s %v ?%s: ReturnsPersonalData = %v, want %v", op.Key(), tt.elements, tt.query, got, tt.want)
		}
	}
}

func TestHandsOutCredentials(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"POST", "/tokens/2021-03-01/restrictedDataToken", true},
		{"POST", "/applications/2023-11-30/clientSecret", true},
		{"GET", "/orders/v0/orders", false},
	} {
		op, _, _ := Lookup(c.method, c.path)
		if got := op.HandsOutCredentials(); got != c.want {
			t.Errorf("%s: HandsOutCredentials = %v, want %v", op.Key(), got, c.want)
		}
	}
}

// TestIncludedDataTableMatchesModels checks the personal-data table against
// Amazon's models: every operation with an includedData enum is classified,
// value by value, or belongs to an API whose datasets describe products.
func TestIncludedDataTableMatchesModels(t *testing.T) {
	dir := testenv.ModelsDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no models in %s: %v", dir, err)
	}
	type param struct {
		Ref   string `json:"$ref"`
		Name  string `json:"name"`
		Enum  []string
		Items struct{ Enum []string }
	}
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Paths      map[string]map[string]json.RawMessage
			Parameters map[string]param
		}
		if err := json.Unmarshal(b, &m); err != nil {
			continue // not a Swagger model
		}
		for path, methods := range m.Paths {
			for method, raw := range methods {
				var op struct{ Parameters []param }
				if method == "parameters" || json.Unmarshal(raw, &op) != nil {
					continue
				}
				for _, p := range op.Parameters {
					if p.Ref != "" {
						p = m.Parameters[p.Ref[strings.LastIndexByte(p.Ref, '/')+1:]]
					}
					enum := append(p.Enum, p.Items.Enum...)
					if p.Name != includedDataParam || len(enum) == 0 {
						continue
					}
					o, _, ok := Lookup(method, path)
					if !ok {
						t.Errorf("%s %s (%s): not in the operation table", method, path, filepath.Base(f))
						continue
					}
					seen[o.Key()] = true
					cls := o.IncludedDataClassification()
					if cls == nil {
						if !impersonalIncludedData[o.API] {
							t.Errorf("%s takes includedData %v but is not classified: add it to includedData or impersonalIncludedData", o.Key(), enum)
						}
						continue
					}
					for _, v := range enum {
						if _, ok := cls[v]; !ok {
							t.Errorf("%s: includedData value %s is not classified", o.Key(), v)
						}
					}
					for v := range cls {
						if !slices.Contains(enum, v) {
							t.Errorf("%s: classified value %s is not in the model's enum %v", o.Key(), v, enum)
						}
					}
				}
			}
		}
	}
	for k := range includedData {
		if !seen[k] {
			t.Errorf("%s is classified but no model gives it an includedData parameter", k)
		}
	}
}
