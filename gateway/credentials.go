package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/credstate"
	"github.com/spgate/spgate/vault"
)

// Error codes for calls whose credentials Amazon refuses.
const (
	CodeSellerRevoked = "seller_authorization_revoked" // 401: the seller must authorize the app again
	CodeSecretInvalid = "app_secret_invalid"           // 401: the app's client secret is refused
)

// CredentialCheck configures CredentialReadiness.
type CredentialCheck struct {
	Vault *vault.Vault
	// App is the app's name (or id) in the vault.
	App string
	// State is the credential state the gateway's client uses
	// (spapi.Client.Credentials), so readiness reports what calls see.
	State *credstate.Store
	// MinSecretDays fails readiness when the client secret expires in
	// fewer days (default 7).
	MinSecretDays int
	// Metrics, when set, gets spgate_client_secret_days_left.
	Metrics *Metrics
	Clock   clock.Clock
}

// CredentialReadiness checks that the vault is readable, that the app's
// client secret has at least MinSecretDays left, and asks the credential
// state for a token of every seller that authorized the app: the same
// tokens and the same remembered refusals calls use, so a probe costs no
// LWA request while tokens are fresh, and none for a revoked seller
// between its backoff checks. Ready when the secret is good and at least
// one seller can be served; Degraded counts the sellers that cannot.
func CredentialReadiness(cc CredentialCheck) CheckFunc {
	if cc.MinSecretDays <= 0 {
		cc.MinSecretDays = 7
	}
	clk := clock.Or(cc.Clock)
	return func(ctx context.Context) ReadyReport {
		rep := ReadyReport{Ready: true}
		add := func(name string, err error) bool {
			c := ReadyCheck{Name: name, OK: err == nil}
			if err != nil {
				c.Message = err.Error()
			}
			rep.Checks = append(rep.Checks, c)
			return err == nil
		}
		cr, err := cc.Vault.LWACredentials(ctx, cc.App)
		if !add("vault", wrapErr(err, "reading app %s from the vault", cc.App)) {
			rep.Ready = false
			return rep
		}
		days := int(cr.ExpiresAt.Sub(clk.Now()).Hours() / 24)
		if cr.ExpiresAt.IsZero() {
			days = 180
		}
		if cc.Metrics != nil {
			cc.Metrics.SetSecretDaysLeft(cr.AppName, days)
		}
		var secErr error
		if days < cc.MinSecretDays {
			secErr = fmt.Errorf("the client secret of app %s expires in %d day(s) (on %s), less than %d: rotate it with `spgate rotate`", cr.AppName, days, cr.ExpiresAt.Format(time.DateOnly), cc.MinSecretDays)
		}
		if !add("client-secret", secErr) {
			rep.Ready = false
		}
		sellers, err := cc.Vault.ListSellers(ctx)
		if !add("sellers", wrapErr(err, "listing sellers")) {
			rep.Ready = false
			return rep
		}
		served, total := 0, 0
		for _, s := range sellers {
			if _, ok := s.Authorization(cr.AppName); !ok {
				continue
			}
			total++
			_, err := cc.State.Token(ctx, s.ID)
			if add("token:"+s.ID, wrapErr(err, "no access token for seller %s", s.ID)) {
				served++
			}
		}
		rep.Degraded = total - served
		if total > 0 && served == 0 {
			rep.Ready = false
		}
		return rep
	}
}

func wrapErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

var credentialDesc = prometheus.NewDesc("spgate_seller_credential_state",
	"1 for each seller's current credential state: live, unknown, unreachable, authorization_revoked or app_secret_invalid.",
	[]string{"seller", "state"}, nil)

// WatchCredentials exports the credential state of every seller the
// gateway has served or probed (spgate_seller_credential_state{seller,
// state}), read at scrape time.
func (m *Metrics) WatchCredentials(s *credstate.Store) {
	m.reg.MustRegister(credentialCollector{s})
}

type credentialCollector struct{ s *credstate.Store }

func (c credentialCollector) Describe(ch chan<- *prometheus.Desc) { ch <- credentialDesc }

func (c credentialCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.s.Sellers() {
		for _, s := range []credstate.Status{credstate.Live, credstate.Unknown, credstate.Unreachable, credstate.Revoked, credstate.SecretInvalid} {
			v := 0.0
			if st.Status == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(credentialDesc, prometheus.GaugeValue, v, st.Seller, string(s))
		}
	}
}
