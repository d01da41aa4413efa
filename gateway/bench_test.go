package gateway_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
)

// BenchmarkGatewayOverhead measures what the gateway adds to a call on
// loopback, with tokens cached and rate limits lifted (the emulator's, and
// the client's through an unlimited store): the same operation is timed
// called directly at the emulator with an access token, and through the
// gateway. It reports the added p50 and p99 latency (sequential calls) and
// the gateway's throughput with parallel callers (run with -cpu 2 for the
// two-core figure). Goals: added p50 < 200 µs, p99 < 2 ms, ≥ 10,000 req/s.
func BenchmarkGatewayOverhead(b *testing.B) {
	e := newEnv(b, envOptions{amazon: []amazontest.Option{amazontest.WithoutRateLimits()}, store: unlimited{}, withoutLogs: true, noAudit: true})
	key := e.addClient("bench", []string{"*"}, []string{"*"}, false)
	s := e.demo.Sellers[0]
	ctx := context.Background()

	src := lwa.NewRefreshTokenSource(e.client.LWA(), lwa.StaticCredentials{ClientID: e.demo.ClientID, ClientSecret: secret.New(e.demo.ClientSecret)}, secret.New(s.RefreshToken))
	tok, err := src.Token(ctx)
	if err != nil {
		b.Fatal(err)
	}
	directReq := func() *http.Request {
		r, _ := http.NewRequest("GET", e.srv.URL+participationsPath, nil)
		r.Header.Set("x-amz-access-token", tok.AccessToken.Reveal())
		return r
	}
	viaReq := func() *http.Request {
		r, _ := http.NewRequest("GET", e.url+participationsPath, nil)
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set(gateway.HeaderSeller, s.ID)
		return r
	}
	call := func(r *http.Request) {
		resp, err := e.hc.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	sample := func(mk func() *http.Request, n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			r := mk()
			t0 := time.Now()
			call(r)
			out[i] = time.Since(t0)
		}
		slices.Sort(out)
		return out
	}
	pct := func(d []time.Duration, p float64) time.Duration { return d[int(float64(len(d)-1)*p)] }

	// Warm connections and tokens, then sample both paths interleaved in
	// rounds so background noise hits both alike.
	sample(directReq, 50)
	sample(viaReq, 50)
	var direct, via []time.Duration
	for range 4 {
		direct = append(direct, sample(directReq, 250)...)
		via = append(via, sample(viaReq, 250)...)
	}
	slices.Sort(direct)
	slices.Sort(via)

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			call(viaReq())
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(pct(direct, 0.5).Microseconds()), "direct-p50-µs")
	b.ReportMetric(float64(pct(via, 0.5).Microseconds()), "gateway-p50-µs")
	b.ReportMetric(float64((pct(via, 0.5) - pct(direct, 0.5)).Microseconds()), "added-p50-µs")
	b.ReportMetric(float64((pct(via, 0.99) - pct(direct, 0.99)).Microseconds()), "added-p99-µs")
}
