// Package console is spgate's admin web console: the setup guide's steps
// with their live state from spgate doctor's checks, the sellers and their
// authorizations, the app's client secret and its rotation, the gateway's
// client keys, and the activity of the gateway — served by `spgate serve
// --console ADDR` on a listener of its own.
//
// Pages are rendered on the server from html/template templates; the
// templates, the stylesheet and a little progressive-enhancement
// JavaScript (copy buttons, live progress) are embedded in the binary, so
// nothing is built with Node.js and every page works without JavaScript.
//
// Everything it does goes through the packages the CLI uses — the vault,
// the credential state, doctor's checks, the rotator, the consent flow —
// injected through Config, so tests build a Console without the CLI.
//
// Security. The console grants admin power over the vault, so:
//
//   - It listens on loopback unless it serves TLS (CheckAddr). Without TLS
//     it answers only requests whose Host names its own address, so a web
//     page cannot reach it through DNS rebinding.
//   - Sign-in is by a one-time link (IssueLoginToken): 256 random bits kept
//     in the vault as a SHA-256 hash, valid once, for LoginTokenTTL. It
//     becomes a session cookie (HttpOnly, SameSite=Strict, Secure and
//     __Host- under TLS) whose session lives in memory, expiring after an
//     hour idle or twelve hours in all. A client key is never an admin
//     credential.
//   - Every POST needs the session's CSRF token, and is refused when the
//     browser says it comes from another origin (Origin, Sec-Fetch-Site).
//   - No secret is ever rendered: pages show versions, dates and hints of
//     ownership only; free text from checks and progress is scrubbed of
//     anything shaped like a client secret, refresh or access token, or
//     client key. The one exception is a new gateway client key, shown once
//     in the answer to the request that created it.
//   - Every answer carries a strict Content-Security-Policy (no inline
//     script or style), X-Frame-Options DENY, no-store, no referrer.
//   - Every admin action is reported to Config.Audit, and changes to the
//     vault are recorded in its audit with the actor "spgate console".
package console

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/credstate"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Actor is how the vault's audit names changes made through the console.
const Actor = "spgate console"

// Config holds a Console's dependencies. Vault, App, Addr and Checks are
// required; a nil optional dependency hides or disables what needs it, and
// the page says why.
type Config struct {
	// Vault is the open vault the gateway serves from.
	Vault *vault.Vault
	// App is the name of the app the gateway serves.
	App string
	// Addr is the host:port the console is served on (the listener's
	// address): links, the OAuth callback and the Host check use it.
	Addr string
	// TLS is true when the console is served over HTTPS: cookies get
	// Secure and the __Host- prefix, and any Host is accepted (a
	// certificate pins the name).
	TLS bool

	// Checks runs spgate doctor's checks for the app (doctor.Run,
	// doctor.Secrets, doctor.AWS, as `spgate doctor` does).
	Checks func(ctx context.Context) ([]doctor.Check, error)
	// Credentials is the gateway's credential state per seller
	// (spapi.Client.CredentialState()); nil shows none.
	Credentials *credstate.Store
	// Rotate rotates the app's client secret, reporting each step
	// (rotation.Rotator.Rotate with Config.Progress); nil disables
	// "Rotate now".
	Rotate func(ctx context.Context, progress func(step, msg string)) (rotation.Result, error)
	// SetupAWS runs `spgate setup aws --app A --queue` (dryRun: with
	// --dry-run), writing its report to out; nil hides the AWS buttons.
	SetupAWS func(ctx context.Context, dryRun bool, out func(line string)) error
	// Consent runs the OAuth website flow; nil disables Authorize.
	Consent *Consent
	// Stats is the gateway's recent activity (see Stats.Handler); nil
	// shows no per-seller, per-client or per-operation figures.
	Stats *Stats
	// Audit is told about every admin action (sign-in, created key, …);
	// nil only logs them.
	Audit func(ctx context.Context, e AdminEvent)
	// GatewayURL is where callers reach the gateway, shown with new keys.
	GatewayURL string

	Clock  clock.Clock
	Logger *slog.Logger
	// CheckTimeout bounds one run of Checks (default 2 minutes).
	CheckTimeout time.Duration
}

// Consent is the OAuth website flow (spgate seller authorize), split so the
// console drives it from the browser.
type Consent struct {
	// RedirectURI is the redirect URI registered for the app; empty means
	// the console's own callback (RedirectURL), which must then be
	// registered in Developer Central.
	RedirectURI string
	// URL returns the consent page link for a seller in region, with
	// state and redirectURI (and version=beta for a draft app).
	URL func(region, redirectURI, state string) (string, error)
	// Complete checks the redirect's query against state and exchanges its
	// code with LWA for the seller's refresh token.
	Complete func(ctx context.Context, state, redirectURI string, q url.Values) (sellerID string, refreshToken secret.String, err error)
}

// AdminEvent is one admin action, for the audit. It never holds a secret.
type AdminEvent struct {
	Time   time.Time
	Action string // "sign-in", "client-create", "rotate", …
	Target string // what it acted on: a client, a seller, the app
	OK     bool
	Detail string
}

// Console is the admin web console. Create it with New, serve it with
// Serve or Handler.
type Console struct {
	cfg     Config
	clk     clock.Clock
	log     *slog.Logger
	pages   map[string]*template.Template
	mux     *http.ServeMux
	hosts   map[string]bool
	origin  string
	cookie  string
	sess    *sessions
	flows   *flows
	jobs    *jobs
	checks  checkCache
	loginMu sync.Mutex
	// base ends background work (rotations, AWS setup) when the console
	// stops; Serve sets it.
	base context.Context
}

// New returns a Console.
func New(cfg Config) (*Console, error) {
	if cfg.Vault == nil || cfg.App == "" || cfg.Addr == "" || cfg.Checks == nil {
		return nil, errors.New("console: Vault, App, Addr and Checks are required")
	}
	if err := CheckAddr(cfg.Addr, cfg.TLS); err != nil {
		return nil, err
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 2 * time.Minute
	}
	c := &Console{cfg: cfg, clk: clock.Or(cfg.Clock), log: cfg.Logger, base: context.Background()}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	scheme := "http"
	c.cookie = "spgate_console"
	if cfg.TLS {
		scheme = "https"
		c.cookie = "__Host-spgate_console"
	}
	c.origin = scheme + "://" + cfg.Addr
	c.hosts = map[string]bool{strings.ToLower(cfg.Addr): true}
	if host, port, err := net.SplitHostPort(cfg.Addr); err == nil && isLoopback(host) {
		c.hosts["localhost:"+port] = true
		c.hosts["127.0.0.1:"+port] = true
		c.hosts["[::1]:"+port] = true
	}
	c.sess = newSessions(c.clk)
	c.flows = newFlows(c)
	c.jobs = newJobs(c.clk)
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// CheckAddr refuses to serve the console on an address other than
// loopback without TLS: the session cookie and a new client key would
// cross the network in clear.
func CheckAddr(addr string, useTLS bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("console address %q: %w (give host:port, e.g. 127.0.0.1:8088)", addr, err)
	}
	if useTLS || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("the console would listen on %s without TLS: admin sessions and new client keys would cross the network in clear; listen on loopback (127.0.0.1:8088) and reach it through an SSH tunnel, or give it a certificate", addr)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URL is the console's base URL.
func (c *Console) URL() string { return c.origin }

// RedirectURL is the console's own OAuth callback, to register as the
// app's redirect URI when no other is.
func (c *Console) RedirectURL() string { return c.origin + "/oauth/callback" }

// Handler serves the console.
func (c *Console) Handler() http.Handler { return c.guard(c.mux) }

// Serve serves the console on ln until ctx ends; with certFile and keyFile
// it serves HTTPS.
func (c *Console) Serve(ctx context.Context, ln net.Listener, certFile, keyFile string) error {
	srv := &http.Server{
		Handler:           c.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      c.cfg.CheckTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelWarn),
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("console TLS certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	c.base = ctx
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		c.flows.closeAll()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	c.flows.closeAll()
	c.jobs.wait()
	if err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// audit reports an admin action to Config.Audit and the log.
func (c *Console) audit(ctx context.Context, action, target string, ok bool, detail string) {
	e := AdminEvent{Time: c.clk.Now(), Action: action, Target: target, OK: ok, Detail: scrub(detail)}
	lvl := slog.LevelInfo
	if !ok {
		lvl = slog.LevelWarn
	}
	c.log.Log(ctx, lvl, "console admin action", "action", e.Action, "target", e.Target, "ok", e.OK, "detail", e.Detail)
	if c.cfg.Audit != nil {
		c.cfg.Audit(ctx, e)
	}
}

// jobCtx is the context of background work: it ends with the console.
func (c *Console) jobCtx() context.Context { return actorCtx(c.base) }

// actorCtx marks vault changes as made through the console.
func actorCtx(ctx context.Context) context.Context { return vault.WithActor(ctx, Actor) }

func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := base.Clone()
		if err == nil {
			t, err = t.ParseFS(templateFS, n)
		}
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}
