package lwa

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/secret"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	f     *fakeLWA
	c     *Client
	clk   *clock.Fake
	logs  *testenv.Buffer
	creds StaticCredentials
}

func newEnv(t *testing.T) *env {
	t.Helper()
	f := newFakeLWA(t)
	logs := &testenv.Buffer{}
	clk := clock.NewFake(t0)
	c := &Client{
		TokenURL: f.url(),
		Clock:    clk,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	e := &env{f: f, c: c, clk: clk, logs: logs, creds: StaticCredentials{ClientID: testClientID, ClientSecret: secret.New(testSecret)}}
	t.Cleanup(func() { assertNoSecrets(t, "logs", logs.String(), f) })
	return e
}

// assertNoSecrets fails if text contains any credential the test used or
// any access token the fake issued.
func assertNoSecrets(t *testing.T, what, text string, f *fakeLWA) {
	t.Helper()
	leaks := []string{testSecret, testSecret2, testRefresh, testCode, "Atza|", "Atzr|", "LEAK"}
	if f != nil {
		f.mu.Lock()
		leaks = append(leaks, f.issued...)
		f.mu.Unlock()
	}
	masked := text
	for _, s := range leaks {
		masked = strings.ReplaceAll(masked, s, "<SECRET>")
	}
	if masked != text {
		t.Errorf("%s contain a secret (shown as <SECRET>):\n%s", what, masked)
	}
}

func (e *env) refreshSource() *CachedSource {
	return NewRefreshTokenSource(e.c, e.creds, secret.New(testRefresh))
}

func TestRefreshTokenSourceWireFormatAndCaching(t *testing.T) {
	e := newEnv(t)
	src := e.refreshSource()
	ctx := context.Background()

	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if got, want := tok.AccessToken.Reveal(), e.f.lastIssued(); got != want {
		t.Fatalf("access token = %q, want the issued %q", got, want)
	}
	if want := t0.Add(time.Hour); !tok.Expiry.Equal(want) {
		t.Errorf("expiry = %v, want %v (fake clock + expires_in)", tok.Expiry, want)
	}
	form := e.f.forms[0]
	want := map[string]string{"grant_type": "refresh_token", "refresh_token": testRefresh, "client_id": testClientID, "client_secret": testSecret}
	for k, v := range want {
		if form[k] == nil || form[k][0] != v || len(form[k]) != 1 {
			t.Errorf("form %s = %q, want exactly one %q", k, form[k], v)
		}
	}
	if len(form) != len(want) {
		t.Errorf("form has %d fields, want %d: %v", len(form), len(want), keys(form))
	}

	// Cached until the margin (5 min before expiry).
	e.clk.Advance(54 * time.Minute)
	if again, _ := src.Token(ctx); !again.AccessToken.Equal(tok.AccessToken) || e.f.count("refresh_token") != 1 {
		t.Fatalf("token not reused before the margin: %d requests", e.f.count("refresh_token"))
	}
	e.clk.Advance(time.Minute + time.Second) // 55m01s: inside the 5 min margin
	fresh, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken.Equal(tok.AccessToken) || e.f.count("refresh_token") != 2 {
		t.Fatalf("token not refreshed inside the margin: %d requests", e.f.count("refresh_token"))
	}
	if got := e.c.Counters().RefreshToken.Requests.Load(); got != 2 {
		t.Errorf("counter requests = %d, want 2", got)
	}
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRefreshMargin(t *testing.T) {
	tests := []struct {
		name      string
		margin    time.Duration
		expiresIn int
		reuseAt   time.Duration // still cached here
		refreshAt time.Duration // refreshed here
	}{
		{"default 5m of 1h", 0, 3600, 55*time.Minute - time.Second, 55 * time.Minute},
		{"custom 10m", 10 * time.Minute, 3600, 50*time.Minute - time.Second, 50 * time.Minute},
		{"short token: half its life", 0, 60, 29 * time.Second, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.f.expiresIn = tt.expiresIn
			e.c.RefreshMargin = tt.margin
			src := e.refreshSource()
			ctx := context.Background()
			if _, err := src.Token(ctx); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(tt.reuseAt)
			src.Token(ctx)
			if n := e.f.count("refresh_token"); n != 1 {
				t.Fatalf("at %v: %d requests, want 1", tt.reuseAt, n)
			}
			e.clk.Set(t0.Add(tt.refreshAt))
			src.Token(ctx)
			if n := e.f.count("refresh_token"); n != 2 {
				t.Fatalf("at %v: %d requests, want 2", tt.refreshAt, n)
			}
		})
	}
}

func TestColdStartThousandCallersOneRequest(t *testing.T) {
	e := newEnv(t)
	gate := make(chan struct{})
	e.f.gate = gate
	src := e.refreshSource()

	const n = 1000
	var started sync.WaitGroup
	var wg sync.WaitGroup
	started.Add(n)
	toks := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			tok, err := src.Token(context.Background())
			toks[i], errs[i] = tok.AccessToken.Reveal(), err
		}()
	}
	started.Wait()
	close(gate)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || toks[i] != toks[0] || toks[0] == "" {
			t.Fatalf("caller %d: token %q err %v; want the one shared token", i, toks[i], errs[i])
		}
	}
	if got := e.f.count("refresh_token"); got != 1 {
		t.Fatalf("%d token requests for %d concurrent callers, want exactly 1", got, n)
	}
}

func TestCallerCancellationDoesNotFailOthers(t *testing.T) {
	e := newEnv(t)
	gate := make(chan struct{})
	e.f.gate = gate
	src := e.refreshSource()

	// The first caller starts the refresh, then gives up.
	ctx, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() { _, err := src.Token(ctx); firstErr <- err }()
	waitFor(t, func() bool { return e.f.count("refresh_token") == 1 })

	second := make(chan error, 1)
	go func() { _, err := src.Token(context.Background()); second <- err }()

	cancel()
	select {
	case err := <-firstErr:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller got %v, want context.Canceled", err)
		}
	case <-time.After(testenv.Patience):
		t.Fatal("cancelled caller did not return while the refresh was held")
	}
	close(gate)
	if err := <-second; err != nil {
		t.Fatalf("second caller failed after the first cancelled: %v", err)
	}
	if got := e.f.count("refresh_token"); got != 1 {
		t.Fatalf("%d requests, want 1 shared", got)
	}
}

func TestFetchTimeoutBoundsSharedRefresh(t *testing.T) {
	e := newEnv(t)
	gate := make(chan struct{})
	defer close(gate)
	e.f.gate = gate
	e.c.FetchTimeout = 50 * time.Millisecond
	_, err := e.refreshSource().Token(context.Background())
	if !errors.Is(err, ErrUnavailable) || !IsRetryable(err) {
		t.Fatalf("err = %v, want retryable ErrUnavailable after the fetch timeout", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testenv.Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond) // polling real goroutines, not waiting for expiry
	}
}

func TestFailureIsNotCached(t *testing.T) {
	tests := []struct {
		name  string
		fault func(w http.ResponseWriter, r *http.Request) bool
		is    error
	}{
		{"503", func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(503); return true }, ErrUnavailable},
		{"invalid_client", func(w http.ResponseWriter, r *http.Request) bool {
			writeLWAError(w, 401, "invalid_client", "Client authentication failed")
			return true
		}, ErrClientRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var once atomic.Bool
			e.f.respond = func(w http.ResponseWriter, r *http.Request) bool {
				if once.Swap(true) {
					return false
				}
				return tt.fault(w, r)
			}
			src := e.refreshSource()
			if _, err := src.Token(context.Background()); !errors.Is(err, tt.is) {
				t.Fatalf("first call err = %v, want %v", err, tt.is)
			}
			if _, err := src.Token(context.Background()); err != nil {
				t.Fatalf("second call reused the failure: %v", err)
			}
			if got := e.c.Counters().RefreshToken.Failures.Load(); got != 1 {
				t.Errorf("failures counter = %d, want 1", got)
			}
		})
	}
}

func TestInMarginFailure(t *testing.T) {
	t.Run("transient: serve cached, hold off, then retry", func(t *testing.T) {
		e := newEnv(t)
		src := e.refreshSource()
		ctx := context.Background()
		first, _ := src.Token(ctx)
		var down atomic.Bool
		down.Store(true)
		e.f.respond = func(w http.ResponseWriter, r *http.Request) bool {
			if down.Load() {
				w.WriteHeader(502)
				return true
			}
			return false
		}
		e.clk.Advance(57 * time.Minute)
		tok, err := src.Token(ctx)
		if err != nil || !tok.AccessToken.Equal(first.AccessToken) {
			t.Fatalf("got %v, want the cached token while it is valid", err)
		}
		src.Token(ctx)
		if n := e.f.count("refresh_token"); n != 2 {
			t.Fatalf("%d requests during the hold-off, want 2", n)
		}
		down.Store(false)
		e.clk.Advance(staleHoldoff)
		tok, err = src.Token(ctx)
		if err != nil || tok.AccessToken.Equal(first.AccessToken) {
			t.Fatalf("after the hold-off: err %v, reused old token; want a fresh token", err)
		}
	})
	t.Run("transient after expiry: error", func(t *testing.T) {
		e := newEnv(t)
		src := e.refreshSource()
		src.Token(context.Background())
		e.f.respond = func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(503); return true }
		e.clk.Advance(time.Hour)
		if _, err := src.Token(context.Background()); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable once the cached token expired", err)
		}
	})
	t.Run("rejection: error even though cached is valid", func(t *testing.T) {
		e := newEnv(t)
		src := e.refreshSource()
		src.Token(context.Background())
		e.f.mu.Lock()
		e.f.refresh = map[string]bool{}
		e.f.mu.Unlock()
		e.clk.Advance(57 * time.Minute)
		_, err := src.Token(context.Background())
		if !errors.Is(err, ErrGrantRejected) || !strings.Contains(err.Error(), "spgate seller authorize") {
			t.Fatalf("err = %v, want ErrGrantRejected with the fix", err)
		}
	})
}

func TestInvalidate(t *testing.T) {
	e := newEnv(t)
	src := e.refreshSource()
	ctx := context.Background()
	first, _ := src.Token(ctx)
	src.Invalidate("Atza|someone-elses-token")
	src.Invalidate("")
	if tok, _ := src.Token(ctx); !tok.AccessToken.Equal(first.AccessToken) {
		t.Fatal("Invalidate of another token dropped the cached one")
	}
	src.Invalidate(first.AccessToken.Reveal())
	second, err := src.Token(ctx)
	if err != nil || second.AccessToken.Equal(first.AccessToken) {
		t.Fatalf("after Invalidate: err %v, same token; want a fresh one", err)
	}
	// A late report about the old token must not drop the new one.
	src.Invalidate(first.AccessToken.Reveal())
	if tok, _ := src.Token(ctx); !tok.AccessToken.Equal(second.AccessToken) || e.f.count("refresh_token") != 2 {
		t.Fatalf("stale Invalidate caused a refresh: %d requests", e.f.count("refresh_token"))
	}
}

func TestRotatedSecretTakesEffectWithoutRebuild(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	current := Credentials{ClientID: testClientID, ClientSecret: secret.New(testSecret)}
	provider := CredentialsFunc(func(context.Context) (Credentials, error) {
		mu.Lock()
		defer mu.Unlock()
		return current, nil
	})
	src := NewRefreshTokenSource(e.c, provider, secret.New(testRefresh))
	ctx := context.Background()
	first, _ := src.Token(ctx)

	e.f.setSecrets(testSecret2) // Amazon rotated; the old secret is dead
	src.Invalidate(first.AccessToken.Reveal())
	if _, err := src.Token(ctx); !errors.Is(err, ErrClientRejected) {
		t.Fatalf("err = %v, want ErrClientRejected", err)
	} else if !strings.Contains(err.Error(), "spgate rotate") || !strings.Contains(err.Error(), "spgate app set-secret") {
		t.Errorf("message lacks the fix: %v", err)
	}
	mu.Lock()
	current.ClientSecret = secret.New(testSecret2)
	mu.Unlock()
	if _, err := src.Token(ctx); err != nil {
		t.Fatalf("new secret from the provider not used: %v", err)
	}
}

func TestFallbackSecret(t *testing.T) {
	tests := []struct {
		name          string
		accepted      []string
		wantErr       error
		wantRequests  int64
		wantFallbacks int64
	}{
		{"current accepted", []string{testSecret2, testSecret}, nil, 1, 0},
		{"only previous accepted", []string{testSecret}, nil, 2, 1},
		{"neither accepted", []string{"amzn1.oa2-cs.v1.other"}, ErrClientRejected, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.f.setSecrets(tt.accepted...)
			creds := StaticCredentials{ClientID: testClientID, ClientSecret: secret.New(testSecret2), Fallback: secret.New(testSecret)}
			_, err := NewRefreshTokenSource(e.c, creds, secret.New(testRefresh)).Token(context.Background())
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			cn := e.c.Counters()
			if got := cn.RefreshToken.Requests.Load(); got != tt.wantRequests {
				t.Errorf("requests = %d, want %d", got, tt.wantRequests)
			}
			if got := cn.FallbackAccepted.Load(); got != tt.wantFallbacks {
				t.Errorf("fallbacks = %d, want %d", got, tt.wantFallbacks)
			}
		})
	}
}

func TestGrantlessSource(t *testing.T) {
	tests := []struct {
		scope   string
		wantErr error
	}{
		{ScopeNotifications, nil},
		{ScopeClientCredentialRotation, nil},
		{ScopeMigration, nil},
		{"sellingpartnerapi::bogus", ErrScopeRejected},
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			e := newEnv(t)
			src := NewGrantlessSource(e.c, e.creds, tt.scope)
			tok, err := src.Token(context.Background())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.scope) {
					t.Fatalf("err = %v, want %v naming the scope", err, tt.wantErr)
				}
				return
			}
			if err != nil || tok.AccessToken.IsZero() {
				t.Fatalf("err = %v", err)
			}
			form := e.f.forms[0]
			if sc := form["scope"]; len(sc) != 1 || sc[0] != tt.scope || form["grant_type"][0] != "client_credentials" {
				t.Errorf("form = scope %q grant %q", form["scope"], form["grant_type"])
			}
			if _, ok := form["refresh_token"]; ok {
				t.Error("grantless request carried a refresh_token")
			}
			if got := e.c.Counters().ClientCredentials.Requests.Load(); got != 1 {
				t.Errorf("client_credentials counter = %d", got)
			}
		})
	}
}

func TestMissingCredentials(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		src  Source
	}{
		{"no refresh token", NewRefreshTokenSource(e.c, e.creds, secret.String{})},
		{"no secret", NewRefreshTokenSource(e.c, StaticCredentials{ClientID: testClientID}, secret.New(testRefresh))},
		{"no provider", NewGrantlessSource(e.c, nil, ScopeNotifications)},
		{"provider fails", NewGrantlessSource(e.c, CredentialsFunc(func(context.Context) (Credentials, error) {
			return Credentials{}, errors.New("vault locked")
		}), ScopeNotifications)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.src.Token(context.Background()); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if n := e.f.requests.Load(); n != 0 {
		t.Fatalf("%d requests sent without credentials", n)
	}
}

func TestOnRequestHook(t *testing.T) {
	e := newEnv(t)
	var events []RequestEvent
	e.c.OnRequest = func(ev RequestEvent) { events = append(events, ev) }
	e.refreshSource().Token(context.Background())
	if len(events) != 1 || events[0].Grant != GrantRefreshToken || events[0].Status != 200 || events[0].Err != nil || events[0].ClientID != testClientID {
		t.Fatalf("events = %+v", events)
	}
}
