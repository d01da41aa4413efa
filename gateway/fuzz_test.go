package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/internal/testenv"
)

// FuzzGatewayRequest sends arbitrary methods, paths, query strings and
// gateway headers through the handler (forwarding to the offline Amazon)
// and checks that it never panics and that every answer carries a request
// id, every refusal is the gateway's JSON error, and a key without the PII
// permission never receives any of the emulator's personal data.
func FuzzGatewayRequest(f *testing.F) {
	e := newEnv(f, envOptions{amazon: []amazontest.Option{amazontest.WithoutRateLimits()}, store: unlimited{}, withoutLogs: true, noAudit: true})
	key := e.addClient("fuzz", []string{"*"}, []string{"*"}, true)
	narrow := e.addClient("narrow", []string{e.demo.Sellers[1].ID}, []string{"getOrder"}, false)
	noPII := e.addClient("no-pii", []string{"*"}, []string{"*"}, false)
	markers := amazontest.PersonalDataMarkers()
	s0 := e.demo.Sellers[0].ID
	mkt := e.demo.Sellers[0].Marketplaces[0]
	seeds := []struct {
		method, target, seller, pii, deadline string
		keySel                                uint8
		auth                                  string
	}{
		{"GET", "/orders/v0/orders?MarketplaceIds=" + mkt + "&CreatedAfter=2020-01-01T00:00:00Z", sellerName, "", "", 0, ""},
		{"GET", "/orders/v0/orders?MarketplaceIds=" + mkt + "&CreatedAfter=2020-01-01T00:00:00Z", e.demo.Sellers[0].ID, "shippingAddress,buyerInfo", "5000", 0, ""},
		{"GET", "/orders/v0/orders/111-1111111-1111111/address", sellerName, "", "1", 1, ""},
		{"GET", "/sellers/v1/marketplaceParticipations", "shop-2", "", "", 1, ""},
		{"POST", "/tokens/2021-03-01/restrictedDataToken", sellerName, "", "", 0, ""},
		{"PUT", "/orders/v0/orders/%2e%2e/%2e%2e/admin", sellerName, "x,,y", "-5", 0, ""},
		{"GET", "/orders/v0/orders?%zz=1&MarketplaceIds=%00", "A1NOSUCHSELLER", "buyerInfo", "99999999999999999999", 0, ""},
		{"DELETE", "//x//", "", "", "", 3, "Bearer "},
		{"GET", "/healthz", "", "", "", 3, "Basic Zm9vOmJhcg=="},
		{"GET", "/orders/2026-01-01/orders?includedData=BUYER,RECIPIENT&marketplaceIds=" + mkt, sellerName, "", "", 1, ""},
		{"PATCH", "/orders/v0/orders/{orderId}", "shop-1\x00", "shippingAddress", "10", 0, ""},
		{"GET", "/applications/2023-11-30/clientSecret", sellerName, "", "", 0, ""},
		// Personal data asked for by a key without the permission.
		{"GET", "/orders/2026-01-01/orders?includedData=%42UYER,%52ECIPIENT&marketplaceIds=" + mkt + "&createdAfter=2020-01-01T00:00:00Z", s0, "", "", 2, ""},
		{"GET", "/orders/2026-01-01/orders?%69ncludedData=BUYER&marketplaceIds=" + mkt + "&createdAfter=2020-01-01T00:00:00Z", s0, "", "", 2, ""},
		{"GET", "/orders/2026-01-01/orders?includedData=TAX&marketplaceIds=" + mkt + "&createdAfter=2020-01-01T00:00:00Z", s0, "", "", 2, ""},
		{"GET", "/orders/2026-01-01/orders?includedData=recipient&marketplaceIds=" + mkt + "&createdAfter=2020-01-01T00:00:00Z", s0, "", "", 2, ""},
		{"GET", "/orders/v0/orders?MarketplaceIds=" + mkt + "&CreatedAfter=2020-01-01T00:00:00Z", s0, "shippingAddress,buyerInfo", "", 2, ""},
		{"GET", "/orders/v0/%6Frders/111-1111111-1111111/address", s0, "", "", 2, ""},
		{"POST", "/tokens/2021-03-01/restrictedDataToken", s0, "", "", 2, ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.seller, s.pii, s.deadline, s.keySel, s.auth)
	}
	f.Fuzz(func(t *testing.T, method, target, seller, pii, deadline string, keySel uint8, auth string) {
		var b strings.Builder
		b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: gateway\r\n")
		mayReadPII := false
		switch keySel % 4 {
		case 0:
			b.WriteString("Authorization: Bearer " + key + "\r\n")
			mayReadPII = true
		case 1:
			b.WriteString("Authorization: Bearer " + narrow + "\r\n")
		case 2:
			b.WriteString("Authorization: Bearer " + noPII + "\r\n")
		default:
			b.WriteString("Authorization: " + auth + "\r\n")
		}
		b.WriteString(gateway.HeaderSeller + ": " + seller + "\r\n")
		b.WriteString(gateway.HeaderPII + ": " + pii + "\r\n")
		b.WriteString(gateway.HeaderDeadline + ": " + deadline + "\r\n\r\n")
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
		if err != nil {
			return // the server would have refused it before the gateway
		}
		// Nothing here waits for a slot (no limits) or for Amazon (no
		// faults): an answer that takes all of testenv.Patience is a hang.
		ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
		defer cancel()
		req = req.WithContext(ctx)
		w := httptest.NewRecorder()
		e.gw.ServeHTTP(w, req)
		if ctx.Err() != nil {
			t.Fatalf("%s %q still running after %v (status %d %.300s)", method, target, testenv.Patience, w.Code, w.Body.String())
		}
		if req.URL.Path == "/healthz" || req.URL.Path == "/readyz" || req.URL.Path == "/metrics" {
			return
		}
		if w.Header().Get(gateway.HeaderRequestID) == "" {
			t.Fatalf("no request id on %d", w.Code)
		}
		if w.Header().Get("x-amzn-RequestId") == "" && w.Code != 499 {
			var eb gateway.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" {
				t.Fatalf("gateway answer %d is not its JSON error: %q", w.Code, w.Body.String())
			}
		}
		if !mayReadPII {
			for _, m := range markers {
				if strings.Contains(w.Body.String(), m) {
					t.Fatalf("%s %q: a key without the PII permission received personal data (%q): %d %.300s", method, target, m, w.Code, w.Body.String())
				}
			}
		}
		for _, s := range []string{key, narrow, noPII, e.demo.ClientSecret, "Atza|", "Atzr|"} {
			if strings.Contains(w.Body.String(), s) {
				t.Fatalf("answer contains a secret")
			}
		}
	})
}
