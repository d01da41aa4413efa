package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/demo"
	"github.com/spgate/spgate/provision"
)

func init() { commands = append(commands, newEmulateCmd) }

// emulateOptions are the flags of spgate emulate.
type emulateOptions struct {
	Addr      string
	Seed      int64
	Orders    int
	Sellers   int
	TimeScale float64
	TLS       bool
	CAFile    string
	JSON      bool
	Registry  string
	NoLimits  bool
	// SQSEndpoint is an SQS (moto_server, LocalStack) where the demo app's
	// notification queue is created and rotation notifications are sent.
	SQSEndpoint string
	SQSQueue    string
}

func newEmulateCmd(streams IO) *cobra.Command {
	o := emulateOptions{}
	cmd := &cobra.Command{
		Use:   "emulate",
		Short: "Run an offline Amazon (Login with Amazon + Selling Partner API) for tests and demos",
		Long: `emulate serves an offline Amazon: the LWA token endpoint
(/auth/o2/token), the consent page (/apps/authorize/consent), the Selling
Partner API (orders, sellers, tokens, application management) with Amazon's
authorization checks and rate limits, and admin endpoints under /_admin/
(loopback only). It prints a ready demo app and seller and runs until Ctrl-C.

NA (and LWA) listen on --addr, EU and FE on the next two ports (three free
ports with port 0); point spgate at all three with the SPGATE_ENDPOINT value
it prints. A Host header naming an Amazon host (sellingpartnerapi-eu.amazon.com)
picks that region on any of them. With --tls it makes a throw-away CA and a
certificate for Amazon's host names, so an unmodified client can be pointed
at it by trusting the CA and resolving the names to the emulator.

With --sqs-endpoint URL (a moto_server, LocalStack) it creates the demo
app's notification queue there (admitting Amazon's account, as setup does)
and sends the app's APPLICATION_OAUTH_CLIENT_NEW_SECRET and expiry
notifications to it, so spgate rotate runs end to end offline. It signs its
SQS calls with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else "testing".`,
		Example: `  spgate emulate
  spgate emulate --addr 127.0.0.1:0 --json
  spgate emulate --tls --addr 127.0.0.1:8443 --time-scale 60
  spgate emulate --sqs-endpoint http://127.0.0.1:5000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEmulate(cmd.Context(), streams, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:8099", "listen address; port 0 picks a free port")
	f.Int64Var(&o.Seed, "seed", 1, "seed for ids, secrets and orders (same seed, same data)")
	f.IntVar(&o.Orders, "orders", 100, "orders per seller")
	f.IntVar(&o.Sellers, "sellers", 3, "demo sellers, spread over the NA, EU and FE regions")
	f.Float64Var(&o.TimeScale, "time-scale", 1, "emulated time per real time (60: an hour passes in a minute)")
	f.BoolVar(&o.TLS, "tls", false, "serve HTTPS with a generated CA and a certificate for Amazon's host names")
	f.StringVar(&o.CAFile, "ca-file", "", "where --tls writes the CA certificate (default: a file in the temp directory)")
	f.BoolVar(&o.JSON, "json", false, "print the listen URL and demo credentials as JSON")
	f.StringVar(&o.Registry, "registry", "", "JSON file of apps, sellers and authorizations to use instead of the demo")
	f.BoolVar(&o.NoLimits, "no-rate-limits", false, "lift every rate limit (load benchmarks)")
	f.StringVar(&o.SQSEndpoint, "sqs-endpoint", "", "SQS endpoint (moto_server, LocalStack) to create the demo app's notification queue on and send its rotation notifications to")
	f.StringVar(&o.SQSQueue, "sqs-queue", provision.DefaultQueueName, "with --sqs-endpoint: the queue's name (the default is the one `spgate setup aws --queue` adopts)")
	return cmd
}

// emulateInfo is what --json prints.
type emulateInfo struct {
	URL string `json:"url"`
	// Endpoint is the value for SPGATE_ENDPOINT / --endpoint.
	Endpoint     string            `json:"endpoint"`
	RegionURLs   map[string]string `json:"regionUrls"`
	TokenURL     string            `json:"tokenUrl"`
	CAFile       string            `json:"caFile,omitempty"`
	AppID        string            `json:"appId"`
	ClientID     string            `json:"clientId"`
	ClientSecret string            `json:"clientSecret"`
	SellerID     string            `json:"sellerId"`
	RefreshToken string            `json:"refreshToken"`
	Region       string            `json:"region"`
	Marketplaces []string          `json:"marketplaces"`
	Sellers      []emulateSellerJS `json:"sellers"`
	// SQSEndpoint and QueueURL: where the demo app's rotation
	// notifications go (with --sqs-endpoint).
	SQSEndpoint string `json:"sqsEndpoint,omitempty"`
	QueueURL    string `json:"queueUrl,omitempty"`
}

// emulateSellerJS is one seller in emulateInfo.
type emulateSellerJS struct {
	ID           string   `json:"id"`
	Region       string   `json:"region"`
	Marketplaces []string `json:"marketplaces"`
	RefreshToken string   `json:"refreshToken"`
}

func runEmulate(ctx context.Context, streams IO, o emulateOptions) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	srv, queueURL, err := o.start(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	info := newEmulateInfo(srv, o, queueURL)
	if o.JSON {
		enc := json.NewEncoder(streams.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(info); err != nil {
			return err
		}
	} else {
		printEmulateBanner(streams.Out, info, emulatePort(srv), o.TimeScale)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-srv.ServeErr():
		return fmt.Errorf("emulator stopped: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if !o.JSON {
		fmt.Fprintln(streams.Err, "emulator stopped")
	}
	return nil
}

// config checks the flags and turns them into the emulator's configuration.
func (o emulateOptions) config() (amazontest.Config, error) {
	if o.Orders < 0 || o.Sellers < 0 {
		return amazontest.Config{}, usageErr("--orders and --sellers must not be negative")
	}
	if o.TimeScale <= 0 {
		return amazontest.Config{}, usageErr("--time-scale must be positive (1 = real time)")
	}
	cfg := amazontest.Config{
		Seed: o.Seed, OrdersPerSeller: o.Orders, Sellers: o.Sellers, TimeScale: o.TimeScale,
		RegistryFile: o.Registry, NoRateLimits: o.NoLimits,
	}
	if o.SQSEndpoint != "" {
		u, err := url.Parse(o.SQSEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cfg, usageErr("--sqs-endpoint %q is not an http(s) URL (e.g. http://127.0.0.1:5000 for moto_server)", o.SQSEndpoint)
		}
		if err := provision.ValidateName(provision.QueueName, o.SQSQueue); err != nil {
			return cfg, &ExitError{Code: ExitUsage, Err: fmt.Errorf("--sqs-queue: %w", err)}
		}
		cfg.SQSEndpoint = o.SQSEndpoint
		cfg.SQSAccessKeyID, cfg.SQSSecretAccessKey = demo.SQSKeys()
	}
	return cfg, nil
}

// start builds the emulator, gives the demo app its notification queue
// (with --sqs-endpoint), and serves it on --addr, with --tls writing the
// CA certificate. It returns the queue's URL.
func (o *emulateOptions) start(ctx context.Context, cfg amazontest.Config) (*amazontest.Server, string, error) {
	srv, err := amazontest.New(cfg)
	if err != nil {
		return nil, "", &ExitError{Code: ExitUsage, Err: fmt.Errorf("start the emulator: %w", err)}
	}
	queueURL := ""
	if o.SQSEndpoint != "" {
		if queueURL, err = demo.NotificationQueue(ctx, cfg, o.SQSQueue); err != nil {
			return nil, "", &ExitError{Code: ExitConfig, Err: err}
		}
		if err := srv.SetNotificationQueue(srv.Demo().AppID, queueURL); err != nil {
			return nil, "", err
		}
	}
	so := amazontest.StartOptions{Addr: o.Addr}
	if o.TLS {
		host, _, _ := net.SplitHostPort(o.Addr)
		if so.TLS, err = amazontest.NewTLSBundle(time.Now(), host); err != nil {
			return nil, "", err
		}
	}
	if err := srv.Start(so); err != nil {
		if errors.Is(err, amazontest.ErrStartAddr) {
			return nil, "", usageErr("--addr %v", err)
		}
		return nil, "", &ExitError{Code: ExitConfig, Err: fmt.Errorf("%w (pick another --addr, or port 0 for free ports)", err)}
	}
	if o.TLS {
		if o.CAFile == "" {
			o.CAFile = filepath.Join(os.TempDir(), fmt.Sprintf("spgate-emulator-ca-%d.pem", emulatePort(srv)))
		}
		if err := os.WriteFile(o.CAFile, srv.CACertPEM(), 0o644); err != nil {
			srv.Close()
			return nil, "", fmt.Errorf("write the CA certificate: %w (choose a writable --ca-file)", err)
		}
	}
	return srv, queueURL, nil
}

// emulatePort is the NA listener's port.
func emulatePort(srv *amazontest.Server) int {
	u, _ := url.Parse(srv.URL)
	p, _ := strconv.Atoi(u.Port())
	return p
}

// newEmulateInfo is what the banner and --json show of a started emulator.
func newEmulateInfo(srv *amazontest.Server, o emulateOptions, queueURL string) emulateInfo {
	d := srv.Demo()
	regionURLs := map[string]string{}
	for _, r := range []amazontest.Region{amazontest.RegionNA, amazontest.RegionEU, amazontest.RegionFE} {
		regionURLs[string(r)] = srv.RegionURL(r)
	}
	info := emulateInfo{
		URL: srv.URL, Endpoint: srv.Endpoints(), RegionURLs: regionURLs, TokenURL: srv.TokenURL(), CAFile: o.CAFile,
		AppID: d.AppID, ClientID: d.ClientID, ClientSecret: d.ClientSecret, SellerID: d.SellerID,
		RefreshToken: d.RefreshToken, Region: string(d.Region), Marketplaces: d.Marketplaces,
		SQSEndpoint: o.SQSEndpoint, QueueURL: queueURL,
	}
	if !o.TLS {
		info.CAFile = ""
	}
	for _, s := range d.Sellers {
		info.Sellers = append(info.Sellers, emulateSellerJS{ID: s.ID, Region: string(s.Region), Marketplaces: s.Marketplaces, RefreshToken: s.RefreshToken})
	}
	return info
}

func printEmulateBanner(w io.Writer, in emulateInfo, port int, scale float64) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("spgate offline Amazon listening on %s", in.URL)
	if scale != 1 {
		p("time runs %gx faster than real time (tokens live %s real time)", scale, time.Duration(float64(time.Hour)/scale).Round(time.Second))
	}
	p("")
	p("Demo application (emulator fixtures, not real credentials):")
	p("  app id         %s", in.AppID)
	p("  client id      %s", in.ClientID)
	p("  client secret  %s", in.ClientSecret)
	p("Demo seller:")
	p("  seller id      %s (%s, marketplaces %s)", in.SellerID, strings.ToUpper(in.Region), strings.Join(in.Marketplaces, ","))
	p("  refresh token  %s", in.RefreshToken)
	if len(in.Sellers) > 1 {
		p("Other sellers (see --json for their refresh tokens):")
		for _, s := range in.Sellers[1:] {
			p("  %s  %s", s.ID, strings.ToUpper(s.Region))
		}
	}
	p("")
	curl := "curl -s"
	lwaURL, spURL := in.TokenURL, in.URL
	if in.CAFile != "" {
		curl = fmt.Sprintf("curl -s --cacert %s --resolve api.amazon.com:%d:127.0.0.1 --resolve sellingpartnerapi-na.amazon.com:%d:127.0.0.1", in.CAFile, port, port)
		lwaURL = fmt.Sprintf("https://api.amazon.com:%d/auth/o2/token", port)
		spURL = fmt.Sprintf("https://sellingpartnerapi-na.amazon.com:%d", port)
	}
	p("Get an access token:")
	p("  %s %s -d grant_type=refresh_token \\", curl, lwaURL)
	p("    --data-urlencode 'refresh_token=%s' \\", in.RefreshToken)
	p("    -d client_id=%s -d client_secret=%s", in.ClientID, in.ClientSecret)
	p("Call the Selling Partner API with it:")
	p("  %s -H \"x-amz-access-token: $TOKEN\" '%s/orders/v0/orders?MarketplaceIds=%s&CreatedAfter=2020-01-01T00:00:00Z'", curl, spURL, firstOr(in.Marketplaces, "ATVPDKIKX0DER"))
	p("Other regions: EU at %s, FE at %s (or send Host: sellingpartnerapi-eu.amazon.com to any of them).", in.RegionURLs["eu"], in.RegionURLs["fe"])
	p("")
	p("Point spgate at it (every region):")
	p("  export SPGATE_ENDPOINT=%s", in.Endpoint)
	p("Admin (loopback only): %s/_admin/counters, /_admin/faults, /_admin/registry", in.URL)
	if in.QueueURL != "" {
		p("")
		p("Rotation notifications of the demo app go to the SQS queue")
		p("  %s", in.QueueURL)
		p("at %s. With the app in a vault (docs/emulator.md), rotate its client secret:", in.SQSEndpoint)
		p("  export SPGATE_AWS_ENDPOINT=%s", in.SQSEndpoint)
		p("  spgate setup aws --app main --queue    # once: stores this queue and an IAM user's keys with the app")
		p("  spgate rotate --app main")
	}
	if in.CAFile != "" {
		p("")
		p("TLS: the CA certificate is in %s.", in.CAFile)
		p("To point an unmodified client at the emulator:")
		p("  1. trust the CA:       export SSL_CERT_FILE=%s   (Go, curl, Python requests via REQUESTS_CA_BUNDLE)", in.CAFile)
		p("  2. resolve the names:  add to /etc/hosts")
		p("       127.0.0.1 %s", strings.Join(amazontest.AmazonHosts(), " "))
		p("     and serve on port 443 (--addr 127.0.0.1:443), or use curl --resolve as above.")
	}
	p("")
	p("Press Ctrl-C to stop.")
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}
