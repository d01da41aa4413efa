package amazontest

// This file is the seam between the server core (server.go, lwa.go,
// registry.go, routes.go, auth.go, limits.go, faults.go, admin.go,
// rotation.go, tls.go) and the operation handlers (sellers.go,
// orders_v0.go, orders_2026.go, tokens.go, listings.go, data*.go). Both
// sides build on these types.

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/spgate/spgate/operations"
)

// Region is an SP-API selling region: "na", "eu" or "fe".
type Region string

// The three selling regions.
const (
	RegionNA Region = "na"
	RegionEU Region = "eu"
	RegionFE Region = "fe"
)

// call is what the authorization layer hands to an operation handler after
// it has routed the request (routes.go), checked the access token, the
// seller's region and the rate limit.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	op     *operations.Operation
	params map[string]string // path placeholders, e.g. "orderId", each decoded once
	tmpl   string            // the path template routing matched, e.g. "/orders/v0/orders/{orderId}"
	region Region
	now    time.Time // the emulator's (possibly scaled or skewed) time

	app    *App    // the calling application
	seller *Seller // nil for grantless calls
	scope  string  // grantless scope, "" otherwise

	// rdt is non-nil when the access token is a Restricted Data Token; it
	// lists what the token covers.
	rdt *rdtGrant

	// refresh is the refresh token the access token came from ("" for
	// grantless calls); issueRDT ties new RDTs to it so revocation reaches them.
	refresh string
}

// rdtGrant records what a Restricted Data Token was issued for.
type rdtGrant struct {
	resources []RestrictedResource
}

// RestrictedResource is one entry of createRestrictedDataToken's request.
type RestrictedResource struct {
	Method       string   `json:"method"`
	Path         string   `json:"path"`
	DataElements []string `json:"dataElements,omitempty"`
}

// opHandler serves one operation.
type opHandler func(s *Server, c *call)

// App is an application registered with the emulated Amazon.
type App struct {
	ID           string // amzn1.sp.solution.<uuid>
	ClientID     string // amzn1.application-oa2-client.<32 hex>
	ClientSecret string // current secret, amzn1.oa2-cs.v1.<64 hex>
	// SecretExpiry is when ClientSecret stops working (180 days after it was made).
	SecretExpiry time.Time
	// PreviousSecret stays valid until PreviousExpiry after a rotation.
	PreviousSecret string
	PreviousExpiry time.Time
	// Roles are the restricted roles the app holds, e.g. "Direct-to-Consumer Shipping" (RoleShipping).
	Roles []string
	// Draft apps can be authorized only with version=beta.
	Draft bool
	// RedirectURIs are the OAuth redirect URIs registered for the app.
	RedirectURIs []string
	// NotificationQueueURL is the SQS queue that receives
	// APPLICATION_OAUTH_CLIENT_NEW_SECRET; empty means the Go channel sink.
	NotificationQueueURL string
	// NotEnrolledForRotation marks an app that registered no destination for
	// rotation notifications: rotateApplicationClientSecret answers 400
	// InvalidInput, as Amazon does.
	NotEnrolledForRotation bool
}

// Restricted roles and what they unlock.
const (
	RoleShipping      = "Direct-to-Consumer Shipping" // shippingAddress, getOrderAddress, RECIPIENT
	RoleTaxInvoicing  = "Tax Invoicing"               // buyerInfo, buyerTaxInformation, BUYER
	RoleTaxRemittance = "Tax Remittance"              // buyerTaxInformation
)

// Seller is a selling partner known to the emulator.
type Seller struct {
	ID           string // e.g. A2ABCDEF123456 (A + 13 upper-case alphanumerics)
	Name         string
	Region       Region
	Marketplaces []string // marketplace ids of Region
}

// operationHandlers returns the handler of every implemented operation,
// keyed by operations.Operation.Key(). Implemented in handlers.go.
//
// The server core provides to handlers:
//
//	s.issueRDT(c *call, targetApp *App, res []RestrictedResource) (token string, expiresIn int)
//	s.data (the generated data set), s.cfg (the Config), s.now() (emulator time),
//	s.App(id) (a registered app, e.g. an RDT's targetApplication)
//	writeJSON / writeError below.

// writeJSON writes v as Amazon does: application/json with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalFailure", "We encountered an internal error. Please try again.", "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// apiError is one entry of Amazon's ErrorList.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
}

// writeError writes Amazon's {"errors":[…]} body and x-amzn-ErrorType.
func writeError(w http.ResponseWriter, status int, code, message, details string) {
	w.Header().Set("x-amzn-ErrorType", code)
	writeJSON(w, status, struct {
		Errors []apiError `json:"errors"`
	}{[]apiError{{Code: code, Message: message, Details: details}}})
}
