package amazontest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/operations"
)

// emu is an emulator on loopback with helpers to call it as a client would.
type emu struct {
	t    *testing.T
	s    *Server
	demo Demo
}

func newEmu(t *testing.T, opts ...Option) *emu {
	t.Helper()
	s := NewServer(append([]Option{WithSeed(7), WithOrdersPerSeller(3000), WithoutRateLimits()}, opts...)...)
	t.Cleanup(s.Close)
	return &emu{t: t, s: s, demo: s.Demo()}
}

// accessToken exchanges a refresh token of the demo app (or clientID/secret) for an LWA token.
func (e *emu) accessToken(clientID, clientSecret, refresh string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {clientID}, "client_secret": {clientSecret}}
	resp, err := http.PostForm(e.s.TokenURL(), form)
	if err != nil {
		e.t.Fatalf("LWA token: %v", err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		e.t.Fatalf("LWA token: status %d, decode err %v", resp.StatusCode, err)
	}
	return tr.AccessToken
}

// sellerToken returns an LWA token of the demo app for demo seller i.
func (e *emu) sellerToken(i int) string {
	return e.accessToken(e.demo.ClientID, e.demo.ClientSecret, e.demo.Sellers[i].RefreshToken)
}

// roleless registers an app without restricted roles, authorized by demo
// seller 0, and returns an LWA token for it.
func (e *emu) roleless() string {
	e.t.Helper()
	a, err := e.s.AddApp(App{})
	if err != nil {
		e.t.Fatal(err)
	}
	rt, err := e.s.Authorize(e.demo.Sellers[0].ID, a.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.accessToken(a.ClientID, a.ClientSecret, rt)
}

type hresp struct {
	status int
	body   []byte
	hdr    http.Header
}

func (r hresp) errCode() (code, msg string) {
	var el struct {
		Errors []apiError `json:"errors"`
	}
	_ = json.Unmarshal(r.body, &el)
	if len(el.Errors) == 0 {
		return "", ""
	}
	return el.Errors[0].Code, el.Errors[0].Message
}

func (e *emu) do(region Region, method, pathQuery, token, body string) hresp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.s.RegionURL(region)+pathQuery, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("x-amz-access-token", token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, pathQuery, err)
	}
	defer hr.Body.Close()
	b, err := io.ReadAll(hr.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return hresp{hr.StatusCode, b, hr.Header}
}

func (e *emu) get(token, pathQuery string) hresp {
	return e.do(RegionNA, http.MethodGet, pathQuery, token, "")
}

// rdt asks for a Restricted Data Token; it fails the test unless Amazon says 200.
func (e *emu) rdt(token string, resources ...RestrictedResource) string {
	e.t.Helper()
	b, _ := json.Marshal(map[string]any{"restrictedResources": resources})
	r := e.do(RegionNA, http.MethodPost, "/tokens/2021-03-01/restrictedDataToken", token, string(b))
	if r.status != http.StatusOK {
		e.t.Fatalf("createRestrictedDataToken: %d %s", r.status, r.body)
	}
	var out rdtResponse
	if err := json.Unmarshal(r.body, &out); err != nil || !strings.HasPrefix(out.RestrictedDataToken, "Atz.sprdt|") || out.ExpiresIn != 3600 {
		e.t.Fatalf("createRestrictedDataToken body %s (%v)", r.body, err)
	}
	return out.RestrictedDataToken
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// since formats a time relative to the emulator's now for a query.
func (e *emu) since(d time.Duration) string {
	return url.QueryEscape(e.s.Now().Add(-d).UTC().Format(time.RFC3339))
}

// direct runs handler h for an operation without HTTP: the in-process
// harness for fuzzing.
func direct(s *Server, seller *Seller, app *App, key, method, target string, h opHandler) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(method, target, nil)
	rs, ok := emulatorRoutes().resolve(r)
	if !ok || rs.op.Key() != key {
		rs = resolved{op: tableOp(key)}
	}
	c := &call{w: rec, r: r, op: rs.op, params: rs.params, tmpl: rs.tmpl, region: seller.Region, now: s.Now(), app: app, seller: seller}
	h(s, c)
	return rec
}

// directRDT is direct with a Restricted Data Token grant.
func directRDT(s *Server, seller *Seller, app *App, grant *rdtGrant, key, method, target string, h opHandler) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(method, target, nil)
	rs, _ := emulatorRoutes().resolve(r)
	c := &call{w: rec, r: r, op: rs.op, params: rs.params, tmpl: rs.tmpl, region: seller.Region, now: s.Now(), app: app, seller: seller, rdt: grant}
	h(s, c)
	return rec
}

// tableOp returns the operations table's entry for key ("api/version/id").
func tableOp(key string) *operations.Operation {
	for i := range operations.All {
		if operations.All[i].Key() == key {
			return &operations.All[i]
		}
	}
	return nil
}

// benchSellers makes n sellers spread over the regions.
func benchSellers(n int) []*Seller {
	regions := []Region{RegionNA, RegionEU, RegionFE}
	out := make([]*Seller, n)
	for i := range out {
		r := regions[i%3]
		out[i] = &Seller{ID: "A1BENCH" + string(rune('A'+i)) + "XXXXXX", Name: "bench", Region: r, Marketplaces: regionMarketplaceIDs(r)}
	}
	return out
}

// nextTokenOf extracts payload.NextToken without decoding the whole page
// (the benchmark measures the server, not the client's decoder).
func nextTokenOf(body []byte) string {
	const key = `"NextToken":"`
	i := bytes.LastIndex(body, []byte(key))
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	var tok string
	_ = json.Unmarshal(body[i+len(key)-1:i+len(key)+j+1], &tok)
	return tok
}
