package gateway

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/ratelimit"
	"github.com/spgate/spgate/spapi"
)

// Metrics are the gateway's Prometheus series, in a registry of their own
// (never the global one):
//
//	spgate_requests_total{operation,status}
//	spgate_request_duration_seconds{operation}   histogram
//	spgate_limiter_wait_seconds                  histogram (InstrumentStore)
//	spgate_lwa_token_requests_total{grant}
//	spgate_amazon_throttled_total
//	spgate_client_secret_days_left{app}
//	spgate_access_events_dropped_total
type Metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	limiterWait   prometheus.Histogram
	secretDays    *prometheus.GaugeVec
	auditFailures prometheus.Counter

	mu       sync.Mutex
	statuses map[int]string
}

// NewMetrics returns the metrics with a new registry holding them and the
// Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), statuses: map[int]string{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "spgate_requests_total", Help: "Gateway requests by SP-API operation and HTTP status returned.",
	}, []string{"operation", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "spgate_request_duration_seconds", Help: "Time from receiving a request to answering it, rate-limit waits included.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
	}, []string{"operation"})
	m.limiterWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "spgate_limiter_wait_seconds", Help: "Time calls were told to wait for the seller's rate limit.",
		Buckets: []float64{0, .01, .1, .5, 1, 2, 5, 10, 30, 60, 120, 300},
	})
	m.secretDays = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "spgate_client_secret_days_left", Help: "Whole days until the app's current LWA client secret expires.",
	}, []string{"app"})
	m.auditFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "spgate_audit_failures_total", Help: "Personal-data answers withheld (503) because their audit record could not be written.",
	})
	m.reg.MustRegister(m.requests, m.duration, m.limiterWait, m.secretDays, m.auditFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the metrics' own registry.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *Metrics) status(code int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.statuses[code]
	if !ok {
		s = strconv.Itoa(code)
		m.statuses[code] = s
	}
	return s
}

func (m *Metrics) observeRequest(op string, status int, d time.Duration) {
	m.requests.WithLabelValues(op, m.status(status)).Inc()
	m.duration.WithLabelValues(op).Observe(d.Seconds())
}

// SetSecretDaysLeft sets spgate_client_secret_days_left for app.
func (m *Metrics) SetSecretDaysLeft(app string, days int) {
	m.secretDays.WithLabelValues(app).Set(float64(days))
}

// WatchClient exports the client's LWA token requests
// (spgate_lwa_token_requests_total{grant}) and Amazon's 429 answers
// (spgate_amazon_throttled_total), read at scrape time.
func (m *Metrics) WatchClient(c *spapi.Client) {
	m.reg.MustRegister(&clientCollector{c: c})
}

// InstrumentStore wraps a rate-limit store so every reservation's wait is
// observed in spgate_limiter_wait_seconds. Build the client's limiter on it.
func (m *Metrics) InstrumentStore(s ratelimit.Store) ratelimit.Store {
	return &meteredStore{Store: s, h: m.limiterWait}
}

type meteredStore struct {
	ratelimit.Store
	h prometheus.Histogram
}

func (s *meteredStore) Reserve(key ratelimit.Key, seed ratelimit.Plan, now time.Time, maxWait time.Duration) (time.Duration, bool) {
	wait, ok := s.Store.Reserve(key, seed, now, maxWait)
	if ok {
		s.h.Observe(wait.Seconds())
	}
	return wait, ok
}

var (
	lwaDesc = prometheus.NewDesc("spgate_lwa_token_requests_total",
		"Token requests sent to Login with Amazon, by grant type.", []string{"grant"}, nil)
	throttledDesc = prometheus.NewDesc("spgate_amazon_throttled_total",
		"429 QuotaExceeded answers from Amazon.", nil, nil)
)

type clientCollector struct{ c *spapi.Client }

func (cc *clientCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lwaDesc
	ch <- throttledDesc
}

func (cc *clientCollector) Collect(ch chan<- prometheus.Metric) {
	ct := cc.c.LWA().Counters()
	for grant, n := range map[string]int64{
		lwa.GrantRefreshToken:      ct.RefreshToken.Requests.Load(),
		lwa.GrantClientCredentials: ct.ClientCredentials.Requests.Load(),
		lwa.GrantAuthorizationCode: ct.AuthorizationCode.Requests.Load(),
	} {
		ch <- prometheus.MustNewConstMetric(lwaDesc, prometheus.CounterValue, float64(n), grant)
	}
	ch <- prometheus.MustNewConstMetric(throttledDesc, prometheus.CounterValue, float64(cc.c.Stats().Throttled))
}
