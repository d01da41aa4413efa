package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/internal/benchmark"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newBenchCmd) }

// benchExecutable is the spgate binary bench gateway runs as `spgate
// serve`; tests point it at the test binary.
var benchExecutable = os.Executable

// participationsPath is the call bench gateway times; the replicas test
// calls it too.
const participationsPath = benchmark.ParticipationsPath

// benchOptions are the flags of spgate bench and what the command takes
// from its surroundings, injected so that tests run it without cobra.
type benchOptions struct {
	Orders      int
	TimeScale   float64
	PII         []string
	Duration    time.Duration
	Concurrency int
	Samples     int
	Nginx       string
	CPUProfile  string // a folder for the serve processes' CPU profiles
	Postgres    string // --postgres: a DSN, "off", or "" for the environment's

	// Pull and Gateway say which workloads run.
	Pull, Gateway bool

	IO     IO
	JSON   bool // --json
	Logger *slog.Logger
	// Executable finds the spgate binary the gateway workload serves with.
	Executable func() (string, error)
	RunPull    func(context.Context, benchmark.PullOptions) (benchmark.PullReport, error)
	RunGateway func(context.Context, benchmark.GatewayOptions) (benchmark.GatewayReport, error)
}

// benchReport is what bench prints with --json.
type benchReport struct {
	Pull    *benchmark.PullReport    `json:"pull,omitempty"`
	Gateway *benchmark.GatewayReport `json:"gateway,omitempty"`
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
added p50 at most twice nginx's.

With a PostgreSQL server (--postgres, else $SPGATE_BENCH_POSTGRES, else
$SPGATE_TEST_POSTGRES), one more spgate serve runs on a copy of the vault in
a schema of its own there (dropped at the end), its rate-limit buckets
shared through PostgreSQL as replicas share them. Limits for that row:
added p50 < 1 ms, p99 < 5 ms and ≥ 2,000 req/s, with its ratios to the
default row; without a server the row is left out with a note.`
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
	verb := func(use, short, long string, pull, gw bool) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Long: long, Args: cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				o.Pull, o.Gateway = pull, gw
				o.IO, o.JSON, o.Logger, o.Executable = streams, jsonOut(c), logger(c), benchExecutable
				o.RunPull, o.RunGateway = benchmark.Pull, benchmark.Gateway
				return runBench(c.Context(), &o)
			}}
		f := c.Flags()
		if pull {
			f.IntVar(&o.Orders, "orders", 20000, "orders of the one seller to pull")
			f.Float64Var(&o.TimeScale, "time-scale", 1000, "emulated time per real time; the client's pace is scaled alike")
			f.StringSliceVar(&o.PII, "pii", []string{"address"}, "personal data to pull with each order: address and/or buyer")
		}
		if gw {
			f.DurationVar(&o.Duration, "duration", 5*time.Second, "how long the concurrent connections run on each path for the throughput figure")
			f.IntVar(&o.Concurrency, "concurrency", 16, "concurrent keep-alive connections for the throughput figure")
			f.IntVar(&o.Samples, "samples", benchmark.GatewaySamples, "sequential calls per path for the latency figures")
			f.StringVar(&o.Nginx, "nginx", "auto", "nginx binary for the comparison row: auto looks on PATH and in /usr/sbin, off leaves the row out")
			f.StringVar(&o.Postgres, "postgres", "", "PostgreSQL server (postgres://… DSN of a user who may create schemas) for the row with the vault in PostgreSQL; default $"+envBenchPostgres+", else $SPGATE_TEST_POSTGRES; off leaves the row out")
			f.StringVar(&o.CPUProfile, "cpuprofile", "", "write each spgate serve process's CPU profile (pprof) to this folder: serve-<store>.pprof, read with go tool pprof")
		}
		return c
	}
	cmd.AddCommand(
		verb("pull", "Pull every order with addresses at Amazon's allowed rate (time-scaled) and compare with the rate limit", benchPullLong, true, false),
		verb("gateway", "Measure the latency the gateway adds, its throughput and memory", benchGatewayLong, false, true),
		verb("all", "Run the pull and the gateway workloads", "", true, true),
	)
	return cmd
}

// envBenchPostgres names the PostgreSQL server of bench gateway's
// PostgreSQL row when --postgres is not given.
const envBenchPostgres = "SPGATE_BENCH_POSTGRES"

// benchPostgres resolves --postgres: the flag, else $SPGATE_BENCH_POSTGRES,
// else $SPGATE_TEST_POSTGRES (the tests' server); "off" is none.
func benchPostgres(flag string) string {
	dsn := flag
	for _, env := range []string{envBenchPostgres, pgtestEnv} {
		if dsn == "" {
			dsn = os.Getenv(env)
		}
	}
	if dsn == "off" {
		return ""
	}
	return dsn
}

// pgtestEnv is the PostgreSQL server the tests use (internal/pgtest).
const pgtestEnv = "SPGATE_TEST_POSTGRES"

func runBench(ctx context.Context, o *benchOptions) error {
	if o.Pull && (o.Orders < 1 || o.TimeScale <= 0) {
		return usageErr("--orders must be at least 1 and --time-scale positive")
	}
	if o.Gateway && (o.Duration <= 0 || o.Concurrency < 1 || o.Samples < 1) {
		return usageErr("--duration must be positive, --concurrency and --samples at least 1")
	}
	if o.Gateway && o.Postgres != "" && o.Postgres != "off" && !vault.IsPostgresDSN(o.Postgres) {
		return usageErr("--postgres takes a postgres://… DSN, or off")
	}
	pii, err := piiFor(ordersV0, o.PII)
	if o.Pull && err != nil {
		return usageErr("%v", err)
	}
	var rep benchReport
	if o.Pull {
		p, err := o.RunPull(ctx, benchmark.PullOptions{Orders: o.Orders, TimeScale: o.TimeScale, PII: pii,
			UserAgent: "spgate/" + buildVersion() + " (Language=Go)", Logger: o.Logger})
		if err != nil {
			return fmt.Errorf("bench pull: %w", err)
		}
		rep.Pull = &p
		if !o.JSON {
			p.WriteText(o.IO.Out)
		}
	}
	if o.Gateway {
		bin, err := o.Executable()
		if err != nil {
			return fmt.Errorf("bench gateway: find the spgate binary to run spgate serve: %w", err)
		}
		g, err := o.RunGateway(ctx, benchmark.GatewayOptions{Executable: bin, Samples: o.Samples,
			Concurrency: o.Concurrency, Duration: o.Duration, Nginx: o.Nginx, CPUProfileDir: o.CPUProfile,
			Postgres: benchPostgres(o.Postgres)})
		if err != nil {
			return fmt.Errorf("bench gateway: %w", err)
		}
		rep.Gateway = &g
		if !o.JSON {
			if o.Pull {
				fmt.Fprintln(o.IO.Out)
			}
			g.WriteText(o.IO.Out)
		}
	}
	if o.JSON {
		return printJSON(o.IO.Out, rep)
	}
	return nil
}
