// Package democmd is spgate demo: spgate end to end against the built-in
// offline Amazon (package internal/demo), or its gateway and console on
// a demo vault.
package democmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/console"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/demo"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

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

	*cmdutil.Factory
}

// NewCmd returns spgate demo.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	o := &demoOptions{Factory: f}
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
			if cmd.Flags().Changed("console") {
				o.TimeScaleSet = cmd.Flags().Changed("time-scale")
				return runDemoConsole(cmd.Context(), o)
			}
			return runDemo(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Keep, "keep", "", "keep the vault, its key and the order files in this directory")
	fl.IntVar(&o.Orders, "orders", 150, "orders per demo seller")
	fl.Float64Var(&o.TimeScale, "time-scale", 600, "emulated time per real time (600: an Amazon hour passes in 6 seconds); with --console 1 unless given")
	fl.StringVar(&o.Console, "console", "", "serve the gateway and the admin console on the demo vault until Ctrl-C, the console on this loopback address (--console alone: "+demoConsoleAddr+")")
	fl.Lookup("console").NoOptDefVal = demoConsoleAddr
	return cmd
}

// start starts the offline Amazon and the demo vault (demo.Start) with
// the fixture (nil: the emulator's demo), its clock at scale and its tokens
// living lifetime, in --keep's directory with the vault's master.key, or
// in a temporary one that Close removes.
func (o *demoOptions) start(ctx context.Context, scale float64, lifetime time.Duration, fixture func(*amazontest.Server) (amazontest.Demo, error)) (*demo.Env, error) {
	if o.Orders < 1 || scale <= 0 {
		return nil, cmdutil.UsageErr("--orders must be at least 1 and --time-scale positive")
	}
	e, err := demo.Start(ctx, demo.Options{Dir: o.Keep, Actor: "demo", Fixture: fixture,
		Amazon: amazontest.Config{Seed: 1, OrdersPerSeller: o.Orders, Sellers: 3, TimeScale: scale, TokenLifetime: lifetime}})
	if err != nil {
		if o.Keep != "" {
			err = fmt.Errorf("--keep %s: %w (use an empty directory)", o.Keep, err)
		}
		return nil, err
	}
	if o.Keep != "" {
		if err := e.SaveKey(filepath.Join(e.Dir, "master.key")); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

func runDemo(ctx context.Context, o *demoOptions) error {
	began := time.Now()
	e, err := o.start(ctx, o.TimeScale, 12*time.Hour, nil)
	if err != nil {
		return err
	}
	defer e.Close()
	to := demo.TourOptions{Began: began, Kept: o.Keep != "", TimeScale: o.TimeScale, Progress: o.IO.Err, Reader: appvault.CommandLineReader(),
		NewClient: o.NewClient,
		Doctor: func(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) ([]doctor.Check, error) {
			return o.DoctorChecks(ctx, v, app, ep, "")
		}}
	if !o.JSON {
		to.Out = o.IO.Out
	}
	sum, err := demo.Tour(ctx, e, to)
	if err != nil {
		return err
	}
	if o.JSON {
		return output.JSON(o.IO.Out, sum)
	}
	return nil
}

// demoConsoleAddr is where spgate demo --console serves the console.
const demoConsoleAddr = "127.0.0.1:8088"

// runDemoConsole is spgate demo --console: the offline Amazon and a demo
// vault as spgate demo makes them, then spgate serve --console on that
// vault, as the verb itself, until Ctrl-C. The demo app's redirect URI is
// the console's callback, and one emulator seller has not authorized it,
// so every page has something to show and to do.
func runDemoConsole(ctx context.Context, o *demoOptions) error {
	scale := o.TimeScale
	if !o.TimeScaleSet {
		scale = 1 // the console shows ages and expiries: real time
	}
	if err := console.CheckAddr(o.Console, false); err != nil {
		return cmdutil.UsageErr("--console: %v", err)
	}
	if _, port, _ := net.SplitHostPort(o.Console); port == "0" {
		// The demo app registers the console's callback with the offline
		// Amazon before the console listens: take a free port now.
		ln, err := net.Listen("tcp", o.Console)
		if err != nil {
			return cmdutil.ConfigErr(fmt.Errorf("--console: listen on %s: %w", o.Console, err))
		}
		o.Console = ln.Addr().String()
		ln.Close()
	}
	e, err := o.start(ctx, scale, time.Hour, demo.ConsoleFixture("http://"+o.Console))
	if err != nil {
		return err
	}
	defer e.Close()
	enc, err := e.Key.Encode()
	if err != nil {
		return err
	}
	srv := e.Amazon
	// spgate serve reads the key, the endpoints and the consent page from
	// the environment, as after `spgate emulate` and its exports.
	for k, v := range map[string]string{vault.EnvMasterKey: enc, cmdutil.EnvEndpoint: srv.Endpoints(), cmdutil.EnvConsentURL: srv.ConsentURL()} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	out := o.IO.Err
	fmt.Fprintf(out, "spgate demo: offline Amazon on %s (NA), %s (EU), %s (FE); its clock runs %gx\n",
		srv.RegionURL(amazontest.RegionNA), srv.RegionURL(amazontest.RegionEU), srv.RegionURL(amazontest.RegionFE), scale)
	fmt.Fprintf(out, "spgate demo: vault %s: app %q (%s) with %d authorized sellers; one more seller in EU can authorize it from the console's Sellers page\n",
		e.VaultPath, e.App.Name, e.App.AppID, len(e.Fixture.Sellers))
	if o.Keep != "" {
		fmt.Fprintf(out, "spgate demo: kept in %s; use the vault from another shell with\n  export SPGATE_VAULT=%s SPGATE_MASTER_KEY=$(cat %s) SPGATE_ENDPOINT=%s\n",
			e.Dir, e.VaultPath, filepath.Join(e.Dir, "master.key"), srv.Endpoints())
	}
	args := []string{"serve", "--" + cmdutil.FlagVault, e.VaultPath, "--addr", "127.0.0.1:0", "--console", o.Console}
	if code := o.Main(ctx, args, o.IO.In, o.IO.Out, o.IO.Err); code != problem.ExitOK {
		return &problem.Error{Code: code, Err: errors.New("demo --console: spgate " + strings.Join(args, " ") + " exited with " + strconv.Itoa(code) + " (its error is above)")}
	}
	return nil
}
