package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/internal/procsec"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// EnvConsentURL overrides the Seller Central consent page (e.g. the
// offline Amazon's http://127.0.0.1:PORT/apps/authorize/consent).
const EnvConsentURL = "SPGATE_CONSENT_URL"

// consentHosts are the regional Seller Central hosts of the OAuth flow.
var consentHosts = map[string]string{
	vault.RegionNA: "https://sellercentral.amazon.com",
	vault.RegionEU: "https://sellercentral-europe.amazon.com",
	vault.RegionFE: "https://sellercentral.amazon.co.jp",
}

// consentBase returns the consent page URL for region ($SPGATE_CONSENT_URL
// wins).
func consentBase(region string) string {
	if u := os.Getenv(EnvConsentURL); u != "" {
		return u
	}
	h, ok := consentHosts[region]
	if !ok {
		h = consentHosts[vault.RegionNA]
	}
	return h + "/apps/authorize/consent"
}

// authFlow is the OAuth website flow up to the refresh token, with its
// browser, listener and token exchange injectable for tests.
type authFlow struct {
	ConsentBase string
	AppID       string
	Draft       bool
	// RedirectURI is the redirect URI registered for the app; Amazon sends
	// the seller there and the code exchange must repeat it.
	RedirectURI string
	// Listener serves the callback (nil with Paste).
	Listener net.Listener
	// Paste, when set, reads the redirected URL the user copied from the
	// browser instead of serving a callback.
	Paste io.Reader
	// Open shows the consent URL to the seller (a browser); nil only prints.
	Open func(consentURL string) error
	// Exchange trades the code for a refresh token (lwa.ExchangeCode).
	Exchange func(ctx context.Context, code, redirectURI string) (secret.String, error)
	// Out receives the instructions for the person at the terminal.
	Out io.Writer
	// Timeout bounds the wait for the seller (default 10 min).
	Timeout time.Duration
	// State is the anti-CSRF value; empty means 256 random bits.
	State string
}

// authResult is what the flow yields.
type authResult struct {
	SellerID     string
	RefreshToken secret.String
}

// errAuthDenied, errAuthState and errAuthCode classify flow failures.
var (
	errAuthDenied = errors.New("the seller declined the authorization")
	errAuthState  = errors.New("the state in the redirect does not match the one spgate sent")
	errAuthCode   = errors.New("the authorization code was refused")
)

func newState() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating the OAuth state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// consentURL builds the link the seller opens.
func (f *authFlow) consentURL() (string, error) {
	u, err := url.Parse(f.ConsentBase)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("consent URL %q is not an absolute URL (check $%s)", f.ConsentBase, EnvConsentURL)
	}
	q := u.Query()
	q.Set("application_id", f.AppID)
	q.Set("state", f.State)
	if f.Draft {
		q.Set("version", "beta")
	}
	if f.RedirectURI != "" {
		q.Set("redirect_uri", f.RedirectURI)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// handleRedirect checks the redirect's query and exchanges the code.
func (f *authFlow) handleRedirect(ctx context.Context, q url.Values) (authResult, error) {
	got := q.Get("state")
	if subtle.ConstantTimeCompare([]byte(got), []byte(f.State)) != 1 {
		return authResult{}, fmt.Errorf("%w: the redirect did not come from the consent link this run opened (an old tab, or a forged link); nothing was stored — run `spgate seller authorize` again", errAuthState)
	}
	if e := q.Get("error"); e != "" {
		return authResult{}, fmt.Errorf("%w (%s: %s): nothing was stored; ask the seller to confirm the consent page", errAuthDenied, e, q.Get("error_description"))
	}
	code, seller := q.Get("spapi_oauth_code"), q.Get("selling_partner_id")
	if code == "" || seller == "" {
		return authResult{}, errors.New("the redirect carries no spapi_oauth_code or selling_partner_id: paste the whole address the browser was sent to")
	}
	if err := vault.ValidateSellerID(seller); err != nil {
		return authResult{}, fmt.Errorf("selling_partner_id in the redirect: %w", err)
	}
	rt, err := f.Exchange(ctx, code, f.RedirectURI)
	if err != nil {
		if errors.Is(err, lwa.ErrGrantRejected) {
			return authResult{}, fmt.Errorf("%w (invalid_grant): a code works once and for 5 minutes only; run `spgate seller authorize` again and finish within 5 minutes: %w", errAuthCode, err)
		}
		return authResult{}, fmt.Errorf("exchanging the authorization code with LWA: %w", err)
	}
	return authResult{SellerID: seller, RefreshToken: rt}, nil
}

// run performs the flow.
func (f *authFlow) run(ctx context.Context) (authResult, error) {
	if f.State == "" {
		s, err := newState()
		if err != nil {
			return authResult{}, err
		}
		f.State = s
	}
	if f.Timeout <= 0 {
		f.Timeout = 10 * time.Minute
	}
	link, err := f.consentURL()
	if err != nil {
		return authResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	if f.Paste != nil {
		fmt.Fprintf(f.Out, "Open this link as the seller (signed in to Seller Central) and confirm:\n\n  %s\n\nThen paste the whole address the browser was sent to (it contains spapi_oauth_code) and press Enter:\n", link)
		if f.Open != nil {
			_ = f.Open(link)
		}
		line, err := readLine(ctx, f.Paste)
		if err != nil {
			return authResult{}, err
		}
		u, err := url.Parse(strings.TrimSpace(line))
		if err != nil || u.RawQuery == "" {
			return authResult{}, errors.New("that is not the redirected address: it must contain ?spapi_oauth_code=…&state=…&selling_partner_id=…")
		}
		return f.handleRedirect(ctx, u.Query())
	}
	if f.Listener == nil {
		return authResult{}, errors.New("no callback listener and no --paste")
	}
	path := "/"
	if ru, err := url.Parse(f.RedirectURI); err == nil && ru.Path != "" {
		path = ru.Path
	}
	type outcome struct {
		res authResult
		err error
	}
	done := make(chan outcome, 1)
	var once sync.Mutex
	handled := false
	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		once.Lock()
		defer once.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if handled {
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, page("Already handled", "This authorization was already processed; you can close this tab."))
			return
		}
		handled = true
		res, err := f.handleRedirect(r.Context(), r.URL.Query())
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, page("Authorization failed", err.Error()))
		} else {
			_, _ = io.WriteString(w, page("Authorized", "spgate stored the authorization of seller "+res.SellerID+". You can close this tab."))
		}
		done <- outcome{res, err}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(f.Listener) }()
	defer func() {
		sctx, c := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(f.Out, "Open this link as the seller (signed in to Seller Central) and confirm:\n\n  %s\n\nWaiting for Amazon to redirect to %s …\n", link, f.RedirectURI)
	if f.Open != nil {
		if err := f.Open(link); err != nil {
			fmt.Fprintf(f.Out, "(could not open a browser: %v; open the link yourself)\n", err)
		}
	}
	select {
	case o := <-done:
		return o.res, o.err
	case <-ctx.Done():
		return authResult{}, fmt.Errorf("no redirect arrived within %s: check that %s is the redirect URI registered for the app (and reachable from the browser), or use --paste", f.Timeout, f.RedirectURI)
	}
}

func page(title, msg string) string {
	return "<!DOCTYPE html><html><head><title>spgate: " + html.EscapeString(title) + "</title></head><body><h1>" +
		html.EscapeString(title) + "</h1><p>" + html.EscapeString(msg) + "</p></body></html>"
}

// readLine reads one line from r, or gives up when ctx ends.
func readLine(ctx context.Context, r io.Reader) (string, error) {
	ch := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil && line == "" {
			errc <- fmt.Errorf("reading the pasted address: %w", err)
			return
		}
		ch <- line
	}()
	select {
	case l := <-ch:
		return l, nil
	case err := <-errc:
		return "", err
	case <-ctx.Done():
		return "", errors.New("no address pasted in time")
	}
}

// openBrowser opens url in the desktop browser, if there is one.
func openBrowser(u string) error {
	cmd, err := browserCommand(u)
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }() // the launcher exits once the browser has the link
	return nil
}

// browserCommand is the launcher that opens u. It runs with a scrubbed
// environment (procsec.Environ): the browser needs the display, the
// session bus and the locale, never $SPGATE_MASTER_KEY, the client secret
// or cloud credentials, which a launched browser would otherwise keep for
// its whole life and hand to every helper it starts.
func browserCommand(u string) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return nil, errors.New("no display")
		}
		cmd = exec.Command("xdg-open", u)
	}
	cmd.Env = procsec.Environ()
	return cmd, nil
}

// authorizeDeps are injectable for tests.
type authorizeDeps struct {
	open   func(string) error
	listen func(addr string) (net.Listener, error)
	now    func() time.Time
}

type authorizeOptions struct {
	App, Region, Listen, RedirectURL, Name string
	Marketplaces                           []string
	Paste, NoBrowser                       bool
	Timeout                                time.Duration
}

func newSellerAuthorizeCmd(streams IO) *cobra.Command {
	return newSellerAuthorizeCmdWith(streams, authorizeDeps{open: openBrowser, listen: func(a string) (net.Listener, error) { return net.Listen("tcp", a) }, now: time.Now})
}

func newSellerAuthorizeCmdWith(streams IO, deps authorizeDeps) *cobra.Command {
	o := authorizeOptions{}
	cmd := &cobra.Command{
		Use:   "authorize",
		Short: "Authorize a seller through Amazon's OAuth consent page and store its refresh token",
		Long: `authorize runs the OAuth website flow for --app: it prints (and opens) the
consent link on the region's Seller Central (NA sellercentral.amazon.com,
EU sellercentral-europe.amazon.com, FE sellercentral.amazon.co.jp;
$SPGATE_CONSENT_URL overrides it), with a random state and version=beta for
a draft app. When the seller confirms, Amazon redirects to the app's
redirect URI with spapi_oauth_code, state and selling_partner_id. spgate
checks the state, exchanges the code with LWA within its 5 minutes, and
stores the seller (new ones with --region and --marketplace) and its refresh
token in the vault.

The redirect reaches spgate either through a local callback server
(--listen, default the host:port of the redirect URI, which must be a
loopback http URI registered for the app), or with --paste: copy the address
the browser was sent to (even if that page does not load) and paste it.

For a private app you can also self-authorize: Seller Central → Develop Apps
→ Authorize shows a refresh token once; store it with
` + "`spgate seller add SELLER_ID --app A --region R --marketplace M --refresh-token-file F`" + `.`,
		Example: `  spgate seller authorize --app main --redirect-url http://127.0.0.1:8765/callback
  spgate seller authorize --app main --region eu --marketplace DE,FR --paste --redirect-url https://app.example.com/amazon/callback`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSellerAuthorize(cmd, streams, deps, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.App, "app", "", "app (name, app id or client id) the seller authorizes; default: the only app")
	f.StringVar(&o.Region, "region", "", "the seller's region (na, eu, fe): picks the Seller Central host; default the app's region, else na")
	f.StringSliceVar(&o.Marketplaces, "marketplace", nil, "marketplace ids or country codes for a new seller, comma-separated")
	f.StringVar(&o.Name, "name", "", "optional local name for a new seller")
	f.StringVar(&o.Listen, "listen", "", "address of the local callback server, e.g. 127.0.0.1:8765 (default: from the redirect URL)")
	f.StringVar(&o.RedirectURL, "redirect-url", "", "redirect URI registered for the app (default the app's stored one)")
	f.BoolVar(&o.Paste, "paste", false, "read the redirected address from stdin instead of running a callback server")
	f.BoolVar(&o.NoBrowser, "no-browser", false, "only print the consent link")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "how long to wait for the seller")
	f.String(flagEndpoint, "", "send the LWA code exchange to this base URL instead of Amazon (e.g. the URL spgate emulate prints); default $"+EnvEndpoint)
	return cmd
}

func runSellerAuthorize(cmd *cobra.Command, streams IO, deps authorizeDeps, o authorizeOptions) error {
	noDump(cmd)
	ctx := cmd.Context()
	v, err := openVault(cmd, false)
	if err != nil {
		return err
	}
	defer v.Close()
	app, err := resolveApp(ctx, v, o.App)
	if err != nil {
		return err
	}
	region := o.Region
	if region == "" {
		region = app.Region
	}
	if region == "" {
		region = vault.RegionNA
	}
	if err := vault.ValidateRegion(region); err != nil {
		return invalidInput(fmt.Errorf("--region: %w", err))
	}
	var mps []string
	if len(o.Marketplaces) > 0 {
		if mps, err = parseMarketplaces(region, o.Marketplaces); err != nil {
			return err
		}
	}
	if o.Name != "" {
		if err := vault.ValidateName("seller", o.Name); err != nil {
			return invalidInput(err)
		}
	}
	redirect := o.RedirectURL
	if redirect == "" {
		redirect = app.RedirectURI
	}
	if redirect == "" {
		return usageErr("no redirect URI: pass --redirect-url (one registered for the app in Developer Central, e.g. http://127.0.0.1:8765/callback) or store one with `spgate app add --redirect-uri`")
	}
	if err := vault.ValidateRedirectURI(redirect); err != nil {
		return invalidInput(fmt.Errorf("--redirect-url: %w", err))
	}
	ep, err := endpointsFor(cmd)
	if err != nil {
		return err
	}
	lc := &lwa.Client{TokenURL: ep.TokenURL, HTTPClient: &http.Client{Timeout: 30 * time.Second}, Logger: logger(cmd)}
	creds := rotation.VaultCredentials{Vault: v, App: app.Name}
	flow := &authFlow{
		ConsentBase: consentBase(region), AppID: app.AppID, Draft: app.Draft, RedirectURI: redirect,
		Out: streams.Err, Timeout: o.Timeout,
		Exchange: func(ctx context.Context, code, ru string) (secret.String, error) {
			_, rt, err := lc.ExchangeCode(ctx, creds, code, ru)
			return rt, err
		},
	}
	if !o.NoBrowser {
		flow.Open = deps.open
	}
	if o.Paste {
		flow.Paste = streams.In
	} else {
		addr := o.Listen
		if addr == "" {
			ru, _ := url.Parse(redirect)
			if !isLoopback(ru.Hostname()) {
				return usageErr("the redirect URI %s is not on this machine: use --paste (copy the redirected address from the browser) or --listen with a loopback redirect URI", redirect)
			}
			addr = ru.Host
		}
		l, err := deps.listen(addr)
		if err != nil {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("cannot listen on %s for the callback: %w (free the port or use --paste)", addr, err)}
		}
		flow.Listener = l
	}
	res, err := flow.run(ctx)
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	// Store at once: the refresh token exists only in this process now.
	if _, err := v.GetSeller(ctx, res.SellerID); errors.Is(err, vault.ErrNotFound) {
		if err := v.AddSeller(ctx, vault.Seller{ID: res.SellerID, Name: o.Name, Region: region, Marketplaces: mps}); err != nil {
			return storeErr(err)
		}
	} else if err != nil {
		return storeErr(err)
	}
	if err := v.SetRefreshToken(ctx, res.SellerID, app.Name, res.RefreshToken, deps.now()); err != nil {
		return storeErr(err)
	}
	_ = v.MarkRefreshTokenVerified(ctx, res.SellerID, app.Name)
	logger(cmd).Info("seller authorized", "seller", res.SellerID, "app", app.Name)
	if jsonOut(cmd) {
		return printJSON(streams.Out, map[string]any{"seller": res.SellerID, "app": app.Name, "region": region, "marketplaces": mps, "refreshTokenHint": res.RefreshToken.Hint()})
	}
	fmt.Fprintf(streams.Out, "seller %s authorized app %s; refresh token stored (%s)\n", res.SellerID, app.Name, res.RefreshToken.Hint())
	if len(mps) == 0 {
		if s, err := v.GetSeller(ctx, res.SellerID); err == nil && len(s.Marketplaces) == 0 {
			fmt.Fprintf(streams.Err, "note: seller %s has no marketplaces stored; re-run with --marketplace or use `spgate seller add`\n", res.SellerID)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
