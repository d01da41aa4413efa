package gatewayserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/spgate/spgate/consent"
	"github.com/spgate/spgate/console"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
)

// Console says how the admin console is served next to the gateway, on
// the same vault, client, checks, rotator and consent flow.
type Console struct {
	// Listener is where the console is served; with TLSCert and TLSKey
	// (PEM files) over HTTPS, which a non-loopback address needs
	// (console.CheckAddr).
	Listener        net.Listener
	TLSCert, TLSKey string
	// Checks runs spgate doctor's checks of the app as the vault holds it
	// now (the Setup page); required.
	Checks func(ctx context.Context) ([]doctor.Check, error)
	// SetupAWS runs `spgate setup aws --app A --queue` (dryRun: with
	// --dry-run), writing its report to out; nil hides the AWS buttons.
	SetupAWS func(ctx context.Context, dryRun bool, out func(line string)) error
	// ConsentPage is the consent page of a region (default
	// consent.PageURL).
	ConsentPage func(region string) string

	stats *console.Stats // the gateway's figures, taken from its log
}

// ConsoleURL is the console's base URL ("" without a console).
func (s *Server) ConsoleURL() string {
	if s.console == nil {
		return ""
	}
	return s.console.URL()
}

// ConsoleLogin is the one-time sign-in link issued when the console
// started; it works once, within console.LoginTokenTTL.
func (s *Server) ConsoleLogin() string { return s.consoleLogin }

// startConsole builds the console, records its address in the vault (for
// `spgate console link`), issues a first sign-in link and serves it until
// ctx ends.
func (s *Server) startConsole(ctx context.Context) error {
	c, o := s.cfg, s.cfg.Console
	ln := o.Listener
	cfg := console.Config{
		Vault: c.Vault, App: c.App.Name, Addr: ln.Addr().String(), TLS: o.TLSCert != "", GatewayURL: s.url,
		Credentials: s.client.CredentialState(),
		Stats:       o.stats,
		Logger:      s.log,
		Checks:      o.Checks,
		Rotate: func(ctx context.Context, progress func(step, msg string)) (rotation.Result, error) {
			r, err := s.rotator(ctx, progress)
			if err != nil {
				return rotation.Result{}, err
			}
			return r.Rotate(ctx, c.App.Name)
		},
		SetupAWS: o.SetupAWS,
		Consent:  s.consent(),
		Audit:    s.consoleAudit,
	}
	cons, err := console.New(cfg)
	if err != nil {
		return &Error{Part: PartConsole, Err: err}
	}
	s.console = cons
	if err := console.PublishURL(ctx, c.Vault, cons.URL()); err != nil {
		s.log.Warn("could not record the console's address in the vault; `spgate console link` will need --url", "error", err.Error())
	}
	tok, err := console.IssueLoginToken(ctx, c.Vault, nil)
	if err != nil {
		return &Error{Part: PartConsoleLogin, Err: err}
	}
	s.consoleLogin = console.LoginURL(cons.URL(), tok)
	s.log.Info("admin console listening", "url", cons.URL())
	s.bg.Go(func() {
		if err := cons.Serve(ctx, ln, o.TLSCert, o.TLSKey); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("the admin console stopped", "error", err.Error())
		}
	})
	return nil
}

// consent is the console's authorize flow: the consent URL, and the code
// exchanged for a refresh token with the app's LWA credentials.
func (s *Server) consent() *console.Consent {
	c := s.cfg
	app, page := c.App, c.Console.ConsentPage
	if page == nil {
		page = consent.PageURL
	}
	creds := rotation.VaultCredentials{Vault: c.Vault, App: app.Name}
	lc := &lwa.Client{TokenURL: c.Endpoints.TokenURL, HTTPClient: &http.Client{Timeout: 30 * time.Second}, Logger: s.log}
	return &console.Consent{
		RedirectURI: app.RedirectURI,
		URL: func(region, redirectURI, state string) (string, error) {
			return consent.Link{Page: page(region), AppID: app.AppID, Draft: app.Draft, RedirectURI: redirectURI, State: state}.URL()
		},
		Complete: func(ctx context.Context, state, redirectURI string, q url.Values) (string, secret.String, error) {
			res, err := consent.Complete(ctx, q, state, redirectURI, consent.LWA(lc, creds))
			return res.SellerID, res.RefreshToken, err
		},
	}
}

// consoleAudit records a console action in the gateway's audit log.
func (s *Server) consoleAudit(_ context.Context, e console.AdminEvent) {
	entry := gateway.AuditEntry{Time: e.Time, RequestID: "console", Client: console.Actor, Operation: "console/" + e.Action,
		Method: http.MethodPost, Path: e.Target, Status: http.StatusOK, Decision: "allowed"}
	if !e.OK {
		entry.Status, entry.Decision, entry.Reason = http.StatusForbidden, "denied", e.Detail
	}
	if err := s.audit.Write(entry); err != nil {
		s.log.Error("writing the console's action to the audit log failed", "action", e.Action, "error", err.Error())
	}
}
