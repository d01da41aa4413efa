package amazontest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// secretLifetime is how long a freshly made client secret lives (Amazon
// requires rotation every 180 days).
const secretLifetime = 180 * 24 * time.Hour

// marketplaceRegion maps every marketplace id Amazon publishes to its region.
var marketplaceRegion = map[string]Region{
	"ATVPDKIKX0DER": RegionNA, "A2EUQ1WTGCTBG2": RegionNA, "A1AM78C64UM0Y8": RegionNA, "A2Q3Y263D00KWC": RegionNA,
	"A1F83G8C2ARO7P": RegionEU, "A1PA6795UKMFR9": RegionEU, "A13V1IB3VIYZZH": RegionEU, "APJ6JRA9NG5V4": RegionEU,
	"A1RKKUPIHCS9HS": RegionEU, "A1805IZSGTT6HS": RegionEU, "A2NODRKZP88ZB9": RegionEU, "A1C3SOZRARQ6R3": RegionEU,
	"AMEN7PMS3EDWL": RegionEU, "A28R8C7NBKEWEA": RegionEU, "A33AVAJ2PDY3EV": RegionEU, "A2VIGQ35RCS4UG": RegionEU,
	"A17E79C6D8DWNP": RegionEU, "ARBP9OOSHTCHU": RegionEU, "A21TJRUUN4KGV": RegionEU, "AE08WJ6YKNBMC": RegionEU,
	"A1VC38T7YXB528": RegionFE, "A39IBJ37TRP1C6": RegionFE, "A19VAU5U5O7RUS": RegionFE,
}

// demoMarketplaces are the marketplaces demo sellers of each region sell in.
var demoMarketplaces = map[Region][]string{
	RegionNA: {"ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8"},
	RegionEU: {"A1F83G8C2ARO7P", "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS"},
	RegionFE: {"A1VC38T7YXB528"},
}

var (
	reAppID    = regexp.MustCompile(`^amzn1\.sp\.solution\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	reClientID = regexp.MustCompile(`^amzn1\.application-oa2-client\.[0-9a-f]{32}$`)
	reSecret   = regexp.MustCompile(`^amzn1\.oa2-cs\.v1\.[0-9a-f]{64}$`)
	reSellerID = regexp.MustCompile(`^A[0-9A-Z]{9,15}$`)
)

type tokenKind int

const (
	kindSeller    tokenKind = iota + 1 // from a refresh token
	kindGrantless                      // client_credentials
	kindRDT                            // restricted data token
)

// refreshGrant is one refresh token: a seller's authorization of an app.
type refreshGrant struct {
	sellerID, appID string
	revoked         bool
}

// accessToken is what an issued access token or RDT stands for.
type accessToken struct {
	kind     tokenKind
	appID    string
	sellerID string   // kindSeller, kindRDT
	refresh  string   // the refresh token it came from (revocation)
	scopes   []string // kindGrantless
	expires  time.Time
	rdt      *rdtGrant
}

// authCode is an spapi_oauth_code waiting to be exchanged.
type authCode struct {
	appID, sellerID, redirectURI string
	expires                      time.Time
	used                         bool
}

// registry holds apps, sellers, grants and tokens. Guarded by Server.mu.
type registry struct {
	apps        map[string]*App // by app id
	byClient    map[string]*App // by client id
	appOrder    []string
	sellers     map[string]*Seller
	sellerOrder []string
	refresh     map[string]*refreshGrant
	access      map[string]*accessToken
	codes       map[string]*authCode
	issued      int // tokens issued since the last sweep of expired ones
}

func (r *registry) init() {
	r.apps = map[string]*App{}
	r.byClient = map[string]*App{}
	r.sellers = map[string]*Seller{}
	r.refresh = map[string]*refreshGrant{}
	r.access = map[string]*accessToken{}
	r.codes = map[string]*authCode{}
}

// --- id and token generation (callers hold s.mu) ---

const hexDigits = "0123456789abcdef"

func (s *Server) randString(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}

func (s *Server) newAppID() string {
	h := s.randString(hexDigits, 32)
	// uuid v4 layout
	return "amzn1.sp.solution." + h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + string("89ab"[s.rng.IntN(4)]) + h[17:20] + "-" + h[20:]
}

func (s *Server) newClientID() string {
	return "amzn1.application-oa2-client." + s.randString(hexDigits, 32)
}
func (s *Server) newSecret() string { return "amzn1.oa2-cs.v1." + s.randString(hexDigits, 64) }
func (s *Server) newSellerID() string {
	return "A" + s.randString("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 13)
}

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func (s *Server) newToken(prefix string) string {
	return prefix + "IwEBI" + s.randString(tokenAlphabet, 120)
}

// --- registry API ---

// AddApp registers an application. Empty ID, ClientID and ClientSecret are
// generated in Amazon's formats; a zero SecretExpiry means 180 days from
// now. It returns the stored copy.
func (s *Server) AddApp(a App) (App, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addAppLocked(a)
}

func (s *Server) addAppLocked(a App) (App, error) {
	if a.ID == "" {
		a.ID = s.newAppID()
	}
	if a.ClientID == "" {
		a.ClientID = s.newClientID()
	}
	if a.ClientSecret == "" {
		a.ClientSecret = s.newSecret()
	}
	if a.SecretExpiry.IsZero() {
		a.SecretExpiry = s.now().Add(secretLifetime)
	}
	switch {
	case !reAppID.MatchString(a.ID):
		return App{}, fmt.Errorf("amazontest: app id %q is not amzn1.sp.solution.<uuid>", a.ID)
	case !reClientID.MatchString(a.ClientID):
		return App{}, fmt.Errorf("amazontest: client id %q is not amzn1.application-oa2-client.<32 hex>", a.ClientID)
	case !reSecret.MatchString(a.ClientSecret):
		return App{}, errors.New("amazontest: client secret is not amzn1.oa2-cs.v1.<64 hex>")
	}
	if _, dup := s.reg.apps[a.ID]; dup {
		return App{}, fmt.Errorf("amazontest: app %s is already registered", a.ID)
	}
	if _, dup := s.reg.byClient[a.ClientID]; dup {
		return App{}, fmt.Errorf("amazontest: client id %s is already registered", a.ClientID)
	}
	cp := cloneApp(a)
	s.reg.apps[a.ID] = &cp
	s.reg.byClient[a.ClientID] = &cp
	s.reg.appOrder = append(s.reg.appOrder, a.ID)
	return cloneApp(cp), nil
}

func cloneApp(a App) App {
	a.Roles = slices.Clone(a.Roles)
	a.RedirectURIs = slices.Clone(a.RedirectURIs)
	return a
}

// AddSeller registers a selling partner. An empty ID is generated; empty
// Marketplaces default to the region's demo marketplaces.
func (s *Server) AddSeller(sl Seller) (Seller, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addSellerLocked(sl)
}

func (s *Server) addSellerLocked(sl Seller) (Seller, error) {
	if sl.Region == "" {
		sl.Region = RegionNA
	}
	if _, ok := demoMarketplaces[sl.Region]; !ok {
		return Seller{}, fmt.Errorf("amazontest: seller region %q is not na, eu or fe", sl.Region)
	}
	if sl.ID == "" {
		sl.ID = s.newSellerID()
	}
	if !reSellerID.MatchString(sl.ID) {
		return Seller{}, fmt.Errorf("amazontest: seller id %q is not A followed by upper-case letters and digits", sl.ID)
	}
	if len(sl.Marketplaces) == 0 {
		sl.Marketplaces = slices.Clone(demoMarketplaces[sl.Region])
	}
	for _, m := range sl.Marketplaces {
		if marketplaceRegion[m] != sl.Region {
			return Seller{}, fmt.Errorf("amazontest: marketplace %s is not in region %s", m, sl.Region)
		}
	}
	if _, dup := s.reg.sellers[sl.ID]; dup {
		return Seller{}, fmt.Errorf("amazontest: seller %s is already registered", sl.ID)
	}
	cp := sl
	cp.Marketplaces = slices.Clone(sl.Marketplaces)
	s.reg.sellers[sl.ID] = &cp
	s.reg.sellerOrder = append(s.reg.sellerOrder, sl.ID)
	sl.Marketplaces = slices.Clone(sl.Marketplaces)
	return sl, nil
}

// Authorize plays self-authorization: the seller authorizes the app and
// gets a new refresh token ("Atzr|…"). Earlier refresh tokens of the pair
// keep working until Revoke.
func (s *Server) Authorize(sellerID, appID string) (refreshToken string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authorizeLocked(sellerID, appID, "")
}

func (s *Server) authorizeLocked(sellerID, appID, token string) (string, error) {
	if _, ok := s.reg.sellers[sellerID]; !ok {
		return "", fmt.Errorf("amazontest: unknown seller %q; add it with AddSeller first", sellerID)
	}
	if _, ok := s.reg.apps[appID]; !ok {
		return "", fmt.Errorf("amazontest: unknown app %q; add it with AddApp first", appID)
	}
	if token == "" {
		token = s.newToken("Atzr|")
	}
	s.reg.refresh[token] = &refreshGrant{sellerID: sellerID, appID: appID}
	return token, nil
}

// Revoke withdraws every authorization of appID by sellerID: its refresh
// tokens answer invalid_grant and the access tokens and RDTs made from them
// are refused as revoked. It reports whether anything was revoked.
func (s *Server) Revoke(sellerID, appID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := false
	for _, g := range s.reg.refresh {
		if g.sellerID == sellerID && g.appID == appID && !g.revoked {
			g.revoked, n = true, true
		}
	}
	return n
}

// RevokeRefreshToken revokes one refresh token (a fault: the seller removed
// the app, or Amazon invalidated the grant). It reports whether the token
// was known.
func (s *Server) RevokeRefreshToken(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.reg.refresh[token]
	if ok {
		g.revoked = true
	}
	return ok
}

// App returns a copy of the registered app with this id.
func (s *Server) App(id string) (App, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.reg.apps[id]
	if !ok {
		return App{}, false
	}
	return cloneApp(*a), true
}

// Seller returns a copy of the registered seller with this id.
func (s *Server) Seller(id string) (Seller, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sl, ok := s.reg.sellers[id]
	if !ok {
		return Seller{}, false
	}
	cp := *sl
	cp.Marketplaces = slices.Clone(sl.Marketplaces)
	return cp, true
}

// Sellers returns copies of every seller, in registration order.
func (s *Server) Sellers() []Seller {
	s.mu.RLock()
	ids := slices.Clone(s.reg.sellerOrder)
	s.mu.RUnlock()
	out := make([]Seller, 0, len(ids))
	for _, id := range ids {
		if sl, ok := s.Seller(id); ok {
			out = append(out, sl)
		}
	}
	return out
}

// ExpireClientSecret makes appID's client secrets (current and previous)
// expire now, so LWA answers invalid_client: the missed-rotation fault.
func (s *Server) ExpireClientSecret(appID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.reg.apps[appID]
	if !ok {
		return fmt.Errorf("amazontest: unknown app %q", appID)
	}
	now := s.now()
	a.SecretExpiry = now
	if !a.PreviousExpiry.IsZero() && a.PreviousExpiry.After(now) {
		a.PreviousExpiry = now
	}
	return nil
}

// --- demo registry ---

// Demo describes the ready-made fixture of the default registry (or the
// first app of a registry file): a published app holding the shipping and
// tax-invoicing roles, authorized by every seller.
type Demo struct {
	AppID        string
	ClientID     string
	ClientSecret string // the current secret; an emulator fixture, not a real credential
	SellerID     string
	RefreshToken string
	Region       Region
	Marketplaces []string
	// Sellers lists every seller that authorized the app, with its token.
	Sellers []DemoSeller
	// DraftAppID is an unpublished app with no roles and no authorizations
	// (consent needs version=beta). Empty for a registry file.
	DraftAppID string
}

// DemoSeller is one seller of the demo fixture.
type DemoSeller struct {
	ID           string
	Region       Region
	Marketplaces []string
	RefreshToken string
}

// DemoRedirectURI is the redirect URI registered for the demo apps.
const DemoRedirectURI = "https://app.example.com/amazon/callback"

func (s *Server) seedDemo() {
	s.mu.Lock()
	defer s.mu.Unlock()
	app, _ := s.addAppLocked(App{
		Roles:        []string{RoleShipping, RoleTaxInvoicing},
		RedirectURIs: []string{DemoRedirectURI},
	})
	draft, _ := s.addAppLocked(App{Draft: true, RedirectURIs: []string{DemoRedirectURI}})
	regions := []Region{RegionNA, RegionEU, RegionFE}
	s.demo = Demo{AppID: app.ID, DraftAppID: draft.ID}
	for i := range s.cfg.Sellers {
		reg := regions[i%3]
		sl, _ := s.addSellerLocked(Seller{Name: fmt.Sprintf("Demo Seller %d", i+1), Region: reg})
		tok, _ := s.authorizeLocked(sl.ID, app.ID, "")
		s.demo.Sellers = append(s.demo.Sellers, DemoSeller{ID: sl.ID, Region: reg, Marketplaces: sl.Marketplaces, RefreshToken: tok})
	}
}

// Demo returns the demo fixture with the app's current client secret.
func (s *Server) Demo() Demo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.demo
	d.Sellers = slices.Clone(d.Sellers)
	if a, ok := s.reg.apps[d.AppID]; ok {
		d.ClientID, d.ClientSecret = a.ClientID, a.ClientSecret
	}
	if len(d.Sellers) > 0 {
		first := d.Sellers[0]
		d.SellerID, d.RefreshToken, d.Region = first.ID, first.RefreshToken, first.Region
		d.Marketplaces = slices.Clone(first.Marketplaces)
	}
	return d
}

// --- registry file ---

// RegistryFile is the JSON shape of Config.RegistryFile. Empty ids, client
// ids, secrets and refresh tokens are generated from the seed.
//
//	{"apps":[{"id":"amzn1.sp.solution.…","clientId":"…","clientSecret":"…",
//	          "roles":["Direct-to-Consumer Shipping"],"draft":false,
//	          "redirectUris":["https://…"],"notificationQueueUrl":"",
//	          "notEnrolledForRotation":false}],
//	 "sellers":[{"id":"A…","name":"…","region":"eu","marketplaces":["A1PA6795UKMFR9"]}],
//	 "authorizations":[{"sellerId":"A…","appId":"amzn1.sp.solution.…","refreshToken":"Atzr|…"}]}
type RegistryFile struct {
	Apps           []RegistryApp           `json:"apps"`
	Sellers        []RegistrySeller        `json:"sellers"`
	Authorizations []RegistryAuthorization `json:"authorizations"`
}

// RegistryApp is one application of a RegistryFile.
type RegistryApp struct {
	ID                     string     `json:"id"`
	ClientID               string     `json:"clientId"`
	ClientSecret           string     `json:"clientSecret"`
	SecretExpiry           *time.Time `json:"secretExpiry,omitempty"`
	Roles                  []string   `json:"roles"`
	Draft                  bool       `json:"draft"`
	RedirectURIs           []string   `json:"redirectUris"`
	NotificationQueueURL   string     `json:"notificationQueueUrl"`
	NotEnrolledForRotation bool       `json:"notEnrolledForRotation"`
}

// RegistrySeller is one seller of a RegistryFile.
type RegistrySeller struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Region       Region   `json:"region"`
	Marketplaces []string `json:"marketplaces"`
}

// RegistryAuthorization is one seller→app authorization of a RegistryFile.
type RegistryAuthorization struct {
	SellerID     string `json:"sellerId"`
	AppID        string `json:"appId"`
	RefreshToken string `json:"refreshToken"`
}

func (s *Server) loadRegistryFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("amazontest: read registry file: %w", err)
	}
	var f RegistryFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("amazontest: registry file %s is not valid JSON of the documented shape: %w", path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, ra := range f.Apps {
		a := App{ID: ra.ID, ClientID: ra.ClientID, ClientSecret: ra.ClientSecret, Roles: ra.Roles, Draft: ra.Draft,
			RedirectURIs: ra.RedirectURIs, NotificationQueueURL: ra.NotificationQueueURL, NotEnrolledForRotation: ra.NotEnrolledForRotation}
		if ra.SecretExpiry != nil {
			a.SecretExpiry = *ra.SecretExpiry
		}
		got, err := s.addAppLocked(a)
		if err != nil {
			return fmt.Errorf("registry file %s, apps[%d]: %w", path, i, err)
		}
		if i == 0 {
			s.demo.AppID = got.ID
		}
	}
	for i, rs := range f.Sellers {
		if _, err := s.addSellerLocked(Seller{ID: rs.ID, Name: rs.Name, Region: rs.Region, Marketplaces: rs.Marketplaces}); err != nil {
			return fmt.Errorf("registry file %s, sellers[%d]: %w", path, i, err)
		}
	}
	for i, au := range f.Authorizations {
		if au.RefreshToken != "" && !strings.HasPrefix(au.RefreshToken, "Atzr|") {
			return fmt.Errorf("registry file %s, authorizations[%d]: refresh token must start with Atzr|", path, i)
		}
		tok, err := s.authorizeLocked(au.SellerID, au.AppID, au.RefreshToken)
		if err != nil {
			return fmt.Errorf("registry file %s, authorizations[%d]: %w", path, i, err)
		}
		if au.AppID == s.demo.AppID {
			sl := s.reg.sellers[au.SellerID]
			s.demo.Sellers = append(s.demo.Sellers, DemoSeller{ID: sl.ID, Region: sl.Region, Marketplaces: slices.Clone(sl.Marketplaces), RefreshToken: tok})
		}
	}
	return nil
}

// registryDump is the admin view of the registry: no secrets, no tokens.
type registryDump struct {
	Apps           []dumpApp        `json:"apps"`
	Sellers        []RegistrySeller `json:"sellers"`
	Authorizations []dumpAuth       `json:"authorizations"`
}

type dumpApp struct {
	ID                   string    `json:"id"`
	ClientID             string    `json:"clientId"`
	SecretExpiry         time.Time `json:"secretExpiry"`
	PreviousSecretExpiry time.Time `json:"previousSecretExpiry,omitzero"`
	Roles                []string  `json:"roles"`
	Draft                bool      `json:"draft"`
	RedirectURIs         []string  `json:"redirectUris"`
	NotificationQueueURL string    `json:"notificationQueueUrl,omitempty"`
}

type dumpAuth struct {
	SellerID string `json:"sellerId"`
	AppID    string `json:"appId"`
	Active   int    `json:"activeRefreshTokens"`
	Revoked  int    `json:"revokedRefreshTokens"`
}

func (s *Server) dumpRegistry() registryDump {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var d registryDump
	for _, id := range s.reg.appOrder {
		a := s.reg.apps[id]
		d.Apps = append(d.Apps, dumpApp{a.ID, a.ClientID, a.SecretExpiry, a.PreviousExpiry, slices.Clone(a.Roles), a.Draft, slices.Clone(a.RedirectURIs), a.NotificationQueueURL})
	}
	for _, id := range s.reg.sellerOrder {
		sl := s.reg.sellers[id]
		d.Sellers = append(d.Sellers, RegistrySeller{ID: sl.ID, Name: sl.Name, Region: sl.Region, Marketplaces: slices.Clone(sl.Marketplaces)})
	}
	counts := map[[2]string]*dumpAuth{}
	for _, g := range s.reg.refresh {
		k := [2]string{g.sellerID, g.appID}
		c := counts[k]
		if c == nil {
			c = &dumpAuth{SellerID: g.sellerID, AppID: g.appID}
			counts[k] = c
		}
		if g.revoked {
			c.Revoked++
		} else {
			c.Active++
		}
	}
	for _, c := range counts {
		d.Authorizations = append(d.Authorizations, *c)
	}
	slices.SortFunc(d.Authorizations, func(x, y dumpAuth) int {
		if x.SellerID != y.SellerID {
			return cmpString(x.SellerID, y.SellerID)
		}
		return cmpString(x.AppID, y.AppID)
	})
	return d
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
