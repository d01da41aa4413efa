package console

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/spgate/spgate/vault"
)

// axeEnv names axe-core's axe.min.js (npm's axe-core package), which
// TestAccessibility runs in each page; .ci/run installs it.
const axeEnv = "SPGATE_AXE_JS"

// TestAccessibility runs axe-core (Deque's accessibility rules, WCAG 2 A
// and AA) in every page of the console and fails on a critical or serious
// violation. axe is evaluated through the DevTools protocol, so the
// console's Content-Security-Policy needs no exception for it.
func TestAccessibility(t *testing.T) {
	path := os.Getenv(axeEnv)
	if path == "" {
		if os.Getenv(requireChromiumEnv) != "" {
			t.Fatal(axeEnv + " is not set: .ci/run installs axe-core (npm) and sets it")
		}
		t.Skip(axeEnv + " is not set (npm install axe-core; SPGATE_AXE_JS=node_modules/axe-core/axe.min.js)")
	}
	axe, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	br := startChromium(t)
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	if _, err := e.v.CreateClient(ctx, clientFixture(e)); err != nil {
		t.Fatal(err)
	}
	tok, err := IssueLoginToken(ctx, e.v, nil)
	if err != nil {
		t.Fatal(err)
	}
	br.navigate(LoginURL(e.url, tok))
	br.waitFor(`location.pathname === "/setup"`)
	check := func(name string) {
		t.Helper()
		br.eval(string(axe)+"\n;true", nil)
		var passes int
		br.eval(`axe.run(document).then(r => r.passes.length)`, &passes)
		if passes == 0 {
			t.Fatalf("%s: axe checked nothing", name)
		}
		var found []struct {
			ID     string `json:"id"`
			Impact string `json:"impact"`
			Help   string `json:"help"`
			Nodes  []string
		}
		br.eval(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}})
			.then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, Nodes: v.nodes.slice(0, 3).map(n => n.html)})))`, &found)
		for _, v := range found {
			msg := name + ": " + v.Impact + " " + v.ID + ": " + v.Help + "\n    " + strings.Join(v.Nodes, "\n    ")
			if v.Impact == "critical" || v.Impact == "serious" {
				t.Error(msg)
			} else {
				t.Log(msg)
			}
		}
	}
	// A canary: axe finds an input without a label.
	br.eval(string(axe)+"\n;true", nil)
	var ids []string
	br.eval(`(function(){ document.body.insertAdjacentHTML("beforeend", "<input id=unlabelled>");
		return axe.run(document).then(r => r.violations.map(v => v.id)); })()`, &ids)
	if !strings.Contains(strings.Join(ids, " "), "label") {
		t.Fatalf("axe did not find an unlabelled input: %v", ids)
	}
	for _, p := range pages {
		br.navigate(e.url + p)
		check(p)
	}
	br.navigate(e.url + "/clients")
	br.eval(`(function(){ document.getElementById("cname").value = "a11y"; document.querySelector('input[name=sellers][value="*"]').checked = true;
		document.getElementById("cname").form.requestSubmit(); return true; })()`, nil)
	br.waitFor(`document.getElementById("newkey")`)
	check("the new key")
	br.navigate(e.url + "/sellers")
	br.eval(`document.getElementById("region").form.requestSubmit(), true`, nil)
	br.waitFor(`document.getElementById("consent-link")`)
	check("the consent step")
	br.eval(`document.querySelector('form[action="/logout"]').requestSubmit(), true`, nil)
	br.waitFor(`document.querySelector("h1").textContent === "Signed out"`)
	check("signed out")
	br.navigate(e.url + "/setup")
	check("sign in")
}

// clientFixture is a client for the pages to list.
func clientFixture(e *env) vault.Client {
	return vault.Client{Name: "business-central", Sellers: []string{e.sellers[0].ID}, Operations: []string{"orders/v0"}, PII: true}
}
