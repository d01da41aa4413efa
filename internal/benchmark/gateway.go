package benchmark

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/demo"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// The gateway workload's shape.
const (
	// GatewaySellers is how many sellers the calls are spread over. Each
	// seller has its own bucket, which the emulator's header sets to
	// ratelimit.MaxHeaderRate, so together they allow four times the
	// throughput floor and never pace the load.
	GatewaySellers = 4
	// GatewaySamples is the default number of sequential calls per path.
	GatewaySamples = 1000
	// GatewayWarmup is how many calls warm each path before the samples.
	GatewayWarmup = 50
	// ParticipationsPath is the call every path is timed on.
	ParticipationsPath = "/sellers/v1/marketplaceParticipations"
	// gatewayRound is how many sequential calls each path gets in turn, so
	// background noise falls on every path alike.
	gatewayRound = 50
	// startTimeout bounds how long a server may take to listen.
	startTimeout = 30 * time.Second
)

// GatewayOptions shape the gateway workload.
type GatewayOptions struct {
	// Executable is the spgate binary run as `spgate serve`.
	Executable string
	// Samples is the number of sequential calls per path for the latency
	// figures.
	Samples int
	// Concurrency is how many keep-alive connections run for Duration on
	// each path for the throughput figure.
	Concurrency int
	Duration    time.Duration
	// Nginx is the nginx binary of the comparison row: "auto" (or empty)
	// looks on PATH and in /usr/sbin, "off" leaves the row out.
	Nginx string
	// CPUProfileDir, when set, is where each serve process writes its CPU
	// profile of the whole run (serve-<store>.pprof) as it stops.
	CPUProfileDir string
	// Postgres, when set, is a PostgreSQL server (a DSN whose user may
	// create schemas) for the row of spgate serve with its vault, and so
	// its shared rate-limit store, in PostgreSQL: the vault is copied
	// into a schema of its own, dropped at the end.
	Postgres string
}

// GatewayRow is one path's figures: direct to the emulator, through an
// spgate serve process, or through nginx.
type GatewayRow struct {
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
	ToNginx      *NginxRatios `json:"toNginx,omitempty"`
	// ToDefault compares the PostgreSQL row with the default row (the
	// vault in a file on this machine).
	ToDefault *DefaultRatios `json:"toDefault,omitempty"`
	Limits    []Limit        `json:"limits,omitempty"`
}

// DefaultRatios are a row's figures divided by the default row's.
type DefaultRatios struct {
	AddedP50  float64 `json:"addedP50"`
	AddedP99  float64 `json:"addedP99"`
	ReqPerSec float64 `json:"requestsPerSecond"`
}

// NginxRatios are an spgate row's figures divided by nginx's.
type NginxRatios struct {
	AddedP50  float64 `json:"addedP50"`
	AddedP99  float64 `json:"addedP99"`
	ReqPerSec float64 `json:"requestsPerSecond"`
}

// GatewayReport is the result of the gateway workload.
type GatewayReport struct {
	Operation   string  `json:"operation"`
	Sellers     int     `json:"sellers"`
	Samples     int     `json:"sequentialSamplesPerPath"`
	Concurrency int     `json:"concurrency"`
	DurationSec float64 `json:"durationSecondsPerPath"`
	// EmulatorCalls is how many of the operation's calls the emulator
	// answered in all, every path's warm-up, sequential and throughput
	// calls together, as the emulator counted them.
	EmulatorCalls int64        `json:"emulatorCalls"`
	Direct        GatewayRow   `json:"direct"`
	Rows          []GatewayRow `json:"rows"`
	// Nginx is the nginx binary of the nginx row, or why there is none.
	Nginx string `json:"nginx"`
	// Postgres is the vault of the PostgreSQL row (a DSN, its password
	// masked, whose search_path is the schema the vault was copied to and
	// dropped from at the end), or why there is none.
	Postgres string `json:"postgres"`
}

// path is one way to the emulator under test.
type path struct {
	row   *GatewayRow
	addr  string   // host:port the load generator dials
	reqs  [][]byte // one prepared request per seller
	pid   int      // the server process, 0 for the emulator itself
	nginx bool
}

// Gateway measures what spgate serve adds to a call, as users run it: two
// serve processes of o.Executable (the default configuration, and
// --shared-limits=false), and nginx as a plain reverse proxy where it is
// installed, against the offline Amazon in this process with its limits
// lifted. Each path is timed sequentially in interleaved rounds, then
// loaded with o.Concurrency connections for o.Duration.
func Gateway(ctx context.Context, o GatewayOptions) (GatewayReport, error) {
	if o.Duration <= 0 || o.Concurrency < 1 || o.Samples < 1 {
		return GatewayReport{}, errors.New("the gateway workload needs a positive duration and at least one connection and sample")
	}
	op, ok := operations.ByID("sellers", "v1", "getMarketplaceParticipations")
	if !ok {
		return GatewayReport{}, errors.New("getMarketplaceParticipations is missing from the operations table; regenerate it with go generate ./operations")
	}
	// The emulator announces the highest rate spgate adopts from
	// x-amzn-RateLimit-Limit, so serve's buckets follow Amazon's header as
	// always, yet never pace this load.
	e, err := demo.Start(ctx, demo.Options{Actor: "bench",
		Amazon: amazontest.Config{Seed: 1, OrdersPerSeller: 1, Sellers: 1, NoRateLimits: true},
		Listen: amazontest.StartOptions{Wrap: rateHeader(strconv.FormatFloat(ratelimit.MaxHeaderRate, 'f', -1, 64))},
		Fixture: func(srv *amazontest.Server) (amazontest.Demo, error) {
			return demo.NewFixture(srv, "Bench", GatewaySellers)
		}})
	if err != nil {
		return GatewayReport{}, err
	}
	defer e.Close()
	r := GatewayReport{Operation: op.Key(), Sellers: GatewaySellers, Samples: o.Samples, Concurrency: o.Concurrency}
	paths, stop, err := r.paths(ctx, e, o)
	defer stop()
	if err != nil {
		return GatewayReport{}, err
	}
	if err := latency(ctx, paths, o.Samples); err != nil {
		return GatewayReport{}, err
	}
	if r.DurationSec, err = load(ctx, paths, o); err != nil {
		return GatewayReport{}, err
	}
	r.EmulatorCalls = e.Amazon.Counters().Calls[op.Key()]
	r.judge(paths)
	return r, nil
}

// paths prepares every path: direct, the serve processes, nginx. stop
// ends the processes started, also on error.
func (r *GatewayReport) paths(ctx context.Context, e *demo.Env, o GatewayOptions) ([]*path, func(), error) {
	var stops []func()
	stop := func() {
		for _, s := range slices.Backward(stops) {
			s()
		}
	}
	direct, tokens, err := directPath(ctx, e, &r.Direct)
	if err != nil {
		return nil, stop, err
	}
	paths := []*path{direct}
	serve, err := r.servePaths(ctx, e, o, &stops)
	if err != nil {
		return nil, stop, err
	}
	paths = append(paths, serve...)
	ng, why := nginxPath(ctx, o.Nginx, filepath.Join(e.Dir, "nginx"), direct.addr, tokens[0], &stops)
	r.Nginx = why
	if ng != nil {
		paths = append(paths, ng)
	}
	return paths, stop, nil
}

// directPath calls the emulator with one access token per seller, fetched
// once, and returns the tokens.
func directPath(ctx context.Context, e *demo.Env, row *GatewayRow) (*path, []string, error) {
	row.Name = "direct (emulator)"
	addr := strings.TrimPrefix(e.Amazon.URL, "http://")
	p := &path{row: row, addr: addr}
	creds := rotation.VaultCredentials{Vault: e.Vault, App: e.App.Name}
	lc := &lwa.Client{TokenURL: e.Amazon.TokenURL()}
	var tokens []string
	for _, s := range e.Fixture.Sellers {
		tok, err := lwa.NewRefreshTokenSource(lc, creds, secret.New(s.RefreshToken)).Token(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("get an access token from the offline Amazon: %w", err)
		}
		tokens = append(tokens, tok.AccessToken.Reveal())
		p.reqs = append(p.reqs, rawRequest(addr, ParticipationsPath, "x-amz-access-token", tok.AccessToken.Reveal()))
	}
	return p, tokens, nil
}

// serveSpec is one spgate serve process of the workload.
type serveSpec struct {
	name, store string
	def         bool
	vault       string // the vault it serves: the demo's file, or a DSN
	args        []string
}

// servePaths starts spgate serve as separate processes of o.Executable:
// the default configuration, the in-memory store, and with o.Postgres the
// vault copied into PostgreSQL. r.Postgres says where, or why not.
func (r *GatewayReport) servePaths(ctx context.Context, e *demo.Env, o GatewayOptions, stops *[]func()) ([]*path, error) {
	bin := o.Executable
	if bin == "" {
		return nil, errors.New("no spgate binary to run spgate serve")
	}
	clientKey, err := e.Vault.CreateClient(ctx, vault.Client{Name: "bench", Sellers: []string{"*"}, Operations: []string{"*"}})
	if err != nil {
		return nil, fmt.Errorf("create the benchmark's client key: %w", err)
	}
	encKey, err := e.Key.Encode()
	if err != nil {
		return nil, err
	}
	specs := []serveSpec{
		{"spgate serve", "vault", true, e.VaultPath, nil},
		{"spgate serve --shared-limits=false", "memory", false, e.VaultPath, []string{"--shared-limits=false"}},
	}
	// After the client key: the copy carries it.
	if pg, why := postgresVault(ctx, e, o.Postgres, stops); pg != "" {
		specs = append(specs, serveSpec{"spgate serve (vault in PostgreSQL)", "postgres", false, pg, nil})
		r.Postgres = vault.RedactDSN(pg)
	} else {
		r.Postgres = why
	}
	var paths []*path
	for _, sv := range specs {
		args := append([]string{"--endpoint", e.Amazon.Endpoints()}, sv.args...)
		if o.CPUProfileDir != "" {
			args = append(args, "--cpuprofile", filepath.Join(o.CPUProfileDir, "serve-"+sv.store+".pprof"))
		}
		p, stop, err := startServe(ctx, bin, serveEnv(sv.vault, encKey), e.Dir, sv.store, args...)
		if err != nil {
			return nil, err
		}
		*stops = append(*stops, stop)
		gp := &path{row: &GatewayRow{Name: sv.name, Store: sv.store, Default: sv.def}, addr: p.addr, pid: p.pid}
		for _, s := range e.Fixture.Sellers {
			gp.reqs = append(gp.reqs, rawRequest(p.addr, ParticipationsPath, "Authorization", "Bearer "+clientKey.Reveal(), "X-Spgate-Seller", s.ID))
		}
		paths = append(paths, gp)
	}
	return paths, nil
}

// nginxPath starts nginx as a plain reverse proxy to upstream, when
// installed, and returns its path and the report's nginx field: its binary
// and version, or why there is no row.
func nginxPath(ctx context.Context, flag, dir, upstream, token string, stops *[]func()) (*path, string) {
	bin, why := findNginx(flag)
	if bin == "" {
		return nil, why
	}
	addr, pid, stop, err := startNginx(ctx, bin, dir, upstream, token)
	if err != nil {
		return nil, fmt.Sprintf("%s did not start: %v", bin, err)
	}
	*stops = append(*stops, stop)
	name := bin
	if out, err := exec.Command(bin, "-v").CombinedOutput(); err == nil {
		name += " (" + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")) + ")"
	}
	return &path{row: &GatewayRow{Name: "nginx"}, addr: addr, pid: pid, nginx: true,
		reqs: [][]byte{rawRequest(addr, ParticipationsPath)}}, name
}

// latency warms every path (connections, tokens, caches), then takes the
// sequential samples in interleaved rounds, and sets the percentiles.
func latency(ctx context.Context, paths []*path, samples int) error {
	d := make([][]time.Duration, len(paths))
	for _, p := range paths {
		s, errs, err := sequential(ctx, p, GatewayWarmup)
		if err != nil {
			return fmt.Errorf("%s: %w", p.row.Name, err)
		}
		p.row.Warmup, p.row.Errors = int64(len(s)), errs
	}
	for done := 0; done < samples; done += gatewayRound {
		n := min(gatewayRound, samples-done)
		for i, p := range paths {
			s, errs, err := sequential(ctx, p, n)
			if err != nil {
				return fmt.Errorf("%s: %w", p.row.Name, err)
			}
			d[i] = append(d[i], s...)
			p.row.Sequential += int64(len(s))
			p.row.Errors += errs
		}
	}
	direct := paths[0].row
	for i, p := range paths {
		slices.Sort(d[i])
		p.row.P50us, p.row.P99us = micros(Percentile(d[i], 0.5)), micros(Percentile(d[i], 0.99))
		if i > 0 {
			p.row.AddedP50us, p.row.AddedP99us = p.row.P50us-direct.P50us, p.row.P99us-direct.P99us
		}
	}
	return nil
}

// load runs o.Concurrency keep-alive connections per path, one path at a
// time, each path's server measured right after its run, and returns the
// longest run in seconds.
func load(ctx context.Context, paths []*path, o GatewayOptions) (float64, error) {
	var elapsed time.Duration
	for _, p := range paths {
		cpu0 := processCPU(p.pid, p.nginx)
		n, errs, el, err := throughput(ctx, p, o.Concurrency, o.Duration)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p.row.Name, err)
		}
		p.row.Requests, p.row.Errors = n, p.row.Errors+errs
		p.row.ReqPerSec = float64(n) / el.Seconds()
		elapsed = max(elapsed, el)
		if p.pid != 0 {
			p.row.CPUPerCallMicros = math.Round(float64(processCPU(p.pid, p.nginx)-cpu0)/float64(n)/float64(time.Microsecond)*10) / 10
			p.row.RSSBytes, p.row.PeakRSSBytes = processMemory(p.pid, p.nginx)
		}
	}
	return elapsed.Seconds(), nil
}

// judge compares every spgate row with the stated limits (the
// PostgreSQL row with its own, and with the default row), and with nginx,
// and fills in the report's rows.
func (r *GatewayReport) judge(paths []*path) {
	var ng, def *GatewayRow
	for _, p := range paths[1:] {
		switch {
		case p.nginx:
			ng = p.row
		case p.row.Default:
			def = p.row
		}
	}
	for _, p := range paths[1:] {
		row := p.row
		switch {
		case p.nginx:
		case row.Store == "postgres":
			row.Limits = []Limit{
				NewLimit("added p50", "µs", row.AddedP50us, PostgresMaxAddedP50, false),
				NewLimit("added p99", "µs", row.AddedP99us, PostgresMaxAddedP99, false),
				NewLimit("throughput", "req/s", math.Round(row.ReqPerSec), PostgresMinReqPerSec, true),
			}
			if def != nil {
				row.ToDefault = &DefaultRatios{
					AddedP50:  ratio(row.AddedP50us, def.AddedP50us),
					AddedP99:  ratio(row.AddedP99us, def.AddedP99us),
					ReqPerSec: ratio(row.ReqPerSec, def.ReqPerSec),
				}
			}
		default:
			row.Limits = []Limit{
				NewLimit("added p50", "µs", row.AddedP50us, GatewayMaxAddedP50, false),
				NewLimit("added p99", "µs", row.AddedP99us, GatewayMaxAddedP99, false),
				NewLimit("throughput", "req/s", math.Round(row.ReqPerSec), GatewayMinReqPerSec, true),
			}
			if ng != nil {
				row.ToNginx = &NginxRatios{
					AddedP50:  ratio(row.AddedP50us, ng.AddedP50us),
					AddedP99:  ratio(row.AddedP99us, ng.AddedP99us),
					ReqPerSec: ratio(row.ReqPerSec, ng.ReqPerSec),
				}
				row.Limits = append(row.Limits, NewLimit("added p50 ÷ nginx's", "", row.ToNginx.AddedP50, NginxMaxAddedRatio, false))
			}
		}
		r.Rows = append(r.Rows, *row)
	}
}

// ratio is a ÷ b, dividing by at least 1 (µs or req/s).
func ratio(a, b float64) float64 {
	// Under load nginx's added latency can measure zero or below (its p50
	// under the direct call's): divide by 1 µs (or 1 req/s) rather than
	// report an infinity that neither JSON nor a reader can use.
	return a / max(b, 1)
}

// rateHeader wraps the emulator's handlers to replace every
// x-amzn-RateLimit-Limit it sends with rate.
func rateHeader(rate string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(&rateHeaderWriter{ResponseWriter: w, rate: rate}, r)
		})
	}
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

// Percentile is the p-th (0…1) of sorted samples.
func Percentile(d []time.Duration, p float64) time.Duration { return d[int(float64(len(d)-1)*p)] }

func micros(d time.Duration) float64 { return float64(d.Microseconds()) }
