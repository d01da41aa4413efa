// Package consent runs Amazon's OAuth website flow, which turns a selling
// partner's consent into a refresh token: the consent link on the region's
// Seller Central with an anti-CSRF state, the redirect to the app's
// redirect URI, and the exchange of its one-time code with LWA.
//
// A program runs the whole flow with [Start]: it serves the redirect on a
// loopback address (or reads the address the person pasted), checks the
// state and exchanges the code:
//
//	f, err := consent.Start(ctx, consent.Options{
//		Link:     consent.Link{Page: consent.PageURL("eu"), AppID: appID, RedirectURI: "http://127.0.0.1:8765/callback"},
//		Exchange: consent.LWA(lwaClient, appCredentials),
//	})
//	if err != nil { … }
//	defer f.Close()
//	fmt.Println("open as the seller:", f.URL())
//	res, err := f.Wait(ctx) // res.SellerID, res.RefreshToken
//
// A web server that receives the redirect on a handler of its own uses the
// parts instead: [NewState], [Link.URL] and, in the handler, [Complete].
// [Result.Store] keeps the outcome in the vault.
//
// Every wait is bounded; the state is compared in constant time; the
// callback server listens on loopback only; and no error, page or log line
// holds the authorization code or the refresh token.
package consent

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode"

	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// Errors of the flow, for errors.Is. The errors returned wrap them with
// what happened and what to do.
var (
	// ErrState: the redirect's state is not the one the consent link
	// carried — an old tab, a second flow, or a forged link. Nothing was
	// exchanged.
	ErrState = errors.New("consent: the state in the redirect is not the one this flow sent")
	// ErrDenied: the seller declined on the consent page.
	ErrDenied = errors.New("consent: the seller declined the authorization")
	// ErrCode: LWA refused the authorization code (invalid_grant): it was
	// used already or is older than its 5 minutes.
	ErrCode = errors.New("consent: LWA refused the authorization code")
	// ErrRedirect: the address is not a redirect from the consent page (no
	// spapi_oauth_code or selling_partner_id).
	ErrRedirect = errors.New("consent: not the address Amazon redirected to")
	// ErrTimeout: no redirect arrived before the flow's timeout.
	ErrTimeout = errors.New("consent: no redirect arrived in time")
	// ErrNotLoopback: the callback server would have to listen on an
	// address other than loopback; paste the redirected address instead.
	ErrNotLoopback = errors.New("consent: the callback server listens on loopback only")
)

// pages are the regional Seller Central hosts of the flow.
var pages = map[string]string{
	vault.RegionNA: "https://sellercentral.amazon.com",
	vault.RegionEU: "https://sellercentral-europe.amazon.com",
	vault.RegionFE: "https://sellercentral.amazon.co.jp",
}

// PageURL returns the consent page of region's Seller Central (na, eu, fe);
// an unknown region gets North America's.
func PageURL(region string) string {
	h, ok := pages[region]
	if !ok {
		h = pages[vault.RegionNA]
	}
	return h + "/apps/authorize/consent"
}

// NewState returns a fresh anti-CSRF state: 256 random bits, base64url.
func NewState() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("consent: generating the state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Link is the consent link a seller opens.
type Link struct {
	// Page is the consent page: PageURL(region), or another one such as
	// the offline Amazon's (amazontest.Server.ConsentURL). It must be
	// https, or http on a loopback host.
	Page string
	// AppID is the application id (amzn1.sp.solution.…).
	AppID string
	// Draft asks for a draft app's consent (version=beta).
	Draft bool
	// RedirectURI is the redirect URI registered for the app; empty lets
	// Amazon pick the app's first one. The code exchange repeats it.
	RedirectURI string
	// State is the anti-CSRF value the redirect must carry back (NewState).
	State string
}

// URL returns the link.
func (l Link) URL() (string, error) {
	u, err := url.Parse(l.Page)
	if err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		return "", fmt.Errorf("consent: the consent page %q is not an absolute https URL (http only on loopback)", l.Page)
	}
	if l.AppID == "" {
		return "", errors.New("consent: no application id for the consent link")
	}
	if l.State == "" {
		return "", errors.New("consent: no state for the consent link: a link without one lets any page hand this flow its own code")
	}
	q := u.Query()
	q.Set("application_id", l.AppID)
	q.Set("state", l.State)
	if l.Draft {
		q.Set("version", "beta")
	}
	if l.RedirectURI != "" {
		q.Set("redirect_uri", l.RedirectURI)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Exchange trades an authorization code for the seller's refresh token;
// redirectURI is the one the consent link named, which LWA checks.
type Exchange func(ctx context.Context, code, redirectURI string) (secret.String, error)

// LWA returns the Exchange of the app whose credentials creds gives, through
// c (the authorization_code grant).
func LWA(c *lwa.Client, creds lwa.CredentialsProvider) Exchange {
	return func(ctx context.Context, code, redirectURI string) (secret.String, error) {
		_, rt, err := c.ExchangeCode(ctx, creds, code, redirectURI)
		return rt, err
	}
}

// Result is what a completed flow yields.
type Result struct {
	SellerID     string        // the selling partner id Amazon redirected with
	RefreshToken secret.String // the seller's refresh token for the app
}

// Complete checks the query of a redirect from the consent page against
// state (the one the consent link carried) and exchanges its code for the
// refresh token. redirectURI is the consent link's. The state is checked
// first, in constant time: a redirect with another state is never
// exchanged.
func Complete(ctx context.Context, q url.Values, state, redirectURI string, exchange Exchange) (Result, error) {
	got := q.Get("state")
	if state == "" || subtle.ConstantTimeCompare([]byte(got), []byte(state)) != 1 {
		return Result{}, fmt.Errorf("%w: the redirect did not come from the consent link of this flow (an old tab, or a forged link); nothing was exchanged", ErrState)
	}
	if e := q.Get("error"); e != "" {
		return Result{}, fmt.Errorf("%w (%s: %s): nothing was exchanged; ask the seller to confirm the consent page", ErrDenied, printable(e), printable(q.Get("error_description")))
	}
	code, seller := q.Get("spapi_oauth_code"), q.Get("selling_partner_id")
	if code == "" || seller == "" {
		return Result{}, fmt.Errorf("%w: it carries no spapi_oauth_code or selling_partner_id; take the whole address the browser was sent to", ErrRedirect)
	}
	if err := vault.ValidateSellerID(seller); err != nil {
		return Result{}, fmt.Errorf("selling_partner_id in the redirect: %w", err)
	}
	if exchange == nil {
		return Result{}, errors.New("consent: no Exchange to trade the code with")
	}
	rt, err := exchange(ctx, code, redirectURI)
	if err != nil {
		if errors.Is(err, lwa.ErrGrantRejected) {
			return Result{}, fmt.Errorf("%w (invalid_grant): a code works once and for 5 minutes only: %w", ErrCode, err)
		}
		return Result{}, fmt.Errorf("exchanging the authorization code with LWA: %w", err)
	}
	if rt.IsZero() {
		return Result{}, errors.New("exchanging the authorization code with LWA: the answer holds no refresh token")
	}
	return Result{SellerID: seller, RefreshToken: rt}, nil
}

// ParseRedirect reads the address a person copied from the browser after
// the consent page (it may have failed to load) into its query.
func ParseRedirect(address string) (url.Values, error) {
	u, err := url.Parse(strings.TrimSpace(address))
	if err != nil || u.RawQuery == "" {
		return nil, fmt.Errorf("%w: it must contain ?spapi_oauth_code=…&state=…&selling_partner_id=…", ErrRedirect)
	}
	return u.Query(), nil
}

// printable keeps what a redirect's error fields say readable and short:
// they come from whoever sent the browser there.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// isLoopbackHost reports whether host names this machine's loopback
// interface: "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
