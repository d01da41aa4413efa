package amazontest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/secret"
)

const rotatePath = "/applications/2023-11-30/clientSecret"

// keysOf returns the sorted keys of a JSON object.
func keysOf(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not a JSON object", v)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestRotation(t *testing.T) {
	h := start(t, nil)
	d := h.demo
	oldSecret := d.ClientSecret
	tok := h.grantless(ScopeRotation)
	h.clk.Advance(10 * time.Minute)
	r := h.call(h.srv.URL, "POST", rotatePath, tok)
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	if r.header.Get(headerRateLimit) != "0.0167" {
		t.Errorf("rate limit header %q", r.header.Get(headerRateLimit))
	}
	var raw []byte
	select {
	case raw = <-h.srv.Notifications():
	default:
		t.Fatal("no notification on the channel")
	}
	var n map[string]any
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(t, n); !slices.Equal(got, []string{"eventTime", "notificationMetadata", "notificationType", "notificationVersion", "payload", "payloadVersion"}) {
		t.Errorf("top-level keys %v", got)
	}
	if got := keysOf(t, n["payload"]); !slices.Equal(got, []string{"applicationOAuthClientNewSecret"}) {
		t.Errorf("payload keys %v", got)
	}
	p := n["payload"].(map[string]any)["applicationOAuthClientNewSecret"]
	if got := keysOf(t, p); !slices.Equal(got, []string{"clientId", "newClientSecret", "newClientSecretExpiryTime", "oldClientSecretExpiryTime"}) {
		t.Errorf("applicationOAuthClientNewSecret keys %v", got)
	}
	md := n["notificationMetadata"]
	if got := keysOf(t, md); !slices.Equal(got, []string{"applicationId", "notificationId", "publishTime", "subscriptionId"}) {
		t.Errorf("notificationMetadata keys %v", got)
	}
	now := t0.Add(10 * time.Minute)
	pm := p.(map[string]any)
	newSecret := pm["newClientSecret"].(string)
	app, _ := h.srv.App(d.AppID)
	checks := map[string][2]any{
		"notificationType":          {n["notificationType"], "APPLICATION_OAUTH_CLIENT_NEW_SECRET"},
		"notificationVersion":       {n["notificationVersion"], "1.0"},
		"payloadVersion":            {n["payloadVersion"], "2023-11-30"},
		"eventTime":                 {n["eventTime"], now.Format(notificationTime)},
		"clientId":                  {pm["clientId"], d.ClientID},
		"newClientSecret":           {newSecret, app.ClientSecret},
		"newClientSecretExpiryTime": {pm["newClientSecretExpiryTime"], now.Add(180 * 24 * time.Hour).Format(notificationTime)},
		"oldClientSecretExpiryTime": {pm["oldClientSecretExpiryTime"], now.Add(7 * 24 * time.Hour).Format(notificationTime)},
		"applicationId":             {md.(map[string]any)["applicationId"], d.AppID},
	}
	for k, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %v, want %v", k, c[0], c[1])
		}
	}
	if newSecret == oldSecret || !reSecret.MatchString(newSecret) || h.srv.Demo().ClientSecret != newSecret {
		t.Error("new secret not stored or not in Amazon's format")
	}
	if !strings.HasSuffix(n["eventTime"].(string), "Z") || len(n["eventTime"].(string)) != len("2024-01-10T22:09:17.456Z") {
		t.Errorf("eventTime layout %q", n["eventTime"])
	}

	// Both secrets work until the old one's window ends.
	form := func(sec string) url.Values {
		f := h.refreshForm(d.RefreshToken)
		f.Set("client_secret", sec)
		return f
	}
	for _, sec := range []string{oldSecret, newSecret} {
		if r := h.token(form(sec)); r.status != 200 {
			t.Errorf("secret right after rotation: %d %s", r.status, r.body)
		}
	}
	h.clk.Advance(7*24*time.Hour - time.Second)
	if r := h.token(form(oldSecret)); r.status != 200 {
		t.Errorf("old secret just before window end: %d", r.status)
	}
	h.clk.Advance(time.Second)
	if r := h.token(form(oldSecret)); r.status != 401 || string(r.body) != lwaBody("invalid_client", descClient) {
		t.Errorf("old secret after window: %d %s", r.status, r.body)
	}
	if r := h.token(form(newSecret)); r.status != 200 {
		t.Errorf("new secret: %d", r.status)
	}
	// The new secret itself expires after 180 days.
	h.clk.Advance(173 * 24 * time.Hour) // now = rotation time + 180 days
	if r := h.token(form(newSecret)); r.status != 401 {
		t.Errorf("new secret after 180 days: %d", r.status)
	}
}

func TestRotationNotEnrolledAndExpiryNotice(t *testing.T) {
	h := start(t, nil)
	app, err := h.srv.AddApp(App{NotEnrolledForRotation: true})
	if err != nil {
		t.Fatal(err)
	}
	r := h.token(url.Values{"grant_type": {"client_credentials"}, "scope": {ScopeRotation}, "client_id": {app.ClientID}, "client_secret": {app.ClientSecret}})
	tok := r.json(t)["access_token"].(string)
	r = h.call(h.srv.URL, "POST", rotatePath, tok)
	if want := errorBody("InvalidInput", "Application is not enrolled for rotation notification. Please update application notification preference in Developer console.", ""); r.status != 400 || string(r.body) != want {
		t.Errorf("not enrolled: %d %s", r.status, r.body)
	}
	if a, _ := h.srv.App(app.ID); a.ClientSecret != app.ClientSecret {
		t.Error("secret rotated for an app that is not enrolled")
	}

	exp := t0.Add(48 * time.Hour)
	if err := h.srv.EmitSecretExpiry(context.Background(), h.demo.AppID, exp, "PERIODIC_ROTATION"); err != nil {
		t.Fatal(err)
	}
	var n map[string]any
	_ = json.Unmarshal(<-h.srv.Notifications(), &n)
	p := n["payload"].(map[string]any)["applicationOAuthClientSecretExpiry"].(map[string]any)
	if n["notificationType"] != "APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY" || !slices.Equal(keysOf(t, p), []string{"clientId", "clientSecretExpiryReason", "clientSecretExpiryTime"}) ||
		p["clientSecretExpiryTime"] != exp.Format(notificationTime) || p["clientId"] != h.demo.ClientID || p["clientSecretExpiryReason"] != "PERIODIC_ROTATION" {
		t.Errorf("expiry notification %v", n)
	}
	if err := h.srv.EmitSecretExpiry(context.Background(), app.ID, exp, "x"); err == nil {
		t.Error("expiry notice for an unenrolled app: no error")
	}
}

func TestRotationToSQSOnMoto(t *testing.T) {
	moto := mototest.Start(t) // skips when moto_server is missing, unless SPGATE_REQUIRE_MOTO=1
	ctx := context.Background()
	q := sqs.NewFromConfig(moto.AdminConfig())
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("spgate-rotation-test")})
	if err != nil {
		t.Fatalf("create queue on moto: %v\n%s", err, moto.Log())
	}
	h := start(t, func(c *Config) {
		c.SQSEndpoint = moto.Endpoint
		c.SQSAccessKeyID = moto.Admin.AccessKeyID
		c.SQSSecretAccessKey = secret.New(moto.Admin.SecretAccessKey)
	})
	app, err := h.srv.AddApp(App{NotificationQueueURL: *out.QueueUrl})
	if err != nil {
		t.Fatal(err)
	}
	r := h.token(url.Values{"grant_type": {"client_credentials"}, "scope": {ScopeRotation}, "client_id": {app.ClientID}, "client_secret": {app.ClientSecret}})
	tok := r.json(t)["access_token"].(string)
	if r := h.call(h.srv.URL, "POST", rotatePath, tok); r.status != 204 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	msg, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: out.QueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 2})
	if err != nil || len(msg.Messages) != 1 {
		t.Fatalf("receive: %v, %d messages; counters %+v", err, len(msg.Messages), h.srv.Counters())
	}
	var n NewSecretNotification
	if err := json.Unmarshal([]byte(*msg.Messages[0].Body), &n); err != nil {
		t.Fatal(err)
	}
	now, _ := h.srv.App(app.ID)
	if n.NotificationType != "APPLICATION_OAUTH_CLIENT_NEW_SECRET" || n.Payload.ApplicationOAuthClientNewSecret.NewClientSecret != now.ClientSecret || n.NotificationMetadata.ApplicationID != app.ID {
		t.Error("SQS notification does not carry the new secret of this app")
	}
	select {
	case <-h.srv.Notifications():
		t.Error("an SQS app's notification also went to the channel")
	default:
	}
}

func TestRateLimits(t *testing.T) {
	h := start(t, nil)
	tok := h.accessToken(h.demo.RefreshToken)
	for i := range 30 { // getOrder: burst 30
		r := h.call(h.srv.URL, "GET", limitPath, tok)
		if r.status != 200 || r.header.Get(headerRateLimit) != "0.5" {
			t.Fatalf("call %d: %d limit %q", i+1, r.status, r.header.Get(headerRateLimit))
		}
	}
	r := h.call(h.srv.URL, "GET", limitPath, tok)
	if want := errorBody("QuotaExceeded", "You exceeded your quota for the requested resource.", ""); r.status != 429 || string(r.body) != want {
		t.Fatalf("31st call: %d %s", r.status, r.body)
	}
	// Another operation and another seller have their own buckets.
	if r := h.call(h.srv.URL, "GET", echoPath, tok); r.status != 200 || r.header.Get(headerRateLimit) != "0.016" {
		t.Errorf("other operation: %d %q", r.status, r.header.Get(headerRateLimit))
	}
	h.clk.Advance(2 * time.Second) // 0.5/s → one token
	if r := h.call(h.srv.URL, "GET", limitPath, tok); r.status != 200 {
		t.Errorf("after refill: %d", r.status)
	}
	if r := h.call(h.srv.URL, "GET", limitPath, tok); r.status != 429 {
		t.Errorf("refill gave more than one token: %d", r.status)
	}
	c := h.srv.Counters()
	if c.Calls[limitOp] != 33 || c.Throttled[limitOp] != 2 || c.TotalThrottled != 2 {
		t.Errorf("counters calls %d throttled %d", c.Calls[limitOp], c.Throttled[limitOp])
	}
}

func TestRateLimitHeaderScaleAndOmission(t *testing.T) {
	h := start(t, func(c *Config) { c.TimeScale = 60; c.NoRateLimits = true; c.RateLimitHeaderOmitShare = 0.25 })
	tok := h.accessToken(h.demo.RefreshToken)
	missing := 0
	for range 100 {
		r := h.call(h.srv.URL, "GET", limitPath, tok)
		if r.status != 200 {
			t.Fatalf("limits lifted, still %d", r.status)
		}
		switch v := r.header.Get(headerRateLimit); v {
		case "":
			missing++
		case "30": // 0.5 × 60
		default:
			t.Fatalf("scaled header %q, want 30", v)
		}
	}
	if missing != 25 {
		t.Errorf("%d of 100 responses omitted the header, want 25", missing)
	}
}

// TestSustainedRateUnderTimeScale drives a client that calls as fast as it
// is allowed on a fake clock and checks the achieved rate is the published
// rate × scale.
func TestSustainedRateUnderTimeScale(t *testing.T) {
	const scale = 60.0
	h := start(t, func(c *Config) { c.TimeScale = scale; c.TokenLifetime = 100 * time.Hour })
	tok := h.accessToken(h.demo.RefreshToken)
	const step = 20 * time.Millisecond
	const window = 20 * time.Second // real (fake-clock) time
	ok := 0
	for el := time.Duration(0); el < window; el += step {
		for {
			r := h.call(h.srv.URL, "GET", limitPath, tok)
			if r.status == 429 {
				break
			}
			if r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			ok++
		}
		h.clk.Advance(step)
	}
	achieved := float64(ok-30) / window.Seconds() // minus the initial burst
	want := 0.5 * scale
	if d := achieved/want - 1; d < -0.03 || d > 0.03 {
		t.Errorf("achieved %.2f req/s, published %.2f × %g = %.2f (off by %.1f%%)", achieved, 0.5, scale, want, d*100)
	}
}

func TestFaults(t *testing.T) {
	h := start(t, func(c *Config) { c.NoRateLimits = true })
	tok := h.accessToken(h.demo.RefreshToken)
	count := func(n int) map[int]int {
		got := map[int]int{}
		for range n {
			got[h.call(h.srv.URL, "GET", echoPath, tok).status]++
		}
		return got
	}
	if err := h.srv.SetFaults(Faults{InternalFailureShare: 0.5}); err != nil {
		t.Fatal(err)
	}
	if got := count(10); got[500] != 5 || got[200] != 5 {
		t.Errorf("500 share: %v", got)
	}
	_ = h.srv.SetFaults(Faults{ServiceUnavailableShare: 0.2})
	if got := count(10); got[503] != 2 {
		t.Errorf("503 share: %v", got)
	}
	r := h.call(h.srv.URL, "GET", echoPath, tok)
	_ = h.srv.SetFaults(Faults{ServiceUnavailableShare: 1})
	r = h.call(h.srv.URL, "GET", echoPath, tok)
	if string(r.body) != errorBody("ServiceUnavailable", msgUnavailable, "") {
		t.Errorf("503 body %s", r.body)
	}

	_ = h.srv.SetFaults(Faults{DropShare: 1})
	req, _ := http.NewRequest("GET", h.srv.URL+echoPath, nil)
	req.Header.Set("x-amz-access-token", tok)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Errorf("dropped connection answered %d", res.StatusCode)
	}

	_ = h.srv.SetFaults(Faults{LWAOutage: true})
	if r := h.token(h.refreshForm(h.demo.RefreshToken)); r.status != 503 || r.json(t)["error"] != "temporarily_unavailable" {
		t.Errorf("LWA outage: %d %s", r.status, r.body)
	}

	_ = h.srv.SetFaults(Faults{DateSkew: -5 * time.Minute})
	r = h.call(h.srv.URL, "GET", echoPath, tok)
	if got, want := r.header.Get("Date"), t0.Add(-5*time.Minute).Format(http.TimeFormat); got != want {
		t.Errorf("Date %q, want %q", got, want)
	}

	_ = h.srv.SetFaults(Faults{Latency: 3 * time.Second})
	done := make(chan resp, 1)
	go func() {
		req, _ := http.NewRequest("GET", h.srv.URL+echoPath, nil)
		req.Header.Set("x-amz-access-token", tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- resp{}
			return
		}
		res.Body.Close()
		done <- resp{status: res.StatusCode}
	}()
	ctx, cancel := testenv.PatienceContext(t)
	defer cancel()
	if err := h.clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal("the latency fault never waited on the clock")
	}
	select {
	case <-done:
		t.Fatal("answered before the latency passed")
	default:
	}
	h.clk.Advance(3 * time.Second)
	if r := <-done; r.status != 200 {
		t.Errorf("after latency: %d", r.status)
	}

	if err := h.srv.SetFaults(Faults{DropShare: 2}); err == nil {
		t.Error("share 2 accepted")
	}
	_ = h.srv.SetFaults(Faults{})
	if err := h.srv.ExpireClientSecret(h.demo.AppID); err != nil {
		t.Fatal(err)
	}
	if r := h.token(h.refreshForm(h.demo.RefreshToken)); r.status != 401 {
		t.Errorf("expired secret: %d", r.status)
	}
	c := h.srv.Counters()
	if c.Faults["internalFailure"] != 5 || c.Faults["serviceUnavailable"] != 3 || c.Faults["dropped"] < 1 { // net/http retries an idempotent GET once on a dropped connection
		t.Errorf("fault counters %v", c.Faults)
	}
}

func TestAdminEndpoints(t *testing.T) {
	h := start(t, nil)
	d := h.demo
	post := func(path, body string) resp {
		req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(body))
		return h.do(req)
	}
	get := func(path string) resp { return h.call(h.srv.URL, "GET", path, "") }

	tok := h.accessToken(d.RefreshToken)
	h.call(h.srv.URL, "GET", echoPath, tok)
	var c Counters
	if r := get("/_admin/counters"); json.Unmarshal(r.body, &c) != nil || c.Calls[echoOp] != 1 || c.TokensIssued["refresh_token"] != 1 {
		t.Errorf("counters: %s", r.body)
	}
	if r := post("/_admin/faults", `{"internalFailureShare":1,"dateSkewSeconds":30,"latencyMs":0}`); r.status != 200 {
		t.Fatalf("set faults: %d %s", r.status, r.body)
	}
	if f := h.srv.Faults(); f.InternalFailureShare != 1 || f.DateSkew != 30*time.Second {
		t.Errorf("faults via admin: %+v", f)
	}
	if r := h.call(h.srv.URL, "GET", echoPath, tok); r.status != 500 {
		t.Errorf("admin-set fault not applied: %d", r.status)
	}
	req, _ := http.NewRequest("DELETE", h.srv.URL+"/_admin/faults", nil)
	h.do(req)
	if h.srv.Faults() != (Faults{}) {
		t.Error("DELETE did not clear faults")
	}
	reg := get("/_admin/registry")
	if reg.status != 200 || strings.Contains(string(reg.body), d.ClientSecret) || strings.Contains(string(reg.body), "Atzr|") || !strings.Contains(string(reg.body), d.ClientID) {
		t.Errorf("registry dump leaks secrets or lacks ids: %s", reg.body)
	}
	var demo Demo
	if r := get("/_admin/demo"); json.Unmarshal(r.body, &demo) != nil || demo.RefreshToken != d.RefreshToken {
		t.Errorf("demo: %s", r.body)
	}
	if r := post("/_admin/notifications/secret-expiry", `{"appId":"`+d.AppID+`","reason":"PERIODIC_ROTATION"}`); r.status != 200 {
		t.Errorf("emit: %d %s", r.status, r.body)
	} else if n := <-h.srv.Notifications(); !strings.Contains(string(n), "APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY") {
		t.Errorf("notification %s", n)
	}
	if r := post("/_admin/revoke", `{"sellerId":"`+d.SellerID+`","appId":"`+d.AppID+`"}`); r.status != 200 {
		t.Errorf("revoke: %d %s", r.status, r.body)
	}
	if r := h.call(h.srv.URL, "GET", echoPath, tok); r.status != 403 {
		t.Errorf("token after admin revoke: %d", r.status)
	}
	if r := post("/_admin/expire-secret", `{"appId":"`+d.AppID+`"}`); r.status != 200 {
		t.Errorf("expire-secret: %d", r.status)
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/_admin/faults", `{"bogus":1}`, 400},
		{"POST", "/_admin/faults", `{"dropShare":7}`, 400},
		{"POST", "/_admin/faults", `not json`, 400},
		{"POST", "/_admin/revoke", `{}`, 400},
		{"POST", "/_admin/revoke", `{"refreshToken":"Atzr|nope"}`, 404},
		{"POST", "/_admin/expire-secret", `{"appId":"x"}`, 404},
		{"GET", "/_admin/revoke", ``, 405},
		{"GET", "/_admin/nope", ``, 404},
	} {
		req, _ := http.NewRequest(tc.method, h.srv.URL+tc.path, strings.NewReader(tc.body))
		if r := h.do(req); r.status != tc.status || r.json(t)["error"] == nil {
			t.Errorf("%s %s %s: %d %s", tc.method, tc.path, tc.body, r.status, r.body)
		}
	}
}

func TestRegistryAPIAndDeterminism(t *testing.T) {
	a, _ := New(Config{Seed: 42, OrdersPerSeller: 1})
	b, _ := New(Config{Seed: 42, OrdersPerSeller: 1})
	c, _ := New(Config{Seed: 43, OrdersPerSeller: 1})
	da, db, dc := a.Demo(), b.Demo(), c.Demo()
	if da.ClientSecret != db.ClientSecret || da.RefreshToken != db.RefreshToken || da.SellerID != db.SellerID || da.AppID != db.AppID {
		t.Error("same seed, different fixture")
	}
	if da.ClientSecret == dc.ClientSecret || da.AppID == dc.AppID {
		t.Error("different seeds, same fixture")
	}
	if !reAppID.MatchString(da.AppID) || !reClientID.MatchString(da.ClientID) || !reSecret.MatchString(da.ClientSecret) ||
		!reSellerID.MatchString(da.SellerID) || len(da.SellerID) != 14 || !strings.HasPrefix(da.RefreshToken, "Atzr|") {
		t.Errorf("fixture formats: %s %s %s", da.AppID, da.ClientID, da.SellerID)
	}
	if len(da.Sellers) != 3 || da.Sellers[1].Region != RegionEU || da.Sellers[2].Region != RegionFE || da.Region != RegionNA {
		t.Errorf("demo sellers %+v", da.Sellers)
	}
	app, _ := a.App(da.AppID)
	if !slices.Contains(app.Roles, RoleShipping) || !slices.Contains(app.Roles, RoleTaxInvoicing) || app.Draft {
		t.Errorf("demo app %+v", app.Roles)
	}
	app.Roles[0] = "mutated"
	if again, _ := a.App(da.AppID); again.Roles[0] == "mutated" {
		t.Error("App returns shared slices")
	}
	for _, bad := range []App{{ID: "x"}, {ClientID: "amzn1.application-oa2-client.XYZ"}, {ClientSecret: "s"}, {ID: da.AppID}} {
		if _, err := a.AddApp(bad); err == nil {
			t.Errorf("AddApp(%+v) accepted", bad)
		}
	}
	if _, err := a.AddSeller(Seller{Region: "mars"}); err == nil {
		t.Error("seller in region mars accepted")
	}
	if _, err := a.AddSeller(Seller{Region: RegionEU, Marketplaces: []string{"ATVPDKIKX0DER"}}); err == nil {
		t.Error("EU seller with the US marketplace accepted")
	}
	if _, err := a.Authorize("ANOSUCH", da.AppID); err == nil {
		t.Error("Authorize for unknown seller accepted")
	}
	if _, err := New(Config{Sellers: -1}); err == nil {
		t.Error("negative sellers accepted")
	}
}

func TestRegistryFile(t *testing.T) {
	dir := t.TempDir()
	good := `{"apps":[{"id":"amzn1.sp.solution.11111111-2222-4333-8444-555555555555","clientId":"amzn1.application-oa2-client.0123456789abcdef0123456789abcdef",
	 "clientSecret":"amzn1.oa2-cs.v1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","roles":["Tax Invoicing"],"redirectUris":["https://x.example/cb"]}],
	 "sellers":[{"id":"A1B2C3D4E5F6G7","name":"Shop","region":"eu","marketplaces":["A1PA6795UKMFR9"]}],
	 "authorizations":[{"sellerId":"A1B2C3D4E5F6G7","appId":"amzn1.sp.solution.11111111-2222-4333-8444-555555555555","refreshToken":"Atzr|fixed-token"}]}`
	p := filepath.Join(dir, "reg.json")
	_ = os.WriteFile(p, []byte(good), 0o600)
	h := start(t, func(c *Config) { c.RegistryFile = p })
	d := h.srv.Demo()
	if d.AppID != "amzn1.sp.solution.11111111-2222-4333-8444-555555555555" || d.SellerID != "A1B2C3D4E5F6G7" || d.RefreshToken != "Atzr|fixed-token" || d.Region != RegionEU {
		t.Fatalf("demo from file: %+v", d)
	}
	h.demo = d
	tok := h.accessToken("Atzr|fixed-token")
	if r := h.call(h.srv.RegionURL(RegionEU), "GET", echoPath, tok); r.status != 200 {
		t.Errorf("call with file registry: %d %s", r.status, r.body)
	}
	for name, body := range map[string]string{
		"bad json":      `{`,
		"unknown field": `{"apps":[],"extra":1}`,
		"bad app id":    `{"apps":[{"id":"nope"}]}`,
		"bad token":     `{"sellers":[{"id":"A1B2C3D4E5F6G7","region":"eu"}],"apps":[{}],"authorizations":[{"sellerId":"A1B2C3D4E5F6G7","appId":"x","refreshToken":"tok"}]}`,
		"unknown app":   `{"sellers":[{"id":"A1B2C3D4E5F6G7","region":"eu"}],"authorizations":[{"sellerId":"A1B2C3D4E5F6G7","appId":"x"}]}`,
	} {
		bp := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		_ = os.WriteFile(bp, []byte(body), 0o600)
		if _, err := New(Config{RegistryFile: bp}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(Config{RegistryFile: filepath.Join(dir, "missing.json")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
