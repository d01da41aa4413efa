package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/ratelimit"
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
	Samples     int
	Nginx       string
}

// The help texts: what each workload measures and why the limits.
const (
	benchIntro = `bench runs whole workloads offline (the built-in offline Amazon on loopback, a
temporary vault, no account, no network) and reports each number as a ratio
of the limit spgate promises, with ✓ or ✗ next to it. Benchmarks report, they
do not judge: the exit code is 0 unless a workload itself failed.`
	benchPullLong = `bench pull pulls every order with shipping addresses through Orders v0
(getOrders with a Restricted Data Token) from one seller as spgate orders pull
does: the rate-limit buckets in the vault, Amazon's token lifetimes (access
tokens and RDTs live an hour of the emulator's time). The emulator's clock
runs --time-scale times faster, and the client's pace and token refresh
margins are scaled alike. Amazon allows burst + rate × elapsed getOrders
pages; a client that waits too little gets 429s, one that waits too much is
slow. Limits: achieved ÷ allowed pages ≥ 0.95 and no 429 at all. It also
reports LWA token and RDT requests per emulated hour (tokens are cached and
shared, so about one of each an hour: more means a token is fetched before
it is due) and how many calls the rate limiter made wait, and for how long.
A pull of a few pages is mostly burst, so the ratio says most over hundreds
of pages (the default: 200, three emulated hours).`
	benchGatewayLong = `bench gateway measures what spgate serve adds to a call, as users run it:
spgate serve as a separate process of this binary with its default
configuration (rate limits shared through the vault, the audit log, and
the default log level: warnings only, no line per request), a second one with --shared-limits=false (buckets in
memory), and, when nginx is installed, nginx as a plain reverse proxy to the
same emulator (keep-alive pool of 64, a fixed access-token header, an access
log line per request) for comparison. The emulator runs in this process with
its limits lifted; its x-amzn-RateLimit-Limit header reports 10,000 calls/s,
the most spgate adopts, so serve's buckets never pace the load spread over
four sellers. The load generator writes prepared HTTP/1.1 requests on
keep-alive connections, as wrk does.

It times the same call (GET /sellers/v1/marketplaceParticipations)
sequentially on every path, in interleaved rounds so noise falls on all of
them alike: p50 and p99, and what each server adds to the direct call. Then
--concurrency connections run for --duration on each path in turn for
throughput, and each server's resident memory (VmRSS, and its peak VmHWM) is
read after its run. Limits: added p50 < 200 µs and p99 < 2 ms, so the gateway
is invisible next to Amazon's own latency (tens of milliseconds), ≥ 10,000
req/s, far above what any seller's rate limits let through, and with nginx,
added p50 at most twice nginx's.`
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
  spgate bench gateway --nginx off --json
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
		f.DurationVar(&o.Duration, "duration", 5*time.Second, "how long the concurrent connections run on each path for the throughput figure")
		f.IntVar(&o.Concurrency, "concurrency", 16, "concurrent keep-alive connections for the throughput figure")
		f.IntVar(&o.Samples, "samples", gatewaySamples, "sequential calls per path for the latency figures")
		f.StringVar(&o.Nginx, "nginx", "auto", "nginx binary for the comparison row: auto looks on PATH and in /usr/sbin, off leaves the row out")
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
	Orders            int64   `json:"orders"`
	OrdersWithAddress int64   `json:"ordersWithAddress"`
	Pages             int64   `json:"pages"`
	TimeScale         float64 `json:"timeScale"`
	ElapsedSeconds    float64 `json:"elapsedSeconds"`
	// EmulatedHours is the pull's duration on the emulator's clock.
	EmulatedHours     float64 `json:"emulatedHours"`
	Burst             int     `json:"burst"`
	Rate              float64 `json:"ratePerSecond"`
	AllowedPages      float64 `json:"allowedPages"`
	AchievedToAllowed float64 `json:"achievedToAllowed"`
	Throttled         int64   `json:"throttled429"`
	// Sellers is how many sellers were pulled (one); the per-hour figures
	// are per seller.
	Sellers          int     `json:"sellers"`
	LWATokenRequests int64   `json:"lwaTokenRequests"`
	LWATokensPerHour float64 `json:"lwaTokensPerEmulatedHourPerSeller"`
	RDTRequests      int64   `json:"rdtRequests"`
	RDTsPerHour      float64 `json:"rdtsPerEmulatedHourPerSeller"`
	// Calls is every SP-API call the client made; LimiterWaits those the
	// rate limiter made wait for a slot, LimiterWaitSeconds how long it
	// told them to wait in all.
	Calls              int64   `json:"calls"`
	LimiterWaits       int64   `json:"limiterWaits"`
	LimiterWaitSeconds float64 `json:"limiterWaitSeconds"`
	// TokenRetries counts calls sent again with a new token because the
	// emulator refused theirs as expired: the client's token was due
	// sooner than its refresh margin (a machine slower than the time scale).
	TokenRetries int64        `json:"tokenRetries"`
	Limits       []benchLimit `json:"limits"`
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
	if gw && (o.Duration <= 0 || o.Concurrency < 1 || o.Samples < 1) {
		return usageErr("--duration must be positive, --concurrency and --samples at least 1")
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
	// Amazon's token lifetimes: the emulator's default hour, on its clock.
	e, err := newBenchEnv(ctx, amazontest.Config{Seed: 1, OrdersPerSeller: o.Orders, Sellers: 1, TimeScale: o.TimeScale})
	if err != nil {
		return pullBench{}, err
	}
	defer e.close()
	// The client as spgate orders pull builds it (clientForApp): buckets in
	// the vault, one token of headroom. Its clock is the emulator's, so it
	// sees a token's hour pass and refreshes it when it is due, and its
	// limiter paces at the emulator's time scale.
	log := logger(cmd)
	limiter := ratelimit.New(ratelimit.Options{Store: e.v.RateLimitStore(log), RateScale: o.TimeScale, Headroom: 1, Logger: log})
	c, err := spapi.New(spapi.Config{
		AppID:       e.app.AppID,
		Credentials: vaultCredentials{v: e.v, app: e.app.Name},
		Sellers:     vaultSellers{v: e.v, app: e.app.Name},
		Endpoints:   e.ep,
		Limiter:     limiter,
		Clock:       newEmulatorClock(e.srv, o.TimeScale),
		UserAgent:   "spgate/" + buildVersion() + " (Language=Go)",
		Logger:      log,
	})
	if err != nil {
		return pullBench{}, err
	}
	d := e.srv.Demo()
	q := orders.Query{Seller: d.SellerID, MarketplaceIDs: d.Marketplaces,
		CreatedAfter: e.srv.Now().AddDate(0, 0, -120), PII: pii}
	var r pullBench
	start, emuStart := time.Now(), e.srv.Now()
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
	r.Pages = ac.Calls[getOrdersOperation] - ac.Throttled[getOrdersOperation]
	r.TimeScale = o.TimeScale
	r.ElapsedSeconds = elapsed.Seconds()
	r.EmulatedHours = e.srv.Now().Sub(emuStart).Hours()
	r.Burst, r.Rate = op.Burst, op.Rate
	// Amazon's bucket allows its burst at once, then rate × scale per second.
	r.AllowedPages = float64(op.Burst) + op.Rate*o.TimeScale*elapsed.Seconds()
	r.AchievedToAllowed = float64(r.Pages) / r.AllowedPages
	r.Throttled = ac.TotalThrottled
	for _, n := range ac.TokensIssued {
		r.LWATokenRequests += n
	}
	r.RDTRequests = ac.RDTsIssued
	r.Sellers = 1
	if r.EmulatedHours > 0 {
		r.LWATokensPerHour = float64(r.LWATokenRequests) / r.EmulatedHours / float64(r.Sellers)
		r.RDTsPerHour = float64(r.RDTRequests) / r.EmulatedHours / float64(r.Sellers)
	}
	ls := limiter.Stats()
	st := c.Stats()
	r.Calls, r.TokenRetries = st.Calls, st.TokenRetries
	r.LimiterWaits, r.LimiterWaitSeconds = ls.Waits, ls.WaitTime.Seconds()
	r.Limits = []benchLimit{
		newLimit("achieved/allowed pages", "", r.AchievedToAllowed, pullMinRatio, true),
		newLimit("429s", "", float64(r.Throttled), 0, false),
	}
	return r, nil
}

// emulatorClock reads the emulator's time, which runs scale times faster
// than real time, and scales timers alike. It starts a hair behind the
// emulator's clock, never ahead of it.
type emulatorClock struct {
	base, start time.Time
	scale       float64
}

func newEmulatorClock(srv *amazontest.Server, scale float64) *emulatorClock {
	return &emulatorClock{base: srv.Now(), start: time.Now(), scale: scale}
}

func (c *emulatorClock) Now() time.Time {
	return c.base.Add(time.Duration(float64(time.Since(c.start)) * c.scale))
}

func (c *emulatorClock) NewTimer(d time.Duration) clock.Timer {
	return clock.Real{}.NewTimer(time.Duration(float64(d) / c.scale))
}

func printPullBench(w io.Writer, r pullBench) {
	fmt.Fprintf(w, "pull: %d orders (%d with address) in %d pages, %.2f s at time scale %g (%.2f emulated hours)\n",
		r.Orders, r.OrdersWithAddress, r.Pages, r.ElapsedSeconds, r.TimeScale, r.EmulatedHours)
	fmt.Fprintf(w, "  %-16s %.1f (burst %d + %g/s × %g × %.2f s); achieved %.3f of it\n",
		"allowed pages", r.AllowedPages, r.Burst, r.Rate, r.TimeScale, r.ElapsedSeconds, r.AchievedToAllowed)
	fmt.Fprintf(w, "  %-16s %.2f per emulated hour per seller (%d in all; a token lives an hour)\n", "LWA tokens", r.LWATokensPerHour, r.LWATokenRequests)
	fmt.Fprintf(w, "  %-16s %.2f per emulated hour per seller (%d in all; an RDT lives an hour)\n", "RDTs", r.RDTsPerHour, r.RDTRequests)
	fmt.Fprintf(w, "  %-16s %d of %d calls waited for a slot, %.2f s in all\n", "rate limiter", r.LimiterWaits, r.Calls, r.LimiterWaitSeconds)
	if r.TokenRetries > 0 {
		fmt.Fprintf(w, "  %-16s %d calls sent again with a new token after theirs expired on the way (the machine is slow for this time scale)\n", "token retries", r.TokenRetries)
	}
	for _, l := range r.Limits {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

func pct(d []time.Duration, p float64) time.Duration { return d[int(float64(len(d)-1)*p)] }

func micros(d time.Duration) float64 { return float64(d.Microseconds()) }
