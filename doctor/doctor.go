package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/rdt"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/spapi/sellers"
	"github.com/spgate/spgate/vault"
)

// Input is what Run checks: one app from the vault, the sellers to check
// (with their refresh tokens decrypted, as vault.GetSeller returns them), a
// client for the app and an LWA client to test grants with.
type Input struct {
	// App is the vault's app with its current client secret decrypted
	// (vault.GetApp).
	App vault.App
	// Sellers are checked one by one; a seller without an authorization of
	// App fails with step "authorize-seller".
	Sellers []vault.Seller
	// Client calls SP-API for App (the cheap call and the RDT checks).
	Client *spapi.Client
	// LWA performs the refresh-token grants; nil uses Client.LWA().
	LWA *lwa.Client
	// Credentials supplies App's client id and secret to LWA; nil uses
	// App's current secret.
	Credentials lwa.CredentialsProvider
	// Clock dates the secret-age check; nil means the real clock.
	Clock clock.Clock
	// Endpoints, when set, lets doctor try a seller's token in the other
	// regions after Amazon's bare 403, to tell a wrong region apart from a
	// missing authorization.
	Endpoints spapi.Endpoints
}

// Setup steps a failed check names (Check.Step).
const (
	StepAppRegistration = "app-registration"
	StepLWACredentials  = "lwa-credentials"
	StepAuthorizeSeller = "authorize-seller"
	StepRDTRole         = "rdt-role"
	StepRotateSecret    = "rotate-secret"
	StepRegion          = "region"
	// StepAmazon: Amazon answered with an outage (5xx, 429); nothing to
	// change on this side.
	StepAmazon = "amazon"
)

// Secret-age thresholds, tightest first: days left of the 180-day lifetime
// at which the secret check warns.
var warnDays = []int{1, 7, 14, 30}

// Run checks the app and each seller, layer by layer, and returns every
// finding. It never stops at the first failure, but skips checks that a
// failed layer below makes pointless (no SP-API call when LWA refused).
func Run(ctx context.Context, in Input) []Check {
	clk := clock.Or(in.Clock)
	var out []Check
	add := func(c Check) { out = append(out, c) }

	out = append(out, formatChecks(in)...)
	out = append(out, secretAge(in.App, clk.Now())...)

	lc := in.LWA
	if lc == nil && in.Client != nil {
		lc = in.Client.LWA()
	}
	creds := in.Credentials
	if creds == nil {
		cur, _ := in.App.CurrentSecret()
		creds = lwa.StaticCredentials{ClientID: in.App.ClientID, ClientSecret: cur.Value}
	}
	if len(in.Sellers) == 0 {
		add(Check{Layer: "seller", Name: "sellers", Status: Warn,
			Detail: fmt.Sprintf("no seller has authorized app %s in the vault, so LWA and SP-API cannot be checked", in.App.Name),
			Step:   StepAuthorizeSeller, Fix: "authorize a seller and store its refresh token: `spgate seller add`"})
		return out
	}
	stop := "" // why the other sellers' grants are not tried
	for _, s := range in.Sellers {
		au, ok := s.Authorization(in.App.Name)
		if !ok {
			add(Check{Layer: "seller", Name: "seller-authorization", Status: Fail,
				Detail: fmt.Sprintf("seller %s has not authorized app %s in the vault", s.ID, in.App.Name),
				Step:   StepAuthorizeSeller, Fix: fmt.Sprintf("authorize the app (Seller Central → Develop Apps → Authorize) and store the refresh token: `spgate seller add %s --app %s`", s.ID, in.App.Name)})
			continue
		}
		if stop != "" {
			add(Check{Layer: "lwa", Name: "lwa-refresh-grant", Status: Skip,
				Detail: fmt.Sprintf("seller %s: not tried, %s", s.ID, stop)})
			continue
		}
		c, why := lwaGrant(ctx, lc, creds, s.ID, au.RefreshToken.Value)
		add(c)
		stop = why
		if c.Status != OK {
			continue
		}
		sc := cheapCall(ctx, in.Client, in.Endpoints, s)
		if sc.Status == Fail && sc.Step == StepAppRegistration {
			if r, ok := probeRegions(ctx, in, creds, s, au.RefreshToken.Value); ok {
				sc.Step = StepRegion
				sc.Detail = fmt.Sprintf("seller %s is stored in region %s, but Amazon answers for it only in region %s", s.ID, s.Region, r)
				sc.Fix = fmt.Sprintf("move the seller to its region with its marketplaces there: `spgate seller update %s --region %s --marketplace M[,M…]` (marketplace ids or country codes in region %s)", s.ID, r, r)
			}
		}
		add(sc)
		if sc.Status == Fail {
			continue
		}
		out = append(out, rdtChecks(ctx, in, s.ID)...)
	}
	return out
}

func formatChecks(in Input) []Check {
	var out []Check
	fail := func(name, detail, fix string) {
		out = append(out, Check{Layer: "format", Name: name, Status: Fail, Detail: detail, Step: StepAppRegistration, Fix: fix})
	}
	a := in.App
	if err := vault.ValidateAppID(a.AppID); err != nil {
		fail("app-id", err.Error(), "an app's ids cannot be edited: remove it with `spgate app remove "+a.Name+"` and add it again with the app id (amzn1.sp.solution.…) from Seller Central → Develop Apps (`spgate app add "+a.Name+" --app-id …`)")
	}
	if err := vault.ValidateClientID(a.ClientID); err != nil {
		fail("client-id", err.Error(), "an app's ids cannot be edited: remove it with `spgate app remove "+a.Name+"` and add it again with the LWA client id from Develop Apps → View (`spgate app add "+a.Name+" --client-id …`)")
	}
	cur, ok := a.CurrentSecret()
	switch {
	case !ok:
		out = append(out, Check{Layer: "format", Name: "client-secret", Status: Fail,
			Detail: fmt.Sprintf("app %s has no client secret in the vault", a.Name),
			Step:   StepLWACredentials, Fix: "paste it with `spgate app set-secret " + a.Name + "`"})
	case !cur.Value.IsZero():
		if err := vault.ValidateClientSecret(cur.Value.Reveal()); err != nil {
			out = append(out, Check{Layer: "format", Name: "client-secret", Status: Fail, Detail: err.Error(),
				Step: StepLWACredentials, Fix: "paste the secret again with `spgate app set-secret " + a.Name + "`"})
		}
	}
	for _, s := range in.Sellers {
		if err := vault.ValidateSellerID(s.ID); err != nil {
			out = append(out, Check{Layer: "format", Name: "seller-id", Status: Fail, Detail: err.Error(),
				Step: StepAuthorizeSeller, Fix: "copy the selling partner id (Merchant Token) from Seller Central → Settings → Account Info"})
		}
		var bad []string
		for _, m := range s.Marketplaces {
			if err := vault.ValidateMarketplace(s.Region, m); err != nil {
				bad = append(bad, m)
			}
		}
		if len(bad) > 0 {
			want, fix := "", fmt.Sprintf("`spgate seller update %s --region R --marketplace M[,M…]`, all marketplaces in region R", s.ID)
			if mr, err := vault.RegionOfMarketplace(bad[0]); err == nil {
				want = fmt.Sprintf(" (%s is in region %s)", bad[0], mr)
				fix = fmt.Sprintf("`spgate seller update %s --region %s --marketplace %s` (add its other marketplaces in region %s)", s.ID, mr, bad[0], mr)
			}
			out = append(out, Check{Layer: "format", Name: "seller-marketplaces", Status: Fail,
				Detail: fmt.Sprintf("seller %s is stored in region %s but sells in %s%s", s.ID, s.Region, strings.Join(bad, ", "), want),
				Step:   StepRegion, Fix: "store the region its marketplaces belong to, with the marketplaces: " + fix})
		}
		if au, ok := s.Authorization(a.Name); ok && !au.RefreshToken.Value.IsZero() {
			if err := vault.ValidateRefreshToken(au.RefreshToken.Value.Reveal()); err != nil {
				out = append(out, Check{Layer: "format", Name: "refresh-token", Status: Fail, Detail: fmt.Sprintf("seller %s: %v", s.ID, err),
					Step: StepAuthorizeSeller, Fix: "authorize again and paste the whole refresh token (it starts with Atzr|)"})
			}
		}
	}
	if len(out) == 0 {
		out = append(out, Check{Layer: "format", Name: "formats", Status: OK,
			Detail: fmt.Sprintf("app id, client id, client secret, %d seller id(s) and their marketplaces are well-formed", len(in.Sellers))})
	}
	return out
}

func secretAge(a vault.App, now time.Time) []Check {
	cur, ok := a.CurrentSecret()
	if !ok || cur.ExpiresAt.IsZero() {
		return []Check{{Layer: "secret", Name: "secret-age", Status: Skip, Detail: "no client secret expiry recorded"}}
	}
	fix := "rotate it: `spgate rotate --app " + a.Name + "` (or rotate in Seller Central and paste it with `spgate app set-secret " + a.Name + "`)"
	if cur.Expired(now) {
		return []Check{{Layer: "secret", Name: "secret-age", Status: Fail,
			Detail: fmt.Sprintf("the client secret of app %s expired on %s; LWA refuses it", a.Name, cur.ExpiresAt.UTC().Format(time.DateOnly)),
			Step:   StepRotateSecret, Fix: fix}}
	}
	left := cur.DaysLeft(now)
	for _, t := range warnDays {
		if left <= t {
			return []Check{{Layer: "secret", Name: "secret-age", Status: Warn,
				Detail: fmt.Sprintf("the client secret of app %s expires in %d day(s), on %s (%d day(s) or less left of 180)", a.Name, left, cur.ExpiresAt.UTC().Format(time.DateOnly), t),
				Step:   StepRotateSecret, Fix: fix}}
		}
	}
	return []Check{{Layer: "secret", Name: "secret-age", Status: OK,
		Detail: fmt.Sprintf("the client secret expires in %d days, on %s", left, cur.ExpiresAt.UTC().Format(time.DateOnly))}}
}

// lwaGrant performs the refresh-token grant. stop, when not empty, says
// why every other seller would fail the same way (LWA refused the client
// itself, or cannot be reached), so their grants are not tried.
func lwaGrant(ctx context.Context, lc *lwa.Client, creds lwa.CredentialsProvider, seller string, rt secret.String) (c Check, stop string) {
	c = Check{Layer: "lwa", Name: "lwa-refresh-grant"}
	if lc == nil {
		c.Status, c.Detail = Skip, "no LWA client"
		return c, ""
	}
	if rt.IsZero() {
		c.Status, c.Detail, c.Step = Fail, fmt.Sprintf("seller %s: no refresh token stored", seller), StepAuthorizeSeller
		c.Fix = "authorize the app for the seller and store the refresh token with `spgate seller add`"
		return c, ""
	}
	_, err := lwa.NewRefreshTokenSource(lc, creds, rt).Token(ctx)
	tokenURL := lc.Endpoint().TokenURL
	if why, _, ok := unreachable(err); ok {
		return cannotReach("reach-lwa", "Login with Amazon", tokenURL, why, ""), "LWA cannot be reached"
	}
	switch {
	case err == nil:
		c.Status, c.Detail = OK, fmt.Sprintf("seller %s: LWA exchanged the refresh token for an access token", seller)
	case errors.Is(err, lwa.ErrClientRejected):
		c.Name = "lwa-client-secret"
		c.Status, c.Step = Fail, StepLWACredentials
		c.Detail = "LWA refused the app's client id or secret (invalid_client): it was rotated elsewhere or has expired"
		c.Fix = "run `spgate rotate` or `spgate app set-secret` with the secret from Seller Central → Develop Apps → View"
		return c, "LWA refused the client secret"
	case errors.Is(err, lwa.ErrGrantRejected):
		c.Status, c.Step = Fail, StepAuthorizeSeller
		c.Detail = fmt.Sprintf("seller %s: LWA refused the refresh token (invalid_grant): the seller revoked the app, or the token belongs to another app", seller)
		c.Fix = "authorize the app again (Seller Central → Develop Apps → Authorize, or `spgate seller authorize`) and store the new refresh token"
	case errors.Is(err, lwa.ErrUnavailable):
		// LWA answered, but with an outage (5xx, 429): nothing is known
		// about the credentials either.
		c.Status, c.Step = Fail, StepAmazon
		c.Detail = fmt.Sprintf("seller %s: LWA at %s is unavailable: %v", seller, tokenURL, err)
		c.Fix = "Amazon's side: try again in a few minutes; if it persists, check the endpoint (--endpoint / SPGATE_ENDPOINT)"
		return c, "LWA is unavailable"
	default:
		c.Status, c.Step = Fail, StepLWACredentials
		c.Detail = fmt.Sprintf("seller %s: token request failed: %v", seller, err)
		c.Fix = "check the app's client id and secret (`spgate app show`), then run `spgate doctor` again"
	}
	return c, ""
}

func cheapCall(ctx context.Context, cl *spapi.Client, eps spapi.Endpoints, s vault.Seller) Check {
	c := Check{Layer: "seller", Name: "seller-call"}
	if cl == nil {
		c.Status, c.Detail = Skip, "no SP-API client"
		return c
	}
	ps, err := sellers.New(cl).MarketplaceParticipations(ctx, s.ID)
	if err != nil {
		c.Status = Fail
		c.Detail = fmt.Sprintf("seller %s: getMarketplaceParticipations failed: %v", s.ID, err)
		var ae *spapi.APIError
		if errors.As(err, &ae) {
			d := ae.Diagnose()
			c.Step, c.Fix = d.Step, d.Fix
			if d.Cause != "" {
				c.Detail = fmt.Sprintf("seller %s: getMarketplaceParticipations answered %d %s: %s", s.ID, ae.Status, ae.Code, d.Cause)
			}
			if ae.Status == 403 && d.Step == StepAppRegistration {
				c.Fix = fmt.Sprintf("check that seller %s really is in region %s (its marketplaces decide: %s), that it authorized this app, and the app's roles; then `spgate doctor` again",
					s.ID, s.Region, strings.Join(s.Marketplaces, ","))
			}
		}
		if why, ep, ok := unreachable(err); ok {
			if eps.SPAPI != nil {
				ep = eps.SPAPI(spapi.Region(s.Region)).String()
			}
			if ep == "" {
				ep = "its endpoint"
			}
			return cannotReach("reach-sp-api", "the Selling Partner API (region "+s.Region+")", ep, why, "seller "+s.ID)
		}
		if c.Step == "" {
			c.Step, c.Fix = StepAmazon, "try again later; if it persists, check the endpoint (--endpoint / SPGATE_ENDPOINT)"
		}
		return c
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.Marketplace.ID)
	}
	var missing []string
	for _, m := range s.Marketplaces {
		if !slices.Contains(ids, m) {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		return Check{Layer: "seller", Name: "seller-call", Status: Warn,
			Detail: fmt.Sprintf("seller %s answered, but does not participate in %s stored in the vault", s.ID, strings.Join(missing, ", ")),
			Step:   StepRegion, Fix: fmt.Sprintf("update the seller's marketplaces: `spgate seller update %s --marketplace %s`", s.ID, strings.Join(ids, ","))}
	}
	c.Status = OK
	c.Detail = fmt.Sprintf("seller %s: getMarketplaceParticipations answered (%d marketplace(s))", s.ID, len(ps))
	return c
}

// roleProbes names, per restricted role, a resource whose RDT proves the
// app holds the role.
var roleProbes = map[string]rdt.Resource{
	"Direct-to-Consumer Shipping": {Method: "GET", Path: "/orders/v0/orders/{orderId}/address"},
	"Tax Invoicing":               {Method: "GET", Path: "/orders/v0/orders/{orderId}/buyerInfo"},
	"Tax Remittance":              {Method: "GET", Path: "/orders/v0/orders", DataElements: []string{rdt.BuyerTaxInformation}},
}

func rdtChecks(ctx context.Context, in Input, seller string) []Check {
	if len(in.App.Roles) == 0 {
		return []Check{{Layer: "rdt", Name: "rdt-role", Status: Skip,
			Detail: fmt.Sprintf("app %s claims no restricted roles; calls for addresses or buyer data will be refused", in.App.Name),
			Fix:    "if Seller Central lists restricted roles for the app, record them: `spgate app update " + in.App.Name + " --role 'ROLE'` (repeatable; known roles: " + strings.Join(vault.KnownRestrictedRoles(), ", ") + ")"}}
	}
	var out []Check
	for _, role := range in.App.Roles {
		res, ok := roleProbes[role]
		if !ok {
			out = append(out, Check{Layer: "rdt", Name: "rdt-role", Status: Skip, Detail: fmt.Sprintf("role %q: no check known", role)})
			continue
		}
		_, err := in.Client.RDTs().Token(ctx, seller, in.App.AppID, "", res)
		if err == nil {
			out = append(out, Check{Layer: "rdt", Name: "rdt-role", Status: OK,
				Detail: fmt.Sprintf("seller %s: a Restricted Data Token for %s %s proves the role %s", seller, res.Method, res.Path, role)})
			continue
		}
		c := Check{Layer: "rdt", Name: "rdt-role", Status: Fail, Step: StepRDTRole,
			Detail: fmt.Sprintf("seller %s: createRestrictedDataToken for %s %s was refused: the app does not hold the role %s", seller, res.Method, res.Path, role),
			Fix:    fmt.Sprintf("request the role %s for the app (Seller Central → Develop Apps → Edit App), then have the seller authorize it again", role)}
		var re *rdt.RoleError
		var ae *spapi.APIError
		switch {
		case errors.As(err, &re):
		case errors.As(err, &ae):
			if d := ae.Diagnose(); d.Step != "" && d.Step != StepRDTRole {
				c.Step, c.Fix = d.Step, d.Fix
				c.Detail = fmt.Sprintf("seller %s: createRestrictedDataToken for role %s answered %d %s: %s", seller, role, ae.Status, ae.Code, d.Cause)
			}
		default:
			if why, ep, ok := unreachable(err); ok {
				if ep == "" {
					ep = "its endpoint"
				}
				c = cannotReach("reach-sp-api", "the Tokens API", ep, why, "seller "+seller)
				break
			}
			c.Detail = fmt.Sprintf("seller %s: could not get a Restricted Data Token for role %s: %v", seller, role, err)
		}
		out = append(out, c)
	}
	return out
}

// probeRegions tries the seller's token against the other regions' endpoints
// and returns the region that answers.
func probeRegions(ctx context.Context, in Input, creds lwa.CredentialsProvider, s vault.Seller, rt secret.String) (spapi.Region, bool) {
	if in.Endpoints.SPAPI == nil {
		return "", false
	}
	for _, r := range []spapi.Region{spapi.NA, spapi.EU, spapi.FE} {
		if string(r) == s.Region {
			continue
		}
		c, err := spapi.New(spapi.Config{AppID: in.App.AppID, Credentials: creds, Endpoints: in.Endpoints,
			Sellers: spapi.StaticSellers{{ID: s.ID, Region: r, RefreshToken: rt}}, MaxAttempts: 1, Clock: in.Clock})
		if err != nil {
			return "", false
		}
		if _, err := sellers.New(c).MarketplaceParticipations(ctx, s.ID); err == nil {
			return r, true
		}
	}
	return "", false
}
