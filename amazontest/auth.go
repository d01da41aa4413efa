package amazontest

import (
	"net/http"
	"slices"
	"time"

	"github.com/spgate/spgate/operations"
)

// SP-API's authorization wording.
const (
	msgDenied         = "Access to requested resource is denied."
	detailMissing     = "Access token is missing in the request header."
	detailExpired     = "The access token you provided has expired."
	detailInvalid     = "The access token you provided is revoked, malformed or invalid."
	msgQuota          = "You exceeded your quota for the requested resource."
	msgInternal       = "We encountered an internal error. Please try again."
	msgUnavailable    = "Service temporarily unavailable. Please try again."
	headerUnimpl      = "x-amzntest-unimplemented"
	headerRateLimit   = "x-amzn-RateLimit-Limit"
	headerAccessToken = "x-amz-access-token"
)

// serveSPAPI is the request pipeline of every SP-API path:
//
//  1. resolve the operation with the emulator's own routes (routes.go); a
//     path or method that is no SP-API operation is 403
//     MissingAuthenticationToken, as Amazon's gateway answers;
//  2. injected faults (latency, dropped connection, 500, 503);
//  3. authorization (x-amz-access-token; a SigV4 Authorization header is
//     accepted and ignored): missing, unknown/revoked/malformed, expired,
//     wrong kind (seller vs grantless), wrong scope, wrong region (the
//     seller's region is not the endpoint's); marketplace participation is
//     the handlers' check (400 InvalidInput);
//  4. the rate limiter (429 QuotaExceeded);
//  5. the operation's handler. An operation the emulator does not implement
//     answers what Amazon answers an app without access to it: 403
//     Unauthorized "Access to requested resource is denied." with empty
//     details, plus an x-amzntest-unimplemented header naming it.
func (s *Server) serveSPAPI(region Region, w http.ResponseWriter, r *http.Request) {
	rs, ok := emulatorRoutes().resolve(r)
	if !ok {
		writeError(w, http.StatusForbidden, "MissingAuthenticationToken", msgDenied, "")
		return
	}
	if s.injectFaults(w, r) {
		return
	}
	op := rs.op
	c, status, code, details := s.authorize(region, op, r)
	if c == nil {
		writeDenied(w, status, code, details)
		return
	}
	c.w, c.params, c.tmpl = w, rs.params, rs.tmpl
	rate := op.Rate * s.cfg.TimeScale
	if !s.cfg.NoRateLimits {
		who := c.app.ID
		if c.seller != nil {
			who = c.seller.ID
		}
		if !s.limiter.allow(limitKey{who: who, app: c.app.ID, op: op.Key()}, op.Rate, op.Burst, c.now) {
			s.counters.call(op.Key(), true)
			writeError(w, http.StatusTooManyRequests, "QuotaExceeded", msgQuota, "")
			return
		}
	}
	s.counters.call(op.Key(), false)
	if !s.omitHeader() {
		w.Header().Set(headerRateLimit, formatRate(rate))
	}
	var h opHandler
	if rs.implemented {
		h = s.handlers[op.Key()]
	}
	if h == nil {
		w.Header().Set(headerUnimpl, op.Key())
		writeDenied(w, http.StatusForbidden, "Unauthorized", "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	h(s, c)
}

// authorize checks the access token for op in region. On failure it
// returns a nil call with the status, error code and details to send.
func (s *Server) authorize(region Region, op *operations.Operation, r *http.Request) (*call, int, string, string) {
	tok := r.Header.Get(headerAccessToken)
	if tok == "" {
		return nil, http.StatusForbidden, "Unauthorized", detailMissing
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	t := s.reg.access[tok]
	if t == nil {
		return nil, http.StatusForbidden, "Unauthorized", detailInvalid
	}
	if t.refresh != "" {
		if g := s.reg.refresh[t.refresh]; g == nil || g.revoked {
			return nil, http.StatusForbidden, "Unauthorized", detailInvalid
		}
	}
	app := s.reg.apps[t.appID]
	if app == nil {
		return nil, http.StatusForbidden, "Unauthorized", detailInvalid
	}
	if !now.Before(t.expires) {
		return nil, http.StatusForbidden, "Unauthorized", detailExpired
	}
	ac := cloneApp(*app)
	c := &call{r: r, op: op, region: region, now: now, app: &ac, rdt: t.rdt, refresh: t.refresh}
	if op.Grantless {
		if t.kind != kindGrantless || !slices.Contains(t.scopes, op.Scope) {
			return nil, http.StatusForbidden, "Unauthorized", ""
		}
		c.scope = op.Scope
		return c, 0, "", ""
	}
	if t.kind == kindGrantless {
		return nil, http.StatusForbidden, "Unauthorized", ""
	}
	sl := s.reg.sellers[t.sellerID]
	if sl == nil || sl.Region != region {
		return nil, http.StatusForbidden, "Unauthorized", ""
	}
	sc := *sl
	sc.Marketplaces = slices.Clone(sl.Marketplaces)
	c.seller = &sc
	return c, 0, "", ""
}

// issueRDT makes a Restricted Data Token for c's seller, usable by
// targetApp (c's app when nil), covering res. Handlers (createRestrictedDataToken)
// validate res before calling it. expiresIn is in emulator seconds.
func (s *Server) issueRDT(c *call, targetApp *App, res []RestrictedResource) (token string, expiresIn int) {
	if c == nil || c.seller == nil || c.app == nil {
		return "", 0
	}
	appID := c.app.ID
	if targetApp != nil {
		appID = targetApp.ID
	}
	grant := &rdtGrant{resources: make([]RestrictedResource, len(res))}
	for i, x := range res {
		x.DataElements = slices.Clone(x.DataElements)
		grant.resources[i] = x
	}
	life := s.cfg.TokenLifetime
	s.mu.Lock()
	tok := s.issueLocked(&accessToken{kind: kindRDT, appID: appID, sellerID: c.seller.ID, refresh: c.refresh, expires: s.now().Add(life), rdt: grant}, "Atz.sprdt|")
	s.mu.Unlock()
	s.counters.add(&s.counters.rdts)
	return tok, int(life / time.Second)
}

// writeDenied writes SP-API's authorization refusal. Unlike writeError it
// keeps an empty "details" field, as Amazon sends it
// ({"message":"Access to requested resource is denied.","code":"Unauthorized","details":""}).
func writeDenied(w http.ResponseWriter, status int, code, details string) {
	w.Header().Set("x-amzn-ErrorType", code)
	writeJSON(w, status, struct {
		Errors []deniedError `json:"errors"`
	}{[]deniedError{{Code: code, Message: msgDenied, Details: details}}})
}

type deniedError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details"`
}
