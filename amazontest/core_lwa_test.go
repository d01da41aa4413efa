package amazontest

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLWAGrantsAndErrors(t *testing.T) {
	h := start(t, nil)
	d := h.demo
	other, err := h.srv.AddApp(App{})
	if err != nil {
		t.Fatal(err)
	}
	client := func(v url.Values) url.Values {
		v.Set("client_id", d.ClientID)
		v.Set("client_secret", d.ClientSecret)
		return v
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		body   string // exact JSON for errors
		keys   []string
		prefix string
	}{
		{"refresh token", h.refreshForm(d.RefreshToken), 200, "", []string{"access_token", "expires_in", "token_type"}, "Atza|"},
		{"client credentials notifications", client(url.Values{"grant_type": {"client_credentials"}, "scope": {ScopeNotifications}}), 200, "", []string{"access_token", "expires_in", "token_type"}, "Atza|"},
		{"client credentials rotation", client(url.Values{"grant_type": {"client_credentials"}, "scope": {ScopeRotation}}), 200, "", []string{"access_token", "expires_in", "token_type"}, "Atza|"},
		{"client credentials migration", client(url.Values{"grant_type": {"client_credentials"}, "scope": {ScopeMigration}}), 200, "", []string{"access_token", "expires_in", "token_type"}, "Atza|"},
		{"missing grant type", client(url.Values{}), 400, lwaBody("invalid_request", "The request is missing a required parameter : grant_type"), nil, ""},
		{"unknown grant type", client(url.Values{"grant_type": {"password"}}), 400, lwaBody("unsupported_grant_type", descGrantType), nil, ""},
		{"missing client id", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {d.RefreshToken}, "client_secret": {d.ClientSecret}}, 400, lwaBody("invalid_request", "The request is missing a required parameter : client_id"), nil, ""},
		{"missing client secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {d.RefreshToken}, "client_id": {d.ClientID}}, 400, lwaBody("invalid_request", "The request is missing a required parameter : client_secret"), nil, ""},
		{"wrong secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {d.RefreshToken}, "client_id": {d.ClientID}, "client_secret": {other.ClientSecret}}, 401, lwaBody("invalid_client", "Client authentication failed"), nil, ""},
		{"unknown client", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {d.RefreshToken}, "client_id": {"amzn1.application-oa2-client.00000000000000000000000000000000"}, "client_secret": {d.ClientSecret}}, 401, lwaBody("invalid_client", "Client authentication failed"), nil, ""},
		{"missing refresh token", client(url.Values{"grant_type": {"refresh_token"}}), 400, lwaBody("invalid_request", "The request is missing a required parameter : refresh_token"), nil, ""},
		{"unknown refresh token", h.refreshForm("Atzr|nope"), 400, lwaBody("invalid_grant", "The request has an invalid grant parameter : refresh_token"), nil, ""},
		{"refresh token of another app", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {d.RefreshToken}, "client_id": {other.ClientID}, "client_secret": {other.ClientSecret}}, 400, lwaBody("invalid_grant", "The request has an invalid grant parameter : refresh_token"), nil, ""},
		{"missing scope", client(url.Values{"grant_type": {"client_credentials"}}), 400, lwaBody("invalid_request", "The request is missing a required parameter : scope"), nil, ""},
		{"unknown scope", client(url.Values{"grant_type": {"client_credentials"}, "scope": {"sellingpartnerapi::everything"}}), 400, lwaBody("invalid_scope", "The request has an invalid parameter : scope"), nil, ""},
		{"code missing", client(url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {DemoRedirectURI}}), 400, lwaBody("invalid_request", "The request is missing a required parameter : code"), nil, ""},
		{"redirect missing", client(url.Values{"grant_type": {"authorization_code"}, "code": {"ANabc"}}), 400, lwaBody("invalid_request", "The request is missing a required parameter : redirect_uri"), nil, ""},
		{"unknown code", client(url.Values{"grant_type": {"authorization_code"}, "code": {"ANabc"}, "redirect_uri": {DemoRedirectURI}}), 400, lwaBody("invalid_grant", "The request has an invalid grant parameter : code"), nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.token(tc.form)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if r.header.Get("x-amzn-RequestId") == "" {
				t.Error("no x-amzn-RequestId")
			}
			if tc.body != "" {
				if string(r.body) != tc.body {
					t.Errorf("body\n got %s\nwant %s", r.body, tc.body)
				}
				return
			}
			m := r.json(t)
			var keys []string
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tc.keys) {
				t.Errorf("keys %v, want %v", keys, tc.keys)
			}
			if tok, _ := m["access_token"].(string); !strings.HasPrefix(tok, tc.prefix) {
				t.Errorf("access_token %.10q… lacks prefix %q", tok, tc.prefix)
			}
			if m["token_type"] != "bearer" || m["expires_in"] != float64(3600) {
				t.Errorf("token_type %v expires_in %v, want bearer 3600", m["token_type"], m["expires_in"])
			}
		})
	}
	c := h.srv.Counters()
	if c.TokensIssued["refresh_token"] != 1 || c.TokensIssued["client_credentials"] != 3 {
		t.Errorf("TokensIssued %v", c.TokensIssued)
	}
	if c.LWAErrors["invalid_client"] != 2 || c.LWAErrors["invalid_grant"] != 3 {
		t.Errorf("LWAErrors %v", c.LWAErrors)
	}
}

func TestLWAAcceptsJSONBody(t *testing.T) {
	h := start(t, nil)
	body := `{"grant_type":"refresh_token","refresh_token":"` + h.demo.RefreshToken + `","client_id":"` + h.demo.ClientID + `","client_secret":"` + h.demo.ClientSecret + `"}`
	req, _ := http.NewRequest(http.MethodPost, h.srv.TokenURL(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if r := h.do(req); r.status != 200 {
		t.Fatalf("JSON body: %d %s", r.status, r.body)
	}
}

func TestAccessTokenExpiresOnTheClock(t *testing.T) {
	for _, scale := range []float64{1, 60} {
		h := start(t, func(c *Config) { c.TimeScale = scale })
		tok := h.accessToken(h.demo.RefreshToken)
		life := time.Duration(float64(time.Hour) / scale)
		h.clk.Advance(life - time.Second)
		if r := h.call(h.srv.URL, "GET", echoPath, tok); r.status != 200 {
			t.Fatalf("scale %g: token refused before expiry: %d %s", scale, r.status, r.body)
		}
		h.clk.Advance(time.Second)
		r := h.call(h.srv.URL, "GET", echoPath, tok)
		if want := deniedBody("Unauthorized", "The access token you provided has expired."); r.status != 403 || string(r.body) != want {
			t.Errorf("scale %g: after expiry: %d %s, want 403 %s", scale, r.status, r.body, want)
		}
	}
}

var reCode = regexp.MustCompile(`^AN[A-Za-z]{18}$`)

// consent plays the seller clicking Confirm and returns the redirect query.
func (h *harness) consent(q url.Values) (int, url.Values, string) {
	h.t.Helper()
	r := h.call(h.srv.URL, "GET", "/apps/authorize/consent?"+q.Encode(), "")
	if r.status != http.StatusFound {
		return r.status, nil, string(r.body)
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		h.t.Fatal(err)
	}
	return r.status, u.Query(), u.Scheme + "://" + u.Host + u.Path
}

func TestConsentAndAuthorizationCode(t *testing.T) {
	h := start(t, nil)
	d := h.demo
	exchange := func(code, redirect string) resp {
		return h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "client_id": {d.ClientID}, "client_secret": {d.ClientSecret}})
	}
	seller := d.Sellers[1].ID
	status, q, base := h.consent(url.Values{"application_id": {d.AppID}, "state": {"xyz-1"}, "selling_partner_id": {seller}})
	if status != http.StatusFound || base != DemoRedirectURI || q.Get("state") != "xyz-1" || q.Get("selling_partner_id") != seller || !reCode.MatchString(q.Get("spapi_oauth_code")) {
		t.Fatalf("consent redirect: %d %s %v", status, base, q)
	}
	code := q.Get("spapi_oauth_code")
	r := exchange(code, DemoRedirectURI)
	if r.status != 200 {
		t.Fatalf("exchange: %d %s", r.status, r.body)
	}
	m := r.json(t)
	rt, _ := m["refresh_token"].(string)
	if !strings.HasPrefix(rt, "Atzr|") || !strings.HasPrefix(m["access_token"].(string), "Atza|") {
		t.Fatalf("exchange answer lacks Atzr|/Atza| tokens: %v", m)
	}
	// The new refresh token works and belongs to the consenting seller.
	at := h.accessToken(rt)
	if got := h.call(h.srv.RegionURL(RegionEU), "GET", echoPath, at); got.status != 200 || !strings.Contains(string(got.body), seller) {
		t.Errorf("token from the code flow: %d %s", got.status, got.body)
	}
	invalidCode := lwaBody("invalid_grant", "The request has an invalid grant parameter : code")
	if r := exchange(code, DemoRedirectURI); r.status != 400 || string(r.body) != invalidCode {
		t.Errorf("second use of a code: %d %s", r.status, r.body)
	}

	// Bound to its redirect_uri.
	_, q, _ = h.consent(url.Values{"application_id": {d.AppID}, "state": {"s"}})
	if r := exchange(q.Get("spapi_oauth_code"), "https://evil.example/cb"); r.status != 400 || string(r.body) != invalidCode {
		t.Errorf("code with another redirect_uri: %d %s", r.status, r.body)
	}
	// Lives five minutes.
	_, q, _ = h.consent(url.Values{"application_id": {d.AppID}, "state": {"s"}})
	h.clk.Advance(5*time.Minute - time.Second)
	if r := exchange(q.Get("spapi_oauth_code"), DemoRedirectURI); r.status != 200 {
		t.Errorf("code at 4m59s: %d %s", r.status, r.body)
	}
	_, q, _ = h.consent(url.Values{"application_id": {d.AppID}, "state": {"s"}})
	h.clk.Advance(5 * time.Minute)
	if r := exchange(q.Get("spapi_oauth_code"), DemoRedirectURI); r.status != 400 || string(r.body) != invalidCode {
		t.Errorf("code at 5m: %d %s", r.status, r.body)
	}
}

func TestConsentPages(t *testing.T) {
	h := start(t, nil)
	d := h.demo
	tests := []struct {
		name   string
		q      url.Values
		status int
		want   string // in the page, or a query value on redirect
	}{
		{"draft without beta", url.Values{"application_id": {d.DraftAppID}, "state": {"s"}}, 400, "MD1000"},
		{"draft with beta", url.Values{"application_id": {d.DraftAppID}, "state": {"s"}, "version": {"beta"}}, 302, ""},
		{"unregistered redirect", url.Values{"application_id": {d.AppID}, "redirect_uri": {"https://other.example/cb"}}, 400, "MD5101"},
		{"fragment in redirect", url.Values{"application_id": {d.AppID}, "redirect_uri": {DemoRedirectURI + "#x"}}, 400, "MD5110"},
		{"unknown app", url.Values{"application_id": {"amzn1.sp.solution.nope"}}, 404, "could not find"},
		{"unknown seller", url.Values{"application_id": {d.AppID}, "selling_partner_id": {"ANOPE"}}, 400, "selling_partner_id"},
		{"deny", url.Values{"application_id": {d.AppID}, "state": {"st"}, "deny": {"1"}}, 302, "access_denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, q, page := h.consent(tc.q)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%s)", status, tc.status, page)
			}
			if status == 302 {
				if tc.want != "" && (q.Get("error") != tc.want || q.Get("state") != "st" || q.Has("spapi_oauth_code")) {
					t.Errorf("deny redirect query %v", q)
				}
				if tc.want == "" && q.Get("spapi_oauth_code") == "" {
					t.Errorf("no code in %v", q)
				}
				return
			}
			if !strings.Contains(page, tc.want) {
				t.Errorf("page lacks %q: %s", tc.want, page)
			}
		})
	}
}

func TestLWABadInputNeverPanics(t *testing.T) {
	h := start(t, nil)
	bodies := []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", "%zz=%%"},
		{"application/x-www-form-urlencoded", strings.Repeat("a", 200<<10)},
		{"application/json", `{"grant_type":`},
		{"application/json", `{"grant_type":5}`},
		{"application/json", `[]`},
		{"", ""},
		{"text/plain", "grant_type=refresh_token"},
		{"application/x-www-form-urlencoded", "grant_type=refresh_token&grant_type=client_credentials"},
		{"application/x-www-form-urlencoded", "grant_type=\x00\xff"},
	}
	for i, b := range bodies {
		req, _ := http.NewRequest(http.MethodPost, h.srv.TokenURL(), strings.NewReader(b.body))
		if b.ct != "" {
			req.Header.Set("Content-Type", b.ct)
		}
		r := h.do(req)
		if r.status != 400 && r.status != 401 {
			t.Errorf("body %d: status %d %s", i, r.status, r.body)
		}
		m := r.json(t)
		if m["error"] == nil || m["error_description"] == nil {
			t.Errorf("body %d: not LWA's error shape: %s", i, r.body)
		}
	}
	r := h.call(h.srv.URL, "GET", "/auth/o2/token", "")
	if r.status != 400 {
		t.Errorf("GET token endpoint: %d", r.status)
	}
}
