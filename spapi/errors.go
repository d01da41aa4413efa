package spapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// APIError is an error answer from SP-API.
type APIError struct {
	Status    int
	Code      string // e.g. "Unauthorized", "InvalidInput", "QuotaExceeded"
	Message   string
	Details   string
	RequestID string // x-amzn-RequestId; quote it to Amazon support
	Operation string // operationId, e.g. "getOrders"
	Seller    string // selling partner id, empty for grantless calls
	// Body holds the raw answer when it was not Amazon's JSON error shape
	// (an HTML error page, a truncated body), cut to 512 bytes.
	Body string
}

// Error implements the error interface.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "SP-API %s", e.Operation)
	if e.Seller != "" {
		fmt.Fprintf(&b, " for seller %s", e.Seller)
	}
	fmt.Fprintf(&b, ": HTTP %d", e.Status)
	e.writeWords(&b)
	if e.Code == "" && e.Body != "" {
		fmt.Fprintf(&b, ": unexpected answer %q", e.Body)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request id %s]", e.RequestID)
	}
	if d := e.Diagnose(); d.Fix != "" {
		fmt.Fprintf(&b, "; %s", d.Fix)
	}
	return b.String()
}

// writeWords writes Amazon's error code, message and details.
func (e *APIError) writeWords(b *strings.Builder) {
	if e.Code != "" {
		fmt.Fprintf(b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(b, ": %s", e.Message)
	}
	if e.Details != "" {
		fmt.Fprintf(b, " (%s)", e.Details)
	}
}

// Explain tells a person what Amazon answered, over several lines:
// Amazon's status, code and words (or the raw body), the likely cause with
// its fix and the setup step that fixes it, and the request id to quote to
// Amazon's support.
func (e *APIError) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s answered %d", e.Operation, e.Status)
	e.writeWords(&b)
	if e.Body != "" {
		fmt.Fprintf(&b, "\n  body: %s", e.Body)
	}
	if d := e.Diagnose(); d.Cause != "" {
		fmt.Fprintf(&b, "\n  likely cause: %s\n  fix: %s", d.Cause, d.Fix)
		if d.Step != "" {
			fmt.Fprintf(&b, "\n  setup step: %s", d.Step)
		}
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, "\n  request id: %s", e.RequestID)
	}
	return b.String()
}

// Diagnosis is a likely cause of a failure and how to fix it.
type Diagnosis struct {
	Cause string
	Fix   string
	// Step names the setup step to redo: "app-registration",
	// "lwa-credentials", "authorize-seller", "rdt-role", "rate-limit",
	// "region", "request", "amazon" or "" when unknown.
	Step string
}

// Diagnose maps the common SP-API failures to a cause and a fix. Amazon's
// 403 "Access to requested resource is denied." with empty details has
// several causes; the fix lists them in the order they usually occur.
func (e *APIError) Diagnose() Diagnosis {
	details := strings.ToLower(e.Details)
	msg := strings.ToLower(e.Message)
	switch {
	case e.Status == http.StatusForbidden && strings.Contains(details, "expired"):
		return Diagnosis{Step: "lwa-credentials",
			Cause: "the access token expired before the call reached Amazon",
			Fix:   "spgate refreshes tokens on its own; if this repeats, check the machine's clock (Amazon measures expiry on its own clock)"}
	case e.Status == http.StatusForbidden && strings.Contains(details, "revoked, malformed or invalid"):
		return Diagnosis{Step: "authorize-seller",
			Cause: "Amazon does not accept the access token: the seller's authorization was revoked, or the token belongs to another app or seller",
			Fix:   "re-authorize the seller (`spgate seller authorize`) and check that the seller's refresh token belongs to this app"}
	case e.Code == "MissingAuthenticationToken":
		return Diagnosis{Step: "request",
			Cause: "no access token was sent, or the path does not exist (Amazon answers both the same way)",
			Fix:   "check the path against the API's model; spgate sends the token on every call it authorizes"}
	case strings.Contains(msg, "data elements"):
		return Diagnosis{Step: "rdt-role",
			Cause: "the app lacks the restricted role for the requested data elements",
			Fix:   "add the role (e.g. Direct-to-Consumer Shipping for addresses) to the app in Seller Central → Develop Apps, then re-authorize the seller"}
	case e.Status == http.StatusForbidden:
		return Diagnosis{Step: "app-registration",
			Cause: "Amazon denied access without saying why: the app is not authorized by this seller, is a draft app called outside its authorized sellers, lacks the role this operation needs, or the call went to the wrong region's endpoint",
			Fix:   "run `spgate doctor` to check each layer: the seller's region and marketplaces, the app's roles in Seller Central, and the seller's authorization"}
	case e.Status == http.StatusTooManyRequests:
		return Diagnosis{Step: "rate-limit",
			Cause: "the operation's rate limit for this seller and app was exceeded",
			Fix:   "spgate paces calls to the published limits; another program using the same app and seller shares the limit — route it through `spgate serve`"}
	case e.Status == http.StatusBadRequest && strings.Contains(msg, "restricted") || e.Operation == "createRestrictedDataToken" && e.Status == http.StatusBadRequest:
		return Diagnosis{Step: "rdt-role",
			Cause: "the Restricted Data Token request was refused: wrong path, data elements not allowed for that operation, or a role the app lacks",
			Fix:   "check the path (generic paths use the model's placeholder, e.g. /orders/v0/orders/{orderId}/address) and the app's restricted roles"}
	case e.Status == http.StatusBadRequest:
		return Diagnosis{Step: "request", Cause: "Amazon rejected the request's parameters", Fix: "correct the parameters named in the message"}
	case e.Status == http.StatusNotFound:
		return Diagnosis{Step: "request", Cause: "the resource does not exist for this seller", Fix: "check the id and that it belongs to this seller and marketplace"}
	case e.Status >= 500:
		return Diagnosis{Step: "amazon", Cause: "Amazon failed to answer", Fix: "a transient failure; spgate retried with backoff — try again later"}
	}
	return Diagnosis{}
}

// errorList is Amazon's {"errors":[…]} body.
type errorList struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details string `json:"details"`
	} `json:"errors"`
}

// parseAPIError builds an APIError from an error answer. It never fails: a
// body that is not Amazon's JSON becomes APIError.Body.
func parseAPIError(resp *http.Response, body []byte, op, seller string) *APIError {
	e := &APIError{Status: resp.StatusCode, Operation: op, Seller: seller,
		RequestID: resp.Header.Get("x-amzn-RequestId")}
	var el errorList
	if err := json.Unmarshal(body, &el); err == nil && len(el.Errors) > 0 {
		e.Code, e.Message, e.Details = el.Errors[0].Code, el.Errors[0].Message, el.Errors[0].Details
		return e
	}
	e.Code = resp.Header.Get("x-amzn-ErrorType")
	if i := strings.IndexByte(e.Code, ':'); i >= 0 { // API Gateway appends ":http://…"
		e.Code = e.Code[:i]
	}
	b := strings.TrimSpace(string(body))
	if len(b) > 512 {
		b = b[:512]
	}
	e.Body = b
	return e
}

// IsCode reports whether err is an APIError with the given code.
func IsCode(err error, code string) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == code
}
