package console

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spgate/spgate/credstate"
	"github.com/spgate/spgate/vault"
)

// sellerRow is one seller on the Sellers page.
type sellerRow struct {
	ID, Name, Region string
	Marketplaces     []string
	Authorized       bool
	AuthorizedAt     time.Time
	VerifiedAt       time.Time
	TokenAgeDays     int
	State            string // credstate status, or "" when unknown
	StateLabel       string
	StateClass       string
	StateSince       time.Time
	Reason           string
	RetryAt          time.Time
	Activity         SellerActivity
	HasStats         bool
}

type sellersData struct {
	Sellers     []sellerRow
	CanConsent  bool
	Regions     []string
	DefRegion   string
	Flow        *flowView // a consent flow just started
	Authorized  string    // a seller just authorized
	RedirectURI string
}

var credLabels = map[credstate.Status][2]string{
	credstate.Live:          {"Authorized: LWA issues tokens", "ok"},
	credstate.Unknown:       {"Not used yet since the gateway started", "unknown"},
	credstate.Unreachable:   {"LWA unreachable at the last try", "warn"},
	credstate.Revoked:       {"Authorization revoked: authorize again", "fail"},
	credstate.SecretInvalid: {"The app's client secret is refused", "fail"},
}

func (c *Console) sellersData(ctx context.Context) (sellersData, error) {
	d := sellersData{CanConsent: c.cfg.Consent != nil, Regions: vault.Regions(), RedirectURI: c.redirectURI()}
	app, err := c.app(ctx)
	if err != nil {
		return d, err
	}
	d.DefRegion = app.Region
	list, err := c.cfg.Vault.ListSellers(ctx)
	if err != nil {
		return d, err
	}
	now := c.clk.Now()
	for _, s := range list {
		row := sellerRow{ID: s.ID, Name: s.Name, Region: s.Region, Marketplaces: s.Marketplaces, HasStats: c.cfg.Stats != nil}
		if au, ok := s.Authorization(c.cfg.App); ok {
			row.Authorized = true
			row.AuthorizedAt = au.AuthorizedAt
			if au.AuthorizedAt.IsZero() {
				row.AuthorizedAt = au.RefreshToken.CreatedAt
			}
			row.VerifiedAt = au.RefreshToken.VerifiedAt
			if !row.AuthorizedAt.IsZero() {
				row.TokenAgeDays = int(now.Sub(row.AuthorizedAt).Hours() / 24)
			}
		}
		if c.cfg.Credentials != nil && row.Authorized {
			cs := c.cfg.Credentials.Seller(s.ID)
			row.State = string(cs.Status)
			l := credLabels[cs.Status]
			row.StateLabel, row.StateClass = l[0], l[1]
			if row.StateLabel == "" {
				row.StateLabel, row.StateClass = string(cs.Status), "unknown"
			}
			row.StateSince, row.Reason, row.RetryAt = cs.Since, cs.Reason, cs.RetryAt
		}
		a := c.cfg.Stats.Seller(s.ID)
		if s.Name != "" {
			b := c.cfg.Stats.Seller(s.Name)
			if b.LastOK.After(a.LastOK) {
				a.LastOK = b.LastOK
			}
			a.ThrottledToday += b.ThrottledToday
			a.LWAFailuresToday += b.LWAFailuresToday
		}
		row.Activity = a
		d.Sellers = append(d.Sellers, row)
	}
	return d, nil
}

func (c *Console) handleSellers(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := c.sellersData(r.Context())
	if err != nil {
		c.render(w, r, http.StatusInternalServerError, "message", s, messageData{Title: "Sellers", Text: scrub(err.Error())})
		return
	}
	if id := r.URL.Query().Get("authorized"); vault.ValidateSellerID(id) == nil {
		d.Authorized = id
	}
	c.render(w, r, http.StatusOK, "sellers", s, d)
}

// redirectURI is where Amazon sends the seller back: the app's registered
// redirect URI, else the console's own callback.
func (c *Console) redirectURI() string {
	if c.cfg.Consent != nil && c.cfg.Consent.RedirectURI != "" {
		return c.cfg.Consent.RedirectURI
	}
	return c.RedirectURL()
}

// handleAuthorize starts the OAuth website flow for a seller (new, or
// one whose authorization is to be renewed): the answer is a page with the
// consent link and, when the redirect URI is not served here, a box for
// the address the browser was sent to.
func (c *Console) handleAuthorize(w http.ResponseWriter, r *http.Request, s *session) {
	if c.cfg.Consent == nil {
		c.render(w, r, http.StatusNotFound, "message", s, messageData{Title: "Authorize", Text: errNoConsent.Error()})
		return
	}
	fail := func(msg string) {
		c.audit(r.Context(), "authorize-start", "seller", false, msg)
		c.render(w, r, http.StatusBadRequest, "message", s, messageData{Title: "Authorize a seller", Text: msg, Link: "/sellers", Label: "Back to Sellers"})
	}
	p := pendingFlow{Region: strings.TrimSpace(r.PostFormValue("region")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Seller: strings.TrimSpace(r.PostFormValue("seller"))}
	if p.Seller != "" {
		sl, err := c.cfg.Vault.GetSeller(r.Context(), p.Seller)
		if err != nil {
			fail("No seller " + p.Seller + " in the vault.")
			return
		}
		p.Seller, p.Region, p.Name = sl.ID, sl.Region, ""
	}
	if p.Region == "" {
		app, _ := c.app(r.Context())
		p.Region = app.Region
	}
	if err := vault.ValidateRegion(p.Region); err != nil {
		fail("Choose the seller's region (na, eu or fe).")
		return
	}
	if p.Name != "" {
		if err := vault.ValidateName("seller", p.Name); err != nil {
			fail(err.Error())
			return
		}
	}
	for _, m := range strings.FieldsFunc(r.PostFormValue("marketplaces"), func(r rune) bool { return r == ',' || r == ' ' }) {
		mp, ok := vault.LookupMarketplace(m)
		if !ok || mp.Region != p.Region {
			fail(fmt.Sprintf("%s is not a marketplace of region %s.", m, p.Region))
			return
		}
		if !slices.Contains(p.Marketplaces, mp.ID) {
			p.Marketplaces = append(p.Marketplaces, mp.ID)
		}
	}
	fv, err := c.flows.start(p)
	if err != nil {
		fail(scrub(err.Error()))
		return
	}
	c.audit(r.Context(), "authorize-start", "seller "+orNew(p.Seller), true, "consent flow started in region "+p.Region)
	c.render(w, r, http.StatusOK, "consent", s, fv)
}

func orNew(id string) string {
	if id == "" {
		return "(new)"
	}
	return id
}

// handleAuthorizePaste finishes a flow whose redirect URI is not served
// here, from the address the browser was sent to.
func (c *Console) handleAuthorizePaste(w http.ResponseWriter, r *http.Request, s *session) {
	u, err := url.Parse(strings.TrimSpace(r.PostFormValue("redirected")))
	if err != nil || u.RawQuery == "" {
		c.render(w, r, http.StatusBadRequest, "message", s, messageData{Title: "Authorize a seller",
			Text: "That is not the address Amazon redirected to: it must contain ?spapi_oauth_code=…&state=…&selling_partner_id=…", Link: "/sellers", Label: "Back to Sellers"})
		return
	}
	id, err := c.flows.complete(r.Context(), u.Query())
	if err != nil {
		c.render(w, r, http.StatusBadRequest, "message", s, messageData{Title: "Authorization failed", Text: scrub(err.Error()), Link: "/sellers", Label: "Back to Sellers"})
		return
	}
	http.Redirect(w, r, "/sellers?authorized="+url.QueryEscape(id), http.StatusSeeOther)
}

// handleCallback is the redirect URI served by the console itself. Amazon
// sends the browser here from its consent page — another site, so the
// SameSite=Strict session cookie does not come along: the flow's state,
// which only a signed-in admin's request created, is what authorizes it.
func (c *Console) handleCallback(w http.ResponseWriter, r *http.Request) {
	c.callback(w, r, c.origin+"/sellers")
}

func (c *Console) callback(w http.ResponseWriter, r *http.Request, back string) {
	id, err := c.flows.complete(r.Context(), r.URL.Query())
	d := map[string]string{"Back": back}
	status := http.StatusOK
	if err != nil {
		d["Error"] = scrub(err.Error())
		status = http.StatusBadRequest
	} else {
		d["Seller"] = id
		d["Back"] = back + "?authorized=" + url.QueryEscape(id)
	}
	c.render(w, r, status, "callback", nil, d)
}

// pendingFlow is a consent flow an admin started, waiting for Amazon's
// redirect.
type pendingFlow struct {
	State        string
	Region       string
	Seller       string // the seller being re-authorized; "" for a new one
	Name         string
	Marketplaces []string
	RedirectURI  string
	Expires      time.Time
}

// flowView is the page showing a started flow.
type flowView struct {
	ConsentURL  string
	RedirectURI string
	Served      bool // the redirect comes back to this console by itself
	Seller      string
	Region      string
}

// flowTTL bounds how long a started flow waits for the seller.
const flowTTL = 10 * time.Minute

// flows holds the pending consent flows by state, and the loopback
// listeners that catch redirects to a loopback redirect URI on another
// port than the console's (http://127.0.0.1:8765/callback, as `spgate
// seller authorize` uses).
type flows struct {
	c         *Console
	mu        sync.Mutex
	pending   map[string]*pendingFlow
	listeners map[string]*callbackListener
	done      chan struct{}
	closing   sync.Once
}

type callbackListener struct {
	srv     *http.Server
	expires time.Time
}

func newFlows(c *Console) *flows {
	return &flows{c: c, pending: map[string]*pendingFlow{}, listeners: map[string]*callbackListener{}, done: make(chan struct{})}
}

func (f *flows) start(p pendingFlow) (flowView, error) {
	c := f.c
	state, err := randomToken("")
	if err != nil {
		return flowView{}, err
	}
	p.State = state
	p.RedirectURI = c.redirectURI()
	p.Expires = c.clk.Now().Add(flowTTL)
	link, err := c.cfg.Consent.URL(p.Region, p.RedirectURI, state)
	if err != nil {
		return flowView{}, err
	}
	v := flowView{ConsentURL: link, RedirectURI: p.RedirectURI, Seller: p.Seller, Region: p.Region}
	ru, err := url.Parse(p.RedirectURI)
	if err != nil {
		return flowView{}, fmt.Errorf("redirect URI %q: %w", p.RedirectURI, err)
	}
	switch {
	case strings.EqualFold(ru.Scheme+"://"+ru.Host, c.origin) && ru.Path == "/oauth/callback":
		v.Served = true
	case ru.Scheme == "http" && isLoopback(ru.Hostname()):
		if err := f.listen(ru, p.Expires); err != nil {
			return flowView{}, err
		}
		v.Served = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := c.clk.Now()
	for k, q := range f.pending {
		if !now.Before(q.Expires) {
			delete(f.pending, k)
		}
	}
	if len(f.pending) >= 16 {
		return flowView{}, errors.New("too many authorizations are waiting for Amazon; finish or let them expire (10 minutes) first")
	}
	f.pending[state] = &p
	return v, nil
}

// listen serves the path of a loopback redirect URI on its port until
// expires, passing the redirect to the console's callback.
func (f *flows) listen(ru *url.URL, expires time.Time) error {
	c := f.c
	f.mu.Lock()
	defer f.mu.Unlock()
	if l := f.listeners[ru.Host]; l != nil {
		l.expires = expires
		return nil
	}
	ln, err := net.Listen("tcp", ru.Host)
	if err != nil {
		return fmt.Errorf("cannot listen on %s for Amazon's redirect to %s: %w (free the port, or register the console's own %s as the redirect URI)", ru.Host, ru.String(), err, c.RedirectURL())
	}
	path := ru.Path
	if path == "" {
		path = "/"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		c.callback(w, r, c.origin+"/sellers")
	})
	l := &callbackListener{expires: expires}
	l.srv = &http.Server{Handler: c.guardCallback(mux), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	f.listeners[ru.Host] = l
	go func() { _ = l.srv.Serve(ln) }()
	go f.reap(ru.Host, l)
	return nil
}

// reap closes a callback listener once nothing waits for it.
func (f *flows) reap(host string, l *callbackListener) {
	for {
		f.mu.Lock()
		left := l.expires.Sub(f.c.clk.Now())
		if left <= 0 || f.listeners[host] != l {
			if f.listeners[host] == l {
				delete(f.listeners, host)
			}
			f.mu.Unlock()
			_ = l.srv.Close()
			return
		}
		f.mu.Unlock()
		t := f.c.clk.NewTimer(left)
		select {
		case <-t.C():
		case <-f.done:
			t.Stop()
		}
	}
}

// guardCallback sets the console's headers on the callback listener.
func (c *Console) guardCallback(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

func (f *flows) closeAll() {
	f.closing.Do(func() { close(f.done) })
	f.mu.Lock()
	defer f.mu.Unlock()
	for h, l := range f.listeners {
		_ = l.srv.Close()
		delete(f.listeners, h)
	}
}

// complete finishes the flow a redirect names by its state: it checks the
// state, exchanges the code and stores the seller and its refresh token.
func (f *flows) complete(ctx context.Context, q url.Values) (string, error) {
	c := f.c
	state := q.Get("state")
	f.mu.Lock()
	p := f.pending[state]
	if p != nil {
		delete(f.pending, state) // a state works once
	}
	f.mu.Unlock()
	if state == "" || p == nil || !c.clk.Now().Before(p.Expires) {
		c.audit(ctx, "authorize", "seller", false, "a redirect with an unknown, used or expired state")
		return "", errors.New("this redirect does not belong to an authorization started in this console in the last 10 minutes (an old tab, a second use, or a forged link); nothing was stored — start again from the Sellers page")
	}
	id, rt, err := c.cfg.Consent.Complete(ctx, p.State, p.RedirectURI, q)
	if err != nil {
		c.audit(ctx, "authorize", "seller "+orNew(p.Seller), false, err.Error())
		return "", err
	}
	if p.Seller != "" && id != p.Seller {
		c.audit(ctx, "authorize", "seller "+id, false, "authorized by another seller than the one asked for")
		return "", fmt.Errorf("Amazon's redirect is for seller %s, but seller %s was to be authorized again; nothing was stored — sign in to Seller Central as %s and start again", id, p.Seller, p.Seller)
	}
	actx := actorCtx(ctx)
	v := c.cfg.Vault
	if _, err := v.GetSeller(actx, id); errors.Is(err, vault.ErrNotFound) {
		if err := v.AddSeller(actx, vault.Seller{ID: id, Name: p.Name, Region: p.Region, Marketplaces: p.Marketplaces}); err != nil {
			c.audit(ctx, "authorize", "seller "+id, false, err.Error())
			return "", fmt.Errorf("storing seller %s: %w", id, err)
		}
	} else if err != nil {
		return "", err
	}
	if err := v.SetRefreshToken(actx, id, c.cfg.App, rt, c.clk.Now()); err != nil {
		c.audit(ctx, "authorize", "seller "+id, false, err.Error())
		return "", fmt.Errorf("storing the refresh token of seller %s: %w", id, err)
	}
	_ = v.MarkRefreshTokenVerified(actx, id, c.cfg.App)
	c.audit(ctx, "authorize", "seller "+id, true, "refresh token stored for app "+c.cfg.App)
	return id, nil
}
