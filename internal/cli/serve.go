package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newServeCmd) }

type serveOptions struct {
	Addr, TLSCert, TLSKey, AuditLog string
	AuditMaxMB, AuditKeep           int
	ReadySecretDays                 int
	ReadyInterval, Drain, KeyTTL    time.Duration
	AutoRotate                      bool
	NoRateLimits, SharedLimits      bool
	SQSEndpoint                     string
	NoVaultAccessLog                bool
	MaxQueueWait, MaxDeadline       time.Duration
	MaxConns, MaxUnauthConns        int
	OpsAddr                         string
	CPUProfile                      string // hidden: spgate bench gateway --cpuprofile
	Console                         consoleOptions
}

func newServeCmd(streams IO) *cobra.Command {
	o := serveOptions{}
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
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, streams, o) },
	}
	addClientFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:8087", "listen address (host:port)")
	f.StringVar(&o.TLSCert, "tls-cert", "", "TLS certificate (PEM); with --tls-key serves HTTPS")
	f.StringVar(&o.TLSKey, "tls-key", "", "TLS private key (PEM, unencrypted)")
	f.StringVar(&o.AuditLog, "audit-log", "", "audit log of PII access and refused calls, JSON lines (default: spgate-audit.jsonl next to the vault)")
	f.IntVar(&o.AuditMaxMB, "audit-max-mb", 10, "rotate the audit log past this size in MiB")
	f.IntVar(&o.AuditKeep, "audit-keep", 5, "rotated audit log files to keep")
	f.IntVar(&o.ReadySecretDays, "ready-secret-days", 7, "/readyz fails when the client secret expires within this many days")
	f.DurationVar(&o.ReadyInterval, "ready-interval", time.Minute, "how often /readyz's checks are refreshed")
	f.DurationVar(&o.Drain, "drain-timeout", 60*time.Second, "on shutdown, how long calls in flight may take to finish")
	f.DurationVar(&o.KeyTTL, "key-cache", 30*time.Second, "how long a checked client key is trusted before the vault is asked again (a revocation takes effect within it; 0 asks the vault on every request)")
	f.BoolVar(&o.NoRateLimits, "no-rate-limits", false, "do not pace calls (load tests against spgate emulate --no-rate-limits only)")
	_ = f.MarkHidden("no-rate-limits")
	f.BoolVar(&o.SharedLimits, "shared-limits", true, "keep the rate-limit buckets in the vault, shared with every other spgate process on this machine (an orders pull, spgate call), so together they stay within Amazon's limits; a busy bucket is leased in 20 ms blocks, so this costs a few µs per call. --shared-limits=false paces this process alone")
	f.BoolVar(&o.AutoRotate, "auto-rotate", false, "rotate the app's client secret ahead of its expiry while serving (needs the app's SQS queue; see spgate rotate --help)")
	f.StringVar(&o.SQSEndpoint, "sqs-endpoint", "", "with --auto-rotate: SQS endpoint URL; default $"+EnvSQSEndpoint+", else AWS")
	f.BoolVar(&o.NoVaultAccessLog, "no-vault-access-log", false, "do not also record PII access in the vault (the audit log still has it)")
	f.DurationVar(&o.MaxQueueWait, "max-queue-wait", gateway.DefaultMaxQueueWait, "longest a call may wait for the seller's rate limit; beyond it the caller gets 429 with Retry-After at once (X-Spgate-Deadline-Ms can lower it)")
	f.DurationVar(&o.MaxDeadline, "max-call-time", gateway.DefaultMaxDeadline, "longest a call may take in all, queueing and Amazon's answer included")
	f.StringVar(&o.OpsAddr, "ops-addr", "", "also serve /metrics and the detailed /readyz without a key on this address (keep it private, e.g. 127.0.0.1:9187); on --addr they need a client key")
	f.IntVar(&o.MaxConns, "max-conns", 4096, "most open client connections; more wait to be accepted")
	f.IntVar(&o.MaxUnauthConns, "max-unauthenticated-conns", 1024, "most connections that have not yet shown a valid client key; more are closed at once")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file when serve stops (spgate bench gateway --cpuprofile)")
	_ = f.MarkHidden("cpuprofile")
	addConsoleFlags(cmd, &o.Console)
	return cmd
}

// validate refuses flag values that cannot work, before anything is opened.
func (o serveOptions) validate() error {
	switch {
	case o.AuditMaxMB <= 0 || o.AuditKeep <= 0 || o.ReadySecretDays < 0:
		return usageErr("--audit-max-mb and --audit-keep must be positive, --ready-secret-days not negative")
	case (o.TLSCert == "") != (o.TLSKey == ""):
		return usageErr("give both --tls-cert and --tls-key, or neither")
	case o.MaxQueueWait <= 0 || o.MaxDeadline <= 0 || o.MaxQueueWait > o.MaxDeadline:
		return usageErr("--max-queue-wait and --max-call-time must be positive, the queue wait not longer than the call")
	case o.MaxConns <= 0 || o.MaxUnauthConns <= 0:
		return usageErr("--max-conns and --max-unauthenticated-conns must be positive")
	case o.KeyTTL < 0:
		return usageErr("--key-cache must not be negative (0 asks the vault on every request)")
	}
	return nil
}

// served is what runServe builds and then serves.
type served struct {
	v       *vault.Vault
	app     vault.App
	ep      spapi.Endpoints
	log     *slog.Logger
	metrics *gateway.Metrics
	sellers *appvault.Sellers
	client  *spapi.Client
	audit   *gateway.AuditLog
	auditAt string
	ready   *gateway.Readiness
	gw      *gateway.Gateway
}

func runServe(cmd *cobra.Command, streams IO, o serveOptions) error {
	noDump(cmd) // before the vault key is read: no core dump, no same-user ptrace
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
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Serve logs JSON lines on stderr at --log-level like every verb (warn
	// by default: failures, refused keys, tampered records); --log-level
	// info adds one line per request (never a key or token).
	lvl, _ := parseLogLevel(cmd)
	s := &served{log: o.Console.tapLog(slog.New(slog.NewJSONHandler(streams.Err, &slog.HandlerOptions{Level: lvl})))}
	var err error
	if s.v, s.app, s.ep, err = openVaultApp(ctx, cmd); err != nil {
		return err
	}
	defer s.v.Close()
	if err := s.buildClient(ctx, o); err != nil {
		return err
	}
	if err := s.buildGateway(o); err != nil {
		return err
	}
	defer s.audit.Close()
	defer s.gw.Close()

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("listen on %s: %w (another process holds the port? choose one with --addr)", o.Addr, err)}
	}
	if host, _, _ := net.SplitHostPort(o.Addr); o.TLSCert == "" && !isLoopback(host) {
		s.log.Warn("serving plain HTTP on a non-loopback address: client keys and personal data cross the network unencrypted; use --tls-cert/--tls-key")
	}
	// Background work ends before the vault closes (deferred above).
	bgCtx, stopBG := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer func() { stopBG(); bg.Wait() }()
	scheme := "http"
	if o.TLSCert != "" {
		scheme = "https"
	}
	if err := s.startBackground(ctx, bgCtx, &bg, cmd, streams, o, scheme+"://"+ln.Addr().String()); err != nil {
		ln.Close()
		return err
	}
	s.log.Info("gateway listening", "url", scheme+"://"+ln.Addr().String(), "app", s.app.Name, "audit_log", s.auditAt)
	fmt.Fprintf(streams.Err, "spgate: serving app %s on %s://%s (audit log %s); Ctrl-C stops\n", s.app.Name, scheme, ln.Addr(), s.auditAt)
	err = gateway.Serve(ctx, ln, s.gw, gateway.ServeOptions{TLSCert: o.TLSCert, TLSKey: o.TLSKey, DrainTimeout: o.Drain, Logger: s.log,
		WriteTimeout: o.MaxDeadline + 30*time.Second, MaxConns: o.MaxConns, MaxUnauthenticatedConns: o.MaxUnauthConns})
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return nil
}

// buildClient makes the SP-API client the gateway forwards through, with
// its rate-limit store and the vault's sellers.
func (s *served) buildClient(ctx context.Context, o serveOptions) error {
	sign, err := signerFor(ctx, s.app)
	if err != nil {
		return err
	}
	s.metrics = gateway.NewMetrics()
	var store ratelimit.Store = &ratelimit.MemoryStore{}
	if o.SharedLimits {
		store = s.v.RateLimitStore(s.log)
	}
	if o.NoRateLimits {
		if s.ep.Name == "production" || s.ep.Name == "sandbox" {
			return usageErr("--no-rate-limits is for load tests against spgate emulate --no-rate-limits; against Amazon it would only collect 429s")
		}
		store = ratelimit.Unlimited{}
	}
	limiter := ratelimit.New(ratelimit.Options{Store: s.metrics.InstrumentStore(store), Logger: s.log, Headroom: 1, MaxWait: o.MaxQueueWait})
	// Sellers are cached in memory; the vault watcher clears the cache the
	// moment another process changes the vault.
	s.sellers = appvault.NewSellers(s.v, s.app.Name, 30*time.Second, nil)
	s.client, err = spapi.New(spapi.Config{
		AppID:       s.app.AppID,
		Sign:        sign,
		Credentials: rotation.VaultCredentials{Vault: s.v, App: s.app.Name},
		Sellers:     s.sellers,
		Endpoints:   s.ep,
		Limiter:     limiter,
		UserAgent:   "spgate/" + buildVersion() + " (Language=Go)",
		Logger:      s.log,
	})
	if err != nil {
		return &ExitError{Code: ExitInternal, Err: err}
	}
	s.metrics.WatchClient(s.client)
	s.metrics.WatchCredentials(s.client.CredentialState())
	return nil
}

// buildGateway opens the audit log and makes the gateway and its
// readiness check.
func (s *served) buildGateway(o serveOptions) error {
	s.auditAt = o.AuditLog
	if s.auditAt == "" {
		s.auditAt = filepath.Join(s.v.Dir(), "spgate-audit.jsonl")
	}
	var err error
	if s.audit, err = gateway.OpenAuditLog(s.auditAt, int64(o.AuditMaxMB)<<20, o.AuditKeep); err != nil {
		return &ExitError{Code: ExitConfig, Err: err}
	}
	s.ready = gateway.NewReadiness(gateway.CredentialReadiness(gateway.CredentialCheck{
		Vault: s.v, App: s.app.Name, State: s.client.CredentialState(),
		MinSecretDays: max(o.ReadySecretDays, 1), Metrics: s.metrics,
	}), o.ReadyInterval, nil)
	cfg := gateway.Config{Client: s.client, AppID: s.app.AppID, Directory: s.v, Audit: s.audit, Metrics: s.metrics,
		Ready: s.ready, Logger: s.log, KeyCacheTTL: o.KeyTTL, MaxQueueWait: o.MaxQueueWait, MaxDeadline: o.MaxDeadline}
	if o.KeyTTL == 0 {
		cfg.KeyCacheTTL = time.Nanosecond // gateway.Config's zero means its default
	}
	if !o.NoVaultAccessLog {
		cfg.Access = s.v
	}
	if s.gw, err = gateway.New(cfg); err != nil {
		s.audit.Close()
		return &ExitError{Code: ExitInternal, Err: err}
	}
	return nil
}

// startBackground starts readiness, the vault watcher, the operations
// listener, automatic rotation and the console, each ending with bgCtx
// (rotation with ctx) and counted in bg.
func (s *served) startBackground(ctx, bgCtx context.Context, bg *sync.WaitGroup, cmd *cobra.Command, streams IO, o serveOptions, gatewayURL string) error {
	bg.Go(func() { s.ready.Run(bgCtx) })
	// Follow the vault: what another process changes (a new refresh token,
	// a removed seller, a revoked key, a new client secret) takes effect
	// here within a watch interval (250 ms), without restart.
	bg.Go(func() {
		s.v.WatchChanges(bgCtx, nil, 0, func(ctx context.Context) {
			s.sellers.Clear()
			s.gw.Forget()
			s.client.CredentialState().Reload(ctx)
			s.log.Debug("the vault changed; cached keys and credentials re-read")
		})
	})
	if o.OpsAddr != "" {
		ops, err := net.Listen("tcp", o.OpsAddr)
		if err != nil {
			return &ExitError{Code: ExitConfig, Err: fmt.Errorf("--ops-addr: listen on %s: %w", o.OpsAddr, err)}
		}
		if host, _, _ := net.SplitHostPort(o.OpsAddr); !isLoopback(host) {
			s.log.Warn("the operations listener (/metrics, full /readyz) is not on loopback: it has no authentication; keep it on a private network")
		}
		fmt.Fprintf(streams.Err, "spgate: operations (/metrics, /readyz with details) on http://%s\n", ops.Addr())
		bg.Go(func() {
			_ = gateway.Serve(bgCtx, ops, s.gw.OpsHandler(), gateway.ServeOptions{Logger: s.log, DrainTimeout: time.Second})
		})
	}
	if o.AutoRotate {
		if err := startAutoRotate(ctx, s.v, s.app.Name, s.ep, o.SQSEndpoint, s.log); err != nil {
			return err
		}
	}
	return startConsole(cmd, streams, o.Console, consoleDeps{Vault: s.v, App: s.app, Endpoints: s.ep, Client: s.client, Audit: s.audit,
		GatewayURL: gatewayURL, Log: s.log, BG: bg, BGCtx: bgCtx})
}

// startAutoRotate runs rotation.Schedule for the app in the background
// until ctx ends.
func startAutoRotate(ctx context.Context, v *vault.Vault, app string, ep spapi.Endpoints, sqsEndpoint string, log *slog.Logger) error {
	a, err := v.GetApp(ctx, app)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("--auto-rotate: %w", err)}
	}
	r, err := rotation.New(rotation.Config{
		Vault:   v,
		Request: rotation.SPAPIRequester(v, ep, nil, nil, log),
		// The same endpoint and region as spgate rotate: flag,
		// $SPGATE_SQS_ENDPOINT, then $SPGATE_AWS_ENDPOINT.
		Queues: rotationQueues(ctx, v, a, resolveSQSEndpoint(sqsEndpoint)),
		Verify: rotation.LWAVerifier(ep.TokenURL, nil, nil),
		Logger: log,
		Owner:  "spgate serve --auto-rotate",
	})
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("--auto-rotate: %w", err)}
	}
	go func() {
		err := rotation.Schedule(ctx, r, app, rotation.ScheduleOptions{OnResult: func(res rotation.Result, err error) {
			if err != nil {
				log.Error("automatic client secret rotation failed; the gateway keeps the current secret", "app", app, "error", err.Error())
				return
			}
			log.Info("client secret rotated", "app", res.App, "version", res.Version, "expires", res.ExpiresAt)
		}})
		if err != nil && ctx.Err() == nil {
			log.Error("automatic rotation stopped", "app", app, "error", err.Error())
		}
	}()
	return nil
}
