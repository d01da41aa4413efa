package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/consent"
	"github.com/spgate/spgate/console"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/gateway"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newConsoleCmd) }

// consoleOptions are the --console flags of spgate serve.
type consoleOptions struct {
	Addr            string
	TLSCert, TLSKey string
	// stats is filled by tapLog: the gateway's figures for the console.
	stats *console.Stats
}

// addConsoleFlags adds serve's --console flags, bound to o.
func addConsoleFlags(cmd *cobra.Command, o *consoleOptions) {
	f := cmd.Flags()
	f.StringVar(&o.Addr, "console", "", "also serve the admin web console on this address, e.g. 127.0.0.1:8088 (loopback unless --console-tls-cert is given); prints a one-time sign-in link (`spgate console link` prints another)")
	f.StringVar(&o.TLSCert, "console-tls-cert", "", "with --console: TLS certificate (PEM) for the console; needed for a non-loopback address")
	f.StringVar(&o.TLSKey, "console-tls-key", "", "with --console: TLS private key (PEM, unencrypted)")
}

// tapLog returns the gateway's logger with the console's figures (per
// seller, client and operation) taken from its request lines; without
// --console it returns log as it is. Call it before the gateway is built.
func (o *consoleOptions) tapLog(log *slog.Logger) *slog.Logger {
	if o.Addr == "" {
		return log
	}
	o.stats = console.NewStats(nil)
	return slog.New(o.stats.Handler(log.Handler()))
}

// consoleDeps is what the console needs from spgate serve.
type consoleDeps struct {
	Vault     *vault.Vault
	App       vault.App
	Endpoints spapi.Endpoints
	Client    *spapi.Client
	// Audit receives the console's admin actions, next to the gateway's.
	Audit *gateway.AuditLog
	// GatewayURL is where callers reach the gateway (shown with new keys).
	GatewayURL string
	Log        *slog.Logger
	// BG runs the console until BGCtx ends, before the vault is closed.
	BG    *sync.WaitGroup
	BGCtx context.Context
}

// startConsole serves the admin console when --console is given: it
// listens, prints a one-time sign-in link, and serves in d.BG until
// d.BGCtx ends. Without --console it does nothing.
func startConsole(cmd *cobra.Command, streams IO, o consoleOptions, d consoleDeps) error {
	if o.Addr == "" {
		return nil
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return usageErr("give both --console-tls-cert and --console-tls-key, or neither")
	}
	useTLS := o.TLSCert != ""
	if err := console.CheckAddr(o.Addr, useTLS); err != nil {
		return usageErr("--console: %v", err)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("--console: listen on %s: %w (another process holds the port? choose another address)", o.Addr, err)}
	}
	c, err := newServeConsole(cmd, o, d, ln.Addr().String(), useTLS)
	if err != nil {
		ln.Close()
		return &ExitError{Code: ExitConfig, Err: err}
	}
	ctx := d.BGCtx
	if err := console.PublishURL(ctx, d.Vault, c.URL()); err != nil {
		d.Log.Warn("could not record the console's address in the vault; `spgate console link` will need --url", "error", err.Error())
	}
	tok, err := console.IssueLoginToken(ctx, d.Vault, nil)
	if err != nil {
		ln.Close()
		return storeErr(fmt.Errorf("--console: a sign-in link: %w", err))
	}
	d.Log.Info("admin console listening", "url", c.URL())
	fmt.Fprintf(streams.Err, "spgate: admin console on %s; sign in once, within %d minutes, with:\n  %s\n(`spgate console link` prints a new link)\n",
		c.URL(), int(console.LoginTokenTTL/time.Minute), console.LoginURL(c.URL(), tok))
	d.BG.Go(func() {
		if err := c.Serve(ctx, ln, o.TLSCert, o.TLSKey); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.Log.Error("the admin console stopped", "error", err.Error())
		}
	})
	return nil
}

// newServeConsole builds the console on the same vault, client, checks,
// rotator and consent flow as the CLI's verbs.
func newServeConsole(cmd *cobra.Command, o consoleOptions, d consoleDeps, addr string, useTLS bool) (*console.Console, error) {
	v, app, ep := d.Vault, d.App, d.Endpoints
	cfg := console.Config{
		Vault: v, App: app.Name, Addr: addr, TLS: useTLS, GatewayURL: d.GatewayURL,
		Credentials: d.Client.CredentialState(),
		Stats:       o.stats,
		Logger:      d.Log,
		// The same checks as spgate doctor, on the app as the vault holds
		// it now.
		Checks: func(ctx context.Context) ([]doctor.Check, error) {
			a, err := v.GetApp(ctx, app.Name)
			if err != nil {
				return nil, err
			}
			return newEnv(cmd, IO{}).doctorChecks(ctx, v, a, ep, "")
		},
		Rotate:   consoleRotate(cmd, d),
		SetupAWS: consoleSetupAWS(cmd, app.Name),
		Consent:  consoleConsent(d),
	}
	if d.Audit != nil {
		cfg.Audit = consoleAudit(d)
	}
	return console.New(cfg)
}

// consoleRotate is the console's Rotate button: spgate rotate, with the
// app as the vault holds it when pressed.
func consoleRotate(cmd *cobra.Command, d consoleDeps) func(context.Context, func(step, msg string)) (rotation.Result, error) {
	v, app, ep := d.Vault, d.App, d.Endpoints
	sqsEndpoint, _ := cmd.Flags().GetString("sqs-endpoint")
	return func(ctx context.Context, progress func(step, msg string)) (rotation.Result, error) {
		a, err := v.GetApp(ctx, app.Name)
		if err != nil {
			return rotation.Result{}, err
		}
		r, err := appvault.NewRotator(ctx, v, a, ep, resolveSQSEndpoint(sqsEndpoint), rotation.Config{Logger: d.Log, Progress: progress, Owner: "spgate serve --console"})
		if err != nil {
			return rotation.Result{}, err
		}
		return r.Rotate(ctx, app.Name)
	}
}

// consoleSetupAWS is `spgate setup aws --app A --queue [--dry-run]`, run
// as the verb itself with its report going to the page.
func consoleSetupAWS(cmd *cobra.Command, app string) func(context.Context, bool, func(string)) error {
	vaultFlag, _ := cmd.Flags().GetString(flagVault)
	return func(ctx context.Context, dryRun bool, out func(string)) error {
		args := []string{"setup", "aws", "--app", app, "--queue"}
		if vaultFlag != "" {
			args = append(args, "--"+flagVault, vaultFlag)
		}
		if dryRun {
			args = append(args, "--dry-run")
		}
		w := &lineWriter{out: out}
		code := Main(vault.WithActor(ctx, console.Actor), args, strings.NewReader(""), w, w)
		w.Flush()
		if code != ExitOK {
			return fmt.Errorf("spgate %s exited with %d: see its report above", strings.Join(args, " "), code)
		}
		return nil
	}
}

// consoleConsent is the console's authorize flow: the consent URL, and the
// code exchanged for a refresh token with the app's LWA credentials.
func consoleConsent(d consoleDeps) *console.Consent {
	app := d.App
	creds := rotation.VaultCredentials{Vault: d.Vault, App: app.Name}
	lc := &lwa.Client{TokenURL: d.Endpoints.TokenURL, HTTPClient: &http.Client{Timeout: 30 * time.Second}, Logger: d.Log}
	return &console.Consent{
		RedirectURI: app.RedirectURI,
		URL: func(region, redirectURI, state string) (string, error) {
			return consent.Link{Page: consentBase(region), AppID: app.AppID, Draft: app.Draft, RedirectURI: redirectURI, State: state}.URL()
		},
		Complete: func(ctx context.Context, state, redirectURI string, q url.Values) (string, secret.String, error) {
			res, err := consent.Complete(ctx, q, state, redirectURI, consent.LWA(lc, creds))
			return res.SellerID, res.RefreshToken, err
		},
	}
}

// consoleAudit records each console action in the gateway's audit log.
func consoleAudit(d consoleDeps) func(context.Context, console.AdminEvent) {
	return func(_ context.Context, e console.AdminEvent) {
		entry := gateway.AuditEntry{Time: e.Time, RequestID: "console", Client: console.Actor, Operation: "console/" + e.Action,
			Method: http.MethodPost, Path: e.Target, Status: http.StatusOK, Decision: "allowed"}
		if !e.OK {
			entry.Status, entry.Decision, entry.Reason = http.StatusForbidden, "denied", e.Detail
		}
		if err := d.Audit.Write(entry); err != nil {
			d.Log.Error("writing the console's action to the audit log failed", "action", e.Action, "error", err.Error())
		}
	}
}

// lineWriter hands what a verb prints to out, a line at a time.
type lineWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	out func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // no newline yet: keep it
			return len(p), nil
		}
		w.out(strings.TrimRight(line, "\r\n"))
	}
}

// Flush hands on a last line without a newline.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.out(w.buf.String())
		w.buf.Reset()
	}
}

func newConsoleCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "console",
		Short: "The admin web console of spgate serve --console",
		Args:  cobra.NoArgs,
	}
	var base string
	link := &cobra.Command{
		Use:   "link",
		Short: "Print a new one-time sign-in link for the admin console",
		Long: `link prints a link that signs a browser in to the admin console served by
spgate serve --console ADDR on the same vault. It works once, within 15
minutes; the console need not be restarted. The link is kept in the vault
only as a hash.`,
		Example: `  spgate console link
  spgate console link --url https://gateway.example.com:8088`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			v, err := openVault(cmd, false)
			if err != nil {
				return err
			}
			defer v.Close()
			u := base
			if u == "" {
				if u, err = console.PublishedURL(ctx, v); err != nil {
					return storeErr(err)
				}
			}
			if u == "" {
				return problemErr(ProblemNotFound, errors.New("no admin console has served this vault yet"), "start one with spgate serve --console 127.0.0.1:8088, or give its address with --url")
			}
			tok, err := console.IssueLoginToken(ctx, v, nil)
			if err != nil {
				return storeErr(err)
			}
			if jsonOut(cmd) {
				return printJSON(streams.Out, map[string]any{"url": console.LoginURL(u, tok), "expiresInSeconds": int(console.LoginTokenTTL / time.Second)})
			}
			fmt.Fprintln(streams.Out, console.LoginURL(u, tok))
			fmt.Fprintf(streams.Err, "spgate: open it once, within %d minutes, in the browser that should be signed in\n", int(console.LoginTokenTTL/time.Minute))
			return nil
		},
	}
	link.Flags().StringVar(&base, "url", "", "the console's base URL (default: the address the running console recorded in the vault)")
	cmd.AddCommand(link)
	return cmd
}
