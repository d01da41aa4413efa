package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/internal/mototest"
)

// TestBrowser drives the console in headless Chromium as an admin would:
// sign in with the one-time link, see the setup's steps done, authorize a
// new seller through the offline Amazon's consent page, create a gateway
// client and see its key once, call the gateway with it, find the
// personal-data access in Activity, revoke the key and see the call
// refused, have a form without its CSRF token refused, and break a step
// (Amazon stops accepting the client secret) to see it turn red with its
// fix. Each page is captured at 1280×800 into $SPGATE_SCREENSHOTS.
func TestBrowser(t *testing.T) {
	br := startChromium(t)
	e := newEnv(t, envOptions{})
	shots := screenshotDir(t)
	ctx := context.Background()

	tok, err := IssueLoginToken(ctx, e.v, nil)
	if err != nil {
		t.Fatal(err)
	}
	br.navigate(LoginURL(e.url, tok))
	br.waitFor(`location.pathname === "/setup" && document.querySelector("#step-lwa [data-state]")`)
	states := map[string]string{}
	br.eval(`Object.fromEntries(Array.from(document.querySelectorAll(".step")).map(s => [s.id.slice(5), s.querySelector("[data-state]").dataset.state]))`, &states)
	for _, id := range []string{"developer", "app", "lwa", "sellers", "rdt", "rotation"} {
		if states[id] != StateDone {
			t.Errorf("Setup: step %s is %q, want done (%v)", id, states[id], states)
		}
	}
	br.screenshot(shots, "1-setup")
	// The link worked once: a second visit is refused.
	br.navigate(LoginURL(e.url, tok))
	br.waitFor(`document.querySelector("h1").textContent === "Sign in" && document.querySelector(".band.fail")`)

	// Sellers: authorize the third seller through Amazon's consent page.
	br.navigate(e.url + "/sellers")
	br.waitFor(`document.querySelector("table") && document.querySelectorAll("tbody tr").length === 2`)
	br.screenshot(shots, "2-sellers")
	newID := e.sellers[2].ID
	br.eval(`(function(){ document.getElementById("region").value = "`+string(e.sellers[2].Region)+`";
		document.getElementById("sname").value = "new-shop";
		document.getElementById("region").form.requestSubmit(); return true; })()`, nil)
	br.waitFor(`document.getElementById("consent-link")`)
	br.screenshot(shots, "3-consent")
	br.eval(`document.getElementById("consent-link").click(), true`, nil)
	// The callback page stores the token and goes on to Sellers by itself,
	// where the session cookie must be back.
	br.waitFor(`location.pathname === "/sellers" && document.body.innerText.includes("Seller ` + newID + ` authorized app main")`)
	br.waitFor(`document.querySelectorAll("tbody tr").length === 3`)
	if s, err := e.v.GetSeller(ctx, newID); err != nil || s.Name != "new-shop" {
		t.Fatalf("the consent did not store seller %s: %+v %v", newID, s, err)
	}

	// Gateway clients: create one; its key shows once.
	br.navigate(e.url + "/clients")
	br.eval(`(function(){ document.getElementById("cname").value = "business-central";
		document.querySelector('input[name=sellers][value="`+e.sellers[0].ID+`"]').checked = true;
		document.getElementById("ops").value = "orders/v0, getMarketplaceParticipations";
		document.querySelector('input[name=pii]').checked = true;
		document.getElementById("cname").form.requestSubmit(); return true; })()`, nil)
	// The page after the form is complete, console.js included: the key
	// exists as soon as the HTML is parsed, the copy button's handler only
	// once the script has run.
	br.waitFor(`document.getElementById("newkey") && document.readyState === "complete"`)
	var key string
	br.eval(`document.getElementById("newkey").value`, &key)
	if !strings.HasPrefix(key, "spg_") {
		t.Fatalf("no key on the page: %q", key)
	}
	br.eval(`document.querySelector("button.copy").click(), true`, nil)
	br.waitFor(`document.querySelector("button.copy[data-copied]")`)
	br.screenshot(shots, "4-new-key")
	if got := e.callGateway(key, e.sellers[0].ID); got != http.StatusOK {
		t.Fatalf("the new key at the gateway: %d", got)
	}
	if got := e.piiCall(key, e.sellers[0].ID); got != http.StatusOK {
		t.Fatalf("a personal-data call with the new key: %d", got)
	}
	br.navigate(e.url + "/clients")
	br.waitFor(`document.querySelector('tr[data-client="business-central"]')`)
	if h := br.html(); strings.Contains(h, key) || strings.Contains(h, key[4:]) {
		t.Fatal("the key shows again on the clients page")
	}
	br.screenshot(shots, "5-clients")

	// Activity: the personal-data access is there, and the filter finds it.
	br.navigate(e.url + "/activity")
	br.eval(`(function(){ document.getElementById("f-client").value = "business-central";
		document.getElementById("f-client").form.requestSubmit(); return true; })()`, nil)
	br.waitFor(`location.search.includes("client=business-central") && document.querySelector("#access tbody tr")`)
	var row string
	br.eval(`document.querySelector("#access tbody tr").innerText`, &row)
	if !strings.Contains(row, "business-central") || !strings.Contains(row, e.sellers[0].ID) || !strings.Contains(row, "getOrders") {
		t.Errorf("Activity's first personal-data access: %q", row)
	}
	br.waitFor(`document.querySelector("svg.chart")`)
	br.screenshot(shots, "6-activity")

	// Revoke: the gateway refuses the key.
	br.navigate(e.url + "/clients")
	br.eval(`document.querySelector('tr[data-client="business-central"] button.danger').click(), true`, nil)
	br.waitFor(`document.querySelector('tr[data-client="business-central"].revoked')`)
	if got := e.callGateway(key, e.sellers[0].ID); got != http.StatusUnauthorized {
		t.Fatalf("the revoked key at the gateway: %d", got)
	}

	// A form whose CSRF token is gone is refused, and changes nothing.
	br.eval(`(function(){ var f = document.getElementById("cname").form;
		f.querySelector("[name=csrf]").remove();
		document.getElementById("cname").value = "no-token";
		document.querySelector('input[name=sellers][value="*"]').checked = true;
		f.requestSubmit(); return true; })()`, nil)
	br.waitFor(`document.querySelector("h1").textContent === "Refused"`)
	if _, err := e.v.GetClient(ctx, "no-token"); err == nil {
		t.Fatal("a form without its CSRF token created a client")
	}

	// App secret.
	br.navigate(e.url + "/secret")
	br.waitFor(`document.getElementById("days-left")`)
	br.screenshot(shots, "7-secret")

	// Break a step: Amazon stops accepting the client secret; checked
	// again, LWA's step turns red with its fix.
	if err := e.srv.ExpireClientSecret(e.app.ID); err != nil {
		t.Fatal(err)
	}
	br.navigate(e.url + "/setup")
	br.eval(`document.querySelector('form[action="/setup/check"]').requestSubmit(), true`, nil)
	br.waitFor(`document.querySelector("#step-lwa [data-state]").dataset.state === "action"`)
	var fix string
	br.eval(`document.querySelector("#step-lwa .fix").innerText`, &fix)
	if !strings.Contains(fix, "spgate rotate --app main") {
		t.Errorf("LWA's step has no fix: %q", fix)
	}
	br.eval(`document.getElementById("step-lwa").scrollIntoView(), true`, nil)
	br.screenshot(shots, "8-setup-broken")

	// No page showed a stored secret.
	for _, p := range pages {
		br.navigate(e.url + p)
		h := br.html()
		for _, s := range e.secrets() {
			if strings.Contains(h, s) {
				t.Errorf("%s shows a secret", p)
			}
		}
	}
	t.Logf("screenshots in %s", shots)
}

// TestBrowserRotation rotates the client secret from the App secret page
// against the offline Amazon and a moto SQS queue, and watches every step
// complete.
func TestBrowserRotation(t *testing.T) {
	br := startChromium(t)
	m := mototest.Start(t)
	e := newEnv(t, envOptions{moto: m})
	shots := screenshotDir(t)
	tok, err := IssueLoginToken(context.Background(), e.v, nil)
	if err != nil {
		t.Fatal(err)
	}
	br.navigate(LoginURL(e.url, tok))
	br.waitFor(`location.pathname === "/setup"`)
	var queueState string
	br.eval(`document.querySelector("#step-queue [data-state]").dataset.state`, &queueState)
	if queueState == StateAction {
		t.Errorf("the queue step needs action with a queue in place")
	}
	br.navigate(e.url + "/secret")
	br.eval(`document.querySelector('form[action="/secret/rotate"]').requestSubmit(), true`, nil)
	br.waitFor(`document.querySelector(".job[data-job]")`)
	br.waitFor(`document.querySelectorAll(".rstep.done").length === ` + strconv.Itoa(len(rotationStepLabels)) + ` && document.body.innerText.includes("version 2")`)
	br.screenshot(shots, "9-rotation")
	a, err := e.v.GetApp(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := a.CurrentSecret(); cur.Version != 2 {
		t.Fatalf("after the rotation the vault holds v%d", cur.Version)
	}
	h := br.html()
	for _, s := range e.secrets() {
		if strings.Contains(h, s) {
			t.Error("the rotation page shows a secret")
		}
	}
	if !strings.Contains(h, "rotated") {
		t.Error("the history lacks the rotation")
	}
}

// piiCall asks the gateway for orders with shipping addresses.
func (e *env) piiCall(key, seller string) int {
	e.t.Helper()
	mp := e.sellers[0].Marketplaces[0]
	after := time.Now().Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	req, _ := http.NewRequest(http.MethodGet, e.gwURL+"/orders/v0/orders?MarketplaceIds="+mp+"&CreatedAfter="+after, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set(gateway.HeaderSeller, seller)
	req.Header.Set("X-Spgate-PII", "shippingAddress")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var eb json.RawMessage = b
		e.t.Logf("PII call: %d %s", resp.StatusCode, eb)
	}
	return resp.StatusCode
}
