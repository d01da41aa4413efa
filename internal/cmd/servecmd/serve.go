// Package servecmd is spgate serve: the HTTP gateway (package
// gatewayserver) that Business Central and scripts call, and with
// --console the admin web console.
package servecmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/gatewayserver"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// serveOptions are the flags of spgate serve, most of them bound to the
// gateway's own configuration (package gatewayserver serves), and what it
// takes from its surroundings.
type serveOptions struct {
	gatewayserver.Config
	Addr, OpsAddr              string
	AuditMaxMB                 int
	NoRateLimits, SharedLimits bool
	ConsoleFlags               consoleOptions
	CPUProfile                 string // hidden: spgate bench gateway --cpuprofile

	// Factory's Level is --log-level: serve logs JSON lines on stderr at
	// it, as under --json.
	*cmdutil.Factory
}

// NewCmd returns spgate serve.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	o := &serveOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP gateway that Business Central and scripts call",
		Long: `serve runs the gateway: callers send SP-API paths with a client key
(Authorization: Bearer spg_…, from ` + "`spgate client add`" + `) and the seller in
X-Spgate-Seller (selling partner id or name); the gateway forwards each call
through the same chain as the library — rate limiter shared by every caller of
a seller (and, with --shared-limits, the default, by every other spgate process
using the same vault), LWA tokens or Restricted Data Tokens, retries — and hands back
Amazon's status, body and headers with its own X-Spgate-Request-Id.

Personal data: a caller asks with X-Spgate-PII: shippingAddress,buyerInfo and
needs a key created with --pii. Every PII access and every refused call is
written to the audit log (JSON lines, rotated by size).

Deadlines: a call waits at most --max-queue-wait (30 s) for the seller's rate
limit and takes at most --max-call-time (2 min) in all; X-Spgate-Deadline-Ms
lowers both for one call. Past the queue limit the gateway answers 429 with
Retry-After at once. Reads, writes, idle connections and the number of
connections (those without a valid key apart) are bounded too.

Refused for every key: the Tokens API and Application Management (clients
never hold Amazon credentials) and grantless operations. A personal-data
answer is released only after its audit line is synced (else 503).

Operations: /healthz; /readyz (ready when the vault is readable, the client
secret does not expire within --ready-secret-days and at least one seller can
be served; degraded when some cannot; details only to a client key, for its
sellers); /metrics (Prometheus; on --addr it needs a key for every seller, or
use --ops-addr). Changes made by other spgate processes (a new refresh token,
a revoked key, a rotated secret) take effect within a second, without restart.
SIGTERM or Ctrl-C stops accepting calls and lets those in flight finish.

The gateway listens on loopback unless --addr says otherwise; use --tls-cert
and --tls-key when it listens on a network.`,
		Example: `  spgate serve
  spgate serve --app main --addr 0.0.0.0:8443 --tls-cert gw.pem --tls-key gw-key.pem --audit-log /var/log/spgate/audit.jsonl
  curl -H "Authorization: Bearer $KEY" -H "X-Spgate-Seller: A2VYDBAL8BMVQK" \
    "http://127.0.0.1:8087/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER&CreatedAfter=2026-01-01T00:00:00Z"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.NoDump() // before the vault key is read: no core dump, no same-user ptrace
			// SIGTERM or Ctrl-C drains the calls in flight.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, o)
		},
	}
	cmdutil.AddClientFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.Addr, "addr", "127.0.0.1:8087", "listen address (host:port)")
	fl.StringVar(&o.TLSCert, "tls-cert", "", "TLS certificate (PEM); with --tls-key serves HTTPS")
	fl.StringVar(&o.TLSKey, "tls-key", "", "TLS private key (PEM, unencrypted)")
	fl.StringVar(&o.AuditLog, "audit-log", "", "audit log of PII access and refused calls, JSON lines (default: spgate-audit.jsonl next to the vault)")
	fl.IntVar(&o.AuditMaxMB, "audit-max-mb", 10, "rotate the audit log past this size in MiB")
	fl.IntVar(&o.AuditKeep, "audit-keep", 5, "rotated audit log files to keep")
	fl.IntVar(&o.ReadySecretDays, "ready-secret-days", 7, "/readyz fails when the client secret expires within this many days")
	fl.DurationVar(&o.ReadyInterval, "ready-interval", time.Minute, "how often /readyz's checks are refreshed")
	fl.DurationVar(&o.DrainTimeout, "drain-timeout", 60*time.Second, "on shutdown, how long calls in flight may take to finish")
	fl.DurationVar(&o.KeyCacheTTL, "key-cache", 30*time.Second, "how long a checked client key is trusted before the vault is asked again (a revocation takes effect within it; 0 asks the vault on every request)")
	fl.BoolVar(&o.NoRateLimits, "no-rate-limits", false, "do not pace calls (load tests against spgate emulate --no-rate-limits only)")
	_ = fl.MarkHidden("no-rate-limits")
	fl.BoolVar(&o.SharedLimits, "shared-limits", true, "keep the rate-limit buckets in the vault, shared with every other spgate process on this machine (an orders pull, spgate call), so together they stay within Amazon's limits; a busy bucket is leased in 20 ms blocks, so this costs a few µs per call. --shared-limits=false paces this process alone")
	fl.BoolVar(&o.AutoRotate, "auto-rotate", false, "rotate the app's client secret ahead of its expiry while serving (needs the app's SQS queue; see spgate rotate --help)")
	fl.StringVar(&o.SQSEndpoint, "sqs-endpoint", "", "with --auto-rotate: SQS endpoint URL; default $"+cmdutil.EnvSQSEndpoint+", else AWS")
	fl.BoolVar(&o.NoVaultAccessLog, "no-vault-access-log", false, "do not also record PII access in the vault (the audit log still has it)")
	fl.DurationVar(&o.MaxQueueWait, "max-queue-wait", gateway.DefaultMaxQueueWait, "longest a call may wait for the seller's rate limit; beyond it the caller gets 429 with Retry-After at once (X-Spgate-Deadline-Ms can lower it)")
	fl.DurationVar(&o.MaxDeadline, "max-call-time", gateway.DefaultMaxDeadline, "longest a call may take in all, queueing and Amazon's answer included")
	fl.StringVar(&o.OpsAddr, "ops-addr", "", "also serve /metrics and the detailed /readyz without a key on this address (keep it private, e.g. 127.0.0.1:9187); on --addr they need a client key")
	fl.IntVar(&o.MaxConns, "max-conns", 4096, "most open client connections; more wait to be accepted")
	fl.IntVar(&o.MaxUnauthenticatedConns, "max-unauthenticated-conns", 1024, "most connections that have not yet shown a valid client key; more are closed at once")
	fl.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file when serve stops (spgate bench gateway --cpuprofile)")
	_ = fl.MarkHidden("cpuprofile")
	addConsoleFlags(cmd, &o.ConsoleFlags)
	return cmd
}

// validate refuses flag values that cannot work, before anything is opened.
func (o serveOptions) validate() error {
	switch {
	case o.AuditMaxMB <= 0 || o.AuditKeep <= 0 || o.ReadySecretDays < 0:
		return cmdutil.UsageErr("--audit-max-mb and --audit-keep must be positive, --ready-secret-days not negative")
	case (o.TLSCert == "") != (o.TLSKey == ""):
		return cmdutil.UsageErr("give both --tls-cert and --tls-key, or neither")
	case o.MaxQueueWait <= 0 || o.MaxDeadline <= 0 || o.MaxQueueWait > o.MaxDeadline:
		return cmdutil.UsageErr("--max-queue-wait and --max-call-time must be positive, the queue wait not longer than the call")
	case o.MaxConns <= 0 || o.MaxUnauthenticatedConns <= 0:
		return cmdutil.UsageErr("--max-conns and --max-unauthenticated-conns must be positive")
	case o.KeyCacheTTL < 0:
		return cmdutil.UsageErr("--key-cache must not be negative (0 asks the vault on every request)")
	}
	return o.ConsoleFlags.validate()
}

func runServe(ctx context.Context, o *serveOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	stopProfile, perr := startCPUProfile(o.CPUProfile)
	if perr != nil {
		return perr
	}
	defer stopProfile()
	if os.Getenv("GOGC") == "" {
		// The gateway's heap is small (tens of MiB) and its garbage
		// short-lived: collecting at 4× the live heap instead of 2× halves
		// the time spent in GC for a few MiB more. GOGC overrides it.
		debug.SetGCPercent(400)
	}
	v, app, ep, err := o.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer v.Close()
	cfg, err := o.config(ctx, v, app, ep)
	if err != nil {
		return err
	}
	srv, err := gatewayserver.Start(ctx, cfg)
	if err != nil {
		return serveErr(err)
	}
	defer srv.Close()
	if cfg.OpsListener != nil {
		fmt.Fprintf(o.IO.Err, "spgate: operations (/metrics, /readyz with details) on http://%s\n", cfg.OpsListener.Addr())
	}
	o.ConsoleFlags.printLogin(o.IO.Err, srv)
	fmt.Fprintf(o.IO.Err, "spgate: serving app %s on %s (audit log %s); Ctrl-C stops\n", app.Name, srv.URL(), srv.AuditLog())
	if err := srv.Serve(ctx); err != nil {
		return cmdutil.Failed(err)
	}
	return nil
}

// config completes the gateway's configuration from the flags, with its
// listeners open: a port that is taken is a configuration error naming
// the flag.
func (o *serveOptions) config(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) (gatewayserver.Config, error) {
	cfg := o.Config
	cfg.Vault, cfg.App, cfg.Endpoints = v, app, ep
	cfg.AuditMaxBytes = int64(o.AuditMaxMB) << 20
	cfg.SQSEndpoint = cmdutil.ResolveSQSEndpoint(cfg.SQSEndpoint)
	cfg.UserAgent, cfg.Version = o.Factory.UserAgent(), o.Factory.Version
	// Serve logs JSON lines on stderr at --log-level like every verb (warn
	// by default: failures, refused keys, tampered records); --log-level
	// info adds one line per request (never a key or token).
	cfg.Logger = slog.New(slog.NewJSONHandler(o.IO.Err, &slog.HandlerOptions{Level: o.Level}))
	if cfg.KeyCacheTTL == 0 {
		cfg.KeyCacheTTL = -1 // ask the vault on every request
	}
	switch {
	case o.NoRateLimits:
		cfg.RateLimits = gatewayserver.NoLimits
	case !o.SharedLimits:
		cfg.RateLimits = gatewayserver.LocalLimits
	}
	var err error
	if cfg.Sign, err = cmdutil.Signer(app); err != nil {
		return cfg, err
	}
	if cfg.Listener, err = net.Listen("tcp", o.Addr); err != nil {
		return cfg, cmdutil.ConfigErr(fmt.Errorf("listen on %s: %w (another process holds the port? choose one with --addr)", o.Addr, err))
	}
	if o.OpsAddr != "" {
		if cfg.OpsListener, err = net.Listen("tcp", o.OpsAddr); err != nil {
			cfg.Listener.Close()
			return cfg, cmdutil.ConfigErr(fmt.Errorf("--ops-addr: listen on %s: %w", o.OpsAddr, err))
		}
	}
	if cfg.Console, err = o.ConsoleFlags.config(func(ctx context.Context) ([]doctor.Check, error) {
		a, err := v.GetApp(ctx, app.Name) // the app as the vault holds it now
		if err != nil {
			return nil, err
		}
		return o.DoctorChecks(ctx, v, a, ep, "")
	}, consoleSetupAWS(o.Factory, app.Name)); err != nil {
		gatewayserver.CloseListeners(cfg)
	}
	return cfg, err
}

// serveErr gives a gateway that could not start its exit code, and the
// flag to look at.
func serveErr(err error) error {
	var se *gatewayserver.Error
	if !errors.As(err, &se) {
		return cmdutil.Failed(err)
	}
	switch se.Part {
	case gatewayserver.PartRateLimits:
		return cmdutil.UsageErr("--no-rate-limits is for load tests against spgate emulate --no-rate-limits; against Amazon it would only collect 429s")
	case gatewayserver.PartClient, gatewayserver.PartGateway:
		return &problem.Error{Code: problem.ExitInternal, Err: se.Err}
	case gatewayserver.PartAutoRotate:
		return cmdutil.ConfigErr(fmt.Errorf("--auto-rotate: %w", se.Err))
	case gatewayserver.PartConsoleLogin:
		return cmdutil.StoreErr(fmt.Errorf("--console: a sign-in link: %w", se.Err))
	}
	return cmdutil.ConfigErr(se.Err)
}

// startCPUProfile starts a CPU profile written to path (created 0600), for
// spgate serve's hidden --cpuprofile; stop ends it and closes the file. An
// empty path profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, cmdutil.UsageErr("--cpuprofile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
