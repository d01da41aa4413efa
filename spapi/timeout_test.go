package spapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/secret"
)

var stallT0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const stallSeller = "A1SELLERSTALL"

var participationsOp = func() *operations.Operation {
	op, _ := operations.ByID("sellers", "v1", "getMarketplaceParticipations")
	return op
}()

// stallClient is a Client on a fake clock against a server with handler h
// for SP-API paths and a token endpoint that answers at once unless
// tokenHandler is given.
func stallClient(t *testing.T, h, tokenHandler http.HandlerFunc, mod func(*Config)) (*Client, *clock.Fake) {
	t.Helper()
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/auth/o2/token", func(w http.ResponseWriter, r *http.Request) {
		if tokenHandler != nil {
			tokenHandler(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"Atza|stall-test","token_type":"bearer","expires_in":3600}`)
	})
	mux.HandleFunc("/", h)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Stalling handlers return when the test ends.
		r = r.WithContext(mergeDone(r.Context(), release))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	clk := clock.NewFake(stallT0)
	ep, err := Custom(srv.URL, nil, srv.URL+"/auth/o2/token")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		AppID:       "amzn1.sp.solution.stall",
		Credentials: lwa.StaticCredentials{ClientID: "amzn1.application-oa2-client.stall", ClientSecret: secret.New("amzn1.oa2-cs.v1.stall")},
		Sellers:     StaticSellers{{ID: stallSeller, Region: NA, RefreshToken: secret.New("Atzr|stall")}},
		Endpoints:   ep,
		Clock:       clk,
		MaxAttempts: 1,
		BackoffBase: time.Second,
		BackoffMax:  time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.ioClock = clk
	return c, clk
}

// mergeDone is ctx, also done when stop is closed.
func mergeDone(ctx context.Context, stop <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx
}

// stall answers nothing until the client goes away.
func stall(arrived chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}
}

func callAsync(c *Client) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), Call{Operation: participationsOp, Seller: stallSeller})
		done <- err
	}()
	return done
}

func blockUntil(t *testing.T, clk *clock.Fake, n int) {
	t.Helper()
	ctx, cancel := testenv.PatienceContext(t)
	defer cancel()
	if err := clk.BlockUntil(ctx, n); err != nil {
		t.Fatalf("nothing waits on the clock: %v", err)
	}
}

func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(testenv.Patience):
		t.Fatal("the stalled call was never abandoned")
		return nil
	}
}

func TestStalledResponseHeadersTimeOut(t *testing.T) {
	arrived := make(chan struct{}, 4)
	c, clk := stallClient(t, stall(arrived), nil, func(cfg *Config) { cfg.ResponseTimeout = 5 * time.Second })
	done := callAsync(c)
	<-arrived
	blockUntil(t, clk, 1) // the request's watchdog
	clk.Advance(5*time.Second - time.Nanosecond)
	select {
	case err := <-done:
		t.Fatalf("abandoned before the timeout: %v", err)
	default:
	}
	clk.Advance(time.Nanosecond)
	err := result(t, done)
	var te *ResponseTimeoutError
	if !errors.As(err, &te) || !te.Headers || te.After != 5*time.Second {
		t.Fatalf("err = %v, want a *ResponseTimeoutError for the headers", err)
	}
}

func TestDefaultResponseTimeout(t *testing.T) {
	arrived := make(chan struct{}, 4)
	c, clk := stallClient(t, stall(arrived), nil, nil)
	done := callAsync(c)
	<-arrived
	blockUntil(t, clk, 1)
	clk.Advance(DefaultResponseTimeout)
	var te *ResponseTimeoutError
	if err := result(t, done); !errors.As(err, &te) || te.After != DefaultResponseTimeout {
		t.Fatalf("err = %v, want a *ResponseTimeoutError after %v", err, DefaultResponseTimeout)
	}
}

// advanceUntilDone moves the clock on by step whenever something waits on
// it, until done yields.
func advanceUntilDone(t *testing.T, clk *clock.Fake, step time.Duration, done <-chan error) error {
	t.Helper()
	deadline := time.Now().Add(testenv.Patience)
	for {
		select {
		case err := <-done:
			return err
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the stalled call was never abandoned")
		}
		if clk.Waiters() > 0 {
			clk.Advance(step)
			continue
		}
		time.Sleep(time.Millisecond) // polling goroutines, not waiting for expiry
	}
}

func TestStalledResponseBodyTimesOut(t *testing.T) {
	c, clk := stallClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"payload":[`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}, nil, func(cfg *Config) { cfg.ResponseTimeout = 5 * time.Second })
	req, err := c.NewRequest(context.Background(), stallSeller, http.MethodGet, participationsOp.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	err = advanceUntilDone(t, clk, time.Second, done)
	var te *ResponseTimeoutError
	if !errors.As(err, &te) || te.Headers {
		t.Fatalf("err = %v, want a *ResponseTimeoutError for the body", err)
	}
}

// A body that keeps coming, however slowly, is not cut off: the timeout
// bounds each silence, not the whole answer.
func TestSlowButSteadyBodyIsRead(t *testing.T) {
	step := make(chan struct{})
	c, clk := stallClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"payload":[`)
		w.(http.Flusher).Flush()
		for range 5 {
			select {
			case <-step:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, `{},`)
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, `{}]}`)
	}, nil, func(cfg *Config) { cfg.ResponseTimeout = 5 * time.Second })
	req, err := c.NewRequest(context.Background(), stallSeller, http.MethodGet, participationsOp.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		// A read waits 4 s for the next chunk, 20 s in all: more than the
		// timeout, never in one stretch.
		read := make(chan error, 1)
		go func() {
			_, err := resp.Body.Read(buf)
			read <- err
		}()
		clk.Advance(4 * time.Second)
		step <- struct{}{}
		if err := <-read; err != nil && (i < 4 || err != io.EOF) {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
}

// A request that stalled is retried like a broken connection.
func TestStalledAttemptIsRetried(t *testing.T) {
	var n atomic.Int64
	arrived := make(chan struct{}, 4)
	c, clk := stallClient(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			stall(arrived)(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"payload":[]}`)
	}, nil, func(cfg *Config) { cfg.ResponseTimeout = 5 * time.Second; cfg.MaxAttempts = 2 })
	done := callAsync(c)
	<-arrived
	clk.Advance(5 * time.Second) // the first attempt is abandoned
	blockUntil(t, clk, 1)        // the backoff
	clk.Advance(time.Second)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 2 {
		t.Fatalf("%d attempts, want 2", n.Load())
	}
}

// LWA's token endpoint is held to the same bound.
func TestStalledTokenEndpointTimesOut(t *testing.T) {
	arrived := make(chan struct{}, 4)
	c, clk := stallClient(t, func(w http.ResponseWriter, r *http.Request) {
		t.Error("SP-API called without a token")
	}, stall(arrived), func(cfg *Config) { cfg.ResponseTimeout = 5 * time.Second })
	done := callAsync(c)
	<-arrived
	blockUntil(t, clk, 1)
	clk.Advance(5 * time.Second)
	err := result(t, done)
	var te *ResponseTimeoutError
	if !errors.As(err, &te) || !errors.Is(err, lwa.ErrUnavailable) {
		t.Fatalf("err = %v, want LWA unavailable after a *ResponseTimeoutError", err)
	}
}

// Without a test clock the bound runs on the wall clock, whatever
// Config.Clock is: a fake clock that never moves must not let a stalled
// connection hang.
func TestResponseTimeoutRunsOnTheWallClock(t *testing.T) {
	arrived := make(chan struct{}, 4)
	c, _ := stallClient(t, stall(arrived), nil, func(cfg *Config) { cfg.ResponseTimeout = 50 * time.Millisecond })
	c.ioClock = nil
	var te *ResponseTimeoutError
	if err := result(t, callAsync(c)); !errors.As(err, &te) {
		t.Fatalf("err = %v, want a *ResponseTimeoutError", err)
	}
}
