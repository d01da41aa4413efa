package amazontest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"
)

func TestSPAPIAuthorizationFailures(t *testing.T) {
	h := start(t, nil)
	d := h.demo
	na := h.srv.URL
	good := h.accessToken(d.RefreshToken)
	expired := h.accessToken(d.RefreshToken)
	revokedApp, _ := h.srv.AddApp(App{})
	revSeller := d.Sellers[0].ID
	revRT, _ := h.srv.Authorize(revSeller, revokedApp.ID)
	revForm := h.refreshForm(revRT)
	revForm.Set("client_id", revokedApp.ClientID)
	revForm.Set("client_secret", revokedApp.ClientSecret)
	rr := h.token(revForm)
	revoked := rr.json(t)["access_token"].(string)
	h.srv.Revoke(revSeller, revokedApp.ID)
	grantless := h.grantless(ScopeNotifications)
	euToken := h.accessToken(d.Sellers[1].RefreshToken) // EU seller

	// Let "expired" expire while keeping the others fresh: tokens made after
	// the advance live on.
	h.clk.Advance(time.Hour)
	good = h.accessToken(d.RefreshToken)
	grantless = h.grantless(ScopeNotifications)
	euToken = h.accessToken(d.Sellers[1].RefreshToken)

	tests := []struct {
		name   string
		base   string
		path   string
		token  string
		hdr    []string
		status int
		body   string
	}{
		{"ok", na, echoPath, good, nil, 200, ""},
		{"sigv4 header accepted and ignored", na, echoPath, good, []string{"Authorization", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260110/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00", "x-amz-date", "20260110T120000Z"}, 200, ""},
		{"unknown path", na, "/nope/v1/things", good, nil, 403, `{"errors":[{"code":"MissingAuthenticationToken","message":"Access to requested resource is denied."}]}`},
		{"unknown path without token", na, "/", "", nil, 403, `{"errors":[{"code":"MissingAuthenticationToken","message":"Access to requested resource is denied."}]}`},
		{"missing token", na, echoPath, "", nil, 403, deniedBody("Unauthorized", "Access token is missing in the request header.")},
		{"malformed token", na, echoPath, "not-a-token", nil, 403, deniedBody("Unauthorized", "The access token you provided is revoked, malformed or invalid.")},
		{"unknown Atza token", na, echoPath, "Atza|IwEBIdoesnotexist", nil, 403, deniedBody("Unauthorized", "The access token you provided is revoked, malformed or invalid.")},
		{"revoked", na, echoPath, revoked, nil, 403, deniedBody("Unauthorized", "The access token you provided is revoked, malformed or invalid.")},
		{"expired", na, echoPath, expired, nil, 403, deniedBody("Unauthorized", "The access token you provided has expired.")},
		{"grantless token on seller operation", na, echoPath, grantless, nil, 403, deniedBody("Unauthorized", "")},
		{"NA token on EU endpoint", h.srv.RegionURL(RegionEU), echoPath, good, nil, 403, deniedBody("Unauthorized", "")},
		{"EU token on NA endpoint", na, echoPath, euToken, nil, 403, deniedBody("Unauthorized", "")},
		{"EU token on EU endpoint", h.srv.RegionURL(RegionEU), echoPath, euToken, nil, 200, ""},
		{"EU token, NA listener, EU Host header", na, echoPath, euToken, []string{"Host", "sellingpartnerapi-eu.amazon.com"}, 200, ""},
		{"NA token, NA listener, FE sandbox Host", na, echoPath, good, []string{"Host", "sandbox.sellingpartnerapi-fe.amazon.com:443"}, 403, deniedBody("Unauthorized", "")},
		{"unimplemented operation", na, unimplPath + "?granularityType=Marketplace", good, nil, 403, deniedBody("Unauthorized", "")},
	}
	reqID := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call(tc.base, "GET", tc.path, tc.token, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if !reqID.MatchString(r.header.Get("x-amzn-RequestId")) {
				t.Errorf("x-amzn-RequestId %q is not uuid-shaped", r.header.Get("x-amzn-RequestId"))
			}
			if tc.body != "" && string(r.body) != tc.body {
				t.Errorf("body\n got %s\nwant %s", r.body, tc.body)
			}
			if tc.status == 403 && r.header.Get("x-amzn-ErrorType") == "" {
				t.Error("refusal without x-amzn-ErrorType")
			}
		})
	}
	// The unimplemented operation says so in a header; authorization
	// refusals don't.
	if r := h.call(na, "GET", unimplPath, good); r.header.Get(headerUnimpl) != "fba-inventory/v1/getInventorySummaries" {
		t.Errorf("unimplemented header %q", r.header.Get(headerUnimpl))
	}
	if r := h.call(na, "GET", echoPath, grantless); r.header.Get(headerUnimpl) != "" {
		t.Error("refusal carries the unimplemented header")
	}
	// Revocation reaches the refresh token too.
	if r := h.token(revForm); r.status != 400 {
		t.Errorf("revoked refresh token: %d %s", r.status, r.body)
	}
	// Another seller's authorization of the same app is untouched.
	if r := h.call(h.srv.RegionURL(RegionEU), "GET", echoPath, euToken); r.status != 200 {
		t.Errorf("unrelated seller after Revoke: %d", r.status)
	}
}

func TestEchoSeesWhatThePipelineResolved(t *testing.T) {
	h := start(t, nil)
	tok := h.accessToken(h.demo.RefreshToken)
	r := h.call(h.srv.URL, "GET", limitPath, tok)
	var e echoReply
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatal(err)
	}
	if e.Op != limitOp || e.Seller != h.demo.SellerID || e.App != h.demo.AppID || e.Region != RegionNA || e.Params["orderId"] != "123-1234567-1234567" || !e.Emulated.Equal(t0) {
		t.Errorf("call handed to the handler: %+v", e)
	}
}

func TestRDTIsAcceptedAsAccessToken(t *testing.T) {
	h := start(t, nil)
	d := h.demo
	seller, _ := h.srv.Seller(d.SellerID)
	app, _ := h.srv.App(d.AppID)
	c := &call{seller: &seller, app: &app, refresh: d.RefreshToken}
	rdt, exp := h.srv.issueRDT(c, nil, []RestrictedResource{{Method: "GET", Path: "/orders/v0/orders/{orderId}", DataElements: []string{"buyerInfo"}}, {Method: "GET", Path: "/orders/v0/orders"}})
	if !regexp.MustCompile(`^Atz\.sprdt\|`).MatchString(rdt) || exp != 3600 {
		t.Fatalf("issueRDT: %.12q… %d", rdt, exp)
	}
	r := h.call(h.srv.URL, "GET", limitPath, rdt)
	var e echoReply
	_ = json.Unmarshal(r.body, &e)
	if r.status != 200 || e.RDT != 2 || e.Seller != d.SellerID {
		t.Fatalf("RDT as access token: %d %s", r.status, r.body)
	}
	// Delegated to another app.
	other, _ := h.srv.AddApp(App{})
	rdt2, _ := h.srv.issueRDT(c, &other, nil)
	r = h.call(h.srv.URL, "GET", echoPath, rdt2)
	_ = json.Unmarshal(r.body, &e)
	if e.App != other.ID {
		t.Errorf("delegated RDT belongs to %s, want %s", e.App, other.ID)
	}
	if h.srv.Counters().RDTsIssued != 2 {
		t.Errorf("RDTsIssued %d", h.srv.Counters().RDTsIssued)
	}
	// Revoking the grant kills the RDT; expiry too.
	h.clk.Advance(time.Hour)
	if r := h.call(h.srv.URL, "GET", limitPath, rdt); string(r.body) != deniedBody("Unauthorized", detailExpired) {
		t.Errorf("expired RDT: %s", r.body)
	}
	rdt3, _ := h.srv.issueRDT(c, nil, nil)
	h.srv.Revoke(d.SellerID, d.AppID)
	if r := h.call(h.srv.URL, "GET", limitPath, rdt3); string(r.body) != deniedBody("Unauthorized", detailInvalid) {
		t.Errorf("RDT after revoke: %s", r.body)
	}
}

func TestGrantlessScopes(t *testing.T) {
	h := start(t, nil)
	tests := []struct {
		name   string
		token  string
		status int
	}{
		{"seller token", h.accessToken(h.demo.RefreshToken), 403},
		{"notifications scope", h.grantless(ScopeNotifications), 403},
		{"migration scope", h.grantless(ScopeMigration), 403},
		{"rotation scope", h.grantless(ScopeRotation), 204},
		{"two scopes incl. rotation", h.grantless(ScopeNotifications + " " + ScopeRotation), 429}, // burst 1 spent above
	}
	for _, tc := range tests {
		r := h.call(h.srv.URL, "POST", "/applications/2023-11-30/clientSecret", tc.token)
		if r.status != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, r.status, tc.status, r.body)
		}
		if tc.status == 403 && string(r.body) != deniedBody("Unauthorized", "") {
			t.Errorf("%s: body %s", tc.name, r.body)
		}
	}
	// A grantless token works in every region (no seller, no region).
	h2 := start(t, nil)
	tok := h2.grantless(ScopeRotation)
	if r := h2.call(h2.srv.RegionURL(RegionFE), "POST", "/applications/2023-11-30/clientSecret", tok); r.status != 204 {
		t.Errorf("grantless on FE: %d %s", r.status, r.body)
	}
}

func TestSPAPIBadInputNeverPanics(t *testing.T) {
	h := start(t, nil)
	tok := h.accessToken(h.demo.RefreshToken)
	paths := []string{
		"/", "//", "/orders/v0/orders/", "/orders/v0/orders//address", "/%zz", "/orders/v0/orders/%00",
		"/sellers/v1/marketplaceParticipations?%zz", "/applications/2023-11-30/clientSecret",
		"/tokens/2021-03-01/restrictedDataToken", "/../../etc/passwd",
	}
	for _, p := range paths {
		for _, m := range []string{"GET", "POST", "DELETE", "PATCH"} {
			req, err := http.NewRequest(m, h.srv.URL+"/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = p // send the path raw
			req.Header.Set("x-amz-access-token", tok)
			r := h.do(req)
			if r.status < 200 || r.status >= 500 {
				t.Errorf("%s %s: %d %s", m, p, r.status, r.body)
			}
		}
	}
	// Huge headers and tokens.
	big := make([]byte, 8000)
	for i := range big {
		big[i] = 'A'
	}
	if r := h.call(h.srv.URL, "GET", echoPath, "Atza|"+string(big)); r.status != 403 {
		t.Errorf("huge token: %d", r.status)
	}
}

// BenchmarkAuthLimitPipeline measures the core's per-request cost
// (request id, token check, bucket, dispatch) without network.
func BenchmarkAuthLimitPipeline(b *testing.B) {
	s, err := New(Config{NoRateLimits: true, OrdersPerSeller: 1})
	if err != nil {
		b.Fatal(err)
	}
	s.handlers[echoOp] = func(s *Server, c *call) { c.w.WriteHeader(http.StatusNoContent) }
	d := s.Demo()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/auth/o2/token", nil)
	req.PostForm = nil
	form := "grant_type=refresh_token&refresh_token=" + d.RefreshToken + "&client_id=" + d.ClientID + "&client_secret=" + d.ClientSecret
	req = httptest.NewRequest(http.MethodPost, "/auth/o2/token", stringsReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	s.Handler().ServeHTTP(rec, req)
	var tr tokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil {
		b.Fatal(err, rec.Body.String())
	}
	hdl := s.Handler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, echoPath, nil)
			req.Header.Set("x-amz-access-token", tr.AccessToken)
			w := httptest.NewRecorder()
			hdl.ServeHTTP(w, req)
			if w.Code != http.StatusNoContent {
				b.Fatalf("status %d %s", w.Code, w.Body.String())
			}
		}
	})
}
