// Package emulatecmd is spgate emulate: the offline Amazon (package
// amazontest) served on loopback for tests and demos.
package emulatecmd

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/demo"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/provision"
)

// emulateOptions are the flags of spgate emulate, those that configure the
// emulator bound to its own Config, and what it takes from its
// surroundings (its own --json among them: the Factory's JSON).
type emulateOptions struct {
	Amazon amazontest.Config
	Addr   string
	TLS    bool
	CAFile string
	// SQSQueue is the demo app's notification queue at
	// Amazon.SQSEndpoint (moto_server, LocalStack).
	SQSQueue string

	*cmdutil.Factory
}

// NewCmd returns spgate emulate.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	o := &emulateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "emulate",
		Short: "Run an offline Amazon (Login with Amazon + Selling Partner API) for tests and demos",
		Long: `emulate serves an offline Amazon: the LWA token endpoint
(/auth/o2/token), the consent page (/apps/authorize/consent), the Selling
Partner API (orders, sellers, tokens, application management) with Amazon's
authorization checks and rate limits, and admin endpoints under /_admin/
(loopback only). It prints a ready demo app and seller and runs until Ctrl-C.

NA (and LWA) listen on --addr, EU and FE on the next two ports (three free
ports with port 0); point spgate at all three with the SPGATE_ENDPOINT value
it prints. A Host header naming an Amazon host (sellingpartnerapi-eu.amazon.com)
picks that region on any of them. With --tls it makes a throw-away CA and a
certificate for Amazon's host names, so an unmodified client can be pointed
at it by trusting the CA and resolving the names to the emulator.

With --sqs-endpoint URL (a moto_server, LocalStack) it creates the demo
app's notification queue there (admitting Amazon's account, as setup does)
and sends the app's APPLICATION_OAUTH_CLIENT_NEW_SECRET and expiry
notifications to it, so spgate rotate runs end to end offline. It signs its
SQS calls with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else "testing".`,
		Example: `  spgate emulate
  spgate emulate --addr 127.0.0.1:0 --json
  spgate emulate --tls --addr 127.0.0.1:8443 --time-scale 60
  spgate emulate --sqs-endpoint http://127.0.0.1:5000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runEmulate(ctx, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Addr, "addr", "127.0.0.1:8099", "listen address; port 0 picks a free port")
	fl.Int64Var(&o.Amazon.Seed, "seed", 1, "seed for ids, secrets and orders (same seed, same data)")
	fl.IntVar(&o.Amazon.OrdersPerSeller, "orders", 100, "orders per seller")
	fl.IntVar(&o.Amazon.Sellers, "sellers", 3, "demo sellers, spread over the NA, EU and FE regions")
	fl.Float64Var(&o.Amazon.TimeScale, "time-scale", 1, "emulated time per real time (60: an hour passes in a minute)")
	fl.BoolVar(&o.TLS, "tls", false, "serve HTTPS with a generated CA and a certificate for Amazon's host names")
	fl.StringVar(&o.CAFile, "ca-file", "", "where --tls writes the CA certificate (default: a file in the temp directory)")
	fl.Bool(cmdutil.FlagJSON, false, "print the listen URL and demo credentials as JSON")
	fl.StringVar(&o.Amazon.RegistryFile, "registry", "", "JSON file of apps, sellers and authorizations to use instead of the demo")
	fl.BoolVar(&o.Amazon.NoRateLimits, "no-rate-limits", false, "lift every rate limit (load benchmarks)")
	fl.StringVar(&o.Amazon.SQSEndpoint, "sqs-endpoint", "", "SQS endpoint (moto_server, LocalStack) to create the demo app's notification queue on and send its rotation notifications to")
	fl.StringVar(&o.SQSQueue, "sqs-queue", provision.DefaultQueueName, "with --sqs-endpoint: the queue's name (the default is the one `spgate setup aws --queue` adopts)")
	return cmd
}

func runEmulate(ctx context.Context, o *emulateOptions) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	err = demo.Emulate(ctx, demo.EmulateOptions{Config: cfg, Addr: o.Addr, TLS: o.TLS, CAFile: o.CAFile, Queue: o.SQSQueue,
		Started: func(info demo.EmulatorInfo) error {
			if o.JSON {
				return output.JSON(o.IO.Out, info)
			}
			info.WriteBanner(o.IO.Out, cfg.TimeScale)
			return nil
		}})
	if err != nil {
		return startError(err)
	}
	if !o.JSON {
		fmt.Fprintln(o.IO.Err, "emulator stopped")
	}
	return nil
}

// config checks the flags and completes the emulator's configuration.
func (o *emulateOptions) config() (amazontest.Config, error) {
	cfg := o.Amazon
	if cfg.OrdersPerSeller < 0 || cfg.Sellers < 0 {
		return cfg, cmdutil.UsageErr("--orders and --sellers must not be negative")
	}
	if cfg.TimeScale <= 0 {
		return cfg, cmdutil.UsageErr("--time-scale must be positive (1 = real time)")
	}
	if cfg.SQSEndpoint != "" {
		u, err := url.Parse(cfg.SQSEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cfg, cmdutil.UsageErr("--sqs-endpoint %q is not an http(s) URL (e.g. http://127.0.0.1:5000 for moto_server)", cfg.SQSEndpoint)
		}
		if err := provision.ValidateName(provision.QueueName, o.SQSQueue); err != nil {
			return cfg, cmdutil.InvalidInput(fmt.Errorf("--sqs-queue: %w", err))
		}
		cfg.SQSAccessKeyID, cfg.SQSSecretAccessKey = demo.SQSKeys()
	}
	return cfg, nil
}

// startError gives a failed start of the emulator its exit code and the
// flag that fixes it.
func startError(err error) error {
	var se *demo.StartError
	switch {
	case !errors.As(err, &se):
		return err
	case se.Step == demo.StepConfigure:
		return cmdutil.InvalidInput(fmt.Errorf("start the emulator: %w", se.Err))
	case se.Step == demo.StepQueue:
		return cmdutil.ConfigErr(se.Err)
	case se.Step == demo.StepCAFile:
		return fmt.Errorf("%w (choose a writable --ca-file)", se.Err)
	case errors.Is(se.Err, amazontest.ErrStartAddr):
		return cmdutil.UsageErr("--addr %v", se.Err)
	}
	return cmdutil.ConfigErr(fmt.Errorf("%w (pick another --addr, or port 0 for free ports)", se.Err))
}
