package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
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
	Checked time.Time    `json:"checked"`
	Checks  []ReadyCheck `json:"checks"`
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
	rep := ReadyReport{Ready: true, Checked: time.Now().UTC()}
	if g.cfg.Ready != nil {
		rep = g.cfg.Ready.Report(r.Context())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	var out any = struct {
		Ready    bool `json:"ready"`
		Degraded bool `json:"degraded,omitempty"`
	}{rep.Ready, rep.Degraded > 0}
	if key, ok := bearer(r.Header.Get("Authorization")); ok {
		if cl, err := g.keys.authenticate(r.Context(), key); err == nil {
			out = rep.visibleTo(cl)
		}
	}
	_ = json.NewEncoder(w).Encode(out)
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

// VaultCheck configures VaultReadiness.
type VaultCheck struct {
	Vault *vault.Vault
	// App is the app's name (or id) in the vault.
	App string
	// LWA requests the tokens; Credentials supplies the app's client id
	// and secret.
	LWA         *lwa.Client
	Credentials lwa.CredentialsProvider
	// MinSecretDays fails readiness when the client secret expires in
	// fewer days (default 7).
	MinSecretDays int
	// Metrics, when set, gets spgate_client_secret_days_left.
	Metrics *Metrics
	Clock   clock.Clock
}

// VaultReadiness checks that the vault is readable, that the app's client
// secret has at least MinSecretDays left, and that a token can be obtained
// for every seller that authorized the app. Tokens come from sources kept
// between checks, so a check costs one LWA request per seller per token
// lifetime, not per probe.
func VaultReadiness(vc VaultCheck) CheckFunc {
	if vc.MinSecretDays <= 0 {
		vc.MinSecretDays = 7
	}
	clk := clock.Or(vc.Clock)
	var mu sync.Mutex
	sources := map[string]*lwa.CachedSource{}
	tokens := map[string]secret.String{}
	return func(ctx context.Context) ReadyReport {
		rep := ReadyReport{Ready: true}
		add := func(name string, err error) {
			c := ReadyCheck{Name: name, OK: err == nil}
			if err != nil {
				c.Message = err.Error()
				rep.Ready = false
			}
			rep.Checks = append(rep.Checks, c)
		}
		cr, err := vc.Vault.LWACredentials(ctx, vc.App)
		if err != nil {
			add("vault", fmt.Errorf("reading app %s from the vault: %w", vc.App, err))
			return rep
		}
		add("vault", nil)
		days := int(cr.ExpiresAt.Sub(clk.Now()).Hours() / 24)
		if cr.ExpiresAt.IsZero() {
			days = 180
		}
		if vc.Metrics != nil {
			vc.Metrics.SetSecretDaysLeft(cr.AppName, days)
		}
		var secErr error
		if days < vc.MinSecretDays {
			secErr = fmt.Errorf("the client secret of app %s expires in %d day(s) (on %s), less than %d: rotate it with `spgate rotate`", cr.AppName, days, cr.ExpiresAt.Format(time.DateOnly), vc.MinSecretDays)
		}
		add("client-secret", secErr)
		sellers, err := vc.Vault.ListSellers(ctx)
		if err != nil {
			add("sellers", fmt.Errorf("listing sellers: %w", err))
			return rep
		}
		for _, s := range sellers {
			if _, ok := s.Authorization(cr.AppName); !ok {
				continue
			}
			add("token:"+s.ID, sellerToken(ctx, vc, cr.AppName, s.ID, &mu, sources, tokens))
		}
		return rep
	}
}

func sellerToken(ctx context.Context, vc VaultCheck, app, id string, mu *sync.Mutex, sources map[string]*lwa.CachedSource, tokens map[string]secret.String) error {
	full, err := vc.Vault.GetSeller(ctx, id)
	if err != nil {
		return fmt.Errorf("reading seller %s: %w", id, err)
	}
	au, ok := full.Authorization(app)
	if !ok || au.RefreshToken.Value.IsZero() {
		return fmt.Errorf("seller %s has no refresh token for app %s: store one with `spgate seller add`", id, app)
	}
	mu.Lock()
	src := sources[id]
	if src == nil || tokens[id].Reveal() != au.RefreshToken.Value.Reveal() {
		src = lwa.NewRefreshTokenSource(vc.LWA, vc.Credentials, au.RefreshToken.Value)
		sources[id], tokens[id] = src, au.RefreshToken.Value
	}
	mu.Unlock()
	if _, err := src.Token(ctx); err != nil {
		return fmt.Errorf("no access token for seller %s: %w", id, err)
	}
	return nil
}
