package cli

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/testenv"
)

// The documents' shell commands run as testscript scripts generated from
// their own code blocks (```sh), so README.md and docs/*.md cannot drift
// from what spgate does. Each document runs in a fresh directory and HOME,
// against an offline Amazon whose apps and sellers are the ids the
// documents use, or against the `spgate emulate` the document starts.
//
// Every command runs as written, except for what docRules change, each
// with its reason: a free port for a fixed one, a real order id or gateway
// key for a placeholder, smaller numbers for a benchmark. A command that
// cannot run offline (it needs AWS, or a person in a browser) is skipped
// by a rule that says why; a rule that matches no command fails the test,
// so the list stays true.

// The documents' example ids, served by the offline Amazon.
const (
	docAppID        = testAppID // amzn1.sp.solution.1a2b3c4d-0000-4000-8000-1234567890ab
	docClientID     = testClientID
	docClientSecret = "amzn1.oa2-cs.v1.d0c5d0c5d0c5d0c5d0c5d0c5d0c5d0c5d0c5d0c5d0c5d0c5d0c5d0c5d0c5d0c5"
	docSellerEU     = "A2VYDBAL8BMVQK"
	docSellerReadme = "A1EXAMPLE2SELLER"
)

var docRefreshTokens = map[string]string{
	docSellerEU:     "Atzr|IwEBIdocsA2VYDBAL8BMVQKdocsA2VYDBAL8BMVQKdocsA2VYDBAL8BMVQK",
	docSellerReadme: "Atzr|IwEBIdocsA1EXAMPLE2SELLERdocsA1EXAMPLE2SELLERdocsA1EXAMPLE2S",
}

// docRule changes how the commands of doc that contain match run.
type docRule struct {
	doc, match string
	// skip says why the command cannot run offline.
	skip string
	// exit is the exit code the command must end with; stdout and
	// stderr regexps its output must match.
	exit           int
	stdout, stderr string
	// ready makes the command run in the background until the document's
	// last command: it is ready when its output matches ready.
	ready string
	// replace holds old, new pairs applied to the command, why says why.
	replace []string
	why     string
	// before runs first (not from the document) in bash, script as a
	// script command; capture stores the command's stdout in a shell
	// variable of that name.
	before, script, capture string
}

// docRotationSkip is why docs/emulator.md's offline rotation is not run here.
const docRotationSkip = "needs moto_server on port 5000 and a second emulator; TestEmulateSQSRotationAsDocumented runs these commands against moto_server"

var docRules = []docRule{
	// README.md
	{doc: "README.md", match: "go run ./cmd/spgate demo", replace: []string{"go run ./cmd/spgate", "spgate"},
		why: "the test binary is spgate; building it again would only take time", stdout: "doctor"},
	{doc: "README.md", match: "go test -race ./...", skip: "the test suite itself"},
	{doc: "README.md", match: "spgate app add main", replace: []string{"amzn1.sp.solution.…", docAppID, "amzn1.application-oa2-client.…", docClientID},
		why: "the README elides the ids with …"},
	{doc: "README.md", match: "spgate doctor", stdout: `0 failed`},
	{doc: "README.md", match: "spgate orders pull", stdout: "orders of seller " + docSellerReadme + " written to"},
	{doc: "README.md", match: "spgate call getOrders", stdout: `"payload"`, stderr: `calling orders/v0`},
	{doc: "README.md", match: "spgate emulate", ready: `listening on http://127\.0\.0\.1:`,
		replace: []string{"spgate emulate", "spgate emulate --addr 127.0.0.1:8099"}, why: "a free port instead of 8099"},
	{doc: "README.md", match: "spgate demo --console", ready: `admin console on http://127\.0\.0\.1:\d+; sign in once`,
		replace: []string{"spgate demo --console", "spgate demo --console=127.0.0.1:0"}, why: "it serves until Ctrl-C: in the background, the console on a free port instead of 8088"},
	{doc: "README.md", match: "spgate bench all", replace: []string{"spgate bench all", "spgate bench all --orders 300 --duration 300ms --concurrency 2"},
		why: "the default workloads run for a minute at full CPU", stdout: "gateway"},
	{doc: "README.md", match: "spgate client add erp", capture: "KEY"},
	{doc: "README.md", match: "spgate serve --addr", ready: `serving app main on http://127\.0\.0\.1:\d+`},
	{doc: "README.md", match: "curl -H \"Authorization: Bearer spg_…\"", replace: []string{"spg_…", "$KEY"},
		why: "the key client add printed", stdout: `"payload"`},

	// docs/business-central.md
	{doc: "docs/business-central.md", match: "spgate client add business-central", stdout: `^spg_\S+$`},
	{doc: "docs/business-central.md", match: "spgate serve --addr 0.0.0.0:8443", ready: `serving app main on https://127\.0\.0\.1:\d+`,
		replace: []string{"0.0.0.0:8443", "127.0.0.1:8443", "/var/log/spgate/", "log/"}, before: "mkdir -p log",
		why: "loopback and a free port; the audit log under the work directory"},

	// docs/emulator.md
	{doc: "docs/emulator.md", match: "spgate emulate                 ", ready: `listening on http://127\.0\.0\.1:`,
		replace: []string{"spgate emulate", "spgate emulate --addr 127.0.0.1:8099"}, why: "free ports instead of 8099-8101"},
	{doc: "docs/emulator.md", match: "spgate emulate --addr 127.0.0.1:0 --json", ready: `"tokenUrl"`},
	{doc: "docs/emulator.md", match: "spgate emulate --tls", ready: `listening on https://`},
	{doc: "docs/emulator.md", match: "spgate doctor\n", stdout: `0 failed`},
	{doc: "docs/emulator.md", match: "lwa-refresh-grant fails, step authorize-seller", exit: 1, stdout: `step: authorize-seller`},
	{doc: "docs/emulator.md", match: "lwa-client-secret fails, step lwa-credentials", exit: 1, stdout: `step: lwa-credentials`},
	{doc: "docs/emulator.md", match: "spgate orders pull", stdout: "orders of seller A[0-9A-Z]+ written to"},
	{doc: "docs/emulator.md", match: `x-amz-access-token: $RDT`, stdout: `"AddressLine1"`},
	{doc: "docs/emulator.md", match: "https://sellingpartnerapi-eu.amazon.com:8443", stdout: `"errors"`},
	// The offline rotation section needs moto_server on a fixed port and a
	// second emulator; TestEmulateSQSRotationAsDocumented (emulate_test.go)
	// runs exactly these commands against a moto_server.
	{doc: "docs/emulator.md", match: "moto_server -p 5000", skip: docRotationSkip},
	{doc: "docs/emulator.md", match: "spgate emulate --sqs-endpoint", skip: docRotationSkip},
	{doc: "docs/emulator.md", match: "export SPGATE_AWS_ENDPOINT=http://127.0.0.1:5000", skip: docRotationSkip},
	{doc: "docs/emulator.md", match: "export AWS_ACCESS_KEY_ID=testing", skip: docRotationSkip},
	{doc: "docs/emulator.md", match: "export AWS_SECRET_ACCESS_KEY=testing", skip: docRotationSkip},
	{doc: "docs/emulator.md", match: "spgate setup aws --app main --queue", skip: docRotationSkip},
	{doc: "docs/emulator.md", match: "spgate rotate --app main", skip: docRotationSkip},

	// docs/setup-guide.md
	{doc: "docs/setup-guide.md", match: "spgate setup aws", skip: "needs AWS (IAM, STS, SQS); setup_test.go runs setup, --check and --teardown against moto_server"},
	{doc: "docs/setup-guide.md", match: "spgate seller authorize", skip: "waits for the seller to consent in a browser; authorize_test.go drives the consent page of the offline Amazon"},
	{doc: "docs/setup-guide.md", match: "spgate orders pull", stdout: "orders of seller " + docSellerEU + " written to"},
	{doc: "docs/setup-guide.md", match: "spgate call getOrderAddress", stdout: `"AddressLine1"`,
		before: "ORDER=$(head -n 1 orders.jsonl | jq -r .AmazonOrderId)", replace: []string{"123-1234567-1234567", "$ORDER"},
		why: "an order the pull above wrote instead of the example id"},
	{doc: "docs/setup-guide.md", match: "spgate call GET /orders/v0/orders/", stdout: `"AddressLine1"`,
		replace: []string{"123-1234567-1234567", "$ORDER"}, why: "an order the pull above wrote instead of the example id"},
	{doc: "docs/setup-guide.md", match: "spgate rotate --app main", skip: "waits for the new secret on the app's SQS queue (AWS); rotate_test.go runs it against moto_server"},
	{doc: "docs/setup-guide.md", match: "spgate serve --auto-rotate", skip: "rotates through the app's SQS queue (AWS); rotate_test.go covers the rotation"},

	// docs/troubleshooting.md
	{doc: "docs/troubleshooting.md", match: "spgate doctor", stdout: `0 failed`},
	{doc: "docs/troubleshooting.md", match: "spgate seller authorize", skip: "waits for the seller to consent in a browser; authorize_test.go drives the consent page of the offline Amazon"},
	{doc: "docs/troubleshooting.md", match: "spgate rotate --app main", skip: "waits for the new secret on the app's SQS queue (AWS); rotate_test.go runs it against moto_server"},
	{doc: "docs/troubleshooting.md", match: "spgate app set-secret main --client-secret-file new-secret.txt", script: "docnewsecret new-secret.txt",
		why: "Amazon makes the new secret first (the rotation the page speaks of), and new-secret.txt holds it", stdout: "client secret v2 stored"},
	{doc: "docs/troubleshooting.md", match: "spgate call POST /tokens/2021-03-01/restrictedDataToken", stdout: `"restrictedDataToken"`},
	{doc: "docs/troubleshooting.md", match: "spgate orders pull", stdout: "orders of seller " + docSellerEU + " written to"},
}

// docSetup is how one document runs.
type docSetup struct {
	// emulateInDoc: the document starts its own `spgate emulate`; no
	// offline Amazon is started for it.
	emulateInDoc bool
	// preamble runs before the document's commands: what the document
	// takes as done (an app and a seller in the vault).
	preamble []string
	// files are put in the work directory (secret.txt, rt.txt…).
	files map[string]string
}

var docPreamble = []string{
	"spgate app add main --app-id " + docAppID + " --client-id " + docClientID + " --client-secret-file secret.txt --region eu --role 'Direct-to-Consumer Shipping'",
	"spgate seller add " + docSellerEU + " --app main --region eu --marketplace DE,FR --refresh-token-file rt.txt",
}

var docSetups = map[string]docSetup{
	"README.md":                {files: map[string]string{"secret.txt": docClientSecret, "rt.txt": docRefreshTokens[docSellerReadme]}},
	"docs/setup-guide.md":      {files: map[string]string{"secret.txt": docClientSecret, "rt.txt": docRefreshTokens[docSellerEU]}},
	"docs/troubleshooting.md":  {preamble: docPreamble, files: map[string]string{"secret.txt": docClientSecret, "rt.txt": docRefreshTokens[docSellerEU], "req.json": `{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders/{orderId}/address"}]}`}},
	"docs/business-central.md": {preamble: docPreamble, files: map[string]string{"secret.txt": docClientSecret, "rt.txt": docRefreshTokens[docSellerEU]}},
	"docs/emulator.md":         {emulateInDoc: true},
}

// docCommand is one shell command of a document's code blocks, its
// continuation lines joined.
type docCommand struct {
	line int
	text string
}

var fence = regexp.MustCompile("^```\\s*(\\w*)")

// docCommands reads the commands of path's sh, bash and shell code blocks.
func docCommands(t *testing.T, path string) []docCommand {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []docCommand
	inShell, inBlock := false, false
	var cur *docCommand
	for n, line := range strings.Split(string(b), "\n") {
		if m := fence.FindStringSubmatch(line); m != nil {
			if !inBlock {
				inBlock, inShell = true, m[1] == "sh" || m[1] == "bash" || m[1] == "shell"
			} else {
				inBlock, inShell = false, false
			}
			continue
		}
		if !inShell {
			continue
		}
		if cur == nil {
			t := strings.TrimSpace(line)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			cur = &docCommand{line: n + 1}
		}
		if body, ok := strings.CutSuffix(line, "\\"); ok {
			cur.text += body + "\\\n"
			continue
		}
		cur.text += line
		out = append(out, *cur)
		cur = nil
	}
	return out
}

// docPorts are the fixed ports the documents use; each gets a free one
// (8099-8101 and 8443-8445 as three in a row, as spgate emulate takes).
var docPorts = regexp.MustCompile(`:(8099|8100|8101|8087|8443|8444|8445|8765)\b`)

// freePorts returns the first of n free ports in a row. They are taken
// below Linux's ephemeral range (32768 up): there, no connection another
// test opens meanwhile can take one before spgate binds it, as happened
// to ports chosen by listening on port 0. Ports handed out once are not
// handed out again, since the documents' scripts run in parallel.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for try := 0; try < 200; try++ {
		p := 20000 + mrand.IntN(12000)
		ok := true
		var ls []net.Listener
		for i := 0; i < n && ok; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+i))
			ok = err == nil && !handedOut.ports[p+i]
			if err == nil {
				ls = append(ls, l)
			}
		}
		for _, l := range ls {
			l.Close()
		}
		if ok {
			for i := range n {
				handedOut.ports[p+i] = true
			}
			return p
		}
	}
	t.Fatal("no free ports in a row")
	return 0
}

// handedOut is what freePorts gave so far.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// quoteScript quotes s as one testscript word.
func quoteScript(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

var assignment = regexp.MustCompile(`^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=`)

// docBackground matches a command the document runs in the background.
var docBackground = regexp.MustCompile(`[^&]&\s*(#.*)?$`)

// docScript turns doc's commands into a testscript script.
func docScript(t *testing.T, doc string, cmds []docCommand, setup docSetup, used map[int]bool) string {
	t.Helper()
	na, tls, serve, cb := freePorts(t, 3), freePorts(t, 3), freePorts(t, 1), freePorts(t, 1)
	ports := map[string]int{"8099": na, "8100": na + 1, "8101": na + 2, "8087": serve, "8443": tls, "8444": tls + 1, "8445": tls + 2, "8765": cb}
	var vars []string
	for _, c := range cmds {
		if m := assignment.FindStringSubmatch(c.text); m != nil {
			vars = append(vars, m[1])
		}
	}
	for _, r := range docRules {
		if r.doc == doc && r.capture != "" {
			vars = append(vars, r.capture)
		}
		if r.doc == doc && r.before != "" {
			if m := assignment.FindStringSubmatch(r.before); m != nil {
				vars = append(vars, m[1])
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s, run from its code blocks (TestDocumentedCommands)\n", doc)
	fmt.Fprintf(&b, "docvars %s\n", quoteScript(strings.Join(vars, " ")))
	for _, p := range setup.preamble {
		fmt.Fprintf(&b, "# preamble, not from the document\ndocsh 0 - %s\n", quoteScript(p))
	}
	for _, c := range cmds {
		text := c.text
		var rule *docRule
		for i, r := range docRules {
			if r.doc == doc && strings.Contains(text+"\n", r.match) {
				rule, used[i] = &docRules[i], true
				break
			}
		}
		fmt.Fprintf(&b, "\n# %s:%d\n", doc, c.line)
		if rule != nil && rule.skip != "" {
			fmt.Fprintf(&b, "# skipped: %s\n", rule.skip)
			continue
		}
		if rule == nil {
			rule = &docRule{}
		}
		text = strings.ReplaceAll(text, "\\\n", " ") // one script line; bash reads it the same
		for i := 0; i+1 < len(rule.replace); i += 2 {
			text = strings.ReplaceAll(text, rule.replace[i], rule.replace[i+1])
		}
		text = docPorts.ReplaceAllStringFunc(text, func(m string) string { return ":" + strconv.Itoa(ports[m[1:]]) })
		if rule.why != "" {
			fmt.Fprintf(&b, "# changed: %s\n", rule.why)
		}
		if rule.before != "" {
			fmt.Fprintf(&b, "docsh 0 - %s\n", quoteScript(rule.before))
		}
		if rule.script != "" {
			fmt.Fprintf(&b, "%s\n", rule.script)
		}
		if rule.ready != "" {
			fmt.Fprintf(&b, "docbg %s %s\n", quoteScript(rule.ready), quoteScript(text))
			continue
		}
		if docBackground.MatchString(text) {
			// It would hold the script's output open until the test ends.
			t.Errorf("%s:%d runs in the background (&): give it a docRules entry that says when it is ready, or why it is skipped", doc, c.line)
			fmt.Fprintf(&b, "# not run: in the background without a rule\n")
			continue
		}
		capture := rule.capture
		if capture == "" {
			capture = "-"
		}
		fmt.Fprintf(&b, "docsh %d %s %s\n", rule.exit, capture, quoteScript(text))
		if rule.stdout != "" {
			fmt.Fprintf(&b, "stdout %s\n", quoteScript("(?m)"+rule.stdout))
		}
		if rule.stderr != "" {
			fmt.Fprintf(&b, "stderr %s\n", quoteScript("(?m)"+rule.stderr))
		}
	}
	for name, content := range setup.files {
		fmt.Fprintf(&b, "-- %s --\n%s\n", name, content)
	}
	return b.String()
}

// docShell wraps a document's command for bash: the variables earlier
// commands set are restored first and saved after.
func docShell(vars, command, capture string) string {
	var b strings.Builder
	b.WriteString("[ -f .docenv ] && . ./.docenv\n")
	if capture != "" {
		fmt.Fprintf(&b, "%s=$(\n%s\n)\nrc=$?\nprintf '%%s\\n' \"$%s\"\n", capture, command, capture)
	} else {
		fmt.Fprintf(&b, "%s\nrc=$?\n", command)
	}
	if vars != "" {
		fmt.Fprintf(&b, "declare -p %s 2>/dev/null > .docenv\n", vars)
	}
	b.WriteString("exit $rc\n")
	return b.String()
}

// docCmds are the script commands the generated scripts use; srv is the
// offline Amazon of the document, if any.
func docCmds(srv *amazontest.Server) map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	bgN := 0
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		// docnewsecret FILE: Amazon rotates the app's client secret (asked
		// through spgate call) and FILE gets the new one, as a person
		// would copy it from Seller Central.
		"docnewsecret": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 1 || srv == nil {
				ts.Fatalf("usage: docnewsecret FILE (with an offline Amazon)")
			}
			if err := ts.Exec("spgate", "call", "rotateApplicationClientSecret"); err != nil {
				ts.Fatalf("rotate the client secret at Amazon: %v", err)
			}
			var n struct {
				Payload struct {
					New struct {
						ClientSecret string `json:"newClientSecret"`
					} `json:"applicationOAuthClientNewSecret"`
				} `json:"payload"`
			}
			select {
			case msg := <-srv.Notifications():
				if err := json.Unmarshal(msg, &n); err != nil || n.Payload.New.ClientSecret == "" {
					ts.Fatalf("new-secret notification: %v", err)
				}
			case <-time.After(testenv.Patience):
				ts.Fatalf("Amazon sent no new-secret notification")
			}
			if err := os.WriteFile(ts.MkAbs(args[0]), []byte(n.Payload.New.ClientSecret+"\n"), 0o600); err != nil {
				ts.Fatalf("%v", err)
			}
		},
		// docvars 'A B C': the shell variables the document sets, kept
		// from one command to the next.
		"docvars": func(ts *testscript.TestScript, neg bool, args []string) {
			ts.Setenv("DOCVARS", strings.Join(args, " "))
		},
		// docsh N VAR|- 'command': runs the command with bash and asserts
		// its exit code; with VAR its stdout is kept in $VAR.
		"docsh": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 3 {
				ts.Fatalf("usage: docsh EXIT VAR|- 'command'")
			}
			want, _ := strconv.Atoi(args[0])
			capture := args[1]
			if capture == "-" {
				capture = ""
			}
			// A command that hangs ends after testenv.Patience, with its
			// output so far, rather than at the test binary's timeout.
			err := ts.Exec("timeout", "-k", "5", strconv.Itoa(int(testenv.Patience.Seconds())), "bash", "-c", docShell(ts.Getenv("DOCVARS"), args[2], capture))
			got := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				got = ee.ExitCode()
			} else if err != nil {
				ts.Fatalf("docsh: %v", err)
			}
			if got != want {
				ts.Fatalf("exited with %d, want %d", got, want)
			}
		},
		// docbg 'ready' 'command': starts the command in the background
		// (until the script ends) and waits until its output matches ready.
		"docbg": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: docbg 'ready' 'command'")
			}
			ready := regexp.MustCompile(args[0])
			bgN++
			log := ts.MkAbs(fmt.Sprintf(".bg%d.log", bgN))
			pidFile := ts.MkAbs(fmt.Sprintf(".bg%d.pid", bgN))
			script := fmt.Sprintf("[ -f .docenv ] && . ./.docenv\nset -m\n(\n%s\n) > %s 2>&1 < /dev/null &\necho $! > %s\n", args[1], log, pidFile)
			if err := ts.Exec("bash", "-c", script); err != nil {
				ts.Fatalf("docbg: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(pidFile)))
			if err != nil {
				ts.Fatalf("docbg: no pid: %v", err)
			}
			ts.Defer(func() {
				_ = syscall.Kill(-pid, syscall.SIGINT)
				for i := 0; i < 100 && syscall.Kill(-pid, 0) == nil; i++ {
					time.Sleep(50 * time.Millisecond)
				}
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			})
			deadline := time.Now().Add(testenv.Patience)
			for {
				out, _ := os.ReadFile(log)
				if ready.Match(out) {
					ts.Logf("ready: %s", firstLines(string(out), 3))
					return
				}
				if syscall.Kill(pid, 0) != nil || time.Now().After(deadline) {
					ts.Fatalf("the command ended or did not get ready (%q) within %v:\n%s", args[0], testenv.Patience, out)
				}
				time.Sleep(50 * time.Millisecond)
			}
		},
	}
}

func firstLines(s string, n int) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	var out []string
	for sc.Scan() && len(out) < n {
		out = append(out, sc.Text())
	}
	return strings.Join(out, " | ")
}

// docEmulator starts the offline Amazon with the documents' app and
// sellers; its SPGATE_ENDPOINT value is e2eEndpoint(srv).
func docEmulator(t *testing.T) *amazontest.Server {
	t.Helper()
	reg := amazontest.RegistryFile{
		Apps: []amazontest.RegistryApp{{ID: docAppID, ClientID: docClientID, ClientSecret: docClientSecret,
			Roles: []string{amazontest.RoleShipping, amazontest.RoleTaxInvoicing}}},
		Sellers: []amazontest.RegistrySeller{
			{ID: docSellerEU, Region: amazontest.RegionEU, Marketplaces: []string{"A1PA6795UKMFR9", "A13V1IB3VIYZZH"}},
			{ID: docSellerReadme, Region: amazontest.RegionEU, Marketplaces: []string{"A1PA6795UKMFR9", "A13V1IB3VIYZZH"}},
		},
	}
	for id, rt := range docRefreshTokens {
		reg.Authorizations = append(reg.Authorizations, amazontest.RegistryAuthorization{SellerID: id, AppID: docAppID, RefreshToken: rt})
	}
	b, err := json.Marshal(reg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "registry.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := amazontest.NewServer(amazontest.WithRegistryFile(path), amazontest.WithSeed(5))
	t.Cleanup(srv.Close)
	return srv
}

// selfSigned returns a certificate and key for 127.0.0.1, PEM-encoded.
func selfSigned(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gateway"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// TestDocumentedCommands runs every shell command of README.md and
// docs/*.md that can run offline, as the documents write it.
func TestDocumentedCommands(t *testing.T) {
	t.Parallel() // the scripts' environments are their own
	for _, tool := range []string{"bash", "curl", "jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the documents' commands use %s, which is not on PATH", tool)
		}
	}
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append([]string{"../../README.md"}, docs...)
	used := map[int]bool{}
	cert, key := selfSigned(t)
	for _, path := range docs {
		doc := strings.TrimPrefix(path, "../../")
		cmds := docCommands(t, path)
		if len(cmds) == 0 {
			continue
		}
		setup := docSetups[doc]
		if setup.files == nil {
			setup.files = map[string]string{}
		}
		if doc == "docs/business-central.md" {
			setup.files["gw.pem"], setup.files["gw-key.pem"] = cert, key
		}
		script := docScript(t, doc, cmds, setup, used)
		t.Run(doc, func(t *testing.T) {
			endpoint := ""
			var srv *amazontest.Server
			if !setup.emulateInDoc {
				srv = docEmulator(t)
				endpoint = e2eEndpoint(srv)
			}
			dir := t.TempDir()
			name := strings.NewReplacer("/", "_", ".md", "").Replace(doc) + ".txtar"
			if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o600); err != nil {
				t.Fatal(err)
			}
			testscript.Run(t, testscript.Params{
				Dir: dir,
				Setup: func(env *testscript.Env) error {
					home := filepath.Join(env.WorkDir, ".home")
					env.Setenv("HOME", home)
					env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
					env.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
					env.Setenv(EnvEndpoint, endpoint)
					env.Setenv("GORACE", testenv.RaceEnv())
					for _, k := range []string{"SPGATE_VAULT", "SPGATE_MASTER_KEY", "SPGATE_LWA_URL", "SPGATE_CLIENT_SECRET", "SPGATE_REFRESH_TOKEN",
						cmdutil.EnvSQSEndpoint, cmdutil.EnvAWSEndpoint, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"} {
						env.Setenv(k, "")
					}
					return nil
				},
				Cmds: docCmds(srv),
			})
		})
	}
	for i, r := range docRules {
		if !used[i] {
			t.Errorf("rule for %s %q matches no command: the document changed; update docRules", r.doc, r.match)
		}
	}
}

// TestDocCommandsParse: what docCommands takes from a document.
func TestDocCommandsParse(t *testing.T) {
	md := "text `spgate x`\n```sh\n# a comment\nspgate a \\\n  --b c   # note\n\nX=$(jq -r .y f)\nmoto_server -p 5000 &   # bg\n```\n```json\n{\"spgate\": 1}\n```\n```bash\nspgate d\n```\n"
	path := filepath.Join(t.TempDir(), "doc.md")
	if err := os.WriteFile(path, []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	got := docCommands(t, path)
	want := []docCommand{{4, "spgate a \\\n  --b c   # note"}, {7, "X=$(jq -r .y f)"}, {8, "moto_server -p 5000 &   # bg"}, {14, "spgate d"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("docCommands = %v, want %v", got, want)
	}
	for _, c := range got {
		if bg := docBackground.MatchString(c.text); bg != strings.HasPrefix(c.text, "moto_server") {
			t.Errorf("%q: background %v", c.text, bg)
		}
	}
	if m := assignment.FindStringSubmatch(got[1].text); m == nil || m[1] != "X" {
		t.Errorf("assignment of %q: %v", got[1].text, m)
	}
}
