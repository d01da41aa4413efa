package console

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/vault"
)

// TestBrowserEmulateProcess drives the console as a newcomer meets it,
// with nothing of this process in between: the spgate binary runs
// `spgate emulate` as a process of its own, the emulator's app and
// sellers go into a new vault with `spgate app add` and `spgate seller
// add`, and `spgate serve --console` serves it. Chromium signs in with the
// link serve prints and finds the Setup page's steps done.
func TestBrowserEmulateProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the spgate binary")
	}
	br := startChromium(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "spgate")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/spgate/spgate/cmd/spgate").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := key.Encode()
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir,
		"SPGATE_VAULT="+filepath.Join(dir, "vault.db"), "SPGATE_MASTER_KEY="+enc)

	// spgate emulate --json prints the emulator's addresses and fixtures.
	emu := startProcess(t, bin, env, "emulate", "--addr", "127.0.0.1:0", "--json")
	var info struct {
		Endpoint     string `json:"endpoint"`
		AppID        string `json:"appId"`
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
		Sellers      []struct {
			ID           string   `json:"id"`
			Region       string   `json:"region"`
			Marketplaces []string `json:"marketplaces"`
			RefreshToken string   `json:"refreshToken"`
		} `json:"sellers"`
	}
	if err := json.NewDecoder(emu.stdout).Decode(&info); err != nil {
		t.Fatalf("spgate emulate --json: %v\n%s", err, emu.stderr())
	}
	go io.Copy(io.Discard, emu.stdout)
	if info.Endpoint == "" || len(info.Sellers) == 0 {
		t.Fatalf("spgate emulate --json printed no endpoint or sellers: %+v", info)
	}
	env = append(env, "SPGATE_ENDPOINT="+info.Endpoint)

	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env, cmd.Dir = env, dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("spgate %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("app", "add", "main", "--app-id", info.AppID, "--client-id", info.ClientID,
		"--client-secret-file", write("secret.txt", info.ClientSecret), "--role", "Direct-to-Consumer Shipping,Tax Invoicing")
	for _, s := range info.Sellers {
		run("seller", "add", s.ID, "--app", "main", "--region", s.Region, "--marketplace", strings.Join(s.Marketplaces, ","),
			"--refresh-token-file", write("rt-"+s.ID+".txt", s.RefreshToken))
	}

	srv := startProcess(t, bin, env, "serve", "--addr", "127.0.0.1:0", "--console", "127.0.0.1:0")
	link := srv.waitStderr(regexp.MustCompile(`http://127\.0\.0\.1:\d+/login\?token=\S+`))
	br.navigate(link)
	br.waitFor(`location.pathname === "/setup" && document.querySelector("#step-lwa [data-state]")`)
	states := map[string]string{}
	br.eval(`Object.fromEntries(Array.from(document.querySelectorAll(".step")).map(s => [s.id.slice(5), s.querySelector("[data-state]").dataset.state]))`, &states)
	for _, id := range []string{"developer", "app", "lwa", "sellers", "rdt", "rotation"} {
		if states[id] != StateDone {
			t.Errorf("Setup: step %s is %q, want done (%v)", id, states[id], states)
		}
	}
	var sellers int
	br.navigate(strings.SplitN(link, "/login", 2)[0] + "/sellers")
	br.waitFor(`document.querySelector("table")`)
	br.eval(`document.querySelectorAll("tbody tr").length`, &sellers)
	if sellers != len(info.Sellers) {
		t.Errorf("Sellers: %d rows, want the emulator's %d sellers", sellers, len(info.Sellers))
	}
}

// process is a spgate command running as a process of its own until the
// test ends (then it gets SIGINT, as from Ctrl-C).
type process struct {
	t      *testing.T
	stdout io.Reader
	lines  chan string
	mu     chan struct{} // guards err
	errOut *strings.Builder
}

func startProcess(t *testing.T, bin string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, stdout: stdout, lines: make(chan string, 1024), mu: make(chan struct{}, 1), errOut: &strings.Builder{}}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu <- struct{}{}
			p.errOut.WriteString(sc.Text() + "\n")
			<-p.mu
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(testenv.Patience):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// stderr is what the process wrote to stderr so far.
func (p *process) stderr() string {
	p.mu <- struct{}{}
	defer func() { <-p.mu }()
	return p.errOut.String()
}

// waitStderr waits for a stderr line matching re and returns the match.
func (p *process) waitStderr(re *regexp.Regexp) string {
	p.t.Helper()
	timeout := time.After(testenv.Patience)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("the process ended before printing %s:\n%s", re, p.stderr())
			}
			if m := re.FindString(line); m != "" {
				return m
			}
		case <-timeout:
			p.t.Fatalf("waited %v for %s on stderr:\n%s", testenv.Patience, re, p.stderr())
		}
	}
}
