package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/internal/demo"
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

	cmdEnv
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
			o.cmdEnv = newEnv(cmd, streams)
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
	to := demo.TourOptions{Began: began, Kept: o.Keep != "", TimeScale: o.TimeScale, Progress: o.IO.Err, Reader: cliClient(),
		NewClient: o.NewClient,
		Doctor: func(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) ([]doctor.Check, error) {
			return o.doctorChecks(ctx, v, app, ep, "")
		}}
	if !o.JSON {
		to.Out = o.IO.Out
	}
	sum, err := demo.Tour(ctx, e, to)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.IO.Out, sum)
	}
	return nil
}
