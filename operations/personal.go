package operations

import (
	"net/url"
	"strings"
)

// includedDataParam is the query parameter through which some APIs (Orders
// 2026-01-01, Catalog Items, Listings Items…) select datasets.
const includedDataParam = "includedData"

// includedData classifies, per operation key, every value the model's
// includedData enum allows: true when the dataset carries a buyer's or a
// recipient's personal data (names, addresses, tax registrations, payment
// details). Operations whose includedData carries no personal data are
// listed with all values false, so a test can check the table against the
// models: every operation with an includedData parameter is here and every
// enum value is classified.
var includedData = map[string]map[string]bool{
	"orders/2026-01-01/searchOrders": orders2026IncludedData,
	"orders/2026-01-01/getOrder":     orders2026IncludedData,
}

// orders2026IncludedData: BUYER (name, e-mail, company), RECIPIENT
// (shipping address), TAX (the buyer's legal name and VAT number) and
// PAYMENT (how the buyer paid) describe a person; the rest describe the
// order, its money and its parcels.
var orders2026IncludedData = map[string]bool{
	"BUYER": true, "RECIPIENT": true, "TAX": true, "PAYMENT": true,
	"PROCEEDS": false, "EXPENSE": false, "PROMOTION": false, "CANCELLATION": false,
	"FULFILLMENT": false, "PACKAGES": false, "FULFILLMENT_ORDERS": false,
}

// impersonalIncludedData lists the APIs whose includedData datasets
// describe products and listings, never a person.
var impersonalIncludedData = map[string]bool{
	"catalog-items": true, "listings-items": true, "aplus-content": true, "product-pricing": true,
}

// IncludedDataClassification returns the personal-data classification of
// op's includedData values (nil when op's includedData carries none or op
// has no such parameter). The map must not be modified.
func (o *Operation) IncludedDataClassification() map[string]bool {
	return includedData[o.Key()]
}

// PersonalQuery reports whether a call of o with the decoded query q asks
// Amazon for personal data without a Restricted Data Token: an includedData
// value that names a personal dataset. It fails closed: for an operation
// whose includedData can carry personal data, a value it does not know (a
// new enum value, a misspelling Amazon might still accept) counts as
// personal, and the parameter's name is matched in any letter case.
func (o *Operation) PersonalQuery(q url.Values) bool {
	cls := includedData[o.Key()]
	if cls == nil {
		return false
	}
	personalPossible := false
	for _, v := range cls {
		personalPossible = personalPossible || v
	}
	if !personalPossible {
		return false
	}
	for name, vals := range q {
		if !strings.EqualFold(name, includedDataParam) {
			continue
		}
		for _, v := range vals {
			for part := range strings.SplitSeq(v, ",") {
				part = strings.ToUpper(strings.TrimSpace(part))
				if part == "" {
					continue
				}
				if personal, known := cls[part]; personal || !known {
					return true
				}
			}
		}
	}
	return false
}

// ReturnsPersonalData reports whether a call of o can return personal data:
// a restricted operation asked for data elements (it then gets a Restricted
// Data Token), a restricted operation that takes no data elements (it
// always returns personal data, e.g. getOrderAddress), or a query that asks
// for personal datasets (PersonalQuery).
func (o *Operation) ReturnsPersonalData(dataElements []string, q url.Values) bool {
	if o.Restricted && (len(dataElements) > 0 || len(o.DataElements) == 0) {
		return true
	}
	return o.PersonalQuery(q)
}

// HandsOutCredentials reports whether o returns or changes an Amazon
// credential: the Tokens API (Restricted Data Tokens) and Application
// Management (client-secret rotation). A gateway never forwards these for a
// client, whatever its scopes.
func (o *Operation) HandsOutCredentials() bool {
	return o.API == "tokens" || o.API == "application-management"
}
