package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/internal/demo"
	"github.com/spgate/spgate/internal/progress"
	"github.com/spgate/spgate/orderpull"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newDemoCmd) }

// demoOptions are the flags of spgate demo and what the command takes from
// its surroundings, injected so that tests run it without cobra.
type demoOptions struct {
	Keep      string
	Orders    int
	TimeScale float64
	// Console (--console[=ADDR]) serves the gateway and the admin console
	// on the demo vault until Ctrl-C instead of pulling orders;
	// TimeScaleSet says --time-scale was given (else the clock runs at 1x).
	Console      string
	TimeScaleSet bool

	IO   IO
	JSON bool // --json
	// NewClient builds the demo app's SP-API client as every verb does;
	// Doctor runs spgate doctor's checks.
	NewClient func(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) (*spapi.Client, error)
	Doctor    func(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) ([]doctor.Check, error)
}

func newDemoCmd(streams IO) *cobra.Command {
	o := demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run spgate end to end against the built-in offline Amazon (no account, no network)",
		Long: `demo starts the offline Amazon on loopback, puts its demo app and sellers in a
temporary vault, runs spgate doctor, and pulls every seller's orders with
shipping addresses into JSONL files — the same code paths as against Amazon,
with the emulator's clock sped up so it finishes in seconds. It prints what
happened: the checks, the orders, the tokens and Restricted Data Tokens it
requested, and how long it waited for rate limits.

Everything is deleted afterwards unless --keep DIR is given.

With --console it pulls nothing: it serves the gateway and the admin web
console (spgate serve --console) on the demo vault, prints the console's
one-time sign-in link, and runs until Ctrl-C.`,
		Example: `  spgate demo
  spgate demo --keep ./spgate-demo
  spgate demo --console
  spgate demo --console=127.0.0.1:9090 --keep ./spgate-demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO, o.JSON = streams, jsonOut(cmd)
			o.NewClient = func(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) (*spapi.Client, error) {
				return clientForApp(ctx, cmd, v, app, ep)
			}
			o.Doctor = func(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) ([]doctor.Check, error) {
				return newEnv(cmd, streams).doctorChecks(ctx, v, app, ep, "")
			}
			if cmd.Flags().Changed("console") {
				o.TimeScaleSet = cmd.Flags().Changed("time-scale")
				return runDemoConsole(cmd.Context(), &o)
			}
			return runDemo(cmd.Context(), &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Keep, "keep", "", "keep the vault, its key and the order files in this directory")
	f.IntVar(&o.Orders, "orders", 150, "orders per demo seller")
	f.Float64Var(&o.TimeScale, "time-scale", 600, "emulated time per real time (600: an Amazon hour passes in 6 seconds); with --console 1 unless given")
	f.StringVar(&o.Console, "console", "", "serve the gateway and the admin console on the demo vault until Ctrl-C, the console on this loopback address (--console alone: "+demoConsoleAddr+")")
	f.Lookup("console").NoOptDefVal = demoConsoleAddr
	return cmd
}

// demoSummary is what the demo prints with --json.
type demoSummary struct {
	Dir          string         `json:"dir"`
	Kept         bool           `json:"kept"`
	Checks       []doctor.Check `json:"checks"`
	Files        []demoFile     `json:"files"`
	Orders       int64          `json:"orders"`
	WithAddress  int64          `json:"ordersWithFullAddress"`
	LWATokens    int64          `json:"lwaTokensRequested"`
	RDTs         int64          `json:"restrictedDataTokensRequested"`
	Calls        int64          `json:"spapiCalls"`
	RateWaits    int64          `json:"rateLimitWaits"`
	RateWaitTime string         `json:"rateLimitWaitTime"`
	Throttled    int64          `json:"throttled"`
	Elapsed      string         `json:"elapsed"`
}

// demoFile is one seller's order file.
type demoFile struct {
	Seller string `json:"seller"`
	Region string `json:"region"`
	Path   string `json:"path"`
	Orders int64  `json:"orders"`
}

// say prints a line of the human form (nothing with --json).
func (o *demoOptions) say(format string, a ...any) {
	if !o.JSON {
		fmt.Fprintf(o.IO.Out, format+"\n", a...)
	}
}

func runDemo(ctx context.Context, o *demoOptions) error {
	began := time.Now()
	if o.Orders < 1 || o.TimeScale <= 0 {
		return usageErr("--orders must be at least 1 and --time-scale positive")
	}
	e, err := demo.Start(ctx, demo.Options{Dir: o.Keep, Actor: "demo",
		Amazon: amazontest.Config{Seed: 1, OrdersPerSeller: o.Orders, Sellers: 3, TimeScale: o.TimeScale, TokenLifetime: 12 * time.Hour}})
	if err != nil {
		if o.Keep != "" {
			err = fmt.Errorf("--keep %s: %w (use an empty directory)", o.Keep, err)
		}
		return err
	}
	defer e.Close()
	if o.Keep != "" {
		if err := e.SaveKey(filepath.Join(e.Dir, "master.key")); err != nil {
			return err
		}
	}
	srv := e.Amazon
	o.say("offline Amazon listening on %s (NA), %s (EU), %s (FE); its clock runs %gx",
		srv.RegionURL(amazontest.RegionNA), srv.RegionURL(amazontest.RegionEU), srv.RegionURL(amazontest.RegionFE), o.TimeScale)
	o.say("vault %s: app %q (%s) with %d authorized sellers", e.VaultPath, e.App.Name, e.App.AppID, len(e.Fixture.Sellers))
	sum := demoSummary{Dir: e.Dir, Kept: o.Keep != ""}
	if sum.Checks, err = o.doctor(ctx, e); err != nil {
		return err
	}
	c, err := o.NewClient(ctx, e.Vault, e.App, e.Endpoints)
	if err != nil {
		return err
	}
	if err := o.pull(ctx, e, c, &sum); err != nil {
		return err
	}
	sum.count(srv.Counters(), c.Stats())
	sum.Elapsed = time.Since(began).Round(time.Millisecond).String()
	if o.JSON {
		return printJSON(o.IO.Out, sum)
	}
	o.printSummary(sum, e.VaultPath)
	return nil
}

// doctor runs and prints spgate doctor's checks against the emulator; a
// failure is a bug.
func (o *demoOptions) doctor(ctx context.Context, e *demo.Env) ([]doctor.Check, error) {
	checks, err := o.Doctor(ctx, e.Vault, e.App, e.Endpoints)
	if err != nil {
		return nil, err
	}
	o.say("\n$ spgate doctor")
	if !o.JSON {
		if err := printChecks(o.IO.Out, checks, false); err != nil {
			return nil, err
		}
	}
	if doctor.Worst(checks) == doctor.Fail {
		return nil, &ExitError{Code: ExitFailure, Err: errors.New("demo: doctor found failures against the offline Amazon; this is a bug, please report it")}
	}
	return checks, nil
}

// pull pulls every seller's orders with addresses into a file of its own.
func (o *demoOptions) pull(ctx context.Context, e *demo.Env, c *spapi.Client, sum *demoSummary) error {
	o.say("\n$ spgate orders pull --since 100d --pii address --out orders-<seller>.jsonl   (each seller)")
	for i, s := range e.Fixture.Sellers {
		sl, err := e.Vault.GetSeller(ctx, s.ID)
		if err != nil {
			return err
		}
		out := filepath.Join(e.Dir, fmt.Sprintf("orders-%s-%s.jsonl", s.Region, s.ID))
		p := progress.NewPull(o.IO.Err, time.Now)
		res, err := appvault.PullOrders(ctx, e.Vault, c, appvault.OrdersJob{Seller: sl, Out: out, Reader: cliClient(),
			Options: orderpull.Options{API: ordersV0, Job: "demo/orders", Since: time.Now().Add(-100 * 24 * time.Hour),
				PII: []string{"address"}, PageSize: 100, Progress: p.Event}})
		p.Finish()
		if err != nil {
			return pullError(err, sl.ID, out, false)
		}
		full, err := demo.CountFullAddresses(out)
		if err != nil {
			return err
		}
		sum.Orders += res.Orders
		sum.WithAddress += full
		sum.Files = append(sum.Files, demoFile{Seller: s.ID, Region: string(s.Region), Path: out, Orders: res.Orders})
		o.say("  seller %d %s (%s): %d orders, %d with a full shipping address → %s", i+1, s.ID, s.Region, res.Orders, full, out)
	}
	return nil
}

// count takes the tokens Amazon issued and the client's calls and waits.
func (s *demoSummary) count(ac amazontest.Counters, st spapi.StatsSnapshot) {
	for _, n := range ac.TokensIssued {
		s.LWATokens += n
	}
	s.RDTs = ac.RDTsIssued
	s.Calls, s.RateWaits, s.Throttled = st.Calls, st.LimiterWaits, st.Throttled
	s.RateWaitTime = st.LimiterWait.Round(time.Millisecond).String()
}

func (o *demoOptions) printSummary(sum demoSummary, vpath string) {
	o.say("\nWhat happened:")
	o.say("  %d checks passed, %d warnings, %d failed", countStatus(sum.Checks, doctor.OK), countStatus(sum.Checks, doctor.Warn), countStatus(sum.Checks, doctor.Fail))
	o.say("  %d orders pulled, %d of them with a full shipping address", sum.Orders, sum.WithAddress)
	o.say("  %d SP-API calls by the pull; Amazon issued %d LWA access tokens and %d Restricted Data Tokens in all (doctor proves each role with one; the pull needs one generic-path RDT per seller for every order)", sum.Calls, sum.LWATokens, sum.RDTs)
	o.say("  %d waits for Amazon's rate limits (%s in all, on the sped-up clock), %d throttled answers", sum.RateWaits, sum.RateWaitTime, sum.Throttled)
	o.say("  finished in %s", sum.Elapsed)
	if sum.Kept {
		o.say("\nKept in %s: vault.db, master.key and the order files. Open the vault with:", sum.Dir)
		o.say("  export SPGATE_VAULT=%s SPGATE_MASTER_KEY=$(cat %s)", vpath, filepath.Join(sum.Dir, "master.key"))
	} else {
		o.say("\nThe files were in %s and are deleted now; keep them with --keep DIR.", sum.Dir)
	}
	o.say("Next: run the offline Amazon yourself with `spgate emulate`, or add your real app with `spgate app add`.")
}

func countStatus(checks []doctor.Check, s doctor.Status) int {
	n := 0
	for _, c := range checks {
		if c.Status == s {
			n++
		}
	}
	return n
}
