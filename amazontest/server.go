// Package amazontest is an offline Amazon: Login with Amazon and the Selling
// Partner API as they behave on the wire, for tests, demos and benchmarks.
//
// It is used like net/http/httptest:
//
//	srv := amazontest.NewServer(amazontest.WithClock(fake))
//	defer srv.Close()
//	demo := srv.Demo() // client id, secret, refresh token of a ready app
//	// point the client under test at srv.TokenURL() and srv.URL
//
// NewServer starts one loopback listener per selling region (srv.URL is NA;
// srv.RegionURL(RegionEU) and RegionFE are the others). A Host header naming a
// real Amazon host (sellingpartnerapi-{na,eu,fe}.amazon.com, their sandbox.
// variants, api.amazon.com) overrides the listener's region, so a client that
// resolves Amazon's names to the emulator (curl --resolve, /etc/hosts) works
// unchanged. Every listener also serves LWA (/auth/o2/token), the consent
// page (/apps/authorize/consent) and the admin endpoints (/_admin/…, loopback
// only; see admin.go).
//
// For embedding use New, then Start (listeners where and how you choose)
// or Handler (your own server).
//
// Time: the emulator reads the injected clock.Clock and runs its own time as
// start + TimeScale × elapsed. Token, code and secret lifetimes and rate-limit
// refills all use that scaled time; tests drive it with clock.NewFake and
// never sleep.
package amazontest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/secret"
)

// Config configures an emulator. The zero value is usable: seed 0, the demo
// registry, 3 sellers, the real clock, no time scaling.
type Config struct {
	// Seed makes ids, secrets and generated orders deterministic.
	Seed int64
	// OrdersPerSeller is how many orders the data set generates per seller
	// (default 100).
	OrdersPerSeller int
	// Sellers is how many demo sellers to create, spread over the regions
	// NA, EU, FE (default 3). Ignored when RegistryFile is set.
	Sellers int
	// Clock is the time source (default the real clock).
	Clock clock.Clock
	// TimeScale speeds up the emulator's time: 60 makes an hour of Amazon
	// pass in a real minute (default 1). Token lifetimes, code lifetimes and
	// secret windows shrink and rate-limit buckets refill that much faster in
	// real time; x-amzn-RateLimit-Limit reports rate × scale.
	TimeScale float64
	// TokenLifetime is how long access tokens and RDTs live, in emulator
	// time (default 3600 s).
	TokenLifetime time.Duration
	// PreviousSecretWindow is how long the old client secret keeps working
	// after a rotation (default 7 days).
	PreviousSecretWindow time.Duration
	// RateLimitHeaderOmitShare is the share (0…1) of SP-API responses that
	// omit x-amzn-RateLimit-Limit, as Amazon does on some responses.
	RateLimitHeaderOmitShare float64
	// NoRateLimits lifts every rate limit (for load benchmarks). The header is
	// still sent.
	NoRateLimits bool
	// RegistryFile is a JSON file of applications, sellers and
	// authorizations that replaces the demo registry; New reads it, and the
	// type RegistryFile documents its format.
	RegistryFile string
	// SQSEndpoint is where notifications for apps with a
	// NotificationQueueURL are sent (e.g. a moto_server URL). Empty means the
	// queue URL's own scheme and host.
	SQSEndpoint string
	// SQSAccessKeyID and SQSSecretAccessKey are the static credentials the
	// emulator signs SQS calls with (default "testing"/"testing").
	SQSAccessKeyID     string
	SQSSecretAccessKey secret.String
	// TLS makes NewServer serve HTTPS with a certificate for Amazon's host
	// names, signed by a fresh CA; Client trusts it and dials those names to
	// the emulator, so code written against production endpoints runs
	// unmodified.
	TLS bool
	// MaxBodyBytes bounds request bodies (default 1 MiB); larger bodies are
	// refused with Amazon's 400 shapes (413 where the model declares it).
	MaxBodyBytes int64
}

// Option adjusts the Config of NewServer.
type Option func(*Config)

// WithSeed sets Config.Seed.
func WithSeed(seed int64) Option { return func(c *Config) { c.Seed = seed } }

// WithOrdersPerSeller sets Config.OrdersPerSeller.
func WithOrdersPerSeller(n int) Option { return func(c *Config) { c.OrdersPerSeller = n } }

// WithSellers sets Config.Sellers.
func WithSellers(n int) Option { return func(c *Config) { c.Sellers = n } }

// WithClock sets Config.Clock.
func WithClock(clk clock.Clock) Option { return func(c *Config) { c.Clock = clk } }

// WithTimeScale sets Config.TimeScale.
func WithTimeScale(x float64) Option { return func(c *Config) { c.TimeScale = x } }

// WithTokenLifetime sets Config.TokenLifetime.
func WithTokenLifetime(d time.Duration) Option { return func(c *Config) { c.TokenLifetime = d } }

// WithPreviousSecretWindow sets Config.PreviousSecretWindow.
func WithPreviousSecretWindow(d time.Duration) Option {
	return func(c *Config) { c.PreviousSecretWindow = d }
}

// WithRateLimitHeaderOmission sets Config.RateLimitHeaderOmitShare.
func WithRateLimitHeaderOmission(share float64) Option {
	return func(c *Config) { c.RateLimitHeaderOmitShare = share }
}

// WithoutRateLimits sets Config.NoRateLimits.
func WithoutRateLimits() Option { return func(c *Config) { c.NoRateLimits = true } }

// WithTLS serves HTTPS for Amazon's host names; use Server.Client to call it.
func WithTLS() Option { return func(c *Config) { c.TLS = true } }

// WithRegistryFile sets Config.RegistryFile.
func WithRegistryFile(path string) Option { return func(c *Config) { c.RegistryFile = path } }

// WithSQS sets the SQS endpoint and static credentials for notifications.
func WithSQS(endpoint, accessKeyID string, secretAccessKey secret.String) Option {
	return func(c *Config) {
		c.SQSEndpoint, c.SQSAccessKeyID, c.SQSSecretAccessKey = endpoint, accessKeyID, secretAccessKey
	}
}

func (c *Config) defaults() error {
	if c.OrdersPerSeller == 0 {
		c.OrdersPerSeller = 100
	}
	if c.Sellers == 0 {
		c.Sellers = 3
	}
	if c.TimeScale == 0 {
		c.TimeScale = 1
	}
	if c.TokenLifetime == 0 {
		c.TokenLifetime = time.Hour
	}
	if c.PreviousSecretWindow == 0 {
		c.PreviousSecretWindow = 7 * 24 * time.Hour
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.SQSAccessKeyID == "" {
		c.SQSAccessKeyID = "testing"
	}
	if c.SQSSecretAccessKey.IsZero() {
		c.SQSSecretAccessKey = secret.New("testing")
	}
	c.Clock = clock.Or(c.Clock)
	switch {
	case c.OrdersPerSeller < 0:
		return fmt.Errorf("amazontest: OrdersPerSeller is %d; use 0 for the default or a positive count", c.OrdersPerSeller)
	case c.Sellers < 0:
		return fmt.Errorf("amazontest: Sellers is %d; use 0 for the default or a positive count", c.Sellers)
	case c.TimeScale < 0:
		return fmt.Errorf("amazontest: TimeScale is %g; use a positive factor (1 = real time)", c.TimeScale)
	case c.TokenLifetime < 0 || c.PreviousSecretWindow < 0:
		return errors.New("amazontest: TokenLifetime and PreviousSecretWindow must be positive")
	case c.RateLimitHeaderOmitShare < 0 || c.RateLimitHeaderOmitShare > 1:
		return fmt.Errorf("amazontest: RateLimitHeaderOmitShare is %g; use a share between 0 and 1", c.RateLimitHeaderOmitShare)
	}
	return nil
}

// Server is an emulated Amazon. Create it with NewServer (listening on
// loopback, like httptest) or New (for embedding via Handler).
type Server struct {
	// URL is the NA region's base URL (SP-API and LWA), e.g.
	// "http://127.0.0.1:41234". Empty for a Server from New until Listen.
	URL string

	cfg   Config
	clk   clock.Clock
	start time.Time // clock time at creation; emulator time starts here

	mu     sync.RWMutex
	reg    registry
	rng    *rand.Rand // ids and tokens; guarded by mu
	demo   Demo
	faults Faults

	data     *dataset      // the seeded order data (data.go)
	listings *listingStore // what sellers listed (listings.go)
	limiter  *limiter
	counters counters
	notify   chan []byte
	handlers map[string]opHandler

	reqSeq  atomic.Uint64
	omitAcc atomic.Uint64 // responses counted for header omission
	faultN  atomic.Uint64 // requests counted for fault shares

	sqsMu  sync.Mutex
	sqsCli map[string]sqsSender // by endpoint

	servers   []*http.Server
	regionURL map[Region]string
	tls       *TLSBundle // set by Start
	serveErr  chan error // a listener Start served that failed
}

// New builds an emulator without listening. Serve it with Handler (the
// region comes from the Host header, NA by default) or HandlerFor.
func New(cfg Config) (*Server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		clk:       cfg.Clock,
		start:     cfg.Clock.Now(),
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed_a3a2_0b7e_57)),
		notify:    make(chan []byte, 256),
		regionURL: map[Region]string{},
		sqsCli:    map[string]sqsSender{},
	}
	s.reg.init()
	s.limiter = newLimiter()
	s.counters.init()
	if cfg.RegistryFile != "" {
		if err := s.loadRegistryFile(cfg.RegistryFile); err != nil {
			return nil, err
		}
	} else {
		s.seedDemo()
	}
	sellers := make([]*Seller, 0, len(s.reg.sellerOrder))
	for _, id := range s.reg.sellerOrder {
		cp := *s.reg.sellers[id]
		sellers = append(sellers, &cp)
	}
	s.data = newDataset(cfg.Seed, sellers, cfg.OrdersPerSeller, s.start)
	s.listings = newListingStore(cfg.Seed)
	s.handlers = map[string]opHandler{}
	for k, h := range operationHandlers() {
		s.handlers[k] = h
	}
	for k, h := range coreHandlers() {
		s.handlers[k] = h
	}
	return s, nil
}

// NewServer starts an emulator on loopback, one listener per region, like
// httptest.NewServer. It panics when it cannot (bad options, no loopback
// port), as httptest does; use New to get an error instead.
func NewServer(opts ...Option) *Server {
	var cfg Config
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		panic(fmt.Sprintf("amazontest.NewServer: %v", err))
	}
	if err := s.Start(StartOptions{}); err != nil {
		panic(fmt.Sprintf("amazontest.NewServer: %v", err))
	}
	return s
}

// Client returns an *http.Client for talking to a NewServer emulator the
// way a client talks to Amazon: with Config.TLS it trusts the emulator's CA
// and dials api.amazon.com, sellingpartnerapi-{na,eu,fe}.amazon.com and the
// sandbox hosts to the matching region's listener, so production URLs work
// unchanged. Without TLS it is a plain client that still maps those names.
func (s *Server) Client() *http.Client {
	addr := func(r Region) string {
		u := s.regionURL[r]
		return u[strings.Index(u, "://")+3:]
	}
	route := map[string]string{"api.amazon.com": addr(RegionNA), "sellercentral.amazon.com": addr(RegionNA)}
	for _, h := range amazonHosts {
		if r, ok := hostRegion(h); ok {
			route[h] = addr(r)
		}
	}
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(address)
			if err == nil && (port == "443" || port == "80") {
				if to, ok := route[strings.ToLower(host)]; ok {
					address = to
				}
			}
			return d.DialContext(ctx, network, address)
		},
		MaxIdleConnsPerHost: 64,
		ForceAttemptHTTP2:   true,
	}
	if s.tls != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.tls.CAPEM)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}
}

// CACertPEM returns the CA certificate of a TLS server (nil without TLS).
func (s *Server) CACertPEM() []byte {
	if s.tls == nil {
		return nil
	}
	return append([]byte(nil), s.tls.CAPEM...)
}

// RegionURL returns the base URL of region's listener ("" for a Server
// from New, or an unknown region).
func (s *Server) RegionURL(r Region) string { return s.regionURL[r] }

// TokenURL returns the LWA token endpoint (POST /auth/o2/token).
func (s *Server) TokenURL() string { return s.URL + "/auth/o2/token" }

// ConsentURL returns the consent page for appID ("the seller clicks
// Confirm"); see serveConsent for the query parameters.
func (s *Server) ConsentURL() string { return s.URL + "/apps/authorize/consent" }

// Close stops the listeners NewServer started and closes open connections.
func (s *Server) Close() {
	for _, hs := range s.servers {
		_ = hs.Close()
	}
	s.servers = nil
}

// Shutdown stops the listeners gracefully, waiting for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	for _, hs := range s.servers {
		errs = append(errs, hs.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Handler serves everything (SP-API, LWA, consent, admin), taking the region
// from the Host header and defaulting to NA.
func (s *Server) Handler() http.Handler { return s.HandlerFor(RegionNA) }

// HandlerFor serves everything with def as the region for hosts that are not
// Amazon's.
func (s *Server) HandlerFor(def Region) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(def, w, r) })
}

// now returns the emulator's time: start + TimeScale × elapsed clock time.
func (s *Server) now() time.Time {
	el := s.clk.Now().Sub(s.start)
	if s.cfg.TimeScale == 1 {
		return s.start.Add(el)
	}
	return s.start.Add(time.Duration(float64(el) * s.cfg.TimeScale))
}

// Now returns the emulator's current (scaled) time, as used for expiry.
func (s *Server) Now() time.Time { return s.now() }

// hostRegion maps a Host header naming one of Amazon's hosts to its region.
func hostRegion(host string) (Region, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	host = strings.TrimPrefix(host, "sandbox.")
	switch host {
	case "sellingpartnerapi-na.amazon.com":
		return RegionNA, true
	case "sellingpartnerapi-eu.amazon.com":
		return RegionEU, true
	case "sellingpartnerapi-fe.amazon.com":
		return RegionFE, true
	}
	return "", false
}

// AmazonHosts lists the host names the emulator answers for as Amazon; a TLS
// certificate for them lets an unmodified client talk to the emulator.
var amazonHosts = []string{
	"api.amazon.com",
	"sellingpartnerapi-na.amazon.com", "sellingpartnerapi-eu.amazon.com", "sellingpartnerapi-fe.amazon.com",
	"sandbox.sellingpartnerapi-na.amazon.com", "sandbox.sellingpartnerapi-eu.amazon.com", "sandbox.sellingpartnerapi-fe.amazon.com",
}

// AmazonHosts returns the host names the emulator impersonates.
func AmazonHosts() []string { return append([]string(nil), amazonHosts...) }

// requestID returns a fresh uuid-shaped request id.
func (s *Server) requestID() string {
	n := s.reqSeq.Add(1)
	a := splitmix(uint64(s.cfg.Seed) ^ n)
	b := splitmix(a ^ n<<1)
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
		uint32(a>>32), uint16(a>>16), uint16(a)&0xfff, (uint16(b>>48)&0x3fff)|0x8000, b&0xffffffffffff)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// serve is the front door: request id, Date, recovery, routing.
func (s *Server) serve(def Region, w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("x-amzn-RequestId", s.requestID())
	s.mu.RLock()
	skew := s.faults.DateSkew
	s.mu.RUnlock()
	h.Set("Date", s.clk.Now().Add(skew).UTC().Format(http.TimeFormat))
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared by identity, as net/http does
				panic(v)
			}
			s.counters.add(&s.counters.panics)
			writeError(w, http.StatusInternalServerError, "InternalFailure", "We encountered an internal error. Please try again.", "")
		}
	}()
	region := def
	if reg, ok := hostRegion(r.Host); ok {
		region = reg
	}
	switch p := r.URL.Path; {
	case p == "/auth/o2/token":
		s.serveToken(w, r)
	case p == "/apps/authorize/consent":
		s.serveConsent(w, r)
	case strings.HasPrefix(p, "/_admin/"):
		s.serveAdmin(w, r)
	default:
		s.serveSPAPI(region, w, r)
	}
}
