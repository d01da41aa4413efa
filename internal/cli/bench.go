package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/spapi/orders"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newBenchCmd) }

// The stated limits the workloads are compared with.
const (
	pullMinRatio        = 0.95   // achieved ÷ allowed getOrders pages
	gatewayMaxAddedP50  = 200.0  // µs
	gatewayMaxAddedP99  = 2000.0 // µs
	gatewayMinReqPerSec = 10000.0
	gatewaySamples      = 1000 // sequential samples per path
	gatewayWarmup       = 50
	getOrdersOperation  = "orders/v0/getOrders" // the emulator's counter key
	participationsPath  = "/sellers/v1/marketplaceParticipations"
)

// benchOptions are the flags of spgate bench.
type benchOptions struct {
	Orders      int
	TimeScale   float64
	PII         []string
	Duration    time.Duration
	Concurrency int
}

// The help texts: what each workload measures and why the limits.
const (
	benchIntro = `bench runs whole workloads offline (the built-in offline Amazon on loopback, a
temporary vault, no account, no network) and reports each number as a ratio
of the limit spgate promises, with ✓ or ✗ next to it. Benchmarks report, they
do not judge: the exit code is 0 unless a workload itself failed.`
	benchPullLong = `bench pull pulls every order with shipping addresses through Orders v0
(getOrders with a Restricted Data Token) from one seller, with the emulator's
clock sped up by --time-scale and the client paced from Amazon's published
rate table at the same scale. Amazon allows burst + rate × elapsed getOrders
pages; a client that waits too little gets 429s, one that waits too much is
slow. Limits: achieved ÷ allowed pages ≥ 0.95 and no 429 at all. It also
counts LWA token and RDT requests per 1,000 orders (tokens are cached and
shared, so these should stay near zero) and how often the limiter waited.
A pull of a few pages is mostly burst, so the ratio says most over hundreds
of pages (the default: 200).`
	benchGatewayLong = `bench gateway measures what spgate serve adds to a call: the emulator with
its rate limits lifted, a gateway in this process on loopback with an
unlimited rate-limit store and cached tokens, and a Go load generator. It
times the same call sequentially straight at the emulator and through the
gateway (p50 and p99 of each, and the difference the gateway adds), then
runs --concurrency callers through the gateway for --duration for throughput,
and reads the process's memory (gateway, emulator and load generator share
it, so it is an upper bound). Limits: added p50 < 200 µs and p99 < 2 ms, so
the gateway is invisible next to Amazon's own latency (tens of milliseconds),
and ≥ 10,000 req/s, far above what any seller's rate limits let through.`
)

func newBenchCmd(streams IO) *cobra.Command {
	o := benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench pull|gateway|all",
		Short: "Measure whole workloads against the built-in offline Amazon and compare them with spgate's stated limits",
		Long:  benchIntro + "\n\n" + benchPullLong + "\n\n" + benchGatewayLong + "\n\nbench all runs both.",
		Example: `  spgate bench pull
  spgate bench pull --orders 2000 --time-scale 2000 --json
  spgate bench gateway --duration 10s --concurrency 32
  spgate bench all`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("spgate bench %s: no such workload; use pull, gateway or all", args[0])
			}
			return c.Help()
		},
	}
	addPull := func(c *cobra.Command) {
		f := c.Flags()
		f.IntVar(&o.Orders, "orders", 20000, "orders of the one seller to pull")
		f.Float64Var(&o.TimeScale, "time-scale", 1000, "emulated time per real time; the client's pace is scaled alike")
		f.StringSliceVar(&o.PII, "pii", []string{"address"}, "personal data to pull with each order: address and/or buyer")
	}
	addGateway := func(c *cobra.Command) {
		f := c.Flags()
		f.DurationVar(&o.Duration, "duration", 5*time.Second, "how long the concurrent callers run for the throughput figure")
		f.IntVar(&o.Concurrency, "concurrency", 16, "concurrent callers for the throughput figure")
	}
	pull := &cobra.Command{
		Use:   "pull",
		Short: "Pull every order with addresses at Amazon's allowed rate (time-scaled) and compare with the rate limit",
		Long:  benchPullLong,
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runBench(c, streams, o, true, false)
		},
	}
	addPull(pull)
	gw := &cobra.Command{
		Use:   "gateway",
		Short: "Measure the latency the gateway adds, its throughput and memory",
		Long:  benchGatewayLong,
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runBench(c, streams, o, false, true)
		},
	}
	addGateway(gw)
	all := &cobra.Command{
		Use:   "all",
		Short: "Run the pull and the gateway workloads",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runBench(c, streams, o, true, true)
		},
	}
	addPull(all)
	addGateway(all)
	cmd.AddCommand(pull, gw, all)
	return cmd
}

// benchLimit is one measured number against a stated limit.
type benchLimit struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
	Limit float64 `json:"limit"`
	// AtLeast is true for a floor (value ≥ limit), false for a ceiling
	// (value < limit, or = 0 for a zero limit).
	AtLeast bool `json:"atLeast"`
	// Ratio is value ÷ limit; absent for a zero limit.
	Ratio *float64 `json:"ratio,omitempty"`
	OK    bool     `json:"ok"`
}

func newLimit(name, unit string, value, limit float64, atLeast bool) benchLimit {
	l := benchLimit{Name: name, Unit: unit, Value: value, Limit: limit, AtLeast: atLeast}
	if limit != 0 {
		r := value / limit
		l.Ratio = &r
	}
	switch {
	case atLeast:
		l.OK = value >= limit
	case limit == 0:
		l.OK = value <= 0
	default:
		l.OK = value < limit
	}
	return l
}

func (l benchLimit) String() string {
	mark := "✗"
	if l.OK {
		mark = "✓"
	}
	kind := "limit"
	if l.AtLeast {
		kind = "floor"
	}
	if l.Ratio == nil || l.Unit == "" {
		// A count against zero, or a number that is a ratio already.
		return fmt.Sprintf("%s %s %s (%s %s)", mark, l.Name, num(l.Value), kind, num(l.Limit))
	}
	return fmt.Sprintf("%s %s %s %s = %.2f of the %s %s %s", mark, l.Name, num(l.Value), l.Unit, *l.Ratio, num(l.Limit), l.Unit, kind)
}

// num prints whole numbers with thousands separators and others with
// three significant decimals.
func num(f float64) string {
	if f != math.Trunc(f) || math.Abs(f) >= 1e15 {
		return fmt.Sprintf("%.3f", f)
	}
	s := fmt.Sprintf("%.0f", math.Abs(f))
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if f < 0 {
		s = "-" + s
	}
	return s
}

// pullBench is the result of bench pull.
type pullBench struct {
	Orders             int64        `json:"orders"`
	OrdersWithAddress  int64        `json:"ordersWithAddress"`
	Pages              int64        `json:"pages"`
	TimeScale          float64      `json:"timeScale"`
	ElapsedSeconds     float64      `json:"elapsedSeconds"`
	Burst              int          `json:"burst"`
	Rate               float64      `json:"ratePerSecond"`
	AllowedPages       float64      `json:"allowedPages"`
	AchievedToAllowed  float64      `json:"achievedToAllowed"`
	Throttled          int64        `json:"throttled429"`
	LWATokenRequests   int64        `json:"lwaTokenRequests"`
	LWATokensPer1000   float64      `json:"lwaTokensPer1000Orders"`
	RDTRequests        int64        `json:"rdtRequests"`
	RDTsPer1000        float64      `json:"rdtsPer1000Orders"`
	LimiterWaits       int64        `json:"limiterWaits"`
	LimiterWaitSeconds float64      `json:"limiterWaitSeconds"`
	Limits             []benchLimit `json:"limits"`
}

// gatewayBench is the result of bench gateway.
type gatewayBench struct {
	Samples        int          `json:"sequentialSamplesPerPath"`
	DirectP50us    float64      `json:"directP50Micros"`
	DirectP99us    float64      `json:"directP99Micros"`
	GatewayP50us   float64      `json:"gatewayP50Micros"`
	GatewayP99us   float64      `json:"gatewayP99Micros"`
	AddedP50us     float64      `json:"addedP50Micros"`
	AddedP99us     float64      `json:"addedP99Micros"`
	Concurrency    int          `json:"concurrency"`
	DurationSec    float64      `json:"durationSeconds"`
	Requests       int64        `json:"requests"`
	Errors         int64        `json:"errors"`
	ReqPerSec      float64      `json:"requestsPerSecond"`
	HeapInuseBytes uint64       `json:"heapInuseBytes"`
	SysBytes       uint64       `json:"sysBytes"`
	Limits         []benchLimit `json:"limits"`
}

// benchReport is what bench prints with --json.
type benchReport struct {
	Pull    *pullBench    `json:"pull,omitempty"`
	Gateway *gatewayBench `json:"gateway,omitempty"`
}

func runBench(cmd *cobra.Command, streams IO, o benchOptions, pull, gw bool) error {
	ctx := cmd.Context()
	if pull && (o.Orders < 1 || o.TimeScale <= 0) {
		return usageErr("--orders must be at least 1 and --time-scale positive")
	}
	if gw && (o.Duration <= 0 || o.Concurrency < 1) {
		return usageErr("--duration must be positive and --concurrency at least 1")
	}
	var rep benchReport
	if pull {
		p, err := benchPull(ctx, cmd, o)
		if err != nil {
			return fmt.Errorf("bench pull: %w", err)
		}
		rep.Pull = &p
		if !jsonOut(cmd) {
			printPullBench(streams.Out, p)
		}
	}
	if gw {
		g, err := benchGateway(ctx, cmd, o)
		if err != nil {
			return fmt.Errorf("bench gateway: %w", err)
		}
		rep.Gateway = &g
		if !jsonOut(cmd) {
			if pull {
				fmt.Fprintln(streams.Out)
			}
			printGatewayBench(streams.Out, g)
		}
	}
	if jsonOut(cmd) {
		return printJSON(streams.Out, rep)
	}
	return nil
}

// benchEnv is the offline Amazon and a temporary vault holding its demo
// app and sellers, as spgate demo builds them.
type benchEnv struct {
	srv   *amazontest.Server
	ep    spapi.Endpoints
	v     *vault.Vault
	app   vault.App
	close func()
}

func newBenchEnv(ctx context.Context, cfg amazontest.Config) (*benchEnv, error) {
	srv, _, ep, stop, err := startOfflineAmazon(cfg)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "spgate-bench-")
	if err != nil {
		stop()
		return nil, fmt.Errorf("make a temporary directory: %w", err)
	}
	v, _, app, err := newDemoVault(ctx, filepath.Join(dir, "vault.db"), srv.Demo(), "bench")
	if err != nil {
		stop()
		os.RemoveAll(dir)
		return nil, err
	}
	return &benchEnv{srv: srv, ep: ep, v: v, app: app, close: func() {
		stop()
		v.Close()
		os.RemoveAll(dir)
	}}, nil
}

func benchPull(ctx context.Context, cmd *cobra.Command, o benchOptions) (pullBench, error) {
	pii, err := piiFor(ordersV0, o.PII)
	if err != nil {
		return pullBench{}, usageErr("%v", err)
	}
	op, ok := operations.ByID("orders", "v0", "getOrders")
	if !ok {
		return pullBench{}, errors.New("getOrders is missing from the operations table; regenerate it with go generate ./operations")
	}
	e, err := newBenchEnv(ctx, amazontest.Config{Seed: 1, OrdersPerSeller: o.Orders, Sellers: 1,
		TimeScale: o.TimeScale, TokenLifetime: 24 * time.Hour})
	if err != nil {
		return pullBench{}, err
	}
	defer e.close()
	// The client as spgate orders pull builds it, paced from the rate
	// table at the emulator's time scale.
	c, err := spapi.New(spapi.Config{
		AppID:       e.app.AppID,
		Credentials: vaultCredentials{v: e.v, app: e.app.Name},
		Sellers:     vaultSellers{v: e.v, app: e.app.Name},
		Endpoints:   e.ep,
		Limiter:     ratelimit.New(ratelimit.Options{RateScale: o.TimeScale, Headroom: 1, Logger: logger(cmd)}),
		UserAgent:   "spgate/" + buildVersion() + " (Language=Go)",
		Logger:      logger(cmd),
	})
	if err != nil {
		return pullBench{}, err
	}
	d := e.srv.Demo()
	q := orders.Query{Seller: d.SellerID, MarketplaceIDs: d.Marketplaces,
		CreatedAfter: e.srv.Now().AddDate(0, 0, -120), PII: pii}
	var r pullBench
	start := time.Now()
	for ord, err := range orders.New(c).ListOrders(ctx, q) {
		if err != nil {
			return pullBench{}, fmt.Errorf("after %d orders: %w", r.Orders, err)
		}
		r.Orders++
		if ord.ShippingAddress != nil && ord.ShippingAddress.AddressLine1 != "" {
			r.OrdersWithAddress++
		}
	}
	elapsed := time.Since(start)
	ac := e.srv.Counters()
	st := c.Stats()
	r.Pages = ac.Calls[getOrdersOperation] - ac.Throttled[getOrdersOperation]
	r.TimeScale = o.TimeScale
	r.ElapsedSeconds = elapsed.Seconds()
	r.Burst, r.Rate = op.Burst, op.Rate
	// Amazon's bucket allows its burst at once, then rate × scale per second.
	r.AllowedPages = float64(op.Burst) + op.Rate*o.TimeScale*elapsed.Seconds()
	r.AchievedToAllowed = float64(r.Pages) / r.AllowedPages
	r.Throttled = ac.TotalThrottled
	for _, n := range ac.TokensIssued {
		r.LWATokenRequests += n
	}
	r.RDTRequests = ac.RDTsIssued
	if r.Orders > 0 {
		r.LWATokensPer1000 = float64(r.LWATokenRequests) * 1000 / float64(r.Orders)
		r.RDTsPer1000 = float64(r.RDTRequests) * 1000 / float64(r.Orders)
	}
	r.LimiterWaits, r.LimiterWaitSeconds = st.LimiterWaits, st.LimiterWait.Seconds()
	r.Limits = []benchLimit{
		newLimit("achieved/allowed pages", "", r.AchievedToAllowed, pullMinRatio, true),
		newLimit("429s", "", float64(r.Throttled), 0, false),
	}
	return r, nil
}

func printPullBench(w io.Writer, r pullBench) {
	fmt.Fprintf(w, "pull: %d orders (%d with address) in %d pages, %.2f s at time scale %g\n",
		r.Orders, r.OrdersWithAddress, r.Pages, r.ElapsedSeconds, r.TimeScale)
	fmt.Fprintf(w, "  %-16s %.1f (burst %d + %g/s × %g × %.2f s); achieved %.3f of it\n",
		"allowed pages", r.AllowedPages, r.Burst, r.Rate, r.TimeScale, r.ElapsedSeconds, r.AchievedToAllowed)
	fmt.Fprintf(w, "  %-16s %.2f per 1,000 orders (%d)\n", "LWA tokens", r.LWATokensPer1000, r.LWATokenRequests)
	fmt.Fprintf(w, "  %-16s %.2f per 1,000 orders (%d)\n", "RDTs", r.RDTsPer1000, r.RDTRequests)
	fmt.Fprintf(w, "  %-16s %d (%.2f s in all)\n", "limiter waits", r.LimiterWaits, r.LimiterWaitSeconds)
	for _, l := range r.Limits {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

func benchGateway(ctx context.Context, cmd *cobra.Command, o benchOptions) (gatewayBench, error) {
	e, err := newBenchEnv(ctx, amazontest.Config{Seed: 1, OrdersPerSeller: 10, Sellers: 1,
		TokenLifetime: 24 * time.Hour, NoRateLimits: true})
	if err != nil {
		return gatewayBench{}, err
	}
	defer e.close()
	log := logger(cmd)
	creds := vaultCredentials{v: e.v, app: e.app.Name}
	// The gateway as spgate serve --unlimited builds it, minus the audit
	// file (the call returns no personal data).
	metrics := gateway.NewMetrics()
	limiter := ratelimit.New(ratelimit.Options{Store: metrics.InstrumentStore(ratelimit.Unlimited{}), Logger: log, Headroom: 1})
	client, err := spapi.New(spapi.Config{
		AppID: e.app.AppID, Credentials: creds,
		Sellers:   gateway.CachedSellers(vaultSellers{v: e.v, app: e.app.Name}, nil, 30*time.Second),
		Endpoints: e.ep, Limiter: limiter, Logger: log,
		UserAgent: "spgate/" + buildVersion() + " (Language=Go)",
	})
	if err != nil {
		return gatewayBench{}, err
	}
	metrics.WatchClient(client)
	gw, err := gateway.New(gateway.Config{Client: client, AppID: e.app.AppID, Directory: e.v, Access: e.v, Metrics: metrics, Logger: log})
	if err != nil {
		return gatewayBench{}, err
	}
	defer gw.Close()
	key, err := e.v.CreateClient(ctx, vault.Client{Name: "bench", Sellers: []string{"*"}, Operations: []string{"*"}})
	if err != nil {
		return gatewayBench{}, fmt.Errorf("create the benchmark's client key: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return gatewayBench{}, fmt.Errorf("listen on loopback: %w", err)
	}
	gwURL := "http://" + ln.Addr().String()
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() {
		served <- gateway.Serve(sctx, ln, gw, gateway.ServeOptions{Logger: log, DrainTimeout: 5 * time.Second})
	}()
	defer func() {
		stop()
		<-served
	}()

	// The direct path: the same call with an access token fetched once.
	d := e.srv.Demo()
	seller := d.Sellers[0]
	tok, err := lwa.NewRefreshTokenSource(client.LWA(), creds, secret.New(seller.RefreshToken)).Token(ctx)
	if err != nil {
		return gatewayBench{}, fmt.Errorf("get an access token from the offline Amazon: %w", err)
	}
	directURL := e.ep.SPAPI(spapi.Region(seller.Region)).String() + participationsPath
	ht := http.DefaultTransport.(*http.Transport).Clone()
	ht.MaxIdleConnsPerHost = max(64, 2*o.Concurrency)
	defer ht.CloseIdleConnections()
	hc := &http.Client{Transport: ht, Timeout: 30 * time.Second}
	direct := func(ctx context.Context) (*http.Request, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, directURL, nil)
		if err == nil {
			r.Header.Set("x-amz-access-token", tok.AccessToken.Reveal())
		}
		return r, err
	}
	via := func(ctx context.Context) (*http.Request, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, gwURL+participationsPath, nil)
		if err == nil {
			r.Header.Set("Authorization", "Bearer "+key.Reveal())
			r.Header.Set(gateway.HeaderSeller, seller.ID)
		}
		return r, err
	}
	call := func(ctx context.Context, mk func(context.Context) (*http.Request, error)) error {
		r, err := mk(ctx)
		if err != nil {
			return err
		}
		resp, err := hc.Do(r)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %s", r.URL.Host, resp.Status)
		}
		return nil
	}
	sample := func(mk func(context.Context) (*http.Request, error), n int) ([]time.Duration, error) {
		out := make([]time.Duration, n)
		for i := range out {
			t0 := time.Now()
			if err := call(ctx, mk); err != nil {
				return nil, err
			}
			out[i] = time.Since(t0)
		}
		return out, nil
	}

	// Warm connections and caches, then sample both paths interleaved in
	// rounds so background noise hits both alike.
	var directD, viaD []time.Duration
	for i, n := range []int{gatewayWarmup, gatewaySamples / 4, gatewaySamples / 4, gatewaySamples / 4, gatewaySamples / 4} {
		a, err := sample(direct, n)
		if err != nil {
			return gatewayBench{}, fmt.Errorf("direct call: %w", err)
		}
		b, err := sample(via, n)
		if err != nil {
			return gatewayBench{}, fmt.Errorf("call through the gateway: %w", err)
		}
		if i > 0 {
			directD, viaD = append(directD, a...), append(viaD, b...)
		}
	}
	slices.Sort(directD)
	slices.Sort(viaD)
	var r gatewayBench
	r.Samples = len(viaD)
	r.DirectP50us, r.DirectP99us = micros(pct(directD, 0.5)), micros(pct(directD, 0.99))
	r.GatewayP50us, r.GatewayP99us = micros(pct(viaD, 0.5)), micros(pct(viaD, 0.99))
	r.AddedP50us, r.AddedP99us = r.GatewayP50us-r.DirectP50us, r.GatewayP99us-r.DirectP99us

	// Throughput: concurrent callers through the gateway.
	var okN, errN atomic.Int64
	var firstErr error
	var once sync.Once
	lctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var wg sync.WaitGroup
	t0 := time.Now()
	for range o.Concurrency {
		wg.Go(func() {
			for lctx.Err() == nil {
				if err := call(lctx, via); err != nil {
					if lctx.Err() != nil {
						return
					}
					errN.Add(1)
					once.Do(func() { firstErr = err })
					continue
				}
				okN.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if err := ctx.Err(); err != nil {
		return gatewayBench{}, err
	}
	if okN.Load() == 0 {
		return gatewayBench{}, fmt.Errorf("no call through the gateway succeeded under load: %w", firstErr)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.Concurrency, r.DurationSec = o.Concurrency, elapsed.Seconds()
	r.Requests, r.Errors = okN.Load(), errN.Load()
	r.ReqPerSec = float64(r.Requests) / elapsed.Seconds()
	r.HeapInuseBytes, r.SysBytes = ms.HeapInuse, ms.Sys
	r.Limits = []benchLimit{
		newLimit("added p50", "µs", r.AddedP50us, gatewayMaxAddedP50, false),
		newLimit("added p99", "µs", r.AddedP99us, gatewayMaxAddedP99, false),
		newLimit("throughput", "req/s", math.Round(r.ReqPerSec), gatewayMinReqPerSec, true),
	}
	return r, nil
}

func pct(d []time.Duration, p float64) time.Duration { return d[int(float64(len(d)-1)*p)] }

func micros(d time.Duration) float64 { return float64(d.Microseconds()) }

func printGatewayBench(w io.Writer, r gatewayBench) {
	fmt.Fprintf(w, "gateway: %d sequential calls per path, then %d callers for %.1f s\n", r.Samples, r.Concurrency, r.DurationSec)
	fmt.Fprintf(w, "  %-12s %10s %10s\n", "", "p50", "p99")
	for _, row := range []struct {
		name     string
		p50, p99 float64
	}{{"direct", r.DirectP50us, r.DirectP99us}, {"via gateway", r.GatewayP50us, r.GatewayP99us}, {"added", r.AddedP50us, r.AddedP99us}} {
		fmt.Fprintf(w, "  %-12s %7.0f µs %7.0f µs\n", row.name, row.p50, row.p99)
	}
	fmt.Fprintf(w, "  %-12s %s req/s (%s calls, %d errors)\n", "throughput", num(math.Round(r.ReqPerSec)), num(float64(r.Requests)), r.Errors)
	fmt.Fprintf(w, "  %-12s HeapInuse %.1f MiB, Sys %.1f MiB (the whole process: gateway, emulator and load generator)\n",
		"memory", float64(r.HeapInuseBytes)/(1<<20), float64(r.SysBytes)/(1<<20))
	for _, l := range r.Limits {
		fmt.Fprintf(w, "  %s\n", l)
	}
}
