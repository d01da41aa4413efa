package amazontest

import (
	"encoding/json"
	"html"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Grantless scopes LWA knows for SP-API.
const (
	ScopeNotifications = "sellingpartnerapi::notifications"
	ScopeRotation      = "sellingpartnerapi::client_credential:rotation"
	ScopeMigration     = "sellingpartnerapi::migration"
)

var knownScopes = []string{ScopeNotifications, ScopeRotation, ScopeMigration}

// authCodeLifetime is how long an spapi_oauth_code can be exchanged.
const authCodeLifetime = 5 * time.Minute

// LWA's error wording, as seen on the wire.
const (
	descClient      = "Client authentication failed"
	descGrantPrefix = "The request has an invalid grant parameter : "
	descMissing     = "The request is missing a required parameter : "
	descScope       = "The request has an invalid parameter : scope"
	descGrantType   = "The authorization grant type is not supported by the authorization server"
	descMalformed   = "Malformed request"
	descUnavailable = "The authorization server is temporarily unable to handle the request. Please try again."
)

type lwaError struct {
	ErrorDescription string `json:"error_description"`
	Error            string `json:"error"`
}

func (s *Server) lwaFail(w http.ResponseWriter, status int, code, desc string) {
	s.counters.lwaError(code)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, lwaError{ErrorDescription: desc, Error: code})
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// lwaForm reads the token request: form-encoded (what Amazon documents) or
// a flat JSON object (which LWA also accepts).
func (s *Server) lwaForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return nil, false
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, false
		}
		v := url.Values{}
		for k, x := range m {
			str, ok := x.(string)
			if !ok {
				return nil, false
			}
			v.Set(k, str)
		}
		return v, true
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, false
	}
	return v, true
}

// serveToken is LWA's POST /auth/o2/token.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	form, grant, ok := s.tokenForm(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	app := s.reg.byClient[form.Get("client_id")]
	if app == nil || !secretValid(app, form.Get("client_secret"), now) {
		s.lwaFailLocked(w, http.StatusUnauthorized, "invalid_client", descClient)
		return
	}
	resp := tokenResponse{TokenType: "bearer", ExpiresIn: int(s.cfg.TokenLifetime / time.Second)}
	switch grant {
	case "refresh_token":
		ok = s.refreshGrantLocked(w, form, app, now, &resp)
	case "client_credentials":
		ok = s.clientCredentialsGrantLocked(w, form, app, now, &resp)
	case "authorization_code":
		ok = s.codeGrantLocked(w, form, app, now, &resp)
	}
	if !ok {
		return
	}
	s.counters.tokenIssued(grant)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

// tokenForm checks what LWA checks before it looks at the client: an
// outage, the method, the form, a known grant type and the client's
// credentials being there. It answers the failure itself.
func (s *Server) tokenForm(w http.ResponseWriter, r *http.Request) (form url.Values, grant string, ok bool) {
	s.mu.RLock()
	outage := s.faults.LWAOutage
	s.mu.RUnlock()
	if outage {
		s.lwaFail(w, http.StatusServiceUnavailable, "temporarily_unavailable", descUnavailable)
		return nil, "", false
	}
	if r.Method != http.MethodPost {
		s.lwaFail(w, http.StatusBadRequest, "invalid_request", descMalformed)
		return nil, "", false
	}
	form, ok = s.lwaForm(w, r)
	if !ok {
		s.lwaFail(w, http.StatusBadRequest, "invalid_request", descMalformed)
		return nil, "", false
	}
	grant = form.Get("grant_type")
	switch grant {
	case "":
		s.lwaFail(w, http.StatusBadRequest, "invalid_request", descMissing+"grant_type")
		return nil, "", false
	case "refresh_token", "client_credentials", "authorization_code":
	default:
		s.lwaFail(w, http.StatusBadRequest, "unsupported_grant_type", descGrantType)
		return nil, "", false
	}
	for _, p := range []string{"client_id", "client_secret"} {
		if form.Get(p) == "" {
			s.lwaFail(w, http.StatusBadRequest, "invalid_request", descMissing+p)
			return nil, "", false
		}
	}
	return form, grant, true
}

// refreshGrantLocked issues a seller's access token for a refresh token the
// app holds and the seller has not revoked.
func (s *Server) refreshGrantLocked(w http.ResponseWriter, form url.Values, app *App, now time.Time, resp *tokenResponse) bool {
	rt := form.Get("refresh_token")
	if rt == "" {
		s.lwaFailLocked(w, http.StatusBadRequest, "invalid_request", descMissing+"refresh_token")
		return false
	}
	g := s.reg.refresh[rt]
	if g == nil || g.revoked || g.appID != app.ID {
		s.lwaFailLocked(w, http.StatusBadRequest, "invalid_grant", descGrantPrefix+"refresh_token")
		return false
	}
	resp.AccessToken = s.issueLocked(&accessToken{kind: kindSeller, appID: app.ID, sellerID: g.sellerID, refresh: rt, expires: now.Add(s.cfg.TokenLifetime)}, "Atza|")
	return true
}

// clientCredentialsGrantLocked issues a grantless token for known scopes.
func (s *Server) clientCredentialsGrantLocked(w http.ResponseWriter, form url.Values, app *App, now time.Time, resp *tokenResponse) bool {
	sc := form.Get("scope")
	if sc == "" {
		s.lwaFailLocked(w, http.StatusBadRequest, "invalid_request", descMissing+"scope")
		return false
	}
	scopes := strings.Fields(sc)
	for _, x := range scopes {
		if !slices.Contains(knownScopes, x) {
			s.lwaFailLocked(w, http.StatusBadRequest, "invalid_scope", descScope)
			return false
		}
	}
	resp.AccessToken = s.issueLocked(&accessToken{kind: kindGrantless, appID: app.ID, scopes: scopes, expires: now.Add(s.cfg.TokenLifetime)}, "Atza|")
	return true
}

// codeGrantLocked exchanges a consent code, once, for a refresh token and
// an access token.
func (s *Server) codeGrantLocked(w http.ResponseWriter, form url.Values, app *App, now time.Time, resp *tokenResponse) bool {
	for _, p := range []string{"code", "redirect_uri"} {
		if form.Get(p) == "" {
			s.lwaFailLocked(w, http.StatusBadRequest, "invalid_request", descMissing+p)
			return false
		}
	}
	c := s.reg.codes[form.Get("code")]
	if c == nil || c.used || c.appID != app.ID || !now.Before(c.expires) || c.redirectURI != form.Get("redirect_uri") {
		if c != nil && c.appID == app.ID {
			c.used = true // a failed exchange burns the code, as OAuth servers do
		}
		s.lwaFailLocked(w, http.StatusBadRequest, "invalid_grant", descGrantPrefix+"code")
		return false
	}
	c.used = true
	rt, _ := s.authorizeLocked(c.sellerID, c.appID, "")
	resp.RefreshToken = rt
	resp.AccessToken = s.issueLocked(&accessToken{kind: kindSeller, appID: app.ID, sellerID: c.sellerID, refresh: rt, expires: now.Add(s.cfg.TokenLifetime)}, "Atza|")
	return true
}

// lwaFailLocked is lwaFail for callers holding s.mu (counters have their own
// lock, so this is the same).
func (s *Server) lwaFailLocked(w http.ResponseWriter, status int, code, desc string) {
	s.lwaFail(w, status, code, desc)
}

// secretValid reports whether secret is app's current or previous client
// secret and has not expired at now.
func secretValid(app *App, secret string, now time.Time) bool {
	if secret == app.ClientSecret && now.Before(app.SecretExpiry) {
		return true
	}
	return app.PreviousSecret != "" && secret == app.PreviousSecret && now.Before(app.PreviousExpiry)
}

// issueLocked stores t under a fresh token with prefix and returns it.
func (s *Server) issueLocked(t *accessToken, prefix string) string {
	s.reg.issued++
	if s.reg.issued >= 4096 {
		s.reg.issued = 0
		now := s.now()
		for k, v := range s.reg.access {
			if !now.Before(v.expires.Add(time.Hour)) {
				delete(s.reg.access, k)
			}
		}
		for k, v := range s.reg.codes {
			if v.used || !now.Before(v.expires) {
				delete(s.reg.codes, k)
			}
		}
	}
	tok := s.newToken(prefix)
	s.reg.access[tok] = t
	return tok
}

// serveConsent plays Seller Central's consent page after the seller clicked
// Confirm (or Deny).
//
//	GET /apps/authorize/consent?application_id=<app id>&state=<state>
//	    [&version=beta]            required for a draft app (else MD1000)
//	    [&redirect_uri=<uri>]      one of the app's redirect URIs (else MD5101); default the first
//	    [&selling_partner_id=<id>] which seller consents; default the first seller
//	    [&deny=1]                  the seller declines: redirect with error=access_denied
//
// Success is a 302 to redirect_uri with spapi_oauth_code, state and
// selling_partner_id; the code lives 5 minutes (emulator time), works once
// and only with the same redirect_uri.
func (s *Server) serveConsent(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		consentError(w, http.StatusMethodNotAllowed, "", "Use GET.")
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		consentError(w, http.StatusBadRequest, "", "The request could not be understood.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	app := s.reg.apps[q.Get("application_id")]
	if app == nil {
		consentError(w, http.StatusNotFound, "", "We could not find the application you are trying to authorize (application_id).")
		return
	}
	if app.Draft && q.Get("version") != "beta" {
		consentError(w, http.StatusBadRequest, "MD1000", "The application is in draft state; add version=beta to authorize it.")
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" && len(app.RedirectURIs) > 0 {
		redirect = app.RedirectURIs[0]
	}
	if strings.Contains(redirect, "#") {
		consentError(w, http.StatusBadRequest, "MD5110", "The redirect URL contains a fragment.")
		return
	}
	if redirect == "" || !slices.Contains(app.RedirectURIs, redirect) {
		consentError(w, http.StatusBadRequest, "MD5101", "The redirect URL does not match one of the redirect URLs registered for the application.")
		return
	}
	ru, err := url.Parse(redirect)
	if err != nil {
		consentError(w, http.StatusBadRequest, "MD5101", "The redirect URL is not a valid URL.")
		return
	}
	sellerID := q.Get("selling_partner_id")
	if sellerID == "" && len(s.reg.sellerOrder) > 0 {
		sellerID = s.reg.sellerOrder[0]
	}
	if _, ok := s.reg.sellers[sellerID]; !ok {
		consentError(w, http.StatusBadRequest, "", "Unknown selling partner (selling_partner_id).")
		return
	}
	out := ru.Query()
	if q.Has("state") {
		out.Set("state", q.Get("state"))
	}
	if q.Get("deny") != "" && q.Get("deny") != "0" {
		out.Set("error", "access_denied")
		out.Set("error_description", "The selling partner declined to authorize the application.")
	} else {
		code := "AN" + s.randString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 18)
		s.reg.codes[code] = &authCode{appID: app.ID, sellerID: sellerID, redirectURI: redirect, expires: s.now().Add(authCodeLifetime)}
		out.Set("spapi_oauth_code", code)
		out.Set("selling_partner_id", sellerID)
	}
	ru.RawQuery = out.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

func consentError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	title := "Authorization error"
	if code != "" {
		title += " (" + code + ")"
	}
	_, _ = io.WriteString(w, "<!DOCTYPE html><html><head><title>"+html.EscapeString(title)+"</title></head><body><h1>"+
		html.EscapeString(title)+"</h1><p>"+html.EscapeString(msg)+"</p>"+
		"<p data-error-code=\""+html.EscapeString(code)+"\">Error code: "+html.EscapeString(code)+"</p></body></html>")
}
