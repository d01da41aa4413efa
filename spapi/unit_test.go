package spapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestParseRegion(t *testing.T) {
	tests := []struct {
		in   string
		want Region
		ok   bool
	}{
		{"na", NA, true}, {"EU", EU, true}, {" fe ", FE, true}, {"us-east-1", NA, true}, {"eu-west-1", EU, true},
		{"us-west-2", FE, true}, {"", "", false}, {"asia", "", false},
	}
	for _, tt := range tests {
		got, err := ParseRegion(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRegion(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestRegionOf(t *testing.T) {
	tests := []struct {
		ids  []string
		want Region
		err  string
	}{
		{[]string{"ATVPDKIKX0DER"}, NA, ""},
		{[]string{"A1PA6795UKMFR9", "A1F83G8C2ARO7P"}, EU, ""},
		{[]string{"A1VC38T7YXB528"}, FE, ""},
		{[]string{"DE"}, EU, ""},
		{[]string{"ATVPDKIKX0DER", "A1PA6795UKMFR9"}, "", "span regions"},
		{[]string{"XXXXXXXX"}, "", "unknown marketplace"},
		{nil, "", "no marketplace"},
	}
	for _, tt := range tests {
		got, err := RegionOf(tt.ids...)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("RegionOf(%v) err = %v, want %q", tt.ids, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("RegionOf(%v) = %v, %v", tt.ids, got, err)
		}
	}
}

func TestCustomEndpoints(t *testing.T) {
	e, err := Custom("http://127.0.0.1:8080/", map[Region]string{EU: "http://127.0.0.1:8081"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.SPAPI(NA).String(); got != "http://127.0.0.1:8080" {
		t.Errorf("NA = %s", got)
	}
	if got := e.SPAPI(EU).String(); got != "http://127.0.0.1:8081" {
		t.Errorf("EU = %s", got)
	}
	if e.TokenURL != "http://127.0.0.1:8080/auth/o2/token" {
		t.Errorf("token URL = %s", e.TokenURL)
	}
	for _, bad := range []string{"", "ftp://x", "127.0.0.1:80", "http://", "http://127.0.0.1:8080/prefix", "https://gw.example/sp-api/", "http://h:1?x=1"} {
		if _, err := Custom(bad, nil, ""); err == nil {
			t.Errorf("Custom(%q) accepted", bad)
		}
	}
	if got := Production().SPAPI(FE).Host; got != "sellingpartnerapi-fe.amazon.com" {
		t.Errorf("production FE = %s", got)
	}
	if got := Sandbox().SPAPI(EU).Host; got != "sandbox.sellingpartnerapi-eu.amazon.com" {
		t.Errorf("sandbox EU = %s", got)
	}
}

func TestExpandPath(t *testing.T) {
	got, err := expandPath("/orders/v0/orders/{orderId}/address", map[string]string{"orderId": "123-1234567-1234567"})
	if err != nil || got != "/orders/v0/orders/123-1234567-1234567/address" {
		t.Fatalf("got %q, %v", got, err)
	}
	if got, _ := expandPath("/x/{id}", map[string]string{"id": "a/b c"}); got != "/x/a%2Fb%20c" {
		t.Errorf("escaping: %q", got)
	}
	if _, err := expandPath("/x/{id}", nil); err == nil {
		t.Error("missing parameter accepted")
	}
}

func resp(status int, hdr map[string]string) *http.Response {
	r := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(""))}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return r
}

func TestParseAPIErrorAndDiagnose(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		hdr     map[string]string
		code    string
		step    string
		inError string
		rawKept bool
	}{
		{"generic 403", 403, `{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":""}]}`, nil, "Unauthorized", "app-registration", "spgate doctor", false},
		{"expired", 403, `{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":"The access token you provided has expired."}]}`, nil, "Unauthorized", "lwa-credentials", "expired", false},
		{"revoked", 403, `{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":"The access token you provided is revoked, malformed or invalid."}]}`, nil, "Unauthorized", "authorize-seller", "re-authorize", false},
		{"missing token", 403, `{"errors":[{"code":"MissingAuthenticationToken","message":"Missing Authentication Token"}]}`, nil, "MissingAuthenticationToken", "request", "path", false},
		{"role", 400, `{"errors":[{"code":"InvalidInput","message":"Application does not have access to one or more requested data elements: [shippingAddress]"}]}`, nil, "InvalidInput", "rdt-role", "", false},
		{"quota", 429, `{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource."}]}`, nil, "QuotaExceeded", "rate-limit", "", false},
		{"html 503", 503, `<html><body>Service Unavailable</body></html>`, map[string]string{"x-amzn-ErrorType": "ServiceUnavailableException:http://internal"}, "ServiceUnavailableException", "amazon", "", true},
		{"truncated", 500, `{"errors":[{"code":"Inter`, nil, "", "amazon", "unexpected answer", true},
		{"not found", 404, `{"errors":[{"code":"NotFound","message":"Order not found"}]}`, nil, "NotFound", "request", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resp(tt.status, tt.hdr)
			r.Header.Set("x-amzn-RequestId", "req-1")
			e := parseAPIError(r, []byte(tt.body), "getOrders", "A1SELLER")
			if e.Code != tt.code {
				t.Errorf("code = %q, want %q", e.Code, tt.code)
			}
			if e.RequestID != "req-1" {
				t.Errorf("request id = %q", e.RequestID)
			}
			if d := e.Diagnose(); d.Step != tt.step {
				t.Errorf("step = %q, want %q (%+v)", d.Step, tt.step, d)
			}
			if !strings.Contains(e.Error(), tt.inError) {
				t.Errorf("error %q lacks %q", e.Error(), tt.inError)
			}
			if tt.rawKept != (e.Body != "") {
				t.Errorf("raw body kept = %v", e.Body != "")
			}
			var target *APIError
			if !errors.As(error(e), &target) {
				t.Error("not an *APIError")
			}
		})
	}
}

func TestPaginate(t *testing.T) {
	pages := map[string]struct {
		items []int
		next  string
	}{"": {[]int{1, 2}, "a"}, "a": {[]int{3}, "b"}, "b": {[]int{4, 5}, ""}}
	var got []int
	for v, err := range Paginate(context.Background(), func(_ context.Context, tok string) ([]int, string, error) {
		p := pages[tok]
		return p.items, p.next, nil
	}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if len(got) != 5 || got[4] != 5 {
		t.Fatalf("got %v", got)
	}

	// Early break stops fetching.
	calls := 0
	for range Paginate(context.Background(), func(_ context.Context, tok string) ([]int, string, error) {
		calls++
		return []int{1, 2}, "again" + tok, nil
	}) {
		break
	}
	if calls != 1 {
		t.Errorf("fetched %d pages after break", calls)
	}

	// An error ends the walk and is yielded.
	boom := errors.New("boom")
	var errs int
	for _, err := range Paginate(context.Background(), func(_ context.Context, tok string) ([]int, string, error) {
		if tok == "" {
			return []int{1}, "x", nil
		}
		return nil, "", boom
	}) {
		if err != nil {
			errs++
			if !errors.Is(err, boom) {
				t.Errorf("err = %v", err)
			}
		}
	}
	if errs != 1 {
		t.Errorf("errors yielded: %d", errs)
	}

	// A repeated next token cannot loop forever.
	n := 0
	for range Paginate(context.Background(), func(_ context.Context, tok string) ([]int, string, error) {
		n++
		return []int{n}, "same", nil
	}) {
		if n > 10 {
			t.Fatal("endless pagination")
		}
	}
}

// TestAPIErrorExplain: the explanation a person reads has Amazon's words,
// the likely cause with its fix and setup step, the raw body when Amazon's
// error shape was missing, and the request id.
func TestAPIErrorExplain(t *testing.T) {
	r := resp(403, nil)
	r.Header.Set("x-amzn-RequestId", "req-9")
	e := parseAPIError(r, []byte(`{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":"The access token you provided has expired."}]}`), "getOrders", "A1SELLER")
	got := e.Explain()
	for _, want := range []string{"getOrders answered 403 Unauthorized: Access to requested resource is denied. (The access token you provided has expired.)",
		"\n  likely cause: ", "\n  fix: ", "\n  setup step: lwa-credentials", "\n  request id: req-9"} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain lacks %q:\n%s", want, got)
		}
	}
	raw := parseAPIError(resp(503, nil), []byte(`<html>down</html>`), "getOrders", "A1SELLER").Explain()
	if !strings.Contains(raw, "getOrders answered 503") || !strings.Contains(raw, "\n  body: <html>down</html>") {
		t.Errorf("Explain of a raw answer:\n%s", raw)
	}
}
