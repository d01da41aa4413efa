package consent_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/consent"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// env is the offline Amazon with one draft app whose redirect URI is a
// loopback listener the flow serves.
type env struct {
	srv       *amazontest.Server
	fake      *clock.Fake // the offline Amazon's clock (code lifetimes)
	app       amazontest.App
	l         net.Listener
	redirect  string
	exchanges atomic.Int64
	codes     chan string // every code exchanged, to check no error shows one
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{fake: clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), codes: make(chan string, 8)}
	e.srv = amazontest.NewServer(amazontest.WithClock(e.fake))
	t.Cleanup(e.srv.Close)
	var err error
	if e.l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.l.Close() })
	e.redirect = "http://" + e.l.Addr().String() + "/callback"
	if e.app, err = e.srv.AddApp(amazontest.App{RedirectURIs: []string{e.redirect}, Draft: true}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) exchange() consent.Exchange {
	lc := &lwa.Client{TokenURL: e.srv.TokenURL()}
	creds := lwa.StaticCredentials{ClientID: e.app.ClientID, ClientSecret: secret.New(e.app.ClientSecret)}
	ex := consent.LWA(lc, creds)
	return func(ctx context.Context, code, ru string) (secret.String, error) {
		e.exchanges.Add(1)
		select {
		case e.codes <- code:
		default:
		}
		return ex(ctx, code, ru)
	}
}

func (e *env) options() consent.Options {
	return consent.Options{
		Link:     consent.Link{Page: e.srv.ConsentURL(), AppID: e.app.ID, Draft: true, RedirectURI: e.redirect},
		Exchange: e.exchange(), Listener: e.l, Timeout: testenv.Patience,
	}
}

// assertNoSecret fails when err's text holds a code or a refresh token.
func (e *env) assertNoSecret(t *testing.T, err error, res consent.Result) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "Atzr|") || !res.RefreshToken.IsZero() && strings.Contains(msg, res.RefreshToken.Reveal()) {
		t.Errorf("the error holds a refresh token: %v", err)
	}
	for {
		select {
		case c := <-e.codes:
			if strings.Contains(msg, c) {
				t.Errorf("the error holds the authorization code")
			}
		default:
			return
		}
	}
}

func TestFlow(t *testing.T) {
	tests := []struct {
		name string
		// browser plays the seller once the flow runs.
		browser func(t *testing.T, e *env, link string)
		wantErr error
		check   func(t *testing.T, e *env, res consent.Result)
	}{
		{"happy path", func(t *testing.T, e *env, link string) {
			if !strings.Contains(link, "version=beta") || !strings.Contains(link, "state=") {
				t.Errorf("consent link lacks version=beta or state: %s", link)
			}
			loc, err := testenv.ConsentRedirect(link, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if c, err := testenv.Visit(loc); c != http.StatusOK || err != nil {
				t.Errorf("callback: %d %v", c, err)
			}
		}, nil, func(t *testing.T, e *env, res consent.Result) {
			if !strings.HasPrefix(res.RefreshToken.Reveal(), "Atzr|") || res.SellerID == "" {
				t.Errorf("result %+v", res)
			}
		}},
		{"wrong state", func(t *testing.T, e *env, link string) {
			loc, err := testenv.ConsentRedirect(link, url.Values{"state": {"forged"}})
			if err == nil {
				_, err = testenv.Visit(loc)
			}
			if err != nil {
				t.Error(err)
			}
		}, consent.ErrState, func(t *testing.T, e *env, _ consent.Result) {
			if e.exchanges.Load() != 0 {
				t.Error("a code with a wrong state was exchanged")
			}
		}},
		{"expired code", func(t *testing.T, e *env, link string) {
			loc, err := testenv.ConsentRedirect(link, nil)
			if err != nil {
				t.Error(err)
				return
			}
			e.fake.Advance(5*time.Minute + time.Second) // Amazon's code window
			testenv.Visit(loc)
		}, consent.ErrCode, nil},
		{"denied consent", func(t *testing.T, e *env, link string) {
			if loc, err := testenv.ConsentRedirect(link, url.Values{"deny": {"1"}}); err == nil {
				testenv.Visit(loc)
			}
		}, consent.ErrDenied, nil},
		{"another path first", func(t *testing.T, e *env, link string) {
			// The browser's favicon request must not use up the flow.
			if c, _ := testenv.Visit("http://" + e.l.Addr().String() + "/favicon.ico"); c != http.StatusNotFound {
				t.Errorf("/favicon.ico answered %d", c)
			}
			if c, _ := testenv.Visit("http://" + e.l.Addr().String() + "/callback/x"); c != http.StatusNotFound {
				t.Errorf("/callback/x answered %d", c)
			}
			resp, err := testenv.NoRedirect().Post(e.redirect, "text/plain", nil)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusMethodNotAllowed {
					t.Errorf("POST answered %d", resp.StatusCode)
				}
			}
			if loc, err := testenv.ConsentRedirect(link, nil); err == nil {
				testenv.Visit(loc)
			}
		}, nil, nil},
		{"callback hit twice", func(t *testing.T, e *env, link string) {
			loc, err := testenv.ConsentRedirect(link, nil)
			if err != nil {
				t.Error(err)
				return
			}
			// Two tabs (or a reload) deliver the same redirect at once:
			// one is exchanged, the other is told it was handled (or,
			// if it comes after the flow ended, finds no server).
			done := make(chan struct{}, 2)
			for range 2 {
				go func() {
					defer func() { done <- struct{}{} }()
					if c, err := testenv.Visit(loc); err == nil && c != http.StatusOK && c != http.StatusConflict {
						t.Errorf("callback answered %d", c)
					}
				}()
			}
			<-done
			<-done
		}, nil, func(t *testing.T, e *env, res consent.Result) {
			if n := e.exchanges.Load(); n != 1 {
				t.Errorf("%d exchanges, want 1", n)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			f, err := consent.Start(ctx, e.options())
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			go tc.browser(t, e, f.URL())
			res, err := f.Wait(ctx)
			if tc.wantErr == nil && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			e.assertNoSecret(t, err, res)
			if tc.check != nil {
				tc.check(t, e, res)
			}
			// Wait is repeatable: the outcome stays.
			if res2, err2 := f.Wait(ctx); res2 != res || !errors.Is(err2, err) {
				t.Errorf("second Wait: %v, %v", res2, err2)
			}
		})
	}
}

// TestFlowStopsItsServer: once the flow has its outcome and is closed,
// nothing listens on the callback address any more.
func TestFlowStopsItsServer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	f, err := consent.Start(ctx, e.options())
	if err != nil {
		t.Fatal(err)
	}
	loc, err := testenv.ConsentRedirect(f.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := testenv.Visit(loc); c != http.StatusOK {
		t.Fatalf("callback: %d %v", c, err)
	}
	if _, err := f.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := testenv.Visit(loc); err == nil {
		t.Fatal("the callback server still answers after Close")
	}
}

func TestPastedRedirect(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := e.options()
	o.Listener, o.Link.State = nil, "fixed-state-for-test"
	link, err := o.Link.URL()
	if err != nil {
		t.Fatal(err)
	}
	loc, err := testenv.ConsentRedirect(link, nil)
	if err != nil {
		t.Fatal(err)
	}
	paste := func(text string) (consent.Result, error) {
		o := o
		o.Paste = strings.NewReader(text)
		f, err := consent.Start(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.URL() != link {
			t.Errorf("URL %s, want %s", f.URL(), link)
		}
		return f.Wait(ctx)
	}
	res, err := paste("  " + loc + "\n")
	if err != nil || res.RefreshToken.IsZero() {
		t.Fatalf("first exchange: %+v %v", res, err)
	}
	// The same address again: the code was used.
	res, err = paste(loc) // no newline: the end of input ends the line
	if !errors.Is(err, consent.ErrCode) || !strings.Contains(err.Error(), "once") {
		t.Fatalf("reused code: %v", err)
	}
	e.assertNoSecret(t, err, res)
	for _, bad := range []string{"\n", "not an address\n", e.redirect + "?state=fixed-state-for-test\n", ""} {
		_, err := paste(bad)
		if err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := paste(strings.Replace(loc, "fixed-state-for-test", "other", 1)); !errors.Is(err, consent.ErrState) {
		t.Errorf("pasted address with another state: %v", err)
	}
}

// TestFlowTimeout: the wait is bounded by Options.Timeout on the flow's
// clock; no test sleeps for it.
func TestFlowTimeout(t *testing.T) {
	e := newEnv(t)
	fake := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	o := e.options()
	o.Clock, o.Timeout = fake, 3*time.Minute
	ctx := context.Background()
	f, err := consent.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bctx, cancel := context.WithTimeout(ctx, testenv.Patience)
	defer cancel()
	if err := fake.BlockUntil(bctx, 1); err != nil {
		t.Fatal(err)
	}
	fake.Advance(3*time.Minute - time.Second)
	wctx, wcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if _, err := f.Wait(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("before the timeout: %v", err)
	}
	wcancel()
	fake.Advance(time.Second)
	_, err = f.Wait(ctx)
	if !errors.Is(err, consent.ErrTimeout) || !strings.Contains(err.Error(), e.redirect) {
		t.Fatalf("err = %v, want ErrTimeout naming the redirect URI", err)
	}
}

// TestFlowEndsWithItsContext: cancelling Start's context or calling Close
// ends the wait.
func TestFlowEndsWithItsContext(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	f, err := consent.Start(ctx, e.options())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := f.Wait(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v", err)
	}
	f.Close()

	e = newEnv(t)
	o := e.options()
	o.Listener = nil
	o.Paste = blockingReader{}
	f, err = consent.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := f.Wait(context.Background()); err == nil {
		t.Fatal("Wait after Close: no error")
	}
}

type blockingReader struct{}

func (blockingReader) Read([]byte) (int, error) { select {} }

func TestStartRefuses(t *testing.T) {
	e := newEnv(t)
	wild, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	tests := []struct {
		name   string
		change func(o *consent.Options)
		want   error
	}{
		{"listener on every interface", func(o *consent.Options) { o.Listener = wild }, consent.ErrNotLoopback},
		{"listen on every interface", func(o *consent.Options) { o.Listener, o.Listen = nil, ":0" }, consent.ErrNotLoopback},
		{"listen on a non-loopback host", func(o *consent.Options) { o.Listener, o.Listen = nil, "192.0.2.1:8765" }, consent.ErrNotLoopback},
		{"redirect URI elsewhere", func(o *consent.Options) {
			o.Listener, o.Link.RedirectURI = nil, "https://app.example.com/cb"
		}, consent.ErrNotLoopback},
		{"https loopback redirect URI", func(o *consent.Options) {
			o.Listener, o.Link.RedirectURI = nil, "https://127.0.0.1:8443/cb"
		}, consent.ErrNotLoopback},
		{"no exchange", func(o *consent.Options) { o.Exchange = nil }, nil},
		{"no redirect URI", func(o *consent.Options) { o.Link.RedirectURI = "" }, nil},
		{"bad redirect URI", func(o *consent.Options) { o.Link.RedirectURI = "http://app.example.com/cb" }, vault.ErrInvalid},
		{"no app id", func(o *consent.Options) { o.Link.AppID = "" }, nil},
		{"relative consent page", func(o *consent.Options) { o.Link.Page = "/apps/authorize/consent" }, nil},
		{"plain http consent page", func(o *consent.Options) { o.Link.Page = "http://sellercentral.example/apps/authorize/consent" }, nil},
		{"paste and a listener", func(o *consent.Options) { o.Listener, o.Paste = e.l, strings.NewReader("") }, nil}, // last: closes e.l
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := e.options()
			o.Listener = nil
			tc.change(&o)
			f, err := consent.Start(context.Background(), o)
			if err == nil {
				f.Close()
				t.Fatal("started")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPageURL(t *testing.T) {
	for region, want := range map[string]string{
		"na": "https://sellercentral.amazon.com/apps/authorize/consent",
		"eu": "https://sellercentral-europe.amazon.com/apps/authorize/consent",
		"fe": "https://sellercentral.amazon.co.jp/apps/authorize/consent",
		"xx": "https://sellercentral.amazon.com/apps/authorize/consent",
	} {
		if got := consent.PageURL(region); got != want {
			t.Errorf("%s: %s, want %s", region, got, want)
		}
	}
}

func TestLinkURL(t *testing.T) {
	tests := []struct {
		name string
		link consent.Link
		want url.Values // nil: an error
	}{
		{"draft", consent.Link{Page: consent.PageURL("eu"), AppID: "amzn1.sp.solution.x", Draft: true, RedirectURI: "https://a.example/cb", State: "s1"},
			url.Values{"application_id": {"amzn1.sp.solution.x"}, "state": {"s1"}, "version": {"beta"}, "redirect_uri": {"https://a.example/cb"}}},
		{"published, Amazon picks the redirect", consent.Link{Page: consent.PageURL("na"), AppID: "amzn1.sp.solution.x", State: "s2"},
			url.Values{"application_id": {"amzn1.sp.solution.x"}, "state": {"s2"}}},
		{"loopback page", consent.Link{Page: "http://127.0.0.1:9/apps/authorize/consent", AppID: "a", State: "s"},
			url.Values{"application_id": {"a"}, "state": {"s"}}},
		{"no state", consent.Link{Page: consent.PageURL("na"), AppID: "a"}, nil},
		{"no app", consent.Link{Page: consent.PageURL("na"), State: "s"}, nil},
		{"not a URL", consent.Link{Page: "sellercentral.amazon.com", AppID: "a", State: "s"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.link.URL()
			if tc.want == nil {
				if err == nil {
					t.Fatalf("URL = %s, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(got)
			if u.Query().Encode() != tc.want.Encode() || !strings.HasPrefix(got, tc.link.Page+"?") {
				t.Errorf("URL = %s, want query %s", got, tc.want.Encode())
			}
		})
	}
}

func TestNewState(t *testing.T) {
	a, err := consent.NewState()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := consent.NewState()
	if len(a) != 43 || a == b {
		t.Fatalf("states %q, %q: want 43 characters (256 bits), different each time", a, b)
	}
}

// TestComplete covers the redirect check a web console uses on its own
// handler.
func TestComplete(t *testing.T) {
	const code = "ANcodeSECRETxyz"
	token := secret.New("Atzr|IwEBIexchangedTOKENvalue0123456789")
	var exchanged int
	ok := func(ctx context.Context, c, ru string) (secret.String, error) {
		exchanged++
		if c != code || ru != "https://a.example/cb" {
			return secret.String{}, errors.New("unexpected code or redirect URI")
		}
		return token, nil
	}
	used := func(context.Context, string, string) (secret.String, error) {
		return secret.String{}, &lwa.Error{Err: lwa.ErrGrantRejected}
	}
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	good := q("state", "s", "spapi_oauth_code", code, "selling_partner_id", "A2VYDBAL8BMVQK")
	tests := []struct {
		name      string
		q         url.Values
		state     string
		exchange  consent.Exchange
		want      error // nil: success
		exchange1 bool
	}{
		{"ok", good, "s", ok, nil, true},
		{"wrong state", good, "t", ok, consent.ErrState, false},
		{"no state expected", q("spapi_oauth_code", code, "selling_partner_id", "A2VYDBAL8BMVQK"), "", ok, consent.ErrState, false},
		{"state missing", q("spapi_oauth_code", code, "selling_partner_id", "A2VYDBAL8BMVQK"), "s", ok, consent.ErrState, false},
		{"denied", q("state", "s", "error", "access_denied", "error_description", "no\x1b[2Jthanks"), "s", ok, consent.ErrDenied, false},
		{"no code", q("state", "s", "selling_partner_id", "A2VYDBAL8BMVQK"), "s", ok, consent.ErrRedirect, false},
		{"no seller", q("state", "s", "spapi_oauth_code", code), "s", ok, consent.ErrRedirect, false},
		{"bad seller", q("state", "s", "spapi_oauth_code", code, "selling_partner_id", "nobody"), "s", ok, vault.ErrInvalid, false},
		{"used code", good, "s", used, consent.ErrCode, false},
		{"no exchange", good, "s", nil, errors.New("any"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exchanged = 0
			res, err := consent.Complete(context.Background(), tc.q, tc.state, "https://a.example/cb", tc.exchange)
			switch {
			case tc.want == nil && err != nil:
				t.Fatal(err)
			case tc.want == nil:
				if res.SellerID != "A2VYDBAL8BMVQK" || !res.RefreshToken.Equal(token) {
					t.Errorf("result %+v", res)
				}
			case err == nil:
				t.Fatalf("no error, want %v", tc.want)
			case tc.want.Error() != "any" && !errors.Is(err, tc.want):
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if (exchanged == 1) != tc.exchange1 {
				t.Errorf("%d exchanges", exchanged)
			}
			if err != nil && (strings.Contains(err.Error(), code) || strings.Contains(err.Error(), token.Reveal()) || strings.Contains(err.Error(), "\x1b")) {
				t.Errorf("the error holds the code, the token or a control character: %q", err)
			}
		})
	}
}

func TestParseRedirect(t *testing.T) {
	q, err := consent.ParseRedirect(" https://app.example.com/cb?state=s&spapi_oauth_code=c&selling_partner_id=A2VYDBAL8BMVQK\r\n")
	if err != nil || q.Get("state") != "s" || q.Get("spapi_oauth_code") != "c" {
		t.Fatalf("%v %v", q, err)
	}
	for _, bad := range []string{"", "https://app.example.com/cb", "%zz"} {
		if _, err := consent.ParseRedirect(bad); !errors.Is(err, consent.ErrRedirect) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestStore: a new seller is added with the template's region and
// marketplaces; a known one keeps what it has and gets the new token.
func TestStore(t *testing.T) {
	ctx := context.Background()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, filepath.Join(t.TempDir(), "vault.db"), key, vault.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	app := vault.App{Name: "main", AppID: "amzn1.sp.solution.1a2b3c4d-0000-4000-8000-1234567890ab",
		ClientID:      "amzn1.application-oa2-client." + strings.Repeat("ab", 16),
		ClientSecrets: []vault.Secret{{Value: secret.New("amzn1.oa2-cs.v1." + strings.Repeat("1f", 32))}}}
	if err := v.AddApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tok1 := secret.New("Atzr|IwEBIfirst" + strings.Repeat("x", 40))
	tok2 := secret.New("Atzr|IwEBIsecond" + strings.Repeat("y", 40))
	r := consent.Result{SellerID: "A2VYDBAL8BMVQK", RefreshToken: tok1}
	if err := r.Store(ctx, v, "main", vault.Seller{Name: "shop", Region: "na", Marketplaces: []string{"ATVPDKIKX0DER"}}, at); err != nil {
		t.Fatal(err)
	}
	r.RefreshToken = tok2
	if err := r.Store(ctx, v, "main", vault.Seller{Name: "other", Region: "eu", Marketplaces: []string{"A1PA6795UKMFR9"}}, at); err != nil {
		t.Fatal(err)
	}
	s, err := v.GetSeller(ctx, "A2VYDBAL8BMVQK")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "shop" || s.Region != "na" || len(s.Marketplaces) != 1 || s.Marketplaces[0] != "ATVPDKIKX0DER" {
		t.Errorf("seller %+v: the second Store changed what was stored", s)
	}
	if rt, err := v.RefreshToken(ctx, s.ID, "main"); err != nil || !rt.Equal(tok2) {
		t.Errorf("refresh token not replaced: %v", err)
	}
	if err := (consent.Result{SellerID: "A3ABCDEFGHIJK1", RefreshToken: tok1}).Store(ctx, v, "nosuchapp", vault.Seller{Region: "na"}, at); err == nil {
		t.Error("stored for an app the vault does not hold")
	}
}

// TestAuthorize runs the flow for an app in the vault: the link asks for
// the draft app's consent, the code is exchanged with the app's secret as
// the vault holds it, and the seller is stored with its refresh token,
// dated by the flow's clock.
func TestAuthorize(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, filepath.Join(t.TempDir(), "vault.db"), key, vault.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.AddApp(ctx, vault.App{Name: "main", AppID: e.app.ID, ClientID: e.app.ClientID, Draft: true,
		ClientSecrets: []vault.Secret{{Value: secret.New(e.app.ClientSecret)}}}); err != nil {
		t.Fatal(err)
	}
	app, err := v.GetApp(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	at := clock.NewFake(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC))
	o := consent.Options{Link: consent.Link{Page: e.srv.ConsentURL(), RedirectURI: e.redirect}, Listener: e.l, Timeout: testenv.Patience, Clock: at}
	var link string
	res, err := consent.Authorize(ctx, v, app, &lwa.Client{TokenURL: e.srv.TokenURL()}, o, vault.Seller{Name: "shop", Region: "na"}, func(f *consent.Flow) {
		link = f.URL()
		loc, err := testenv.ConsentRedirect(f.URL(), nil)
		if err != nil {
			t.Error(err)
			return
		}
		go testenv.Visit(loc)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(link, "version=beta") || !strings.Contains(link, url.QueryEscape(e.app.ID)) {
		t.Errorf("the link %s is not the draft app's", link)
	}
	s, err := v.GetSeller(ctx, res.SellerID)
	if err != nil || s.Name != "shop" {
		t.Fatalf("seller %+v (%v)", s, err)
	}
	a, ok := s.Authorization("main")
	if !ok || !a.RefreshToken.Value.Equal(res.RefreshToken) || !a.AuthorizedAt.Equal(at.Now()) {
		t.Errorf("authorization %+v, want the flow's token dated %v", a, at.Now())
	}
}
