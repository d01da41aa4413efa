package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// testAWSSecret is a fixture AWS secret access key stored with the app:
// no page may show it.
const testAWSSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEK1"

// env is the offline Amazon, a vault holding an app it knows and two of
// its sellers (a third has not authorized the app yet), the gateway
// serving them, and the console on loopback, all in this process.
type env struct {
	t        testing.TB
	srv      *amazontest.Server
	app      amazontest.App
	sellers  []amazontest.DemoSeller // [0], [1] authorized in the vault; [2] not
	tokens   []string                // refresh tokens of sellers[0], [1]
	v        *vault.Vault
	key      vault.Key
	client   *spapi.Client
	gw       *gateway.Gateway
	gwURL    string
	c        *Console
	url      string
	stats    *Stats
	events   *eventLog
	consentN int // which emulator seller consents next (index into sellers)
}

// eventLog collects the console's admin events.
type eventLog struct {
	mu sync.Mutex
	ev []AdminEvent
}

func (l *eventLog) add(_ context.Context, e AdminEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ev = append(l.ev, e)
}

func (l *eventLog) has(action string, ok bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.ev {
		if e.Action == action && e.OK == ok {
			return true
		}
	}
	return false
}

type envOptions struct {
	rotate func(ctx context.Context, progress func(step, msg string)) (rotation.Result, error)
	// moto, when set, gives the app a notification queue there and the
	// console a real rotator (SQS through moto, LWA and SP-API through the
	// emulator).
	moto   *mototest.Server
	amazon []amazontest.Option
	// queue is the app's notification queue URL (in the emulator and the vault).
	queue string
	// redirectURI is the app's registered redirect URI (default the
	// console's callback).
	redirectURI string
	// awsKeyID, awsSecret are the app's IAM user keys (default a fixture).
	awsKeyID, awsSecret string
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	if o.moto != nil {
		name := fmt.Sprintf("console-%d", time.Now().UnixNano())
		if _, err := sqs.NewFromConfig(o.moto.AdminConfig()).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		o.queue = "https://sqs.us-east-1.amazonaws.com/" + mototest.AccountID + "/" + name
		o.amazon = append(o.amazon, amazontest.WithSQS(o.moto.Endpoint, o.moto.Admin.AccessKeyID, secret.New(o.moto.Admin.SecretAccessKey)))
		o.awsKeyID, o.awsSecret = o.moto.Admin.AccessKeyID, o.moto.Admin.SecretAccessKey
	}
	srv := amazontest.NewServer(append([]amazontest.Option{amazontest.WithoutRateLimits()}, o.amazon...)...)
	t.Cleanup(srv.Close)
	d := srv.Demo()
	e := &env{t: t, srv: srv, sellers: d.Sellers, events: &eventLog{}, consentN: 2}

	// The console's address first: the app registers its callback.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	app, err := srv.AddApp(amazontest.App{Roles: []string{amazontest.RoleShipping}, RedirectURIs: []string{e.url + "/oauth/callback"}, NotificationQueueURL: o.queue})
	if err != nil {
		t.Fatal(err)
	}
	e.app = app

	dir := t.TempDir()
	if e.key, err = vault.NewRandomKey(); err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, filepath.Join(dir, "vault.db"), e.key, vault.Options{Create: true, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	e.v = v
	if err := v.AddApp(ctx, vault.App{Name: "main", AppID: app.ID, ClientID: app.ClientID, Region: vault.RegionNA,
		Roles: app.Roles, SQSQueueURL: o.queue,
		ClientSecrets: []vault.Secret{{Value: secret.New(app.ClientSecret), ExpiresAt: app.SecretExpiry}}}); err != nil {
		t.Fatal(err)
	}
	keyID, awsSecret := o.awsKeyID, o.awsSecret
	if keyID == "" {
		keyID, awsSecret = "AKIAIOSFODNN7EXAMPLE", testAWSSecret
	}
	if err := v.SetAWSKeys(ctx, "main", keyID, secret.New(awsSecret)); err != nil {
		t.Fatal(err)
	}
	for i, s := range d.Sellers[:2] {
		tok, err := srv.Authorize(s.ID, app.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens = append(e.tokens, tok)
		if err := v.AddSeller(ctx, vault.Seller{ID: s.ID, Name: fmt.Sprintf("shop-%d", i+1), Region: string(s.Region), Marketplaces: s.Marketplaces,
			Authorizations: []vault.Authorization{{AppName: "main", RefreshToken: vault.Secret{Value: secret.New(tok)}}}}); err != nil {
			t.Fatal(err)
		}
	}

	ep, err := spapi.Custom(srv.URL, map[spapi.Region]string{
		spapi.EU: srv.RegionURL(amazontest.RegionEU), spapi.FE: srv.RegionURL(amazontest.RegionFE),
	}, srv.TokenURL())
	if err != nil {
		t.Fatal(err)
	}
	e.stats = NewStats(nil)
	log := slog.New(e.stats.Handler(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})))
	creds := rotation.VaultCredentials{Vault: v, App: "main"}
	e.client, err = spapi.New(spapi.Config{AppID: app.ID, Credentials: creds, Sellers: appvault.NewSellers(v, "main", time.Second, nil),
		Endpoints: ep, Limiter: ratelimit.New(ratelimit.Options{Store: &ratelimit.MemoryStore{}, Headroom: 1}), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	audit, err := gateway.OpenAuditLog(filepath.Join(dir, "audit.jsonl"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { audit.Close() })
	e.gw, err = gateway.New(gateway.Config{Client: e.client, AppID: app.ID, Directory: v, Access: v, Audit: audit, Logger: log, KeyCacheTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.gwURL = "http://" + gln.Addr().String()
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 2)
	go func() {
		served <- gateway.Serve(sctx, gln, e.gw, gateway.ServeOptions{Logger: log, DrainTimeout: time.Second})
	}()

	lc := &lwa.Client{TokenURL: srv.TokenURL()}
	if o.moto != nil {
		m := o.moto
		o.rotate = func(ctx context.Context, progress func(step, msg string)) (rotation.Result, error) {
			r, err := rotation.New(rotation.Config{Vault: v, Request: rotation.SPAPIRequester(v, ep, nil, nil, nil),
				Queues: rotation.SQSQueuesWith(rotation.SQSOptions{Endpoint: m.Endpoint}), Verify: rotation.LWAVerifier(srv.TokenURL(), nil, nil),
				Progress: progress, Owner: "spgate console (test)", PollWait: time.Second, Timeout: testenv.Patience})
			if err != nil {
				return rotation.Result{}, err
			}
			return r.Rotate(ctx, "main")
		}
	}
	c, err := New(Config{
		Vault: v, App: "main", Addr: ln.Addr().String(), GatewayURL: e.gwURL,
		Checks: func(ctx context.Context) ([]doctor.Check, error) {
			a, err := v.GetApp(ctx, "main")
			if err != nil {
				return nil, err
			}
			var sellers []vault.Seller
			list, _ := v.ListSellers(ctx)
			for _, s := range list {
				if _, ok := s.Authorization("main"); ok {
					full, _ := v.GetSeller(ctx, s.ID)
					sellers = append(sellers, full)
				}
			}
			checks := doctor.Run(ctx, doctor.Input{App: a, Sellers: sellers, Client: e.client, Credentials: creds, Endpoints: ep})
			st, _ := rotation.Inspect(ctx, v, a)
			return append(checks, doctor.Secrets(ctx, doctor.SecretsInput{App: a, Verify: rotation.LWAVerifier(srv.TokenURL(), nil, nil), Rotation: st})...), nil
		},
		Credentials: e.client.CredentialState(),
		Rotate:      o.rotate,
		Stats:       e.stats,
		Audit:       e.events.add,
		Consent: &Consent{
			RedirectURI: o.redirectURI,
			URL: func(region, redirectURI, state string) (string, error) {
				q := url.Values{"application_id": {app.ID}, "state": {state}, "redirect_uri": {redirectURI}}
				// The emulator's consent page lets the test say which seller
				// consents.
				q.Set("selling_partner_id", e.sellers[e.consentN].ID)
				return srv.ConsentURL() + "?" + q.Encode(), nil
			},
			Complete: func(ctx context.Context, state, redirectURI string, q url.Values) (string, secret.String, error) {
				if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
					return "", secret.String{}, errors.New("state mismatch")
				}
				if e := q.Get("error"); e != "" {
					return "", secret.String{}, errors.New("the seller declined: " + e)
				}
				_, rt, err := lc.ExchangeCode(ctx, creds, q.Get("spapi_oauth_code"), redirectURI)
				return q.Get("selling_partner_id"), rt, err
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	go func() { served <- c.Serve(sctx, ln, "", "") }()
	t.Cleanup(func() {
		stop()
		<-served
		<-served
		e.gw.Close()
	})
	return e
}

// secrets lists every secret the fixture holds: none may appear in a page.
func (e *env) secrets() []string {
	enc, _ := e.key.Encode()
	out := []string{e.app.ClientSecret, testAWSSecret, enc}
	out = append(out, e.tokens...)
	if a, ok := e.srv.App(e.app.ID); ok && a.ClientSecret != e.app.ClientSecret {
		out = append(out, a.ClientSecret)
	}
	return out
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see them.
type browser struct {
	t    testing.TB
	e    *env
	hc   *http.Client
	csrf string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, e: e, hc: &http.Client{Jar: jar, Timeout: testenv.Patience,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn signs the browser in with a fresh one-time link.
func (b *browser) signIn() {
	b.t.Helper()
	tok, err := IssueLoginToken(context.Background(), b.e.v, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	resp, _ := b.get(strings.TrimPrefix(LoginURL("", tok), ""))
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	_, body := b.get("/clients")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no CSRF token in /clients:\n%s", body)
	}
	b.csrf = m[1]
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil, nil)
}

// post sends a form, with the session's CSRF token unless form has one.
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && b.csrf != "" {
		form.Set("csrf", b.csrf)
	}
	return b.do(http.MethodPost, path, form, nil)
}

func (b *browser) do(method, path string, form url.Values, hdr http.Header) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = b.e.url + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

// callGateway calls getMarketplaceParticipations for seller with key.
func (e *env) callGateway(key, seller string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.gwURL+"/sellers/v1/marketplaceParticipations", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set(gateway.HeaderSeller, seller)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
