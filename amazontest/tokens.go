package amazontest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/spgate/spgate/operations"
)

// Tokens API 2021-03-01: createRestrictedDataToken.

type rdtRequest struct {
	TargetApplication   *string              `json:"targetApplication"`
	RestrictedResources []RestrictedResource `json:"restrictedResources"`
}

type rdtResponse struct {
	RestrictedDataToken string `json:"restrictedDataToken"`
	ExpiresIn           int    `json:"expiresIn"`
}

// Amazon's wording for RDT refusals (public issue threads).
const (
	msgNoResources     = "Empty target resource argument found"
	msgNoElementAccess = "Application does not have access to one or more requested data elements: "
	msgNoResource      = "Application do not have access to some or all requested resource"
	msgBadDocumentID   = "Invalid or unsupported document ID found"
)

var appIDPattern = regexp.MustCompile(`^amzn1\.sp\.solution\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// operationRoles returns the roles (any one suffices) an RDT for op needs
// when it names no data elements; nil means none.
func operationRoles(op *operations.Operation) []string {
	switch {
	case op.API == "orders":
		switch op.ID {
		case "getOrderAddress", "getOrderRegulatedInfo":
			return []string{RoleShipping}
		case "getOrderBuyerInfo":
			return []string{RoleTaxInvoicing, RoleTaxRemittance}
		case "getOrderItemsBuyerInfo":
			return []string{RoleShipping, RoleTaxInvoicing}
		}
		return nil
	case op.API == "shipment-invoicing":
		return []string{RoleTaxInvoicing}
	case op.API == "reports":
		return []string{RoleShipping, RoleTaxInvoicing, RoleTaxRemittance}
	default: // merchant fulfillment, easy ship, vendor direct fulfillment
		return []string{RoleShipping}
	}
}

// restrictedOperation finds the restricted operation a resource names: the
// model's template itself (generic path) or a concrete path that fits it,
// matched by the emulator's own routing (the most specific template wins).
func restrictedOperation(method, path string) (*operations.Operation, bool) {
	for i := range operations.All {
		op := &operations.All[i]
		if op.Restricted && op.Method == method && op.Path == path {
			return op, true
		}
	}
	if strings.ContainsAny(path, "{}") {
		return nil, false
	}
	u, err := url.Parse(path)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return nil, false
	}
	e, _, ok := restrictedRoutes().match(&http.Request{Method: method, URL: u})
	if !ok {
		return nil, false
	}
	return e.op, true
}

// restrictedRoutes routes the restricted operations of the models (those
// an RDT may name).
var restrictedRoutes = sync.OnceValue(func() *router {
	rt := newRouter()
	for i := range operations.All {
		if op := &operations.All[i]; op.Restricted {
			rt.add(&entry{op: op, method: op.Method, tmpl: op.Path})
		}
	}
	return rt
})

func handleCreateRestrictedDataToken(s *Server, c *call) {
	req, ok := decodeRDTRequest(c)
	if !ok {
		return
	}
	target, grantee, ok := rdtTarget(s, c, req)
	if !ok {
		return
	}
	var missing []string
	for i := range req.RestrictedResources {
		if !checkRestrictedResource(c, i, &req.RestrictedResources[i], grantee, &missing) {
			return
		}
	}
	if len(missing) > 0 {
		writeError(c.w, http.StatusBadRequest, "InvalidInput", msgNoElementAccess+"["+strings.Join(missing, ", ")+"]", "")
		return
	}
	tok, exp := s.issueRDT(c, target, req.RestrictedResources)
	if tok == "" {
		accessDenied(c)
		return
	}
	writeJSON(c.w, http.StatusOK, rdtResponse{RestrictedDataToken: tok, ExpiresIn: exp})
}

// decodeRDTRequest reads one request object with 1 to 50 resources.
func decodeRDTRequest(c *call) (*rdtRequest, bool) {
	body, err := io.ReadAll(c.r.Body)
	if err != nil {
		invalidInput(c, "The request body could not be read: it is larger than allowed or was cut off.")
		return nil, false
	}
	var req rdtRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil || dec.More() {
		invalidInput(c, "The request body is not a valid CreateRestrictedDataTokenRequest JSON object.")
		return nil, false
	}
	if len(req.RestrictedResources) == 0 {
		writeError(c.w, http.StatusBadRequest, "InvalidInput", msgNoResources, "")
		return nil, false
	}
	if len(req.RestrictedResources) > 50 {
		invalidInput(c, "restrictedResources has "+strconv.Itoa(len(req.RestrictedResources))+" entries; at most 50 are allowed.")
		return nil, false
	}
	return &req, true
}

// rdtTarget is the application the token is for: the caller, or the
// registered targetApplication, whose roles then decide (grantee).
func rdtTarget(s *Server, c *call, req *rdtRequest) (target, grantee *App, ok bool) {
	grantee = c.app
	if req.TargetApplication == nil || *req.TargetApplication == "" {
		return nil, grantee, true
	}
	id := *req.TargetApplication
	if !appIDPattern.MatchString(id) {
		invalidInput(c, "targetApplication "+quoteParam(id)+" is not an application id (amzn1.sp.solution.<uuid>).")
		return nil, nil, false
	}
	a, found := s.App(id)
	if !found {
		invalidInput(c, "targetApplication "+quoteParam(id)+" is not a registered application.")
		return nil, nil, false
	}
	return &a, &a, true
}

// checkRestrictedResource validates resource i and adds to missing the data
// elements it asks for that grantee's roles do not cover; Amazon names
// those all at once, after every resource passed.
func checkRestrictedResource(c *call, i int, r *RestrictedResource, grantee *App, missing *[]string) bool {
	switch r.Method {
	case "GET", "PUT", "POST", "DELETE":
	default:
		invalidInput(c, "restrictedResources["+strconv.Itoa(i)+"].method "+quoteParam(r.Method)+" is not one of GET, PUT, POST, DELETE.")
		return false
	}
	if r.Path == "" || r.Path[0] != '/' || strings.ContainsAny(r.Path, "?#") {
		invalidInput(c, "restrictedResources["+strconv.Itoa(i)+"].path must be an SP-API path without query string, e.g. /orders/v0/orders/{orderId}/address.")
		return false
	}
	op, ok := restrictedOperation(r.Method, r.Path)
	if !ok {
		invalidInput(c, r.Method+" "+quoteParam(r.Path)+" is not a restricted operation; request RDTs only for restricted operations, with the model's path template or a concrete path.")
		return false
	}
	if op.API == "reports" && op.Path == r.Path {
		// getReportDocument takes only specific paths.
		writeError(c.w, http.StatusBadRequest, "InvalidInput", msgBadDocumentID, "")
		return false
	}
	for _, e := range r.DataElements {
		if !slices.Contains(op.DataElements, e) {
			allowed := "none"
			if len(op.DataElements) > 0 {
				allowed = strings.Join(op.DataElements, ", ")
			}
			invalidInput(c, "dataElements value "+quoteParam(e)+" is not valid for "+op.ID+" (allowed: "+allowed+").")
			return false
		}
		if !hasRole(grantee, rolesFor(e)...) && !slices.Contains(*missing, e) {
			*missing = append(*missing, e)
		}
	}
	if len(r.DataElements) == 0 {
		if roles := operationRoles(op); roles != nil && !hasRole(grantee, roles...) {
			writeError(c.w, http.StatusBadRequest, "InvalidInput", msgNoResource, "")
			return false
		}
	}
	return true
}
