package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/vault"
)

// ReadyCheck is one readiness finding.
type ReadyCheck struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
}

// ReadyReport is the answer of /readyz.
type ReadyReport struct {
	Ready bool `json:"ready"`
	// Degraded counts the sellers that cannot be served while others can.
	Degraded int          `json:"degraded,omitempty"`
	Checked  time.Time    `json:"checked"`
	Checks   []ReadyCheck `json:"checks"`
}

// CheckFunc computes a readiness report.
type CheckFunc func(ctx context.Context) ReadyReport

// Readiness caches a CheckFunc's report and refreshes it every Interval,
// so /readyz never costs a vault read or a token request per probe.
type Readiness struct {
	check    CheckFunc
	interval time.Duration
	clk      clock.Clock

	mu    sync.Mutex
	last  ReadyReport
	have  bool
	group singleflight.Group
}

// NewReadiness returns a Readiness over check, refreshed every interval
// (default 1 minute).
func NewReadiness(check CheckFunc, interval time.Duration, clk clock.Clock) *Readiness {
	if interval <= 0 {
		interval = time.Minute
	}
	return &Readiness{check: check, interval: interval, clk: clock.Or(clk)}
}

// Report returns the cached report, computing it when there is none or it
// is older than the interval.
func (r *Readiness) Report(ctx context.Context) ReadyReport {
	r.mu.Lock()
	last, have := r.last, r.have
	r.mu.Unlock()
	if have && r.clk.Now().Sub(last.Checked) < r.interval {
		return last
	}
	return r.Refresh(ctx)
}

// Refresh runs the check now (one at a time) and caches its report.
func (r *Readiness) Refresh(ctx context.Context) ReadyReport {
	v, _, _ := r.group.Do("", func() (any, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		rep := r.check(cctx)
		rep.Checked = r.clk.Now()
		r.mu.Lock()
		r.last, r.have = rep, true
		r.mu.Unlock()
		return rep, nil
	})
	return v.(ReadyReport)
}

// Run refreshes the report every interval until ctx ends.
func (r *Readiness) Run(ctx context.Context) {
	for {
		r.Refresh(ctx)
		if err := clock.Sleep(ctx, r.clk, r.interval); err != nil {
			return
		}
	}
}

// readyz answers ready or not to anyone (load balancers and probes send no
// key); the checks behind the answer, which name sellers, only to a valid
// client key, and only for the sellers that key may act for.
func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	g.writeReady(w, r, func(rep ReadyReport) any {
		if key, ok := bearer(r.Header.Get("Authorization")); ok {
			if cl, err := g.keys.authenticate(r.Context(), key); err == nil {
				return rep.visibleTo(cl)
			}
		}
		return struct {
			Ready    bool `json:"ready"`
			Degraded bool `json:"degraded,omitempty"`
		}{rep.Ready, rep.Degraded > 0}
	})
}

// writeReady answers a readiness probe: 200 or 503 by the current report,
// with the body show makes of it.
func (g *Gateway) writeReady(w http.ResponseWriter, r *http.Request, show func(ReadyReport) any) {
	rep := ReadyReport{Ready: true, Checked: time.Now().UTC()}
	if g.cfg.Ready != nil {
		rep = g.cfg.Ready.Report(r.Context())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(show(rep))
}

// visibleTo keeps the checks about sellers the client may act for.
func (rep ReadyReport) visibleTo(cl vault.Client) ReadyReport {
	out := rep
	out.Checks = nil
	for _, c := range rep.Checks {
		if id, ok := strings.CutPrefix(c.Name, "token:"); ok && !cl.AllowsSeller(id) {
			continue
		}
		out.Checks = append(out.Checks, c)
	}
	return out
}
