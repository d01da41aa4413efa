package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// env is an emulated Amazon, a vault holding its demo app and sellers, and
// a gateway serving them on loopback.
type env struct {
	t       testing.TB
	srv     *amazontest.Server
	demo    amazontest.Demo
	v       *vault.Vault
	client  *spapi.Client
	gw      *gateway.Gateway
	metrics *gateway.Metrics
	url     string
	logs    *testenv.Buffer
	audit   string
	keys    map[string]string // client name → key
	cancel  context.CancelFunc
	served  chan error
	hc      *http.Client
}

type envOptions struct {
	amazon    []amazontest.Option
	rateScale float64
	store     ratelimit.Store
	clock     clock.Clock // gateway caches
	// virtual, when set, is the one clock of the emulator, the client, its
	// limiter and (unless clock is set) the gateway's caches. Waits are
	// then virtual while deadlines stay real, so the limiter's reservation
	// horizon and the gateway's queue and call limits are lifted to a day:
	// every caller holds its slot and waits on its own timer, and only a
	// test's own X-Spgate-Deadline-Ms refuses a wait.
	virtual     *clock.Fake
	secretDays  int // client secret expiry from now (0: 180 days)
	wrap        func(http.Handler) http.Handler
	noAudit     bool
	readiness   bool
	logLevel    slog.Level
	drain       time.Duration
	withoutLogs bool
	serve       gateway.ServeOptions // Logger and DrainTimeout are set by newEnv
}

const sellerName = "main-shop"

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	var virtual clock.Clock // nil: the wall clock
	if o.virtual != nil {
		virtual = o.virtual
		o.amazon = append(slices.Clone(o.amazon), amazontest.WithClock(o.virtual))
		if o.clock == nil {
			o.clock = o.virtual
		}
	}
	srv := amazontest.NewServer(o.amazon...)
	t.Cleanup(srv.Close)
	d := srv.Demo()
	dir := t.TempDir()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, filepath.Join(dir, "vault.db"), key, vault.Options{Create: true, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	days := o.secretDays
	if days == 0 {
		days = 170
	}
	app := vault.App{Name: "main", AppID: d.AppID, ClientID: d.ClientID,
		Roles:         []string{amazontest.RoleShipping, amazontest.RoleTaxInvoicing},
		ClientSecrets: []vault.Secret{{Value: secret.New(d.ClientSecret), ExpiresAt: time.Now().Add(time.Duration(days)*24*time.Hour + time.Hour)}}}
	if err := v.AddApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	var static spapi.StaticSellers
	for i, s := range d.Sellers {
		name := fmt.Sprintf("shop-%d", i+1)
		if i == 0 {
			name = sellerName
		}
		if err := v.AddSeller(ctx, vault.Seller{ID: s.ID, Name: name, Region: string(s.Region), Marketplaces: s.Marketplaces,
			Authorizations: []vault.Authorization{{AppName: app.Name, RefreshToken: vault.Secret{Value: secret.New(s.RefreshToken)}}}}); err != nil {
			t.Fatal(err)
		}
		static = append(static, spapi.Seller{ID: s.ID, Region: spapi.Region(s.Region), RefreshToken: secret.New(s.RefreshToken)})
	}
	ep, err := spapi.Custom(srv.URL, map[spapi.Region]string{
		spapi.EU: srv.RegionURL(amazontest.RegionEU), spapi.FE: srv.RegionURL(amazontest.RegionFE),
	}, srv.TokenURL())
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	var log *slog.Logger
	if o.withoutLogs {
		log = slog.New(slog.DiscardHandler)
	} else {
		log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: o.logLevel}))
	}
	m := gateway.NewMetrics()
	store := o.store
	if store == nil {
		store = &ratelimit.MemoryStore{}
	}
	lo := ratelimit.Options{Store: m.InstrumentStore(store), RateScale: o.rateScale, Headroom: 1, Logger: log, Clock: virtual}
	if o.virtual != nil {
		lo.MaxWait = 24 * time.Hour
	}
	limiter := ratelimit.New(lo)
	wire := http.DefaultTransport.(*http.Transport).Clone()
	wire.MaxIdleConnsPerHost = 2048
	creds := lwa.StaticCredentials{ClientID: d.ClientID, ClientSecret: secret.New(d.ClientSecret)}
	client, err := spapi.New(spapi.Config{
		AppID: d.AppID, Credentials: creds, Sellers: static, Endpoints: ep,
		Limiter: limiter, Logger: log, Base: wire, BackoffBase: 10 * time.Millisecond, Clock: virtual,
	})
	if err != nil {
		t.Fatal(err)
	}
	m.WatchClient(client)
	e := &env{t: t, srv: srv, demo: d, v: v, client: client, metrics: m, logs: logs, keys: map[string]string{}}
	cfg := gateway.Config{Client: client, AppID: d.AppID, Directory: v, Access: v, Metrics: m, Logger: log, Clock: o.clock}
	if o.virtual != nil {
		cfg.MaxQueueWait, cfg.MaxDeadline = 24*time.Hour, 24*time.Hour
	}
	if !o.noAudit {
		e.audit = filepath.Join(dir, "audit.jsonl")
		a, err := gateway.OpenAuditLog(e.audit, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		cfg.Audit = a
	}
	if o.readiness {
		cfg.Ready = gateway.NewReadiness(gateway.CredentialReadiness(gateway.CredentialCheck{
			Vault: v, App: "main", State: client.CredentialState(), MinSecretDays: 7, Metrics: m,
		}), time.Minute, nil)
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gw
	var h http.Handler = gw
	if o.wrap != nil {
		h = o.wrap(gw)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	sctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.served = make(chan error, 1)
	drain := o.drain
	if drain == 0 {
		drain = testenv.Patience
	}
	serveOpts := o.serve
	serveOpts.Logger, serveOpts.DrainTimeout = log, drain
	go func() { e.served <- gateway.Serve(sctx, ln, h, serveOpts) }()
	t.Cleanup(func() {
		cancel()
		<-e.served
		gw.Close()
	})
	ht := http.DefaultTransport.(*http.Transport).Clone()
	ht.MaxIdleConnsPerHost = 2048
	e.hc = &http.Client{Transport: ht, Timeout: testenv.Patience}
	t.Cleanup(ht.CloseIdleConnections)
	return e
}

// addClient creates a gateway client and remembers its key.
func (e *env) addClient(name string, sellers, ops []string, pii bool) string {
	e.t.Helper()
	k, err := e.v.CreateClient(context.Background(), vault.Client{Name: name, Sellers: sellers, Operations: ops, PII: pii})
	if err != nil {
		e.t.Fatal(err)
	}
	e.keys[name] = k.Reveal()
	return k.Reveal()
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) errorCode() string {
	var b gateway.ErrorBody
	_ = json.Unmarshal(r.body, &b)
	return b.Error.Code
}

// do calls the gateway. hdr holds extra headers ("" values are skipped).
func (e *env) do(ctx context.Context, method, path, key, seller string, hdr map[string]string) result {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if seller != "" {
		req.Header.Set(gateway.HeaderSeller, seller)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			return result{}
		}
		e.t.Errorf("%s %s: %v", method, path, err)
		return result{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

// auditLines reads the audit log.
func (e *env) auditLines() []gateway.AuditEntry {
	e.t.Helper()
	b, err := os.ReadFile(e.audit)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []gateway.AuditEntry
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var a gateway.AuditEntry
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			e.t.Fatalf("audit line %q is not JSON: %v", line, err)
		}
		out = append(out, a)
	}
	return out
}

// secrets lists every secret the env knows, for leak checks.
func (e *env) secrets() []string {
	out := []string{e.demo.ClientSecret, "Atza|", "Atzr|", "Atz.sprdt|"}
	for _, s := range e.demo.Sellers {
		out = append(out, s.RefreshToken)
	}
	for _, k := range e.keys {
		out = append(out, k)
	}
	return out
}

const ordersPath = "/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER&CreatedAfter=2020-01-01T00:00:00Z"
const participationsPath = "/sellers/v1/marketplaceParticipations"
