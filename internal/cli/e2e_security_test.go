package cli

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/testenv"
)

// containsPersonalData reports the first of the emulator's personal-data
// markers found in body.
func containsPersonalData(body string) (string, bool) {
	for _, m := range amazontest.PersonalDataMarkers() {
		if strings.Contains(body, m) {
			return m, true
		}
	}
	return "", false
}

// TestServeDecidesOnWhatIsSent probes `spgate serve` as an attacker holding
// a key without the PII permission would: encoded query names and values,
// datasets that carry a buyer's tax data, Restricted Data Tokens, and the
// details /readyz and upstream errors used to give away.
func TestServeDecidesOnWhatIsSent(t *testing.T) {
	f := newServeFixture(t)
	out, _ := e2eMust(t, ExitOK, "", "client", "add", "orders-no-pii", "--seller", f.na.ID, "--operation", "orders")
	noPII := strings.TrimSpace(out)
	out, _ = e2eMust(t, ExitOK, "", "client", "add", "everything-no-pii", "--seller", "*", "--operation", "*")
	wide := strings.TrimSpace(out)
	out, _ = e2eMust(t, ExitOK, "", "client", "add", "orders-pii", "--seller", f.na.ID, "--operation", "orders", "--pii")
	withPII := strings.TrimSpace(out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	base, _ := e2eServe(t, ctx, &stderr, "--audit-log", f.audit, "--key-cache", "0")

	mkt := f.na.Marketplaces[0]
	created := time.Now().Add(-90 * 24 * time.Hour).UTC().Format(time.RFC3339)
	search := "/orders/2026-01-01/orders?marketplaceIds=" + mkt + "&createdAfter=" + created + "&"

	t.Run("personal datasets however they are spelled", func(t *testing.T) {
		for _, q := range []string{
			"includedData=%42UYER,%52ECIPIENT",
			"%69ncludedData=BUYER",
			"includedData=TAX",
			"includedData=PACKAGES&includedData=RECIPIENT",
		} {
			for _, key := range []string{noPII, wide} {
				code, _, body := gatewayCall(t, base, search+q, key, f.na.ID)
				if code != http.StatusForbidden || !strings.Contains(body, `"pii_forbidden"`) {
					t.Errorf("?%s without the PII permission: %d %.300s", q, code, body)
				}
				if m, ok := containsPersonalData(body); ok {
					t.Errorf("?%s without the PII permission returned personal data (%q)", q, m)
				}
			}
			// The same query with the permission gets the data, so the
			// refusal above is not an accident of the query.
			code, _, body := gatewayCall(t, base, search+q, withPII, f.na.ID)
			// (TAX carries data for business buyers only, which a page may lack.)
			if _, ok := containsPersonalData(body); code != http.StatusOK || !ok && !strings.Contains(q, "TAX") {
				t.Errorf("?%s with the PII permission: %d, personal data %v: %.300s", q, code, ok, body)
			}
		}
		code, _, body := gatewayCall(t, base, search+"includedData=PACKAGES,FULFILLMENT", noPII, f.na.ID)
		if code != http.StatusOK {
			t.Errorf("order datasets without personal data: %d %.300s", code, body)
		}
		if m, ok := containsPersonalData(body); ok {
			t.Errorf("order datasets returned personal data (%q)", m)
		}
	})

	t.Run("other sellers, other operations, path tricks", func(t *testing.T) {
		cases := []struct {
			name, path, seller string
			status             int
			code               string
		}{
			{"another seller's id", "/orders/v0/orders?MarketplaceIds=" + f.eu.Marketplaces[0] + "&CreatedAfter=" + created, f.eu.ID, http.StatusForbidden, "seller_forbidden"},
			{"a seller id in lower case", "/orders/v0/orders?MarketplaceIds=" + mkt + "&CreatedAfter=" + created, strings.ToLower(f.eu.ID), http.StatusForbidden, "seller_forbidden"},
			{"an operation outside the scope", "/sellers/v1/marketplaceParticipations", f.na.ID, http.StatusForbidden, "operation_forbidden"},
			{"dot segments toward another API", "/orders/v0/orders/%2e%2e/%2e%2e/sellers/v1/marketplaceParticipations", f.na.ID, http.StatusBadRequest, "bad_request"},
			{"an encoded slash joining segments", "/orders/v0/orders%2F123-1234567-1234567%2Faddress", f.na.ID, http.StatusNotFound, "unknown_operation"},
			{"an address without the PII permission, literal encoded", "/orders/v0/orders/123-1234567-1234567/%61ddress", f.na.ID, http.StatusForbidden, "pii_forbidden"},
		}
		for _, tc := range cases {
			code, _, body := gatewayCall(t, base, tc.path, noPII, tc.seller)
			if code != tc.status || !strings.Contains(body, `"`+tc.code+`"`) {
				t.Errorf("%s: %d %.200s, want %d %s", tc.name, code, body, tc.status, tc.code)
			}
			if m, ok := containsPersonalData(body); ok {
				t.Errorf("%s: personal data released (%q)", tc.name, m)
			}
		}
		// /readyz and /metrics with a one-seller key name no other seller.
		_, _, ready := gatewayCall(t, base, "/readyz", noPII, "")
		if strings.Contains(ready, f.eu.ID) {
			t.Errorf("/readyz shows a seller outside the key's scope: %.300s", ready)
		}
		if code, _, _ := gatewayCall(t, base, "/metrics", noPII, ""); code != http.StatusForbidden {
			t.Errorf("/metrics with a one-seller key: %d", code)
		}
	})

	t.Run("raw requests no client library sends", func(t *testing.T) {
		auth := "Authorization: Bearer " + noPII + "\r\n"
		orders := "/orders/v0/orders?MarketplaceIds=" + mkt + "&CreatedAfter=" + created
		cases := []struct {
			name, raw string
			want      []int    // the answers, in order
			codes     []string // their gateway error codes ("" for none)
		}{
			// A body framed two ways: chunked wins, and what follows is a
			// request of its own that must show its own key.
			{"a request smuggled after a chunked body that also claims a length",
				"GET " + orders + " HTTP/1.1\r\nHost: gw\r\n" + auth + "X-Spgate-Seller: " + f.na.ID +
					"\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
					"GET /orders/v0/orders/123-1234567-1234567/address HTTP/1.1\r\nHost: gw\r\nX-Spgate-Seller: " + f.eu.ID + "\r\n\r\n",
				[]int{http.StatusOK, http.StatusUnauthorized}, []string{"", "unauthenticated"}},
			{"a seller header with a space before its colon",
				"GET " + orders + " HTTP/1.1\r\nHost: gw\r\n" + auth + "X-Spgate-Seller : " + f.eu.ID + "\r\n\r\n",
				[]int{http.StatusBadRequest}, []string{""}},
			{"two seller headers, the key's own first",
				"GET " + orders + " HTTP/1.1\r\nHost: gw\r\n" + auth + "X-Spgate-Seller: " + f.na.ID + "\r\nX-Spgate-Seller: " + f.eu.ID + "\r\n\r\n",
				[]int{http.StatusBadRequest}, []string{"bad_request"}},
			{"another seller folded onto the key's own",
				"GET " + orders + " HTTP/1.1\r\nHost: gw\r\n" + auth + "X-Spgate-Seller: " + f.na.ID + "\r\n " + f.eu.ID + "\r\n\r\n",
				[]int{http.StatusForbidden}, []string{"seller_forbidden"}},
			// The gateway sends every call to its own Amazon, whatever
			// host the request names.
			{"an absolute URL naming another host",
				"GET http://attacker.invalid" + orders + " HTTP/1.1\r\nHost: attacker.invalid\r\n" + auth + "X-Spgate-Seller: " + f.na.ID + "\r\n\r\n",
				[]int{http.StatusOK}, []string{""}},
			{"headers beyond the gateway's bound",
				"GET " + orders + " HTTP/1.1\r\nHost: gw\r\n" + auth + "X-Padding: " + strings.Repeat("a", 80<<10) + "\r\n\r\n",
				[]int{http.StatusRequestHeaderFieldsTooLarge}, []string{""}},
		}
		for _, tc := range cases {
			answers := rawExchange(t, base, tc.raw, len(tc.want))
			for i, want := range tc.want {
				if i >= len(answers) {
					t.Errorf("%s: answer %d missing (got %d)", tc.name, i+1, len(answers))
					break
				}
				a := answers[i]
				if a.status != want || tc.codes[i] != "" && !strings.Contains(a.body, `"`+tc.codes[i]+`"`) {
					t.Errorf("%s: answer %d is %d %.200s, want %d %s", tc.name, i+1, a.status, a.body, want, tc.codes[i])
				}
				if m, ok := containsPersonalData(a.body); ok {
					t.Errorf("%s: personal data released (%q)", tc.name, m)
				}
			}
		}
	})

	// A refusal sent before the gateway reads an upload must reach the
	// client whole: the gateway reads the rest of the upload before it
	// closes, so the client sees the end of the connection, not a reset
	// (on a reset, Windows' TCP stack drops what it received).
	t.Run("an upload refused before it is read", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(testenv.Patience))
		upload := strings.Repeat(`{"x":1}`, 64<<10/7)
		raw := fmt.Sprintf("POST /feeds/2021-06-30/documents HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer spg_unknown\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(upload), upload)
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
		_ = conn.(*net.TCPConn).CloseWrite()
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the refusal: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"unauthenticated"`) {
			t.Fatalf("answer %d %.200s (%v), want 401 unauthenticated", resp.StatusCode, body, err)
		}
		if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("after the refusal: %d bytes, %v; want the gateway's end of file, not a reset", n, err)
		}
	})

	t.Run("no key reaches Amazon's credentials", func(t *testing.T) {
		for _, key := range []string{wide, withPII} {
			req, _ := http.NewRequest(http.MethodPost, base+"/tokens/2021-03-01/restrictedDataToken",
				strings.NewReader(`{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders/{orderId}/address"}]}`))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("X-Spgate-Seller", f.na.ID)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(b.String(), `"not_served"`) || strings.Contains(b.String(), "Atz") {
				t.Errorf("createRestrictedDataToken through the gateway: %d %.300s", resp.StatusCode, b.String())
			}
		}
		if got := f.srv.Counters().Calls["tokens/2021-03-01/createRestrictedDataToken"]; got != 0 {
			t.Errorf("Amazon saw %d RDT requests", got)
		}
	})

	t.Run("readyz without a key says only ready or not", func(t *testing.T) {
		_, _, body := gatewayCall(t, base, "/readyz", "", "")
		body = strings.TrimSpace(body)
		if body != `{"ready":true}` && body != `{"ready":false}` {
			t.Errorf("/readyz without a key: %s", e2eMask(body))
		}
	})

	t.Run("upstream errors name no internal identifier", func(t *testing.T) {
		// A seller whose authorization was revoked before the gateway held
		// a token for it: LWA refuses the refresh token.
		if !f.srv.Revoke(f.eu.ID, f.demo.AppID) {
			t.Fatal("the emulator did not revoke the seller's authorization")
		}
		code, _, body := gatewayCall(t, base, "/sellers/v1/marketplaceParticipations", wide, f.eu.ID)
		if code < 400 {
			t.Fatalf("a revoked seller was served: %d", code)
		}
		for _, s := range []string{f.demo.ClientID, f.demo.AppID, "invalid_grant", "amzn1."} {
			if strings.Contains(body, s) {
				t.Errorf("the client's error (%d) names %q: %.300s", code, s, body)
			}
		}
		if !strings.Contains(body, `"requestId"`) {
			t.Errorf("the error carries no request id: %.300s", body)
		}
	})
}

// TestServeAuditsBeforeRelease: with an audit log that cannot be written,
// a personal-data call gets 503 and no data; other calls go on.
func TestServeAuditsBeforeRelease(t *testing.T) {
	if fh, err := os.OpenFile("/dev/full", os.O_WRONLY, 0); err != nil {
		t.Skipf("no /dev/full here: %v", err)
	} else {
		fh.Close()
	}
	f := newServeFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	base, _ := e2eServe(t, ctx, &stderr, "--audit-log", "/dev/full", "--key-cache", "0")
	created := time.Now().Add(-90 * 24 * time.Hour).UTC().Format(time.RFC3339)
	ordersPath := "/orders/v0/orders?MarketplaceIds=" + f.na.Marketplaces[0] + "&CreatedAfter=" + created

	code, _, body := gatewayCall(t, base, ordersPath, f.orderKey, f.na.ID, "X-Spgate-PII", "shippingAddress,buyerInfo")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"unavailable"`) {
		t.Errorf("PII call with an unwritable audit log: %d %.300s", code, body)
	}
	if m, ok := containsPersonalData(body); ok || len(orderIDs(body)) > 0 {
		t.Errorf("personal data released without an audit record (%q)", m)
	}
	code, _, body = gatewayCall(t, base, ordersPath, f.orderKey, f.na.ID)
	if code != http.StatusOK || len(orderIDs(body)) == 0 {
		t.Errorf("a call without personal data: %d %.300s", code, body)
	}
}

// TestServeAnswersSlowBodies: an unauthenticated client trickling its body
// gets its 401 at once instead of holding the connection open.
func TestServeAnswersSlowBodies(t *testing.T) {
	f := newServeFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	base, _ := e2eServe(t, ctx, &stderr, "--audit-log", f.audit)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /orders/v0/orders HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	// Patience bounds only a broken run: the answer needs no more body.
	_ = conn.SetReadDeadline(time.Now().Add(testenv.Patience))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the body trickles: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", resp.StatusCode)
	}
}

// TestServeRefusesTamperedKeys: write access to vault.db without the master
// key no longer widens a key: a record changed behind spgate's back is
// refused, and so is a vault file others may write.
func TestServeRefusesTamperedKeys(t *testing.T) {
	f := newServeFixture(t)
	path := filepath.Join(f.dir, "vault.db")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The plain key (orders/v0, no PII) given the PII permission and every
	// seller, as an attacker with write access to the file would.
	if _, err := db.Exec(`UPDATE clients SET pii = 1, sellers = '["*"]' WHERE name = 'plain'`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	base, _ := e2eServe(t, ctx, &stderr, "--audit-log", f.audit, "--key-cache", "0")
	created := time.Now().Add(-90 * 24 * time.Hour).UTC().Format(time.RFC3339)
	ordersPath := "/orders/v0/orders?MarketplaceIds=" + f.eu.Marketplaces[0] + "&CreatedAfter=" + created
	code, _, body := gatewayCall(t, base, ordersPath, f.plainKey, f.eu.ID, "X-Spgate-PII", "shippingAddress")
	if code != http.StatusUnauthorized {
		t.Errorf("a tampered key: %d %.300s", code, body)
	}
	if m, ok := containsPersonalData(body); ok || len(orderIDs(body)) > 0 {
		t.Errorf("a tampered key got orders or personal data (%q)", m)
	}
	if !strings.Contains(stderr.String(), "integrity") {
		t.Errorf("the operator was not told about the tampered record:\n%s", e2eMask(stderr.String()))
	}
	// Untouched keys keep working.
	if code, _, body := gatewayCall(t, base, "/orders/v0/orders?MarketplaceIds="+f.na.Marketplaces[0]+"&CreatedAfter="+created, f.orderKey, f.na.ID); code != http.StatusOK {
		t.Errorf("an untouched key: %d %.300s", code, body)
	}
	cancel()

	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	code, _, stderrOut := e2eRun(t, "", "client", "list")
	if code == ExitOK || !strings.Contains(stderrOut, "chmod") {
		t.Errorf("a world-writable vault was opened (exit %d): %s", code, e2eMask(stderrOut))
	}
}

// TestServeBoundsQueueing: with no deadline from the caller, a call whose
// rate-limit slot lies beyond --max-queue-wait gets 429 with an honest
// Retry-After at once instead of waiting a minute.
func TestServeBoundsQueueing(t *testing.T) {
	f := newServeFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	base, _ := e2eServe(t, ctx, &stderr, "--audit-log", f.audit, "--max-queue-wait", "10s")
	created := time.Now().Add(-90 * 24 * time.Hour).UTC().Format(time.RFC3339)
	ordersPath := "/orders/v0/orders?MarketplaceIds=" + f.na.Marketplaces[0] + "&CreatedAfter=" + created
	// getOrders: burst 20 (one kept in reserve), then one a minute.
	for i := range 30 {
		code, h, body := gatewayCall(t, base, ordersPath, f.plainKey, f.na.ID)
		if code == http.StatusOK {
			continue
		}
		if i < 19 || code != http.StatusTooManyRequests || !strings.Contains(body, `"rate_limited"`) {
			t.Fatalf("call %d: %d %.300s", i+1, code, body)
		}
		ra, err := strconv.Atoi(h.Get("Retry-After"))
		if err != nil || ra < 10 || ra > 61 {
			t.Fatalf("Retry-After %q for a slot a minute away", h.Get("Retry-After"))
		}
		if got := f.srv.Counters().TotalThrottled; got != 0 {
			t.Errorf("Amazon answered 429 %d times", got)
		}
		return
	}
	t.Fatal("30 calls within a second were all served: the seller's limit was not applied")
}

// rawAnswer is one answer read off a raw connection.
type rawAnswer struct {
	status int
	body   string
}

// rawExchange writes raw to the gateway at base and reads up to n
// answers, fewer when the gateway closes the connection first.
func rawExchange(t *testing.T, base, raw string, n int) []rawAnswer {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	// Patience bounds only a broken run: every answer is due at once.
	_ = conn.SetReadDeadline(time.Now().Add(testenv.Patience))
	br := bufio.NewReader(conn)
	var out []rawAnswer
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, rawAnswer{resp.StatusCode, string(b)})
	}
	return out
}

// TestServeCapsUnauthenticatedConnections probes `spgate serve
// --max-unauthenticated-conns` as an attacker without a key would: it
// fills the cap with connections that never show a valid key, and a
// further one is closed at once, while a client that showed its key keeps
// its connection and its calls; a freed slot is taken again.
func TestServeCapsUnauthenticatedConnections(t *testing.T) {
	const limit = 3
	f := newServeFixture(t)
	out, _ := e2eMust(t, ExitOK, "", "client", "add", "bc", "--seller", f.na.ID, "--operation", "sellers")
	key := strings.TrimSpace(out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	base, _ := e2eServe(t, ctx, &stderr, "--max-unauthenticated-conns", fmt.Sprint(limit))
	addr := strings.TrimPrefix(base, "http://")
	const path = "/sellers/v1/marketplaceParticipations"

	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	dial := func() client {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(testenv.Patience))
		return client{c, bufio.NewReader(c)}
	}
	// call sends one request on cl and returns the status, or 0 when the
	// gateway closed the connection instead of answering.
	call := func(cl client, auth string) int {
		fmt.Fprintf(cl.c, "GET %s HTTP/1.1\r\nHost: gw\r\n%sX-Spgate-Seller: %s\r\n\r\n", path, auth, f.na.ID)
		resp, err := http.ReadResponse(cl.br, nil)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("no answer and no close within %v", testenv.Patience)
			}
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	withKey := "Authorization: Bearer " + key + "\r\n"

	bc := dial()
	if code := call(bc, withKey); code != http.StatusOK {
		t.Fatalf("the client with a key: %d", code)
	}
	// The attacker's connections, each refused but kept open, fill the
	// cap: every one is answered, so the gateway has counted it.
	attacker := make([]client, limit)
	for i := range attacker {
		attacker[i] = dial()
		if code := call(attacker[i], "Authorization: Bearer spg_guessed\r\n"); code != http.StatusUnauthorized {
			t.Fatalf("attacker connection %d: %d, want 401", i+1, code)
		}
	}
	if code := call(dial(), ""); code != 0 {
		t.Errorf("a connection past the cap of %d unauthenticated ones was answered %d, want it closed", limit, code)
	}
	if code := call(bc, withKey); code != http.StatusOK {
		t.Errorf("the client with a key, on its connection, while the cap is full: %d", code)
	}
	for i, a := range attacker {
		if code := call(a, ""); code != http.StatusUnauthorized {
			t.Errorf("attacker connection %d within the cap: %d, want it kept and refused again", i+1, code)
		}
	}
	// A slot freed by closing one is taken again.
	attacker[0].c.Close()
	for end := time.Now().Add(testenv.Patience); ; {
		if code := call(dial(), ""); code == http.StatusUnauthorized {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("no new connection was served within %v of a slot freed", testenv.Patience)
		}
	}
	if strings.Contains(stderr.String(), key) || strings.Contains(stderr.String(), "spg_guessed") {
		t.Error("the gateway's log names a client key")
	}
}
