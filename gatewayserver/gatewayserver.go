// Package gatewayserver runs spgate's HTTP gateway (package gateway) for an
// app in the vault, as `spgate serve` does: the SP-API client with the
// vault's credentials and sellers and its rate limits, the audit log, the
// readiness checks, the work that follows the vault's changes, the
// operations listener, automatic rotation of the client secret and the
// admin console (package console).
//
// A Go program that holds a vault runs the gateway with Start, then Serve
// until its context ends, then Close:
//
//	srv, err := gatewayserver.Start(ctx, gatewayserver.Config{Vault: v, App: app, Endpoints: spapi.Production(), Listener: ln})
//	if err != nil { … }
//	defer srv.Close()
//	err = srv.Serve(ctx)
package gatewayserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/console"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// RateLimits says where the gateway keeps its rate-limit buckets.
type RateLimits int

// Where the buckets live.
const (
	// SharedLimits keeps them in the vault, shared with every other spgate
	// process using it (an orders pull, spgate call, other replicas), so
	// together they stay within Amazon's limits.
	SharedLimits RateLimits = iota
	// LocalLimits paces this process alone.
	LocalLimits
	// NoLimits does not pace at all: only for load tests against an
	// emulator without limits. Start refuses it against Amazon's
	// production and sandbox endpoints, where it would only collect 429s.
	NoLimits
)

// Config says what Start serves and how. Zero durations and sizes take the
// defaults of `spgate serve`.
type Config struct {
	// Vault is open and stays open until Close has returned; App is the
	// app to serve (vault.GetApp); Endpoints address Amazon.
	Vault     *vault.Vault
	App       vault.App
	Endpoints spapi.Endpoints
	// Listener is where callers reach the gateway; with TLSCert and TLSKey
	// (PEM files) it serves HTTPS.
	Listener        net.Listener
	TLSCert, TLSKey string
	// OpsListener, when set, serves /metrics and the detailed /readyz
	// without a key: keep it private.
	OpsListener net.Listener
	// AuditLog is the audit log of PII access and refused calls (default
	// spgate-audit.jsonl next to the vault), rotated past AuditMaxBytes
	// (10 MiB), keeping AuditKeep files (5).
	AuditLog      string
	AuditMaxBytes int64
	AuditKeep     int
	// ReadySecretDays: /readyz fails when the client secret expires
	// within this many days (at least 1); ReadyInterval is how often its
	// checks are refreshed (a minute).
	ReadySecretDays int
	ReadyInterval   time.Duration
	// DrainTimeout is how long calls in flight may take to finish when
	// Serve's context ends (60 s).
	DrainTimeout time.Duration
	// KeyCacheTTL is how long a checked client key is trusted before the
	// vault is asked again (30 s); negative asks on every request.
	KeyCacheTTL time.Duration
	RateLimits  RateLimits
	// MaxQueueWait and MaxDeadline bound a call's wait for the seller's
	// rate limit and the whole call (gateway.Config).
	MaxQueueWait, MaxDeadline time.Duration
	// MaxConns and MaxUnauthenticatedConns bound the connections
	// (gateway.ServeOptions).
	MaxConns, MaxUnauthenticatedConns int
	// NoVaultAccessLog leaves PII access out of the vault's access log
	// (the audit log still has it).
	NoVaultAccessLog bool
	// AutoRotate rotates the app's client secret ahead of its expiry while
	// serving, reading the app's queue at SQSEndpoint (AWS when empty),
	// which the console's Rotate button uses too.
	AutoRotate  bool
	SQSEndpoint string
	// Sign signs the app's calls with SigV4 (appvault.Signer); nil for an
	// app that does not sign.
	Sign func(spapi.Region, http.RoundTripper) http.RoundTripper
	// UserAgent is the client's User-Agent.
	UserAgent string
	// Version is the running spgate's version, in the heartbeat the server
	// records in the vault for spgate doctor (vault.Heartbeat).
	Version string
	// Logger gets the warnings and, at info, a JSON line per request.
	Logger *slog.Logger
	// Console, when set, also serves the admin console.
	Console *Console
}

// Parts of the gateway Start sets up, as its Error names them.
const (
	PartRateLimits   = "rate limits"   // NoLimits against Amazon
	PartClient       = "client"        // the SP-API client (a bug)
	PartAuditLog     = "audit log"     // the audit log file
	PartGateway      = "gateway"       // the gateway itself (a bug)
	PartAutoRotate   = "auto-rotate"   // automatic rotation (the app's rotation setup)
	PartConsole      = "console"       // the admin console
	PartConsoleLogin = "console login" // the console's first sign-in link (the vault)
)

// Error is Start's error: the part that could not be set up, and why.
type Error struct {
	Part string
	Err  error
}

// Error implements the error interface.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns why the part could not be set up.
func (e *Error) Unwrap() error { return e.Err }

// Server is a started gateway: its background work runs until Close.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *gateway.Metrics
	sellers *appvault.Sellers
	client  *spapi.Client
	audit   *gateway.AuditLog
	auditAt string
	ready   *gateway.Readiness
	gw      *gateway.Gateway
	url     string

	console      *console.Console
	consoleLogin string

	bgCtx  context.Context
	stopBG context.CancelFunc
	bg     sync.WaitGroup
}

// Start builds the gateway for cfg.App and starts its background work:
// readiness, following the vault, the operations listener, automatic
// rotation and the console. It takes cfg's listeners over: Serve and Close
// close them. On error nothing is left running and the listeners are
// closed.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	defer func() {
		if err != nil {
			CloseListeners(cfg)
		}
	}()
	s := &Server{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Console != nil {
		// The console's figures per seller, client and operation come from
		// the gateway's request lines.
		cfg.Console.stats = console.NewStats(nil)
		s.log = slog.New(cfg.Console.stats.Handler(s.log.Handler()))
	}
	if cfg.RateLimits == NoLimits && (cfg.Endpoints.Name == "production" || cfg.Endpoints.Name == "sandbox") {
		return nil, &Error{Part: PartRateLimits, Err: errors.New("no rate limits against Amazon: load tests only, against an emulator without limits")}
	}
	if err := s.buildClient(); err != nil {
		return nil, &Error{Part: PartClient, Err: err}
	}
	if err := s.buildGateway(); err != nil {
		return nil, err
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	s.url = scheme + "://" + cfg.Listener.Addr().String()
	if !local(cfg.Listener.Addr()) && cfg.TLSCert == "" {
		s.log.Warn("serving plain HTTP on a non-loopback address: client keys and personal data cross the network unencrypted; use --tls-cert/--tls-key")
	}
	// Background work ends before the vault closes (Close).
	s.bgCtx, s.stopBG = context.WithCancel(ctx)
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.startBackground(ctx); err != nil {
		return nil, err
	}
	s.log.Info("gateway listening", "url", s.url, "app", cfg.App.Name, "audit_log", s.auditAt)
	return s, nil
}

// URL is where callers reach the gateway.
func (s *Server) URL() string { return s.url }

// AuditLog is the audit log's file.
func (s *Server) AuditLog() string { return s.auditAt }

// Serve serves the gateway on cfg.Listener until ctx ends, then lets the
// calls in flight finish (cfg.DrainTimeout).
func (s *Server) Serve(ctx context.Context) error {
	c := s.cfg
	err := gateway.Serve(ctx, c.Listener, s.gw, gateway.ServeOptions{TLSCert: c.TLSCert, TLSKey: c.TLSKey, DrainTimeout: c.DrainTimeout, Logger: s.log,
		WriteTimeout: s.maxDeadline() + 30*time.Second, MaxConns: c.MaxConns, MaxUnauthenticatedConns: c.MaxUnauthenticatedConns})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the background work, waits for it, and closes the gateway,
// its listeners and its audit log. The vault stays open.
func (s *Server) Close() {
	s.stopBG()
	s.bg.Wait()
	CloseListeners(s.cfg)
	s.gw.Close()
	s.audit.Close()
}

// CloseListeners closes cfg's listeners (the gateway's, the operations'
// and the console's), for a caller that opened them and does not start
// the gateway after all. Closing one twice does no harm.
func CloseListeners(cfg Config) {
	for _, ln := range []net.Listener{cfg.Listener, cfg.OpsListener} {
		if ln != nil {
			ln.Close()
		}
	}
	if cfg.Console != nil && cfg.Console.Listener != nil {
		cfg.Console.Listener.Close()
	}
}

func (s *Server) maxDeadline() time.Duration {
	if s.cfg.MaxDeadline > 0 {
		return s.cfg.MaxDeadline
	}
	return gateway.DefaultMaxDeadline
}

// buildClient makes the SP-API client the gateway forwards through, with
// its rate-limit store and the vault's sellers.
func (s *Server) buildClient() error {
	c := s.cfg
	s.metrics = gateway.NewMetrics()
	var store ratelimit.Store
	switch c.RateLimits {
	case SharedLimits:
		store = c.Vault.RateLimitStore(s.log)
	case NoLimits:
		store = ratelimit.Unlimited{}
	default:
		store = &ratelimit.MemoryStore{}
	}
	limiter := ratelimit.New(ratelimit.Options{Store: s.metrics.InstrumentStore(store), Logger: s.log, Headroom: 1, MaxWait: c.MaxQueueWait})
	// Sellers are cached in memory; the vault watcher clears the cache the
	// moment another process changes the vault.
	s.sellers = appvault.NewSellers(c.Vault, c.App.Name, 30*time.Second, nil)
	var err error
	s.client, err = spapi.New(spapi.Config{
		AppID:       c.App.AppID,
		Sign:        c.Sign,
		Credentials: rotation.VaultCredentials{Vault: c.Vault, App: c.App.Name},
		Sellers:     s.sellers,
		Endpoints:   c.Endpoints,
		Limiter:     limiter,
		UserAgent:   c.UserAgent,
		Logger:      s.log,
		// Access tokens and RDTs are shared with every process on the
		// vault (the other replicas too): one request each among them.
		TokenCache: appvault.NewTokenCache(c.Vault, s.log),
	})
	if err != nil {
		return err
	}
	s.metrics.WatchClient(s.client)
	s.metrics.WatchCredentials(s.client.CredentialState())
	return nil
}

// buildGateway opens the audit log and makes the gateway and its
// readiness check.
func (s *Server) buildGateway() error {
	c := s.cfg
	s.auditAt = c.AuditLog
	if s.auditAt == "" {
		s.auditAt = filepath.Join(c.Vault.Dir(), "spgate-audit.jsonl")
	}
	maxBytes, keep := c.AuditMaxBytes, c.AuditKeep
	if maxBytes <= 0 {
		maxBytes = 10 << 20
	}
	if keep <= 0 {
		keep = 5
	}
	var err error
	if s.audit, err = gateway.OpenAuditLog(s.auditAt, maxBytes, keep); err != nil {
		return &Error{Part: PartAuditLog, Err: err}
	}
	interval := c.ReadyInterval
	if interval <= 0 {
		interval = time.Minute
	}
	s.ready = gateway.NewReadiness(gateway.CredentialReadiness(gateway.CredentialCheck{
		Vault: c.Vault, App: c.App.Name, State: s.client.CredentialState(),
		MinSecretDays: max(c.ReadySecretDays, 1), Metrics: s.metrics,
	}), interval, nil)
	gc := gateway.Config{Client: s.client, AppID: c.App.AppID, Directory: c.Vault, Audit: s.audit, Metrics: s.metrics,
		Ready: s.ready, Logger: s.log, KeyCacheTTL: c.KeyCacheTTL, MaxQueueWait: c.MaxQueueWait, MaxDeadline: c.MaxDeadline}
	if c.KeyCacheTTL < 0 {
		gc.KeyCacheTTL = time.Nanosecond // gateway.Config's zero means its default
	}
	if !c.NoVaultAccessLog {
		gc.Access = c.Vault
	}
	if s.gw, err = gateway.New(gc); err != nil {
		s.audit.Close()
		return &Error{Part: PartGateway, Err: err}
	}
	return nil
}

// startBackground starts readiness, the vault watcher, the operations
// listener, automatic rotation and the console, each ending with s.bgCtx
// and counted in s.bg.
func (s *Server) startBackground(ctx context.Context) error {
	c, bgCtx := s.cfg, s.bgCtx
	s.bg.Go(func() { s.ready.Run(bgCtx) })
	// A heartbeat in the vault every 10 s, for spgate doctor; removed
	// when serving stops.
	s.bg.Go(func() { c.Vault.Heartbeat(bgCtx, nil, vault.NewReplica(s.url, c.Version), 0) })
	// Follow the vault: what another process changes (a new refresh token,
	// a removed seller, a revoked key, a new client secret) takes effect
	// here within a watch interval (250 ms), without restart.
	s.bg.Go(func() {
		c.Vault.WatchChanges(bgCtx, nil, 0, func(ctx context.Context) {
			s.sellers.Clear()
			s.gw.Forget()
			s.client.CredentialState().Reload(ctx)
			s.log.Debug("the vault changed; cached keys and credentials re-read")
		})
	})
	if ops := c.OpsListener; ops != nil {
		if !local(ops.Addr()) {
			s.log.Warn("the operations listener (/metrics, full /readyz) is not on loopback: it has no authentication; keep it on a private network")
		}
		s.bg.Go(func() {
			_ = gateway.Serve(bgCtx, ops, s.gw.OpsHandler(), gateway.ServeOptions{Logger: s.log, DrainTimeout: time.Second})
		})
	}
	if c.AutoRotate {
		if err := s.startAutoRotate(ctx); err != nil {
			return &Error{Part: PartAutoRotate, Err: err}
		}
	}
	if c.Console != nil {
		return s.startConsole(bgCtx)
	}
	return nil
}

// startAutoRotate runs rotation.Schedule for the app in the background.
func (s *Server) startAutoRotate(ctx context.Context) error {
	c := s.cfg
	a, err := c.Vault.GetApp(ctx, c.App.Name)
	if err != nil {
		return err
	}
	r, err := appvault.NewRotator(ctx, c.Vault, a, c.Endpoints, c.SQSEndpoint, rotation.Config{Logger: s.log, Owner: "spgate serve --auto-rotate"})
	if err != nil {
		return err
	}
	app, log := a.Name, s.log
	s.bg.Go(func() {
		err := rotation.Schedule(s.bgCtx, r, app, rotation.ScheduleOptions{OnResult: func(res rotation.Result, err error) {
			if err != nil {
				log.Error("automatic client secret rotation failed; the gateway keeps the current secret", "app", app, "error", err.Error())
				return
			}
			log.Info("client secret rotated", "app", res.App, "version", res.Version, "expires", res.ExpiresAt)
		}})
		if err != nil && s.bgCtx.Err() == nil {
			log.Error("automatic rotation stopped", "app", app, "error", err.Error())
		}
	})
	return nil
}

// rotator is the app's rotator as the vault holds the app now (the console's
// Rotate button).
func (s *Server) rotator(ctx context.Context, progress func(step, msg string)) (*rotation.Rotator, error) {
	c := s.cfg
	a, err := c.Vault.GetApp(ctx, c.App.Name)
	if err != nil {
		return nil, err
	}
	return appvault.NewRotator(ctx, c.Vault, a, c.Endpoints, c.SQSEndpoint, rotation.Config{Logger: s.log, Progress: progress, Owner: "spgate serve --console"})
}

// local reports whether a listener's address is reachable from this
// machine only: loopback, or a Unix socket.
func local(a net.Addr) bool {
	if a.Network() == "unix" {
		return true
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}
