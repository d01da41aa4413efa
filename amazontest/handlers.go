package amazontest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// operationHandlers returns the handler of every implemented operation,
// keyed by operations.Operation.Key(); routes.go lists their paths.
func operationHandlers() map[string]opHandler {
	return map[string]opHandler{
		"sellers/v1/getMarketplaceParticipations": handleGetMarketplaceParticipations,
		"sellers/v1/getAccount":                   handleGetAccount,

		"orders/v0/getOrders":              handleGetOrders,
		"orders/v0/getOrder":               handleGetOrderV0,
		"orders/v0/getOrderItems":          handleGetOrderItems,
		"orders/v0/getOrderAddress":        handleGetOrderAddress,
		"orders/v0/getOrderBuyerInfo":      handleGetOrderBuyerInfo,
		"orders/v0/getOrderItemsBuyerInfo": handleGetOrderItemsBuyerInfo,

		"orders/2026-01-01/searchOrders": handleSearchOrders,
		"orders/2026-01-01/getOrder":     handleGetOrder2026,

		"tokens/2021-03-01/createRestrictedDataToken": handleCreateRestrictedDataToken,

		"listings-items/2021-08-01/getListingsItem":    handleGetListingsItem,
		"listings-items/2021-08-01/putListingsItem":    handlePutListingsItem,
		"listings-items/2021-08-01/patchListingsItem":  handlePatchListingsItem,
		"listings-items/2021-08-01/deleteListingsItem": handleDeleteListingsItem,
	}
}

// Amazon's wording of common errors.
const (
	msgInvalidInput  = "The input you have submitted is not valid. Please check your input and try again."
	msgBadNextToken  = "We could not decode your NextToken. Possible reasons include: a transmission error, improper quoting or a truncation problem."
	msgOrderNotFound = "Requested order not found."
)

func invalidInput(c *call, details string) {
	writeError(c.w, http.StatusBadRequest, "InvalidInput", msgInvalidInput, details)
}

// accessDenied answers as Amazon does when a token does not cover the
// resource, empty details included.
func accessDenied(c *call) {
	writeDenied(c.w, http.StatusForbidden, "Unauthorized", "")
}

func orderNotFound(c *call, id string) {
	writeError(c.w, http.StatusNotFound, "NotFound", msgOrderNotFound, "No order "+id+" exists for this selling partner.")
}

// parseQuery parses the request's query and rejects parameters the operation
// does not define. It writes the 400 itself and returns ok=false on failure.
func parseQuery(c *call, allowed ...string) (url.Values, bool) {
	vals, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil {
		invalidInput(c, "The query string is malformed: "+err.Error()+".")
		return nil, false
	}
	for k := range vals {
		if !slices.Contains(allowed, k) {
			invalidInput(c, "Unknown query parameter "+quoteParam(k)+". Parameter names are case-sensitive.")
			return nil, false
		}
	}
	return vals, true
}

// quoteParam shortens and quotes a caller-supplied name for an error message.
func quoteParam(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "'" + strings.ToValidUTF8(s, "?") + "'"
}

// listParam returns a comma-separated (or repeated) array parameter.
func listParam(vals url.Values, name string) []string {
	var out []string
	for _, v := range vals[name] {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// parseISO8601 accepts the ISO 8601 forms Amazon's Orders API v0 accepts:
// RFC 3339 with or without fraction and zone (no zone means UTC) and a plain
// date.
func parseISO8601(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// parseRFC3339 accepts only JSON-Schema date-time (RFC 3339), as the
// 2026-01-01 model declares format: date-time.
func parseRFC3339(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func isoTime(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }

// hasRole reports whether the calling app holds any of roles.
func hasRole(a *App, roles ...string) bool {
	if a == nil {
		return false
	}
	for _, r := range a.Roles {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

// piiGrant says which kinds of PII a call may receive.
type piiGrant struct {
	shipping bool // shipping address (Direct-to-Consumer Shipping)
	buyer    bool // buyer name and e-mail (Tax Invoicing)
	tax      bool // buyer tax information (Tax Invoicing or Tax Remittance)
	resource bool // the RDT names this operation's path (no data elements needed)
}

// rolesFor maps a dataElement to the roles that unlock it.
func rolesFor(element string) []string {
	switch element {
	case "shippingAddress":
		return []string{RoleShipping}
	case "buyerInfo":
		return []string{RoleTaxInvoicing}
	case "buyerTaxInformation":
		return []string{RoleTaxInvoicing, RoleTaxRemittance}
	}
	return nil
}

// v0Grant works out the PII an Orders v0 call may see. PII needs a
// Restricted Data Token that names this method and path (specific, or
// generic with the model's placeholders) and, per data element, the role.
// A call with an RDT that does not cover the request is answered with 403
// here (ok=false), as Amazon does.
func v0Grant(c *call) (g piiGrant, ok bool) {
	if c.rdt == nil {
		return g, true
	}
	var res *RestrictedResource
	for i := range c.rdt.resources {
		r := &c.rdt.resources[i]
		if !strings.EqualFold(r.Method, c.r.Method) {
			continue
		}
		if r.Path == c.r.URL.EscapedPath() || r.Path == c.r.URL.Path || (c.tmpl != "" && r.Path == c.tmpl) {
			res = r
			break
		}
	}
	if res == nil {
		accessDenied(c)
		return g, false
	}
	g.resource = true
	for _, e := range res.DataElements {
		if !hasRole(c.app, rolesFor(e)...) {
			continue
		}
		switch e {
		case "shippingAddress":
			g.shipping = true
		case "buyerInfo":
			g.buyer = true
		case "buyerTaxInformation":
			g.tax = true
		}
	}
	return g, true
}

// dataOf returns the calling seller's order data.
func dataOf(s *Server, c *call) (*dataset, *sellerData, bool) {
	if s.data == nil || c.seller == nil {
		accessDenied(c)
		return nil, nil, false
	}
	return s.data, s.data.forSeller(c.seller), true
}

// checkMarketplaces validates marketplace ids against the endpoint's region
// and the seller's participations and returns them as a bit set over sd.mkts.
func checkMarketplaces(c *call, sd *sellerData, ids []string, param string) (uint64, bool) {
	region := c.region
	if region == "" {
		region = sd.seller.Region
	}
	var set uint64
	for _, id := range ids {
		m, known := marketplaceByID(id)
		if !known {
			invalidInput(c, "Invalid "+param+" value "+quoteParam(id)+": not a known marketplace id.")
			return 0, false
		}
		if region != "" && m.Region != region {
			invalidInput(c, "Marketplace "+id+" ("+m.Country+") is not in the "+strings.ToUpper(string(region))+" region this endpoint serves; call the "+strings.ToUpper(string(m.Region))+" endpoint for it.")
			return 0, false
		}
		found := false
		for i, sm := range sd.mkts {
			if sm.ID == id && i < 64 {
				set |= 1 << i
				found = true
			}
		}
		if !found {
			invalidInput(c, "The selling partner does not participate in marketplace "+id+".")
			return 0, false
		}
	}
	return set, true
}
