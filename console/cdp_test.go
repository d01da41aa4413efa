package console

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/testenv"
)

// A minimal Chrome DevTools Protocol client for the browser tests. It
// talks to headless Chromium over --remote-debugging-pipe (JSON messages
// separated by NUL bytes on file descriptors 3 and 4), so it needs no
// WebSocket library and no port.

// requireChromiumEnv makes a missing Chromium fail the browser tests
// instead of skipping them (.ci/run sets it).
const requireChromiumEnv = "SPGATE_REQUIRE_CHROMIUM"

// screenshotsEnv names the folder the browser tests write their
// screenshots to (.ci/run sets it and prints it).
const screenshotsEnv = "SPGATE_SCREENSHOTS"

func findChromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{os.Getenv("SPGATE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "headless Chromium is not installed (Debian: apt-get install chromium)"
	if os.Getenv(requireChromiumEnv) != "" {
		t.Fatal(msg + "; " + requireChromiumEnv + " is set, so the browser tests must run")
	}
	t.Skip(msg)
	return ""
}

type cdp struct {
	t       testing.TB
	cmd     *exec.Cmd
	in      *os.File // we write commands here (Chromium's fd 3)
	out     *os.File // Chromium answers here (its fd 4)
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpMessage
	events  chan cdpMessage
	session string
	done    chan struct{}
	stderr  *testenv.Buffer
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *cdpError       `json:"error,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
}

type cdpError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// startChromium starts headless Chromium and opens one page (1280×800).
func startChromium(t testing.TB) *cdp {
	t.Helper()
	bin := findChromium(t)
	profile := t.TempDir()
	cmdIn, ourOut, err := os.Pipe() // Chromium reads commands from cmdIn
	if err != nil {
		t.Fatal(err)
	}
	ourIn, cmdOut, err := os.Pipe() // Chromium writes answers to cmdOut
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-extensions", "--disable-sync", "--no-first-run",
		"--no-default-browser-check", "--mute-audio", "--hide-scrollbars", "--force-device-scale-factor=1",
		"--window-size=1280,800", "--user-data-dir="+profile, "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdIn, cmdOut}
	cmd.Env = append(os.Environ(), "HOME="+profile)
	stderr := &testenv.Buffer{Max: 1 << 16}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	cmdIn.Close()
	cmdOut.Close()
	c := &cdp{t: t, cmd: cmd, in: ourOut, out: ourIn, waiting: map[int]chan cdpMessage{}, events: make(chan cdpMessage, 1024),
		done: make(chan struct{}), stderr: stderr}
	go c.read()
	t.Cleanup(c.close)
	var target struct {
		TargetID string `json:"targetId"`
	}
	c.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	c.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	c.session = att.SessionID
	c.run("Page.enable", nil)
	c.run("Runtime.enable", nil)
	c.run("Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false})
	// Answer confirm() dialogs (Revoke, Rotate now) with OK.
	c.run("Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": "window.confirm = function () { return true; };"})
	return c
}

func (c *cdp) read() {
	defer close(c.done)
	r := bufio.NewReaderSize(c.out, 1<<20)
	for {
		b, err := r.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(b[:len(b)-1], &m) != nil {
			continue
		}
		if m.ID != 0 {
			c.mu.Lock()
			ch := c.waiting[m.ID]
			delete(c.waiting, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case c.events <- m:
		default: // nobody waits for old events
		}
	}
}

func (c *cdp) close() {
	_ = c.in.Close()
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
	}
	_ = c.cmd.Wait()
	_ = c.out.Close()
}

// call sends a command (to the page's session unless session is "browser"
// level, i.e. "") and decodes its result into out.
func (c *cdp) call(session, method string, params any, out any) {
	c.t.Helper()
	if err := c.try(session, method, params, out); err != nil {
		c.t.Fatalf("%s: %v\nchromium stderr:\n%s", method, err, c.stderr.String())
	}
}

func (c *cdp) try(session, method string, params any, out any) error {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan cdpMessage, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	b, _ := json.Marshal(msg)
	if _, err := c.in.Write(append(b, 0)); err != nil {
		return err
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%d %s", m.Error.Code, m.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-c.done:
		return errors.New("chromium exited")
	case <-time.After(testenv.Patience):
		return errors.New("no answer from chromium")
	}
}

// run calls a method of the page.
func (c *cdp) run(method string, params any) {
	c.t.Helper()
	c.call(c.session, method, params, nil)
}

// eval evaluates a JavaScript expression in the page and returns its
// value (JSON-decoded into out when out is not nil).
func (c *cdp) eval(expr string, out any) {
	c.t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	c.call(c.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res)
	if res.ExceptionDetails != nil {
		c.t.Fatalf("evaluating %s: %s %s", expr, res.ExceptionDetails.Text, res.ExceptionDetails.Exception.Description)
	}
	if out != nil && len(res.Result.Value) > 0 {
		if err := json.Unmarshal(res.Result.Value, out); err != nil {
			c.t.Fatalf("evaluating %s: %v", expr, err)
		}
	}
}

// navigate loads url and waits until the document is complete.
func (c *cdp) navigate(url string) {
	c.t.Helper()
	c.run("Page.navigate", map[string]any{"url": url})
	c.waitFor(`document.readyState === "complete" && location.href !== "about:blank"`)
}

// waitFor polls a JavaScript condition until it holds (up to
// testenv.Patience), while pages load.
func (c *cdp) waitFor(cond string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	expr := "(function(){ try { return !!(" + cond + "); } catch (e) { return false; } })()"
	for {
		var res struct {
			Result struct {
				Value bool `json:"value"`
			} `json:"result"`
		}
		// Evaluation fails while a navigation replaces the document: try again.
		if err := c.try(c.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err == nil && res.Result.Value {
			return
		}
		select {
		case <-ctx.Done():
			var href, body string
			c.eval(`location.href`, &href)
			c.eval(`document.body ? document.body.innerText.slice(0, 2000) : ""`, &body)
			c.t.Fatalf("waited %v for %s; at %s:\n%s", testenv.Patience, cond, href, body)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// html returns the page's current HTML.
func (c *cdp) html() string {
	c.t.Helper()
	var s string
	c.eval(`document.documentElement.outerHTML`, &s)
	return s
}

// screenshot writes a PNG of the viewport to the screenshots folder.
func (c *cdp) screenshot(dir, name string) {
	c.t.Helper()
	var res struct {
		Data string `json:"data"`
	}
	c.call(c.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &res)
	b, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// screenshotDir is $SPGATE_SCREENSHOTS, else a temporary folder.
func screenshotDir(t testing.TB) string {
	if d := os.Getenv(screenshotsEnv); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}
