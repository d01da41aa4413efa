package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// The gateway workload's shape.
const (
	// gatewaySellers is how many sellers the calls are spread over. Each
	// seller has its own bucket, which the emulator's header sets to
	// ratelimit.MaxHeaderRate, so together they allow four times the
	// throughput floor and never pace the load.
	gatewaySellers = 4
	// gatewayRound is how many sequential calls each path gets in turn, so
	// background noise falls on every path alike.
	gatewayRound = 50
	// gatewayStartTimeout bounds how long a server may take to listen.
	gatewayStartTimeout = 30 * time.Second
	// nginxMaxAddedRatio is the most latency spgate may add, as a multiple
	// of what nginx adds as a plain reverse proxy in the same run.
	nginxMaxAddedRatio = 2.0
)

// benchExecutable is the spgate binary bench gateway runs as `spgate
// serve`; tests point it at the test binary.
var benchExecutable = os.Executable

// gatewayRow is one path's figures: direct to the emulator, through an
// spgate serve process, or through nginx.
type gatewayRow struct {
	Name string `json:"name"`
	// Store is the rate-limit store of an spgate row: "vault" (the default,
	// shared by every spgate process on the vault) or "memory".
	Store string `json:"rateLimitStore,omitempty"`
	// Default marks the row that runs spgate serve's default configuration.
	Default    bool    `json:"default,omitempty"`
	P50us      float64 `json:"p50Micros"`
	P99us      float64 `json:"p99Micros"`
	AddedP50us float64 `json:"addedP50Micros"`
	AddedP99us float64 `json:"addedP99Micros"`
	// Warmup, Sequential and Requests count the successful calls before
	// the samples, of the latency samples and of the throughput run; Errors
	// are the failed calls of all three.
	Warmup     int64   `json:"warmupCalls"`
	Sequential int64   `json:"sequentialCalls"`
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	ReqPerSec  float64 `json:"requestsPerSecond"`
	// CPUPerCallMicros is the CPU time (user and system) the server process
	// spent per call of the throughput run: unlike req/s, it does not
	// depend on what else runs on the machine.
	CPUPerCallMicros float64 `json:"cpuPerCallMicros,omitempty"`
	// RSSBytes and PeakRSSBytes are the server process's resident memory
	// after its throughput run (VmRSS, VmHWM; nginx: master and workers).
	RSSBytes     uint64       `json:"rssBytes,omitempty"`
	PeakRSSBytes uint64       `json:"peakRssBytes,omitempty"`
	ToNginx      *nginxRatios `json:"toNginx,omitempty"`
	Limits       []benchLimit `json:"limits,omitempty"`
}

// nginxRatios are an spgate row's figures divided by nginx's.
type nginxRatios struct {
	AddedP50  float64 `json:"addedP50"`
	AddedP99  float64 `json:"addedP99"`
	ReqPerSec float64 `json:"requestsPerSecond"`
}

// gatewayBench is the result of bench gateway.
type gatewayBench struct {
	Operation   string  `json:"operation"`
	Sellers     int     `json:"sellers"`
	Samples     int     `json:"sequentialSamplesPerPath"`
	Concurrency int     `json:"concurrency"`
	DurationSec float64 `json:"durationSecondsPerPath"`
	// EmulatorCalls is how many of the operation's calls the emulator
	// answered in all, every path's warm-up, sequential and throughput
	// calls together, as the emulator counted them.
	EmulatorCalls int64        `json:"emulatorCalls"`
	Direct        gatewayRow   `json:"direct"`
	Rows          []gatewayRow `json:"rows"`
	// Nginx is the nginx binary of the nginx row, or why there is none.
	Nginx string `json:"nginx"`
}

// gatewayPath is one way to the emulator under test.
type gatewayPath struct {
	row   *gatewayRow
	addr  string   // host:port the load generator dials
	reqs  [][]byte // one prepared request per seller
	pid   int      // the server process, 0 for the emulator itself
	nginx bool
}

func benchGateway(ctx context.Context, cmd *cobra.Command, o benchOptions) (gatewayBench, error) {
	op, ok := operations.ByID("sellers", "v1", "getMarketplaceParticipations")
	if !ok {
		return gatewayBench{}, errors.New("getMarketplaceParticipations is missing from the operations table; regenerate it with go generate ./operations")
	}
	// The emulator announces the highest rate spgate adopts from
	// x-amzn-RateLimit-Limit, so serve's buckets follow Amazon's header as
	// always, yet never pace this load.
	srv, emuAddr, urls, stopEmu, err := startBenchEmulator(amazontest.Config{Seed: 1, OrdersPerSeller: 1, Sellers: 1, NoRateLimits: true},
		strconv.FormatFloat(ratelimit.MaxHeaderRate, 'f', -1, 64))
	if err != nil {
		return gatewayBench{}, err
	}
	defer stopEmu()
	dir, err := os.MkdirTemp("", "spgate-bench-")
	if err != nil {
		return gatewayBench{}, fmt.Errorf("make a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	demo, err := gatewayDemo(srv, gatewaySellers)
	if err != nil {
		return gatewayBench{}, err
	}
	v, key, app, err := newDemoVault(ctx, filepath.Join(dir, "vault.db"), demo, "bench")
	if err != nil {
		return gatewayBench{}, err
	}
	defer v.Close()
	clientKey, err := v.CreateClient(ctx, vault.Client{Name: "bench", Sellers: []string{"*"}, Operations: []string{"*"}})
	if err != nil {
		return gatewayBench{}, fmt.Errorf("create the benchmark's client key: %w", err)
	}
	encKey, err := key.Encode()
	if err != nil {
		return gatewayBench{}, err
	}
	r := gatewayBench{Operation: op.Key(), Sellers: gatewaySellers, Samples: o.Samples, Concurrency: o.Concurrency}

	// The direct path: one access token per seller, fetched once.
	creds := vaultCredentials{v: v, app: app.Name}
	lc := &lwa.Client{TokenURL: urls[spapi.NA] + "/auth/o2/token"}
	direct := &gatewayPath{row: &r.Direct, addr: emuAddr}
	r.Direct.Name = "direct (emulator)"
	var tokens []string
	for _, s := range demo.Sellers {
		tok, err := lwa.NewRefreshTokenSource(lc, creds, secret.New(s.RefreshToken)).Token(ctx)
		if err != nil {
			return gatewayBench{}, fmt.Errorf("get an access token from the offline Amazon: %w", err)
		}
		tokens = append(tokens, tok.AccessToken.Reveal())
		direct.reqs = append(direct.reqs, rawRequest(emuAddr, participationsPath, "x-amz-access-token", tok.AccessToken.Reveal()))
	}

	// spgate serve, as separate processes of this binary: the default
	// configuration, then the in-memory store.
	bin, err := benchExecutable()
	if err != nil {
		return gatewayBench{}, fmt.Errorf("find the spgate binary to run spgate serve: %w", err)
	}
	env := benchServeEnv(filepath.Join(dir, "vault.db"), encKey, urls)
	paths := []*gatewayPath{direct}
	for _, sv := range []struct {
		name, store string
		def         bool
		args        []string
	}{
		{"spgate serve", "vault", true, nil},
		{"spgate serve --shared-limits=false", "memory", false, []string{"--shared-limits=false"}},
	} {
		p, stop, err := startServe(ctx, bin, env, dir, sv.store, sv.args...)
		if err != nil {
			return gatewayBench{}, err
		}
		defer stop()
		row := &gatewayRow{Name: sv.name, Store: sv.store, Default: sv.def}
		gp := &gatewayPath{row: row, addr: p.addr, pid: p.pid}
		for _, s := range demo.Sellers {
			gp.reqs = append(gp.reqs, rawRequest(p.addr, participationsPath, "Authorization", "Bearer "+clientKey.Reveal(), "X-Spgate-Seller", s.ID))
		}
		paths = append(paths, gp)
	}

	// nginx as a plain reverse proxy to the same emulator, when installed.
	switch nbin, why := findNginx(o.Nginx); {
	case nbin == "":
		r.Nginx = why
	default:
		addr, pid, stop, err := startNginx(ctx, nbin, filepath.Join(dir, "nginx"), emuAddr, tokens[0])
		if err != nil {
			r.Nginx = fmt.Sprintf("%s did not start: %v", nbin, err)
			break
		}
		defer stop()
		r.Nginx = nbin
		if out, err := exec.Command(nbin, "-v").CombinedOutput(); err == nil {
			r.Nginx += " (" + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")) + ")"
		}
		row := &gatewayRow{Name: "nginx"}
		paths = append(paths, &gatewayPath{row: row, addr: addr, pid: pid, nginx: true,
			reqs: [][]byte{rawRequest(addr, participationsPath)}})
	}

	// Warm every path (connections, tokens, caches), then take the
	// sequential samples in interleaved rounds.
	samples := make([][]time.Duration, len(paths))
	for _, p := range paths {
		d, errs, err := sequential(ctx, p, gatewayWarmup)
		if err != nil {
			return gatewayBench{}, fmt.Errorf("%s: %w", p.row.Name, err)
		}
		p.row.Warmup, p.row.Errors = int64(len(d)), errs
	}
	for done := 0; done < o.Samples; done += gatewayRound {
		n := min(gatewayRound, o.Samples-done)
		for i, p := range paths {
			d, errs, err := sequential(ctx, p, n)
			if err != nil {
				return gatewayBench{}, fmt.Errorf("%s: %w", p.row.Name, err)
			}
			samples[i] = append(samples[i], d...)
			p.row.Sequential += int64(len(d))
			p.row.Errors += errs
		}
	}
	for i, p := range paths {
		slices.Sort(samples[i])
		p.row.P50us, p.row.P99us = micros(pct(samples[i], 0.5)), micros(pct(samples[i], 0.99))
		if i > 0 {
			p.row.AddedP50us, p.row.AddedP99us = p.row.P50us-r.Direct.P50us, p.row.P99us-r.Direct.P99us
		}
	}

	// Throughput: o.Concurrency keep-alive connections per path, one path
	// at a time, each path's server measured right after its run.
	var elapsed time.Duration
	for _, p := range paths {
		cpu0 := processCPU(p.pid, p.nginx)
		n, errs, el, err := throughput(ctx, p, o.Concurrency, o.Duration)
		if err != nil {
			return gatewayBench{}, fmt.Errorf("%s: %w", p.row.Name, err)
		}
		p.row.Requests, p.row.Errors = n, p.row.Errors+errs
		p.row.ReqPerSec = float64(n) / el.Seconds()
		elapsed = max(elapsed, el)
		if p.pid != 0 {
			p.row.CPUPerCallMicros = math.Round(float64(processCPU(p.pid, p.nginx)-cpu0)/float64(n)/float64(time.Microsecond)*10) / 10
			p.row.RSSBytes, p.row.PeakRSSBytes = processMemory(p.pid, p.nginx)
		}
	}
	r.DurationSec = elapsed.Seconds()
	r.EmulatorCalls = srv.Counters().Calls[op.Key()]

	var ng *gatewayRow
	for _, p := range paths[1:] {
		if p.nginx {
			ng = p.row
		}
	}
	for _, p := range paths[1:] {
		row := p.row
		if !p.nginx {
			row.Limits = []benchLimit{
				newLimit("added p50", "µs", row.AddedP50us, gatewayMaxAddedP50, false),
				newLimit("added p99", "µs", row.AddedP99us, gatewayMaxAddedP99, false),
				newLimit("throughput", "req/s", math.Round(row.ReqPerSec), gatewayMinReqPerSec, true),
			}
			if ng != nil {
				row.ToNginx = &nginxRatios{
					AddedP50:  ratio(row.AddedP50us, ng.AddedP50us),
					AddedP99:  ratio(row.AddedP99us, ng.AddedP99us),
					ReqPerSec: ratio(row.ReqPerSec, ng.ReqPerSec),
				}
				row.Limits = append(row.Limits, newLimit("added p50 ÷ nginx's", "", row.ToNginx.AddedP50, nginxMaxAddedRatio, false))
			}
		}
		r.Rows = append(r.Rows, *row)
	}
	return r, nil
}

// ratio is a ÷ b, or +Inf for a non-positive b (nginx added nothing
// measurable).
func ratio(a, b float64) float64 {
	// Under load nginx's added latency can measure zero or below (its p50
	// under the direct call's): divide by 1 µs (or 1 req/s) rather than
	// report an infinity that neither JSON nor a reader can use.
	return a / max(b, 1)
}

// startBenchEmulator serves the offline Amazon on loopback ports, one per
// region, like startOfflineAmazon, with every x-amzn-RateLimit-Limit it
// sends replaced by rate. It returns the NA listener's host:port and
// every region's URL.
func startBenchEmulator(cfg amazontest.Config, rate string) (*amazontest.Server, string, map[spapi.Region]string, func(), error) {
	srv, err := amazontest.New(cfg)
	if err != nil {
		return nil, "", nil, nil, fmt.Errorf("start the offline Amazon: %w", err)
	}
	var servers []*http.Server
	stop := func() {
		for _, hs := range servers {
			hs.Close()
		}
	}
	urls := map[spapi.Region]string{}
	for _, r := range []amazontest.Region{amazontest.RegionNA, amazontest.RegionEU, amazontest.RegionFE} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, "", nil, nil, fmt.Errorf("listen on loopback: %w", err)
		}
		h := srv.HandlerFor(r)
		hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(&rateHeaderWriter{ResponseWriter: w, rate: rate}, r)
		})}
		go func() { _ = hs.Serve(ln) }()
		servers = append(servers, hs)
		urls[spapi.Region(r)] = "http://" + ln.Addr().String()
	}
	return srv, strings.TrimPrefix(urls[spapi.NA], "http://"), urls, stop, nil
}

// rateHeaderWriter replaces x-amzn-RateLimit-Limit, where the emulator
// sends one, with rate.
type rateHeaderWriter struct {
	http.ResponseWriter
	rate  string
	wrote bool
}

func (w *rateHeaderWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if h := w.Header(); h.Get("x-amzn-RateLimit-Limit") != "" {
			h.Set("x-amzn-RateLimit-Limit", w.rate)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *rateHeaderWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// gatewayDemo adds an app and n sellers in NA that authorized it, and
// returns them as a demo fixture for newDemoVault.
func gatewayDemo(srv *amazontest.Server, n int) (amazontest.Demo, error) {
	app, err := srv.AddApp(amazontest.App{})
	if err != nil {
		return amazontest.Demo{}, fmt.Errorf("add the benchmark's app to the offline Amazon: %w", err)
	}
	d := amazontest.Demo{AppID: app.ID, ClientID: app.ClientID, ClientSecret: app.ClientSecret}
	for i := range n {
		sl, err := srv.AddSeller(amazontest.Seller{Name: fmt.Sprintf("Bench Seller %d", i+1), Region: amazontest.RegionNA})
		if err != nil {
			return d, fmt.Errorf("add a seller to the offline Amazon: %w", err)
		}
		tok, err := srv.Authorize(sl.ID, app.ID)
		if err != nil {
			return d, fmt.Errorf("authorize the benchmark's app: %w", err)
		}
		d.Sellers = append(d.Sellers, amazontest.DemoSeller{ID: sl.ID, Region: sl.Region, Marketplaces: sl.Marketplaces, RefreshToken: tok})
	}
	return d, nil
}

// benchServeEnv is this process's environment with spgate's own variables
// replaced by the benchmark's vault, key and emulator.
func benchServeEnv(vaultPath, key string, urls map[spapi.Region]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SPGATE_") {
			env = append(env, kv)
		}
	}
	var ep []string
	for _, r := range []spapi.Region{spapi.NA, spapi.EU, spapi.FE} {
		ep = append(ep, string(r)+"="+urls[r])
	}
	return append(env, vault.EnvVault+"="+vaultPath, vault.EnvMasterKey+"="+key, EnvEndpoint+"="+strings.Join(ep, ","))
}

var servingRE = regexp.MustCompile(`serving app \S+ on http://(127\.0\.0\.1:\d+)`)

// servedProc is a running server process.
type servedProc struct {
	addr string
	pid  int
}

// startServe runs `spgate serve` on a free loopback port with its log
// (a JSON line per request) in a file under dir, and returns a function
// that stops it with SIGTERM.
func startServe(ctx context.Context, bin string, env []string, dir, name string, args ...string) (servedProc, func(), error) {
	logPath := filepath.Join(dir, "serve-"+name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return servedProc{}, nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--audit-log", filepath.Join(dir, "audit-"+name+".jsonl")}, args...)...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, io.Discard, logf
	if err := cmd.Start(); err != nil {
		return servedProc{}, nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	deadline := time.Now().Add(gatewayStartTimeout)
	for {
		b, _ := os.ReadFile(logPath)
		if m := servingRE.FindSubmatch(b); m != nil {
			return servedProc{addr: string(m[1]), pid: cmd.Process.Pid}, stop, nil
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			return servedProc{}, nil, fmt.Errorf("spgate serve %s exited before listening (%v): %s", strings.Join(args, " "), err, lastLines(b, 5))
		case <-ctx.Done():
			stop()
			return servedProc{}, nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return servedProc{}, nil, fmt.Errorf("spgate serve %s did not listen within %v: %s", strings.Join(args, " "), gatewayStartTimeout, lastLines(b, 5))
		}
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// findNginx resolves --nginx: "auto" looks for nginx on PATH, then in
// /usr/sbin (Debian's place, often off a user's PATH); "off" leaves the row
// out. It returns the binary, or "" and why there is none.
func findNginx(flag string) (string, string) {
	switch flag {
	case "off":
		return "", "left out (--nginx off)"
	case "", "auto":
		if p, err := exec.LookPath("nginx"); err == nil {
			return p, ""
		}
		if st, err := os.Stat("/usr/sbin/nginx"); err == nil && !st.IsDir() {
			return "/usr/sbin/nginx", ""
		}
		return "", "nginx is not installed (not on PATH nor in /usr/sbin): install it (Debian: apt-get install nginx-light) for the comparison row"
	default:
		return flag, ""
	}
}

// nginxConf is a reverse proxy as one would put in front of SP-API: the
// same keep-alive pool and token header for every call, logging each
// request as spgate serve does.
const nginxConf = `daemon off;
worker_processes auto;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 4096; }
http {
	access_log access.log;
	client_body_temp_path tmp;
	proxy_temp_path tmp;
	upstream emulator {
		server %s;
		keepalive 64;
	}
	server {
		listen %s;
		location / {
			proxy_pass http://emulator;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header x-amz-access-token "%s";
		}
	}
}
`

// startNginx runs nginx in the foreground with a configuration in dir
// proxying to upstream, and returns its address, its master's pid and a
// function that stops it.
func startNginx(ctx context.Context, bin, dir, upstream, token string) (string, int, func(), error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return "", 0, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, upstream, addr, token), 0o600); err != nil {
		return "", 0, nil, err
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", dir+"/", "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT) // graceful: workers finish, then exit
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	deadline := time.Now().Add(gatewayStartTimeout)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr, cmd.Process.Pid, stop, nil
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return "", 0, nil, fmt.Errorf("exited (%v): %s %s", err, strings.TrimSpace(out.String()), lastLines(log, 3))
		case <-ctx.Done():
			stop()
			return "", 0, nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", 0, nil, fmt.Errorf("did not listen on %s within %v", addr, gatewayStartTimeout)
		}
	}
}

// rawRequest is a GET of path on host with the given header pairs, as
// bytes ready to write on a keep-alive connection.
func rawRequest(host, path string, header ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: spgate-bench\r\n", path, host)
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", header[i], header[i+1])
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// loadConn is one keep-alive HTTP/1.1 connection of the load generator:
// it writes prepared requests and reads just enough of each response
// (status, length, body) to know it is complete, so the generator costs
// little next to the servers it measures, as wrk does.
type loadConn struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
}

func (l *loadConn) close() {
	if l.c != nil {
		l.c.Close()
		l.c = nil
	}
}

// do sends req and reads its response; any status but 200 is an error.
// A broken connection is closed and redialled on the next call.
func (l *loadConn) do(req []byte) error {
	if l.c == nil {
		c, err := net.DialTimeout("tcp", l.addr, 5*time.Second)
		if err != nil {
			return err
		}
		l.c = c
		if l.br == nil {
			l.br = bufio.NewReaderSize(c, 16<<10)
		} else {
			l.br.Reset(c)
		}
	}
	_ = l.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := l.c.Write(req); err != nil {
		l.close()
		return err
	}
	status, err := readResponse(l.br)
	if err != nil {
		l.close()
		return err
	}
	if status != 200 {
		return fmt.Errorf("%s answered %d", l.addr, status)
	}
	return nil
}

// readResponse reads one HTTP/1.1 response from br, its body included
// (Content-Length or chunked), and returns its status.
func readResponse(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("not an HTTP/1.x status line: %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("status line %q: %w", line, err)
	}
	length, chunked := int64(-1), false
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil {
				return 0, fmt.Errorf("content-length %q", value)
			}
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		}
	}
	switch {
	case chunked:
		for {
			l, err := br.ReadSlice('\n')
			if err != nil {
				return 0, err
			}
			l, _, _ = bytes.Cut(bytes.TrimSpace(l), []byte(";"))
			n, err := strconv.ParseInt(string(l), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("chunk size %q", l)
			}
			if n == 0 {
				for { // trailers, then the empty line
					t, err := br.ReadSlice('\n')
					if err != nil {
						return 0, err
					}
					if len(bytes.TrimSpace(t)) == 0 {
						return status, nil
					}
				}
			}
			if _, err := br.Discard(int(n) + 2); err != nil {
				return 0, err
			}
		}
	case length > 0:
		if _, err := br.Discard(int(length)); err != nil {
			return 0, err
		}
	case length < 0 && status != 204 && status != 304:
		return 0, errors.New("response without a length on a keep-alive connection")
	}
	return status, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// sequential times n calls on one connection, the sellers in turn. A
// failed call is counted, not timed; a path that fails every call is an
// error.
func sequential(ctx context.Context, p *gatewayPath, n int) ([]time.Duration, int64, error) {
	c := &loadConn{addr: p.addr}
	defer c.close()
	out := make([]time.Duration, 0, n)
	var errs int64
	var last error
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		t0 := time.Now()
		if err := c.do(p.reqs[i%len(p.reqs)]); err != nil {
			errs++
			last = err
			continue
		}
		out = append(out, time.Since(t0))
	}
	if len(out) == 0 {
		return nil, errs, fmt.Errorf("no call succeeded: %w", last)
	}
	return out, errs, nil
}

// throughput runs conns connections against p for d, each calling in a
// loop, connection i always for seller i mod sellers.
func throughput(ctx context.Context, p *gatewayPath, conns int, d time.Duration) (ok, errs int64, elapsed time.Duration, err error) {
	var okN, errN atomic.Int64
	var stop atomic.Bool
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	t0 := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for i := range conns {
		req := p.reqs[i%len(p.reqs)]
		wg.Go(func() {
			c := &loadConn{addr: p.addr}
			defer c.close()
			for !stop.Load() && ctx.Err() == nil {
				if err := c.do(req); err != nil {
					errN.Add(1)
					once.Do(func() { first = err })
					continue
				}
				okN.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed = time.Since(t0)
	if err := ctx.Err(); err != nil {
		return 0, 0, 0, err
	}
	if okN.Load() == 0 {
		return 0, 0, 0, fmt.Errorf("no call succeeded under load: %w", first)
	}
	return okN.Load(), errN.Load(), elapsed, nil
}

// processMemory reads VmRSS and VmHWM of pid and, with children, of its
// child processes (nginx's workers) added up.
func processMemory(pid int, children bool) (rss, peak uint64) {
	pids := []int{pid}
	if children {
		pids = append(pids, childPIDs(pid)...)
	}
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			name, value, ok := strings.Cut(line, ":")
			if !ok || (name != "VmRSS" && name != "VmHWM") {
				continue
			}
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
			if err != nil {
				continue
			}
			if name == "VmRSS" {
				rss += kb << 10
			} else {
				peak += kb << 10
			}
		}
	}
	return rss, peak
}

// processCPU is the user and system CPU time pid has used so far, with
// children its child processes' too (nginx's workers); 0 for pid 0.
func processCPU(pid int, children bool) time.Duration {
	if pid == 0 {
		return 0
	}
	pids := []int{pid}
	if children {
		pids = append(pids, childPIDs(pid)...)
	}
	var ticks int64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		// After the command: state ppid … utime (12th) stime (13th).
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / userHZ
}

// userHZ is the unit of /proc/<pid>/stat's times (USER_HZ), 100 on Linux.
const userHZ = 100

// childPIDs lists the processes whose parent is pid.
func childPIDs(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

func printGatewayBench(w io.Writer, r gatewayBench) {
	fmt.Fprintf(w, "gateway: GET %s over %d sellers; %d sequential calls per path, then %d connections for %.1f s per path\n",
		participationsPath, r.Sellers, r.Samples, r.Concurrency, r.DurationSec)
	fmt.Fprintf(w, "  %-36s %8s %8s %10s %10s %9s %12s %17s\n", "", "p50", "p99", "added p50", "added p99", "req/s", "CPU/call", "RSS (peak)")
	line := func(mark string, row gatewayRow, added bool) {
		a50, a99, cpu, mem := "", "", "", ""
		if added {
			a50, a99 = fmt.Sprintf("%.0f µs", row.AddedP50us), fmt.Sprintf("%.0f µs", row.AddedP99us)
		}
		if row.CPUPerCallMicros > 0 {
			cpu = fmt.Sprintf("%.1f µs", row.CPUPerCallMicros)
		}
		if row.RSSBytes > 0 {
			mem = fmt.Sprintf("%.1f (%.1f) MiB", float64(row.RSSBytes)/(1<<20), float64(row.PeakRSSBytes)/(1<<20))
		}
		fmt.Fprintf(w, "%s %-36s %5.0f µs %5.0f µs %10s %10s %9s %12s %17s\n", mark, row.Name, row.P50us, row.P99us, a50, a99, num(math.Round(row.ReqPerSec)), cpu, mem)
	}
	line(" ", r.Direct, false)
	for _, row := range r.Rows {
		mark := " "
		if row.Default {
			mark = "*"
		}
		line(mark, row, true)
	}
	fmt.Fprintf(w, "  (* spgate serve's default configuration: rate limits shared through the vault, audit log, warnings-only log)\n")
	if !strings.HasPrefix(r.Nginx, "/") {
		fmt.Fprintf(w, "  nginx: %s\n", r.Nginx)
	}
	for _, row := range r.Rows {
		if len(row.Limits) == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s:\n", row.Name)
		if n := row.ToNginx; n != nil {
			fmt.Fprintf(w, "    ÷ nginx: added p50 %.2f×, added p99 %.2f×, req/s %.2f×\n", n.AddedP50, n.AddedP99, n.ReqPerSec)
		}
		for _, l := range row.Limits {
			fmt.Fprintf(w, "    %s\n", l)
		}
		if row.Errors > 0 {
			fmt.Fprintf(w, "    %d calls failed\n", row.Errors)
		}
	}
}
