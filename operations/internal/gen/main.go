// Command gen reads Amazon's official SP-API models and writes the operation
// table (operations/table.go). Run it with `go generate ./operations`.
//
// Facts the models do not carry in machine-readable form (which operations are
// grantless, which are restricted and their dataElements) come from Amazon's
// Tokens and Notifications guides and are listed here, next to their source.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// grantless: operations called with a client_credentials token, and the scope.
// Source: Notifications API guide ("grantless operations") and Application
// Management API guide.
var grantless = map[string]string{
	"notifications/getDestinations":                        "sellingpartnerapi::notifications",
	"notifications/createDestination":                      "sellingpartnerapi::notifications",
	"notifications/getDestination":                         "sellingpartnerapi::notifications",
	"notifications/deleteDestination":                      "sellingpartnerapi::notifications",
	"notifications/deleteSubscriptionById":                 "sellingpartnerapi::notifications",
	"application-management/rotateApplicationClientSecret": "sellingpartnerapi::client_credential:rotation",
}

// restricted: operations that return PII only with a Restricted Data Token,
// keyed "api/version/operationId", with the dataElements an RDT may name.
// Source: Tokens API use case guide, "Restricted operations".
var restricted = map[string][]string{
	"orders/v0/getOrders":                                               {"buyerInfo", "shippingAddress", "buyerTaxInformation"},
	"orders/v0/getOrder":                                                {"buyerInfo", "shippingAddress", "buyerTaxInformation"},
	"orders/v0/getOrderItems":                                           {"buyerInfo"},
	"orders/v0/getOrderRegulatedInfo":                                   nil,
	"orders/v0/getOrderAddress":                                         nil,
	"orders/v0/getOrderBuyerInfo":                                       nil,
	"orders/v0/getOrderItemsBuyerInfo":                                  nil,
	"merchant-fulfillment/v0/getShipment":                               nil,
	"merchant-fulfillment/v0/cancelShipment":                            nil,
	"merchant-fulfillment/v0/createShipment":                            nil,
	"reports/2021-06-30/getReportDocument":                              nil,
	"shipment-invoicing/v0/getShipmentDetails":                          nil,
	"easy-ship/2022-03-23/createScheduledPackageBulk":                   nil,
	"vendor-direct-fulfillment-orders/v1/getOrders":                     nil,
	"vendor-direct-fulfillment-orders/v1/getOrder":                      nil,
	"vendor-direct-fulfillment-orders/2021-12-28/getOrders":             nil,
	"vendor-direct-fulfillment-orders/2021-12-28/getOrder":              nil,
	"vendor-direct-fulfillment-shipping/v1/getShippingLabels":           nil,
	"vendor-direct-fulfillment-shipping/v1/getShippingLabel":            nil,
	"vendor-direct-fulfillment-shipping/v1/getPackingSlips":             nil,
	"vendor-direct-fulfillment-shipping/v1/getPackingSlip":              nil,
	"vendor-direct-fulfillment-shipping/v1/getCustomerInvoices":         nil,
	"vendor-direct-fulfillment-shipping/v1/getCustomerInvoice":          nil,
	"vendor-direct-fulfillment-shipping/2021-12-28/getShippingLabels":   nil,
	"vendor-direct-fulfillment-shipping/2021-12-28/getShippingLabel":    nil,
	"vendor-direct-fulfillment-shipping/2021-12-28/getPackingSlips":     nil,
	"vendor-direct-fulfillment-shipping/2021-12-28/getPackingSlip":      nil,
	"vendor-direct-fulfillment-shipping/2021-12-28/getCustomerInvoices": nil,
	"vendor-direct-fulfillment-shipping/2021-12-28/getCustomerInvoice":  nil,
}

var usagePlan = regexp.MustCompile(`(?s)Usage Plan.*?\|\s*-+\s*\|\s*-+\s*\|\s*\n\s*\|\s*([0-9.]+)\s*\|\s*([0-9]+)\s*\|`)

// Op mirrors operations.Operation.
type Op struct {
	API, Version, ID, Method, Path string
	Rate                           float64
	Burst                          int
	RateFromModel                  bool
	Grantless                      bool
	Scope                          string
	Restricted                     bool
	DataElements                   []string
}

type model struct {
	Info struct {
		Version string `json:"version"`
	} `json:"info"`
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

type opJSON struct {
	OperationID string `json:"operationId"`
	Description string `json:"description"`
}

// apiName turns a model folder into the API family name:
// "orders-api-model" → "orders".
func apiName(dir string) string {
	dir = strings.TrimSuffix(dir, "-api-model")
	dir = strings.TrimSuffix(dir, "-model")
	return dir
}

// Load reads every model under root and returns the sorted table.
func Load(root string) ([]Op, error) {
	var ops []Op
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || filepath.Ext(p) != ".json" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var m model
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		api := apiName(filepath.Base(filepath.Dir(p)))
		for path, methods := range m.Paths {
			for method, raw := range methods {
				switch method {
				case "get", "post", "put", "delete", "patch":
				default:
					continue
				}
				var o opJSON
				if err := json.Unmarshal(raw, &o); err != nil {
					return fmt.Errorf("%s %s %s: %w", p, method, path, err)
				}
				op := Op{API: api, Version: m.Info.Version, ID: o.OperationID,
					Method: strings.ToUpper(method), Path: path,
					Rate: 0.5, Burst: 10}
				if sm := usagePlan.FindStringSubmatch(o.Description); sm != nil {
					r, err1 := strconv.ParseFloat(sm[1], 64)
					b, err2 := strconv.Atoi(sm[2])
					if err1 == nil && err2 == nil && r > 0 && b > 0 {
						op.Rate, op.Burst, op.RateFromModel = r, b, true
					}
				}
				if scope, ok := grantless[api+"/"+op.ID]; ok {
					op.Grantless, op.Scope = true, scope
				}
				if de, ok := restricted[api+"/"+op.Version+"/"+op.ID]; ok {
					op.Restricted, op.DataElements = true, de
				}
				ops = append(ops, op)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(ops, func(i, j int) bool {
		a, b := ops[i], ops[j]
		if a.API != b.API {
			return a.API < b.API
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
	return ops, nil
}

func render(ops []Op) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by operations/internal/gen from Amazon's SP-API models. DO NOT EDIT.\n\npackage operations\n\n")
	b.WriteString("// All lists every operation of every model, sorted by API, version, path and method.\nvar All = []Operation{\n")
	for _, o := range ops {
		fmt.Fprintf(&b, "\t{API: %q, Version: %q, ID: %q, Method: %q, Path: %q, Rate: %s, Burst: %d, RateFromModel: %t",
			o.API, o.Version, o.ID, o.Method, o.Path, strconv.FormatFloat(o.Rate, 'g', -1, 64), o.Burst, o.RateFromModel)
		if o.Grantless {
			fmt.Fprintf(&b, ", Grantless: true, Scope: %q", o.Scope)
		}
		if o.Restricted {
			b.WriteString(", Restricted: true")
			if len(o.DataElements) > 0 {
				fmt.Fprintf(&b, ", DataElements: %#v", o.DataElements)
			}
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

func main() {
	models := flag.String("models", "../../shared/sp-api-models", "folder of Amazon's SP-API models")
	out := flag.String("out", "table.go", "file to write")
	flag.Parse()
	ops, err := Load(*models)
	if err != nil {
		log.Fatalf("gen: reading models: %v", err)
	}
	if len(ops) == 0 {
		log.Fatalf("gen: no operations found under %s", *models)
	}
	src, err := render(ops)
	if err != nil {
		log.Fatalf("gen: formatting: %v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatalf("gen: %v", err)
	}
}
