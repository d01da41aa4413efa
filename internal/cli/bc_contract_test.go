package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/internal/testenv"
)

// The Business Central guide (docs/business-central.md) shows AL that a BC
// developer copies; the same AL is in docs/business-central/runtime13 and
// runtime8, ready to drop into a project. These tests keep the two the same
// and hold the AL's HTTP contract to what `spgate serve` answers.

const (
	bcGuide = "../../docs/business-central.md"
	bcDir   = "../../docs/business-central"
)

// bcMarkerRE names the file(s) of the fenced block that follows it:
//
//	<!-- file: runtime13/X.al runtime8/X.al -->    the block is each file
//	<!-- procedures: runtime8/X.al from runtime13/X.al -->
//	                                               the block's procedures replace
//	                                               those of the same name in the
//	                                               second file; the result is the first
var bcMarkerRE = regexp.MustCompile(`^<!-- (file|procedures): (.+) -->$`)

type bcBlock struct {
	line    int
	lang    string
	kind    string   // "file", "procedures" or "" (no marker)
	args    []string // the marker's words
	content string
}

func bcBlocks(t *testing.T) []bcBlock {
	t.Helper()
	raw, err := os.ReadFile(bcGuide)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	var out []bcBlock
	for i := 0; i < len(lines); i++ {
		m := fence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := bcBlock{line: i + 1, lang: m[1]}
		if i > 0 {
			if mm := bcMarkerRE.FindStringSubmatch(lines[i-1]); mm != nil {
				b.kind, b.args = mm[1], strings.Fields(mm[2])
			}
		}
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			body = append(body, lines[i])
		}
		b.content = strings.Join(body, "\n") + "\n"
		out = append(out, b)
	}
	return out
}

func bcRead(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bcDir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatalf("the guide names %s: %v", rel, err)
	}
	return string(b)
}

// bcMemberStartRE is the first line of a procedure at the codeunit's top
// level: its doc comment, an attribute or the procedure line itself.
var bcMemberStartRE = regexp.MustCompile(`^    (///|\[|(local |internal )?procedure )`)
var bcProcNameRE = regexp.MustCompile(`procedure (\w+)\(`)

type bcMember struct {
	name       string
	start, end int // lines [start, end]
}

// bcMembers splits AL source into its top-level procedures (with their doc
// comments and attributes), each ending at the first `    end;`.
func bcMembers(t *testing.T, lines []string) []bcMember {
	t.Helper()
	var out []bcMember
	start := -1
	for i, l := range lines {
		if start < 0 && bcMemberStartRE.MatchString(l) {
			start = i
		}
		if start >= 0 && l == "    end;" {
			m := bcProcNameRE.FindStringSubmatch(strings.Join(lines[start:i+1], "\n"))
			if m == nil {
				t.Fatalf("lines %d-%d are no procedure", start+1, i+1)
			}
			out = append(out, bcMember{name: m[1], start: start, end: i})
			start = -1
		}
	}
	return out
}

// TestBusinessCentralALFiles: every AL block of the guide is byte for byte a
// file of docs/business-central (or, for the runtime 8.0 codeunit, the
// procedures that make it from the runtime 13.0 one), and every file there
// is in the guide.
func TestBusinessCentralALFiles(t *testing.T) {
	covered := map[string]bool{}
	for _, b := range bcBlocks(t) {
		switch {
		case b.kind == "" && b.lang == "al":
			t.Errorf("line %d: an AL block without a <!-- file: … --> marker naming its file in docs/business-central", b.line)
		case b.kind == "file":
			for _, rel := range b.args {
				if got := bcRead(t, rel); got != b.content {
					t.Errorf("line %d: the block differs from docs/business-central/%s:\n%s", b.line, rel, bcFirstDiff(b.content, got))
				}
				covered[rel] = true
			}
		case b.kind == "procedures":
			if len(b.args) != 3 || b.args[1] != "from" {
				t.Fatalf("line %d: want <!-- procedures: TARGET from BASE -->, got %q", b.line, b.args)
			}
			target, base := b.args[0], b.args[2]
			want := bcReplaceProcedures(t, bcRead(t, base), b.content)
			if got := bcRead(t, target); got != want {
				t.Errorf("line %d: docs/business-central/%s is not %s with the guide's procedures:\n%s", b.line, target, base, bcFirstDiff(want, got))
			}
			covered[target] = true
		}
	}
	files, err := filepath.Glob(filepath.Join(bcDir, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	runtimes := map[string]string{}
	for _, f := range files {
		rel, _ := filepath.Rel(bcDir, f)
		rel = filepath.ToSlash(rel)
		if !covered[rel] {
			t.Errorf("docs/business-central/%s is not in the guide", rel)
		}
		if filepath.Base(rel) == "app.json" {
			var app struct{ Runtime, Platform, Application string }
			if err := json.Unmarshal([]byte(bcRead(t, rel)), &app); err != nil {
				t.Errorf("%s: %v", rel, err)
			}
			runtimes[filepath.Dir(rel)] = app.Runtime
		}
	}
	// Each variant names the runtime its SecretText use needs (section 3 of
	// the guide): 13.0 for IsolatedStorage.Get(…, var SecretText), 8.0 for
	// the Text variant.
	for dir, want := range map[string]string{"runtime13": "13.0", "runtime8": "8.0"} {
		if runtimes[dir] != want {
			t.Errorf("docs/business-central/%s/app.json names runtime %q, want %q", dir, runtimes[dir], want)
		}
	}
	r8 := bcRead(t, "runtime8/AmazonOrdersImport.Codeunit.al")
	for _, w := range []string{"SecretText", "SecretStrSubstNo"} {
		if strings.Contains(r8, w) {
			t.Errorf("the runtime 8.0 codeunit uses %s, which runtime 8.0 lacks", w)
		}
	}
}

// bcReplaceProcedures returns base with each procedure of repl put in place
// of base's procedure of the same name.
func bcReplaceProcedures(t *testing.T, base, repl string) string {
	t.Helper()
	rl := strings.Split(strings.TrimSuffix(repl, "\n"), "\n")
	byName := map[string]string{}
	for _, m := range bcMembers(t, rl) {
		byName[m.name] = strings.Join(rl[m.start:m.end+1], "\n")
	}
	if len(byName) == 0 {
		t.Fatal("the runtime 8.0 block has no procedure")
	}
	bl := strings.Split(base, "\n")
	var out []string
	pos := 0
	for _, m := range bcMembers(t, bl) {
		if r, ok := byName[m.name]; ok {
			out = append(append(out, bl[pos:m.start]...), r)
			pos = m.end + 1
			delete(byName, m.name)
		}
	}
	out = append(out, bl[pos:]...)
	if len(byName) > 0 {
		t.Errorf("the runtime 8.0 block replaces procedures the runtime 13.0 codeunit lacks: %v", slices.Sorted(maps.Keys(byName)))
	}
	return strings.Join(out, "\n")
}

func bcFirstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b || i >= len(w) || i >= len(g) {
			return fmt.Sprintf("line %d\n  guide: %q\n  file:  %q", i+1, a, b)
		}
	}
	return "(same lines, different bytes)"
}

// bcContract is the HTTP contract read from an AL codeunit.
type bcContract struct {
	paths       []string          // request paths
	queryParams []string          // query parameter names
	queryValues map[string]string // literal values in the AL (MaxResultsPerPage=100)
	reqHeaders  map[string]string // request header → the AL's value expression
	respHeaders []string          // response headers the AL reads
	jsonKeys    []string          // JSON keys the AL reads
	codes       []string          // the gateway error codes the AL branches on
	retry429    bool              // 429 is retried
	retryOnce   []int             // statuses retried once
	retryCap    int               // longest Retry-After wait, seconds
}

var (
	bcPathRE       = regexp.MustCompile(`'(/[A-Za-z0-9/]+)\?`)
	bcQueryRE      = regexp.MustCompile(`[?&](\w+)=([^'&]*)'`)
	bcReqHeaderRE  = regexp.MustCompile(`RequestHttpHeaders\.Add\('([^']+)', (.+)\);`)
	bcRespHeaderRE = regexp.MustCompile(`HeaderValue\(HttpResponseMessage, '([^']+)'\)`)
	bcGetKeyRE     = regexp.MustCompile(`\.Get\('([^']+)', \w+JsonToken\)`)
	bcValueKeyRE   = regexp.MustCompile(`ValueAsText\([\w.()]+, '([^']+)'\)`)
	bcCaseCodeRE   = regexp.MustCompile(`(?m)^\s+'([a-z_]+)':\s*$`)
	bc429RE        = regexp.MustCompile(`StatusCode = 429 then`)
	bcRetryOnceRE  = regexp.MustCompile(`StatusCode in \[([\d, ]+)\]\) and not ServerErrorRetried`)
	bcCapRE        = regexp.MustCompile(`if Seconds > (\d+) then\s+Seconds := (\d+);`)
)

func bcParseContract(t *testing.T, src string) bcContract {
	t.Helper()
	// Comments say things the code does not do; only code counts.
	var code []string
	for l := range strings.SplitSeq(src, "\n") {
		if s := strings.TrimSpace(l); strings.HasPrefix(s, "//") {
			continue
		}
		code = append(code, l)
	}
	src = strings.Join(code, "\n")
	c := bcContract{queryValues: map[string]string{}, reqHeaders: map[string]string{}}
	add := func(list *[]string, v string) {
		if !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	for _, m := range bcPathRE.FindAllStringSubmatch(src, -1) {
		add(&c.paths, m[1])
	}
	for _, m := range bcQueryRE.FindAllStringSubmatch(src, -1) {
		add(&c.queryParams, m[1])
		if m[2] != "" {
			c.queryValues[m[1]] = m[2]
		}
	}
	for _, m := range bcReqHeaderRE.FindAllStringSubmatch(src, -1) {
		c.reqHeaders[m[1]] = m[2]
	}
	for _, m := range bcRespHeaderRE.FindAllStringSubmatch(src, -1) {
		add(&c.respHeaders, m[1])
	}
	for _, re := range []*regexp.Regexp{bcGetKeyRE, bcValueKeyRE} {
		for _, m := range re.FindAllStringSubmatch(src, -1) {
			add(&c.jsonKeys, m[1])
		}
	}
	for _, m := range bcCaseCodeRE.FindAllStringSubmatch(src, -1) {
		add(&c.codes, m[1])
	}
	c.retry429 = bc429RE.MatchString(src)
	if m := bcRetryOnceRE.FindStringSubmatch(src); m != nil {
		for s := range strings.SplitSeq(m[1], ",") {
			n, _ := strconv.Atoi(strings.TrimSpace(s))
			c.retryOnce = append(c.retryOnce, n)
		}
	}
	if m := bcCapRE.FindStringSubmatch(src); m != nil && m[1] == m[2] {
		c.retryCap, _ = strconv.Atoi(m[1])
	}
	for what, empty := range map[string]bool{
		"a path": len(c.paths) == 0, "query parameters": len(c.queryParams) == 0, "request headers": len(c.reqHeaders) == 0,
		"response headers": len(c.respHeaders) == 0, "JSON keys": len(c.jsonKeys) == 0, "error codes": len(c.codes) == 0,
		"the 429 retry": !c.retry429, "the one retry of server errors": len(c.retryOnce) == 0, "the Retry-After cap": c.retryCap == 0,
	} {
		if empty {
			t.Fatalf("found no %s in the AL: the test's patterns no longer match it", what)
		}
	}
	return c
}

// bcEscape is Uri.EscapeDataString (System Application): everything but
// RFC 3986's unreserved characters is percent-encoded.
func bcEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// bcKeys collects every object key of a JSON document.
func bcKeys(t *testing.T, body string, into map[string]bool) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("the answer is no JSON: %v: %.300s", err, body)
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				into[k] = true
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
}

// TestBusinessCentralContract makes the calls the guide's AL makes, with
// the paths, query parameters, headers and values read out of the AL files,
// against `spgate serve` and the offline Amazon, and checks that the answers
// carry what the AL reads: the JSON keys, the response headers, the error
// codes it branches on, and a 429 Retry-After its retry loop honours.
func TestBusinessCentralContract(t *testing.T) {
	c := bcParseContract(t, bcRead(t, "runtime13/AmazonOrdersImport.Codeunit.al"))
	c8 := bcParseContract(t, bcRead(t, "runtime8/AmazonOrdersImport.Codeunit.al"))
	// The variants differ in how the key reaches the header, nothing else.
	delete(c.reqHeaders, "Authorization")
	auth8 := c8.reqHeaders["Authorization"]
	delete(c8.reqHeaders, "Authorization")
	if fmt.Sprint(c) != fmt.Sprint(c8) {
		t.Fatalf("the runtime 13.0 and 8.0 codeunits make different calls:\n%+v\n%+v", c, c8)
	}
	if auth := bcParseContract(t, bcRead(t, "runtime13/AmazonOrdersImport.Codeunit.al")).reqHeaders["Authorization"]; !strings.Contains(auth, "'Bearer %1'") || !strings.Contains(auth8, "'Bearer '") {
		t.Fatalf("Authorization is not a Bearer key: %s / %s", auth, auth8)
	}
	if len(c.paths) != 1 {
		t.Fatalf("the AL calls %v; the test knows getOrders only", c.paths)
	}
	path := c.paths[0]
	literal := func(h string) string {
		v, ok := c.reqHeaders[h]
		if !ok {
			t.Fatalf("the AL sends no %s header (it sends %v)", h, slices.Sorted(maps.Keys(c.reqHeaders)))
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			return v[1 : len(v)-1]
		}
		return v
	}
	deadline, pii := literal(gateway.HeaderDeadline), literal(gateway.HeaderPII)
	if _, err := strconv.Atoi(deadline); err != nil {
		t.Fatalf("%s: %q is no number of milliseconds", gateway.HeaderDeadline, deadline)
	}
	if literal(gateway.HeaderSeller) != "SellerId" {
		t.Fatalf("%s is not the seller the caller names", gateway.HeaderSeller)
	}
	for _, q := range c.queryParams {
		if !slices.Contains(getOrdersQuery, q) {
			t.Errorf("the AL sends query parameter %s, which getOrders does not take", q)
		}
	}
	// The gateway's codes, as the gateway package names them.
	gwCodes := []string{gateway.CodeUnauthenticated, gateway.CodeSellerForbidden, gateway.CodeOperationForbidden, gateway.CodePIIForbidden,
		gateway.CodeUnknownOperation, gateway.CodeBadRequest, gateway.CodeRateLimited, gateway.CodeDeadline, gateway.CodeUpstream,
		gateway.CodeNotServed, gateway.CodeUnavailable, gateway.CodeSellerRevoked, gateway.CodeSecretInvalid}
	for _, code := range c.codes {
		if !slices.Contains(gwCodes, code) {
			t.Errorf("the AL branches on %q, which the gateway never answers", code)
		}
	}

	f := newServeFixture(t, amazontest.WithOrdersPerSeller(250))
	// A key that is revoked, and one for the seller that withdrew the app.
	out, _ := e2eMust(t, ExitOK, "", "client", "add", "bc-revoked", "--seller", f.na.ID, "--operation", "orders/v0", "--pii")
	revokedKey := strings.TrimSpace(out)
	e2eMust(t, ExitOK, "", "client", "revoke", "bc-revoked")
	out, _ = e2eMust(t, ExitOK, "", "client", "add", "bc-eu", "--seller", f.eu.ID, "--operation", "orders/v0")
	euKey := strings.TrimSpace(out)
	if !f.srv.Revoke(f.eu.ID, f.demo.AppID) {
		t.Fatal("the emulator did not revoke the seller's authorization")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	base, done := e2eServe(t, ctx, &stderr, "--audit-log", f.audit, "--key-cache", "0")

	// call sends what SendOnce sends.
	call := func(key, seller, pathAndQuery string, withAddress bool) (int, http.Header, string) {
		t.Helper()
		hdr := []string{gateway.HeaderDeadline, deadline}
		if withAddress {
			hdr = append(hdr, gateway.HeaderPII, pii)
		}
		return gatewayCall(t, base, pathAndQuery, key, seller, hdr...)
	}
	firstPage := func(marketplace string) string {
		var q []string
		for _, p := range c.queryParams {
			if p == "NextToken" {
				continue
			}
			v := c.queryValues[p]
			switch p {
			case "MarketplaceIds":
				v = bcEscape(marketplace)
			case "CreatedAfter":
				v = bcEscape(time.Now().AddDate(-3, 0, 0).UTC().Format("2006-01-02T15:04:05Z"))
			}
			q = append(q, p+"="+v)
		}
		return path + "?" + strings.Join(q, "&")
	}
	seen := map[string]bool{}    // JSON keys in the answers
	respHdr := map[string]bool{} // response headers in the answers
	codes := map[string]int{}    // gateway code → status
	note := func(status int, h http.Header, body string) {
		t.Helper()
		bcKeys(t, body, seen)
		for _, name := range c.respHeaders {
			if h.Get(name) != "" {
				respHdr[name] = true
			}
		}
		var e struct{ Error struct{ Code string } }
		if json.Unmarshal([]byte(body), &e) == nil && e.Error.Code != "" {
			codes[e.Error.Code] = status
		}
	}

	// 1. ImportOrders: pages with NextToken until there is none.
	pq, pages, orders := firstPage(f.na.Marketplaces[0]), 0, map[string]bool{}
	tokens := map[string]bool{}
	for {
		status, h, body := call(f.orderKey, f.na.ID, pq, false)
		if status != http.StatusOK {
			t.Fatalf("page %d: %d %.300s", pages+1, status, body)
		}
		note(status, h, body)
		pages++
		var p struct {
			Payload *struct {
				Orders    []struct{ AmazonOrderId string }
				NextToken string
			} `json:"payload"`
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil || p.Payload == nil {
			t.Fatalf("page %d has no payload object: %v %.300s", pages, err, body)
		}
		for _, o := range p.Payload.Orders {
			orders[o.AmazonOrderId] = true
		}
		if p.Payload.NextToken == "" {
			break
		}
		if tokens[p.Payload.NextToken] {
			t.Fatalf("page %d repeats a NextToken", pages)
		}
		tokens[p.Payload.NextToken] = true
		pq = path + "?MarketplaceIds=" + bcEscape(f.na.Marketplaces[0]) + "&NextToken=" + bcEscape(p.Payload.NextToken)
	}
	if pages < 2 || len(orders) <= 100 {
		t.Fatalf("%d pages with %d orders: the test did not page", pages, len(orders))
	}

	// 2. WithAddress: the PII header brings the shipping address.
	status, h, body := call(f.orderKey, f.na.ID, firstPage(f.na.Marketplaces[0]), true)
	if status != http.StatusOK || !strings.Contains(body, `"ShippingAddress"`) {
		t.Fatalf("with %s: %s: %d %.300s", gateway.HeaderPII, pii, status, body)
	}
	note(status, h, body)

	// 3. Refusals the AL reports without retrying.
	for _, tc := range []struct {
		name, key, seller string
		withAddress       bool
		status            int
		code              string
	}{
		{"a revoked key", revokedKey, f.na.ID, false, http.StatusUnauthorized, gateway.CodeUnauthenticated},
		{"a key without PII asking for addresses", f.plainKey, f.na.ID, true, http.StatusForbidden, gateway.CodePIIForbidden},
		{"a seller that withdrew the app", euKey, f.eu.ID, false, http.StatusUnauthorized, gateway.CodeSellerRevoked},
	} {
		mp := f.na.Marketplaces[0]
		if tc.seller == f.eu.ID {
			mp = f.eu.Marketplaces[0]
		}
		status, h, body := call(tc.key, tc.seller, firstPage(mp), tc.withAddress)
		if status != tc.status || !strings.Contains(body, `"code":"`+tc.code+`"`) {
			t.Errorf("%s: %d %.300s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
		if status == http.StatusTooManyRequests || slices.Contains(c.retryOnce, status) {
			t.Errorf("%s: the AL would retry a %d", tc.name, status)
		}
		note(status, h, body)
	}

	// 4. Amazon's own error shape: a NextToken Amazon cannot read.
	status, h, body = call(f.orderKey, f.na.ID, path+"?MarketplaceIds="+bcEscape(f.na.Marketplaces[0])+"&NextToken="+bcEscape("not-a-token"), false)
	if status != http.StatusBadRequest || !strings.Contains(body, `"errors"`) {
		t.Errorf("a bad NextToken: %d %.300s", status, body)
	}
	note(status, h, body)

	// 5. The seller's limit: getOrders allows a burst, then one call a
	// minute, more than the gateway's 30 s queue limit: 429 at once with a
	// Retry-After the AL's loop waits for (capped).
	var retryAfter int
	for i := 0; retryAfter == 0; i++ {
		if i > 40 {
			t.Fatal("40 calls in a row were served: the seller's limit was not applied")
		}
		status, h, body := call(f.orderKey, f.na.ID, firstPage(f.na.Marketplaces[0]), false)
		note(status, h, body)
		if status == http.StatusOK {
			continue
		}
		if status != http.StatusTooManyRequests || !strings.Contains(body, `"code":"`+gateway.CodeRateLimited+`"`) {
			t.Fatalf("call %d: %d %.300s", i+1, status, body)
		}
		ra, err := strconv.Atoi(h.Get("Retry-After"))
		if err != nil || ra <= 0 {
			t.Fatalf("429 with Retry-After %q: the AL reads whole seconds", h.Get("Retry-After"))
		}
		retryAfter = ra
	}
	maxQueue := int(gateway.DefaultMaxQueueWait / time.Second)
	if retryAfter < maxQueue {
		t.Errorf("Retry-After %d s: the gateway would have queued a call whose slot is nearer than %d s", retryAfter, maxQueue)
	}
	if c.retryCap < maxQueue {
		t.Errorf("the AL waits at most %d s after a 429, less than the gateway's queue limit of %d s", c.retryCap, maxQueue)
	}
	t.Logf("%d pages, %d orders; 429 with Retry-After %d s (the AL waits %d s)", pages, len(orders), retryAfter, min(retryAfter, c.retryCap))
	cancel()
	<-done

	// 6. The app's client secret expired: a gateway started afresh cannot get
	// a token for anyone. (The tokens in hand are shared through the vault
	// and live out their lifetime: the seller's refresh token is replaced,
	// so the gateway needs a new one.)
	if err := f.srv.ExpireClientSecret(f.demo.AppID); err != nil {
		t.Fatal(err)
	}
	rt, err := f.srv.Authorize(f.na.ID, f.demo.AppID)
	if err != nil {
		t.Fatal(err)
	}
	e2eMust(t, ExitOK, rt, "seller", "add", f.na.ID, "--app", "main", "--region", string(f.na.Region),
		"--marketplace", strings.Join(f.na.Marketplaces, ","), "--refresh-token-file", "-")
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	var stderr2 testenv.Buffer
	base, done = e2eServe(t, ctx2, &stderr2, "--audit-log", f.audit, "--key-cache", "0")
	status, h, body = call(f.plainKey, f.na.ID, firstPage(f.na.Marketplaces[0]), false)
	if status != http.StatusUnauthorized || !strings.Contains(body, `"code":"`+gateway.CodeSecretInvalid+`"`) {
		t.Errorf("with the app's secret expired: %d %.300s", status, body)
	}
	note(status, h, body)
	cancel2()
	<-done

	// What the AL reads is in the answers.
	for _, k := range c.jsonKeys {
		if !seen[k] && k != "details" { // Amazon leaves out empty details
			t.Errorf("the AL reads JSON key %q, which no answer carried", k)
		}
	}
	for _, name := range c.respHeaders {
		if !respHdr[name] {
			t.Errorf("the AL reads header %s, which no answer carried", name)
		}
	}
	for _, code := range c.codes {
		if _, ok := codes[code]; !ok {
			t.Errorf("the AL branches on %q, which the sequence did not provoke", code)
		}
	}
	for code, status := range codes {
		if (status == http.StatusUnauthorized || status == http.StatusForbidden) && slices.Contains(c.retryOnce, status) {
			t.Errorf("the AL retries %d %s", status, code)
		}
	}
	if !c.retry429 || !slices.Equal(c.retryOnce, []int{502, 503, 504}) {
		t.Errorf("the AL retries 429: %v, once: %v; want 429 and 502, 503, 504", c.retry429, c.retryOnce)
	}
}

// getOrdersQuery are the query parameters of getOrders (orders/v0).
var getOrdersQuery = []string{"CreatedAfter", "CreatedBefore", "LastUpdatedAfter", "LastUpdatedBefore", "OrderStatuses", "MarketplaceIds",
	"FulfillmentChannels", "PaymentMethods", "BuyerEmail", "SellerOrderId", "MaxResultsPerPage", "EasyShipShipmentStatuses",
	"ElectronicInvoiceStatuses", "NextToken", "AmazonOrderIds", "ActualFulfillmentSupplySourceId", "IsISPU", "StoreChainStoreId",
	"EarliestDeliveryDateBefore", "EarliestDeliveryDateAfter", "LatestDeliveryDateBefore", "LatestDeliveryDateAfter"}
