package sellercmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/consent"
	"github.com/spgate/spgate/internal/browser"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/vault"
)

// authorizeOptions are the flags of `spgate seller authorize` and what the
// verb uses, injected so that a test runs it without cobra.
type authorizeOptions struct {
	// Factory's Clock bounds the wait (--timeout) and dates the
	// authorization.
	*cmdutil.Factory
	// ConsentPage is the consent page of a region (cmdutil.ConsentPage).
	ConsentPage func(region string) string
	// Browser opens the consent link (browser.Open).
	Browser func(url string) error
	// Listener, when set, serves the callback instead of one on --listen.
	Listener net.Listener

	App, Region, Listen, RedirectURL, Name string
	Marketplaces                           []string
	Paste, NoBrowser                       bool
	Timeout                                time.Duration
}

func newSellerAuthorizeCmd(f *cmdutil.Factory) *cobra.Command {
	o := &authorizeOptions{Factory: f, ConsentPage: cmdutil.ConsentPage, Browser: browser.Open}
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

The redirect reaches spgate either through a local callback server, which
listens on loopback only (--listen, default the host:port of the redirect
URI, which must then be a loopback http URI registered for the app), or with
--paste: copy the address the browser was sent to (even if that page does
not load) and paste it.

For a private app you can also self-authorize: Seller Central → Develop Apps
→ Authorize shows a refresh token once; store it with
` + "`spgate seller add SELLER_ID --app A --region R --marketplace M --refresh-token-file F`" + `.`,
		Example: `  spgate seller authorize --app main --redirect-url http://127.0.0.1:8765/callback
  spgate seller authorize --app main --region eu --marketplace DE,FR --paste --redirect-url https://app.example.com/amazon/callback`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.NoDump()
			return runSellerAuthorize(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.App, "app", "", "app (name, app id or client id) the seller authorizes; default: the only app")
	fl.StringVar(&o.Region, "region", "", "the seller's region (na, eu, fe): picks the Seller Central host; default the app's region, else na")
	fl.StringSliceVar(&o.Marketplaces, "marketplace", nil, "marketplace ids or country codes for a new seller, comma-separated")
	fl.StringVar(&o.Name, "name", "", "optional local name for a new seller")
	fl.StringVar(&o.Listen, "listen", "", "loopback address of the local callback server, e.g. 127.0.0.1:8765 (default: from the redirect URL)")
	fl.StringVar(&o.RedirectURL, "redirect-url", "", "redirect URI registered for the app (default the app's stored one)")
	fl.BoolVar(&o.Paste, "paste", false, "read the redirected address from stdin instead of running a callback server")
	fl.BoolVar(&o.NoBrowser, "no-browser", false, "only print the consent link")
	fl.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "how long to wait for the seller")
	fl.String(cmdutil.FlagEndpoint, "", "send the LWA code exchange to this base URL instead of Amazon (e.g. the URL spgate emulate prints); default $"+cmdutil.EnvEndpoint)
	return cmd
}

func runSellerAuthorize(ctx context.Context, o *authorizeOptions) error {
	v, app, ep, err := o.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer v.Close()
	region, mps, redirect, err := o.sellerFlags(app)
	if err != nil {
		return err
	}
	co := consent.Options{Link: consent.Link{Page: o.ConsentPage(region), RedirectURI: redirect},
		Listener: o.Listener, Listen: o.Listen, Timeout: o.Timeout, Clock: o.Clock}
	if o.Paste {
		co.Paste, co.Listener = o.IO.In, nil
	}
	// The seller is stored at once: the refresh token exists only in this
	// process until then.
	lc := &lwa.Client{TokenURL: ep.TokenURL, HTTPClient: &http.Client{Timeout: 30 * time.Second}, Logger: o.Log}
	res, err := consent.Authorize(ctx, v, app, lc, co, vault.Seller{Name: o.Name, Region: region, Marketplaces: mps}, o.instruct)
	if err != nil {
		return authorizeErr(err)
	}
	o.Log.Info("seller authorized", "seller", res.SellerID, "app", app.Name)
	if o.JSON {
		return output.JSON(o.IO.Out, map[string]any{"seller": res.SellerID, "app": app.Name, "region": region, "marketplaces": mps, "refreshTokenHint": res.RefreshToken.Hint()})
	}
	fmt.Fprintf(o.IO.Out, "seller %s authorized app %s; refresh token stored (%s)\n", res.SellerID, app.Name, res.RefreshToken.Hint())
	if len(mps) == 0 {
		if s, err := v.GetSeller(ctx, res.SellerID); err == nil && len(s.Marketplaces) == 0 {
			fmt.Fprintf(o.IO.Err, "note: seller %s has no marketplaces stored; re-run with --marketplace or use `spgate seller add`\n", res.SellerID)
		}
	}
	return nil
}

// sellerFlags checks --region (default the app's, else na),
// --marketplace, --name and --redirect-url (default the app's).
func (o *authorizeOptions) sellerFlags(app vault.App) (region string, mps []string, redirect string, err error) {
	region = o.Region
	if region == "" {
		region = app.Region
	}
	if region == "" {
		region = vault.RegionNA
	}
	if err := vault.ValidateRegion(region); err != nil {
		return "", nil, "", cmdutil.InvalidInput(fmt.Errorf("--region: %w", err))
	}
	if len(o.Marketplaces) > 0 {
		if mps, err = cmdutil.ParseMarketplaces(region, o.Marketplaces); err != nil {
			return "", nil, "", err
		}
	}
	if o.Name != "" {
		if err := vault.ValidateName("seller", o.Name); err != nil {
			return "", nil, "", cmdutil.InvalidInput(err)
		}
	}
	redirect = o.RedirectURL
	if redirect == "" {
		redirect = app.RedirectURI
	}
	if redirect == "" {
		return "", nil, "", cmdutil.UsageErr("no redirect URI: pass --redirect-url (one registered for the app in Developer Central, e.g. http://127.0.0.1:8765/callback) or store one with `spgate app add --redirect-uri`")
	}
	if err := vault.ValidateRedirectURI(redirect); err != nil {
		return "", nil, "", cmdutil.InvalidInput(fmt.Errorf("--redirect-url: %w", err))
	}
	return region, mps, redirect, nil
}

// instruct tells the person at the terminal what to do, and opens the
// browser unless --no-browser.
func (o *authorizeOptions) instruct(flow *consent.Flow) {
	w := o.IO.Err
	if o.Paste {
		fmt.Fprintf(w, "Open this link as the seller (signed in to Seller Central) and confirm:\n\n  %s\n\nThen paste the whole address the browser was sent to (it contains spapi_oauth_code) and press Enter:\n", flow.URL())
	} else {
		fmt.Fprintf(w, "Open this link as the seller (signed in to Seller Central) and confirm:\n\n  %s\n\nWaiting for Amazon to redirect to %s …\n", flow.URL(), flow.RedirectURI())
	}
	if o.NoBrowser || o.Browser == nil {
		return
	}
	if err := o.Browser(flow.URL()); err != nil && !o.Paste {
		fmt.Fprintf(w, "(could not open a browser: %v; open the link yourself)\n", err)
	}
}

// authorizeErr gives a failed consent flow its exit code and the fix in
// spgate's words.
func authorizeErr(err error) error {
	fail := func(fix string) error { return &problem.Error{Code: problem.ExitFailure, Err: err, Fix: fix} }
	switch {
	case errors.Is(err, consent.ErrNotLoopback):
		return &problem.Error{Code: problem.ExitUsage, Problem: problem.BadInput, Err: err,
			Fix: "use --paste (copy the redirected address from the browser), or a loopback redirect URI with --listen 127.0.0.1:PORT"}
	case errors.Is(err, consent.ErrState):
		return fail("run `spgate seller authorize` again")
	case errors.Is(err, consent.ErrCode):
		return fail("run `spgate seller authorize` again and finish within 5 minutes")
	case errors.Is(err, consent.ErrTimeout):
		return fail("use --paste if the browser cannot reach this machine")
	}
	return cmdutil.StoreErr(err) // the vault's, storing the seller; else a plain failure
}
