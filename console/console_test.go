package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

var pages = []string{"/setup", "/sellers", "/secret", "/clients", "/activity"}

func TestPagesNeedSignIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	for _, p := range pages {
		resp, body := b.get(p)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "spgate console link") {
			t.Errorf("GET %s without a session: %d\n%s", p, resp.StatusCode, body)
		}
	}
	for _, p := range []string{"/clients", "/clients/revoke", "/secret/rotate", "/setup/check", "/sellers/authorize"} {
		resp, _ := b.post(p, url.Values{"name": {"x"}, "operations": {"*"}, "sellers": {"*"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %d", p, resp.StatusCode)
		}
	}
	if cl, _ := e.v.ListClients(context.Background()); len(cl) != 0 {
		t.Fatalf("a client was created without a session: %v", cl)
	}
	// A gateway client key is no admin credential.
	key, err := e.v.CreateClient(context.Background(), vault.Client{Name: "bc", Sellers: []string{"*"}, Operations: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := b.do(http.MethodGet, "/setup", nil, http.Header{"Authorization": {"Bearer " + key.Reveal()}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a client key opened the console: %d", resp.StatusCode)
	}
	resp, _ = b.get("/login?token=" + url.QueryEscape(key.Reveal()))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a client key signed in: %d", resp.StatusCode)
	}
}

func TestSignInLinkWorksOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok, err := IssueLoginToken(context.Background(), e.v, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	resp, _ := b.get("/login?token=" + tok)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/setup" {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"spgate_console=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("cookie %q lacks %s", ck, want)
		}
	}
	if strings.Contains(ck, tok) {
		t.Error("the cookie is the sign-in token")
	}
	if resp, _ := b.get("/setup"); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in, /setup: %d", resp.StatusCode)
	}
	// Used once: a second browser cannot use it.
	b2 := e.browser()
	if resp, _ := b2.get("/login?token=" + tok); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("second use of the link: %d", resp.StatusCode)
	}
	if !e.events.has("sign-in", true) || !e.events.has("sign-in", false) {
		t.Errorf("sign-ins not audited: %+v", e.events.ev)
	}
	// Sign-out ends the session.
	_, body := b.get("/setup")
	b.csrf = csrfRE.FindStringSubmatch(body)[1]
	if resp, _ := b.post("/logout", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if resp, _ := b.get("/setup"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after sign-out: %d", resp.StatusCode)
	}
}

func TestSignInLinkExpires(t *testing.T) {
	e := newEnv(t, envOptions{})
	fake := clock.NewFake(time.Now().Add(-LoginTokenTTL - time.Minute))
	tok, err := IssueLoginToken(context.Background(), e.v, fake)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.browser().get("/login?token=" + tok); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an expired link signed in: %d", resp.StatusCode)
	}
}

func TestPostsNeedCSRFAndSameOrigin(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	b.signIn()
	form := func() url.Values {
		return url.Values{"name": {"bc"}, "sellers": {"*"}, "operations": {"orders/v0"}}
	}
	f := form()
	f.Set("csrf", "")
	if resp, body := b.post("/clients", f); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "spg_") {
		t.Fatalf("POST without the CSRF token: %d", resp.StatusCode)
	}
	f.Set("csrf", strings.Repeat("A", len(b.csrf)))
	if resp, _ := b.post("/clients", f); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with a wrong CSRF token: %d", resp.StatusCode)
	}
	f = form()
	f.Set("csrf", b.csrf)
	resp, _ := b.do(http.MethodPost, "/clients", f, http.Header{"Origin": {"http://evil.example"}, "Content-Type": {"application/x-www-form-urlencoded"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST from another origin: %d", resp.StatusCode)
	}
	resp, _ = b.do(http.MethodPost, "/clients", f, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Content-Type": {"application/x-www-form-urlencoded"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST the browser calls cross-site: %d", resp.StatusCode)
	}
	if cl, _ := e.v.ListClients(context.Background()); len(cl) != 0 {
		t.Fatalf("a refused POST created a client: %v", cl)
	}
	if !e.events.has("refused", false) {
		t.Error("refused POSTs are not audited")
	}
	resp, _ = b.do(http.MethodPost, "/clients", f, http.Header{"Origin": {e.url}, "Sec-Fetch-Site": {"same-origin"}, "Content-Type": {"application/x-www-form-urlencoded"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST with the token from the console: %d", resp.StatusCode)
	}
	// Another session's token is no good either.
	b2 := e.browser()
	b2.signIn()
	f = form()
	f.Set("name", "other")
	f.Set("csrf", b.csrf)
	if resp, _ := b2.post("/clients", f); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with another session's token: %d", resp.StatusCode)
	}
}

func TestHostAndHeaders(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	b.signIn()
	req, _ := http.NewRequest(http.MethodGet, e.url+"/setup", nil)
	req.Host = "attacker.example:80"
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("a foreign Host (DNS rebinding) was served: %d", resp.StatusCode)
	}
	resp, _ = b.get("/setup")
	h := resp.Header
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
	} {
		if h.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, h.Get(k), want)
		}
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %s", csp)
	}
	// No page carries inline script or style.
	for _, p := range pages {
		_, body := b.get(p)
		if regexp.MustCompile(`<script>|<script [^>]*>[^<]|style="|<style|onclick=|onsubmit=|javascript:`).MatchString(body) {
			t.Errorf("%s has inline script or style", p)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	for _, c := range []struct {
		addr string
		tls  bool
		ok   bool
	}{
		{"127.0.0.1:8088", false, true}, {"[::1]:8088", false, true}, {"localhost:8088", false, true},
		{"0.0.0.0:8088", false, false}, {":8088", false, false}, {"192.168.1.2:8088", false, false},
		{"0.0.0.0:8088", true, true}, {"nohost", false, false},
	} {
		if err := CheckAddr(c.addr, c.tls); (err == nil) != c.ok {
			t.Errorf("CheckAddr(%q, tls %t) = %v", c.addr, c.tls, err)
		}
	}
}

// TestKeyShownOnceAndNoSecretInPages creates a client, checks that its key
// is in that answer only, and that no page of the console shows a stored
// secret.
func TestKeyShownOnceAndNoSecretInPages(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	b.signIn()
	resp, body := b.post("/clients", url.Values{"name": {"business-central"}, "sellers": {e.sellers[0].ID}, "operations": {"getMarketplaceParticipations,orders/v0"}, "pii": {"on"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create: %d\n%s", resp.StatusCode, body)
	}
	m := regexp.MustCompile(`value="(spg_[^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no key in the answer:\n%s", body)
	}
	key := m[1]
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("the key page may be cached")
	}
	if got := e.callGateway(key, e.sellers[0].ID); got != http.StatusOK {
		t.Fatalf("the new key at the gateway: %d", got)
	}
	// Counted for the client and the seller.
	if e.stats.ClientLastUse("business-central").IsZero() || e.stats.Seller(e.sellers[0].ID).LastOK.IsZero() {
		t.Error("the gateway's call is not in Stats")
	}
	all := map[string]string{}
	for _, p := range append(pages, "/activity?period=24h", "/sellers?authorized="+e.sellers[0].ID) {
		resp, body := b.get(p)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", p, resp.StatusCode)
		}
		all[p] = body
	}
	for p, body := range all {
		if strings.Contains(body, key) || strings.Contains(body, strings.TrimPrefix(key, "spg_")) {
			t.Errorf("%s shows the key again", p)
		}
		for _, s := range e.secrets() {
			if strings.Contains(body, s) {
				t.Errorf("%s shows a secret (%s)", p, secret.New(s).Hint())
			}
		}
	}
	if !strings.Contains(all["/clients"], "business-central") || !strings.Contains(all["/clients"], "allowed") {
		t.Errorf("/clients lacks the client:\n%s", all["/clients"])
	}
	if strings.Contains(all["/clients"], ">never<") {
		t.Errorf("/clients shows no last use after a call")
	}
	// Revoke: the gateway refuses the key.
	if resp, _ := b.post("/clients/revoke", url.Values{"name": {"business-central"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if got := e.callGateway(key, e.sellers[0].ID); got != http.StatusUnauthorized {
		t.Fatalf("the revoked key at the gateway: %d", got)
	}
	ev, _ := e.v.AuditLog(context.Background(), vault.AuditFilter{Subject: "client:business-central"})
	if len(ev) < 2 || ev[0].Actor != Actor {
		t.Errorf("the vault's audit lacks the console as actor: %+v", ev)
	}
	if !e.events.has("client-create", true) || !e.events.has("client-revoke", true) {
		t.Errorf("admin events: %+v", e.events.ev)
	}
	// A new key is shown once too, and works again.
	_, body = b.post("/clients/rekey", url.Values{"name": {"business-central"}})
	m = regexp.MustCompile(`value="(spg_[^"]+)"`).FindStringSubmatch(body)
	if m == nil || m[1] == key {
		t.Fatalf("no new key:\n%s", body)
	}
	if got := e.callGateway(m[1], e.sellers[0].ID); got != http.StatusOK {
		t.Fatalf("the new key at the gateway: %d", got)
	}
}

func TestClientFormErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	b.signIn()
	for _, f := range []url.Values{
		{"name": {"bad name!"}, "sellers": {"*"}, "operations": {"*"}},
		{"name": {"x"}, "operations": {"*"}},
		{"name": {"x"}, "sellers": {"*"}, "operations": {"notAnOperation"}},
	} {
		resp, body := b.post("/clients", f)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="form-error"`) || strings.Contains(body, "spg_") {
			t.Errorf("%v: %d", f, resp.StatusCode)
		}
	}
}

func TestSetupShowsStepsAndFixes(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	b.signIn()
	_, body := b.get("/setup")
	for _, want := range []string{"Developer registration", "App registration and roles", "LWA client id and client secret",
		"SQS queue for notifications", "Seller authorization", "Client secret rotation", e.url + "/oauth/callback", "data-copy-text"} {
		if !strings.Contains(body, want) {
			t.Errorf("/setup lacks %q", want)
		}
	}
	states := stepStates(body)
	for _, id := range []string{"lwa", "sellers", "rdt"} {
		if states[id] != StateDone {
			t.Errorf("step %s: %q, want done (%v)", id, states[id], states)
		}
	}
	if states["queue"] != StateWarn {
		t.Errorf("step queue without a queue: %q", states["queue"])
	}
	// Amazon stops accepting the client secret: LWA's step turns red with
	// its fix once checked again.
	if err := e.srv.ExpireClientSecret(e.app.ID); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.post("/setup/check", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("check again: %d", resp.StatusCode)
	}
	_, body = b.get("/setup")
	states = stepStates(body)
	if states["lwa"] != StateAction {
		t.Errorf("step lwa after the secret expired: %q", states["lwa"])
	}
	if !strings.Contains(body, "spgate rotate --app main") {
		t.Errorf("no fix on the page:\n%s", body)
	}
}

var stepRE = regexp.MustCompile(`id="step-([a-z-]+)"[\s\S]*?data-state="([a-z]+)"`)

func stepStates(body string) map[string]string {
	out := map[string]string{}
	for _, m := range stepRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestAuthorizeThroughConsent(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	b.signIn()
	newID := e.sellers[2].ID
	resp, body := b.post("/sellers/authorize", url.Values{"region": {string(e.sellers[2].Region)}, "name": {"new-shop"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize: %d\n%s", resp.StatusCode, body)
	}
	m := regexp.MustCompile(`id="consent-link" href="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no consent link:\n%s", body)
	}
	link := strings.ReplaceAll(m[1], "&amp;", "&")
	// The seller confirms at Amazon, which redirects to the console.
	resp, _ = b.get(link)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("consent page: %d", resp.StatusCode)
	}
	cb := resp.Header.Get("Location")
	if !strings.HasPrefix(cb, e.url+"/oauth/callback?") {
		t.Fatalf("Amazon redirected to %s", cb)
	}
	// The redirect comes from Amazon's site: no session cookie with it.
	stranger := e.browser()
	resp, body = stranger.get(cb)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Seller "+newID+" authorized") {
		t.Fatalf("callback: %d\n%s", resp.StatusCode, body)
	}
	s, err := e.v.GetSeller(context.Background(), newID)
	if err != nil {
		t.Fatal(err)
	}
	au, ok := s.Authorization("main")
	if !ok || au.RefreshToken.Value.IsZero() || s.Name != "new-shop" {
		t.Fatalf("seller not stored: %+v", s)
	}
	for _, sec := range append(e.secrets(), au.RefreshToken.Value.Reveal()) {
		if strings.Contains(body, sec) {
			t.Fatal("the callback page shows a secret")
		}
	}
	// A state works once.
	if resp, _ := stranger.get(cb); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a replayed redirect: %d", resp.StatusCode)
	}
	// A forged redirect stores nothing.
	if resp, _ := stranger.get("/oauth/callback?state=forged&spapi_oauth_code=x&selling_partner_id=" + e.sellers[0].ID); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a forged redirect: %d", resp.StatusCode)
	}
	_, body = b.get("/sellers")
	if !strings.Contains(body, newID) || !strings.Contains(body, "new-shop") {
		t.Errorf("/sellers lacks the new seller")
	}
	// Re-authorizing asks for the same seller: another seller's consent
	// is refused.
	e.consentN = 1
	_, body = b.post("/sellers/authorize", url.Values{"seller": {e.sellers[0].ID}})
	m = regexp.MustCompile(`id="consent-link" href="([^"]+)"`).FindStringSubmatch(body)
	resp, _ = b.get(strings.ReplaceAll(m[1], "&amp;", "&"))
	resp, body = stranger.get(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "was to be authorized again") {
		t.Fatalf("re-authorization by another seller: %d\n%s", resp.StatusCode, body)
	}
}

func TestAuthorizeByPaste(t *testing.T) {
	e := newEnv(t, envOptions{redirectURI: "https://app.example.com/amazon/callback"})
	b := e.browser()
	b.signIn()
	_, body := b.post("/sellers/authorize", url.Values{"region": {string(e.sellers[2].Region)}})
	if !strings.Contains(body, `action="/sellers/authorize/paste"`) {
		t.Fatalf("no paste box for a redirect URI served elsewhere:\n%s", body)
	}
	state := regexp.MustCompile(`state=([A-Za-z0-9_-]+)`).FindStringSubmatch(body)
	if state == nil {
		t.Fatal("no state in the link")
	}
	// A bad paste is refused; a paste for an unknown state too.
	if resp, _ := b.post("/sellers/authorize/paste", url.Values{"redirected": {"not an address"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad paste: %d", resp.StatusCode)
	}
	if resp, _ := b.post("/sellers/authorize/paste", url.Values{"redirected": {"https://app.example.com/amazon/callback?state=nope&spapi_oauth_code=x&selling_partner_id=" + e.sellers[2].ID}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("paste with an unknown state: %d", resp.StatusCode)
	}
}

func TestRotationStepStates(t *testing.T) {
	lines := func(steps ...string) []jobLine {
		var out []jobLine
		for _, s := range steps {
			out = append(out, jobLine{Step: s})
		}
		return out
	}
	states := func(v jobView) string {
		var b strings.Builder
		for _, s := range rotationSteps(v) {
			b.WriteString(s.State[:1])
		}
		return b.String()
	}
	for _, c := range []struct {
		v    jobView
		want string
	}{
		{jobView{}, "rppppp"},
		{jobView{Lines: lines("requesting")}, "rppppp"},
		{jobView{Lines: lines("requesting", "requested")}, "drpppp"},
		{jobView{Lines: lines("requesting", "requested"), Done: true, Failed: true}, "dfpppp"},
		{jobView{Lines: lines("requesting", "requested", "received")}, "dddrpp"},
		{jobView{Lines: lines("requesting", "requested", "received"), Done: true, Failed: true}, "dddfpp"},
		{jobView{Lines: lines("requesting", "requested", "received", "verified", "stored", "done"), Done: true}, "dddddd"},
	} {
		if got := states(c.v); got != c.want {
			t.Errorf("%+v: %s, want %s", c.v.Lines, got, c.want)
		}
	}
}

func TestScrub(t *testing.T) {
	in := "received the new secret amzn1.oa2-cs.v1.…ab12 and Atzr|IwEBIabc, key spg_abcdef; token Atza|x"
	out := scrub(in)
	for _, bad := range []string{"ab12", "IwEBIabc", "abcdef", "Atza|x"} {
		if strings.Contains(out, bad) {
			t.Errorf("scrub left %q: %s", bad, out)
		}
	}
}

func TestSecretPage(t *testing.T) {
	var progress []string
	e := newEnv(t, envOptions{rotate: func(ctx context.Context, p func(step, msg string)) (rotation.Result, error) {
		for _, s := range []string{rotation.StepRequesting, rotation.StepRequested, rotation.StepReceived, rotation.StepVerified, rotation.StepStored} {
			p(s, "step "+s+" with amzn1.oa2-cs.v1.…beef")
			progress = append(progress, s)
		}
		return rotation.Result{App: "main", Version: 2, ExpiresAt: time.Now().Add(180 * 24 * time.Hour)}, nil
	}})
	b := e.browser()
	b.signIn()
	_, body := b.get("/secret")
	if !strings.Contains(body, "version 1") || strings.Contains(body, `class="band warn"`) {
		t.Errorf("/secret:\n%s", body)
	}
	if !strings.Contains(body, "no notification queue") {
		t.Errorf("/secret does not say why it cannot rotate")
	}
	// With a queue the button works and the job's steps show.
	ctx := context.Background()
	_ = e.v.UpdateApp(ctx, "main", func(a *vault.App) error {
		a.SQSQueueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
		return nil
	})
	if resp, _ := b.post("/secret/rotate", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rotate: %d", resp.StatusCode)
	}
	j := e.c.jobs.last("rotate")
	if j == nil {
		t.Fatal("no rotation job")
	}
	e.c.jobs.wait()
	v := j.view()
	if !v.Done || v.Failed {
		t.Fatalf("job: %+v", v)
	}
	_, body = b.get("/secret")
	if strings.Count(body, `class="rstep done"`) != len(rotationStepLabels) || strings.Contains(body, "beef") {
		t.Errorf("/secret after rotation:\n%s", body)
	}
	resp, js := b.get("/jobs/" + j.ID)
	if resp.StatusCode != http.StatusOK || !strings.Contains(js, `"done":true`) {
		t.Errorf("/jobs: %d %s", resp.StatusCode, js)
	}
	// A secret near its expiry shows the warning band.
	app, _ := e.v.GetApp(ctx, "main")
	cur, _ := app.CurrentSecret()
	if _, err := e.v.SetClientSecret(ctx, "main", cur.Value, vault.SecretChange{ExpiresAt: time.Now().Add(20 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, body = b.get("/secret")
	if !strings.Contains(body, `class="band warn"`) || !strings.Contains(body, "expires in 19 days") && !strings.Contains(body, "expires in 20 days") {
		t.Errorf("no warning band 20 days before expiry:\n%s", body)
	}
}

func TestStatsCountsGatewayLines(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.Local))
	st := NewStats(fake)
	st.Record("bc", "A1", "sellers/v1/getMarketplaceParticipations", 200, "")
	st.Record("bc", "A1", "sellers/v1/getMarketplaceParticipations", 429, "")
	st.Record("bc", "A1", "orders/v0/getOrders", 401, "seller_authorization_revoked")
	st.Record("", "A1", "orders/v0/getOrders", 429, "") // no key: not counted
	a := st.Seller("A1")
	if a.ThrottledToday != 1 || a.LWAFailuresToday != 1 || !a.LastOK.Equal(fake.Now()) {
		t.Fatalf("seller: %+v", a)
	}
	ops := st.Operations()
	if len(ops) != 2 || ops[0].Total != 2 || ops[0].Total429 != 1 {
		t.Fatalf("operations: %+v", ops)
	}
	fake.Advance(24 * time.Hour)
	if a := st.Seller("A1"); a.ThrottledToday != 0 || a.LastOK.IsZero() {
		t.Fatalf("the next day: %+v", a)
	}
	if len(st.Operations()) != 0 {
		t.Fatal("an hour-old minute is still charted")
	}
}

// TestSetupStateOf folds checks as the page does.
func TestSetupStateOf(t *testing.T) {
	c := func(s doctor.Status) doctor.Check { return doctor.Check{Status: s} }
	for _, x := range []struct {
		in   []doctor.Check
		want string
	}{
		{nil, StateUnknown}, {[]doctor.Check{c(doctor.Skip)}, StateUnknown}, {[]doctor.Check{c(doctor.OK), c(doctor.Skip)}, StateDone},
		{[]doctor.Check{c(doctor.OK), c(doctor.Warn)}, StateWarn}, {[]doctor.Check{c(doctor.Warn), c(doctor.Fail)}, StateAction},
	} {
		if got := stateOf(x.in); got != x.want {
			t.Errorf("%v: %s, want %s", x.in, got, x.want)
		}
	}
	if got := queueARN("https://sqs.eu-west-1.amazonaws.com/123456789012/spgate-notifications"); got != "arn:aws:sqs:eu-west-1:123456789012:spgate-notifications" {
		t.Errorf("queueARN: %s", got)
	}
}
