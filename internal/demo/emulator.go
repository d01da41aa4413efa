package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spgate/spgate/amazontest"
)

// EmulatorInfo is what spgate emulate tells about a running emulator: where
// it listens and the demo app and sellers it serves (emulator fixtures, not
// real credentials). Its JSON is what `spgate emulate --json` prints.
type EmulatorInfo struct {
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
	Sellers      []EmulatorSeller  `json:"sellers"`
	// SQSEndpoint and QueueURL: where the demo app's rotation
	// notifications go (with --sqs-endpoint).
	SQSEndpoint string `json:"sqsEndpoint,omitempty"`
	QueueURL    string `json:"queueUrl,omitempty"`
}

// EmulatorSeller is one seller in EmulatorInfo.
type EmulatorSeller struct {
	ID           string   `json:"id"`
	Region       string   `json:"region"`
	Marketplaces []string `json:"marketplaces"`
	RefreshToken string   `json:"refreshToken"`
}

// NewEmulatorInfo describes srv, started by StartAmazon; caFile is where
// its TLS CA certificate was written ("" for plain HTTP), sqsEndpoint and
// queueURL where its demo app's notifications go ("" for none).
func NewEmulatorInfo(srv *amazontest.Server, caFile, sqsEndpoint, queueURL string) EmulatorInfo {
	d := srv.Demo()
	regionURLs := map[string]string{}
	for _, r := range []amazontest.Region{amazontest.RegionNA, amazontest.RegionEU, amazontest.RegionFE} {
		regionURLs[string(r)] = srv.RegionURL(r)
	}
	info := EmulatorInfo{
		URL: srv.URL, Endpoint: srv.Endpoints(), RegionURLs: regionURLs, TokenURL: srv.TokenURL(), CAFile: caFile,
		AppID: d.AppID, ClientID: d.ClientID, ClientSecret: d.ClientSecret, SellerID: d.SellerID,
		RefreshToken: d.RefreshToken, Region: string(d.Region), Marketplaces: d.Marketplaces,
		SQSEndpoint: sqsEndpoint, QueueURL: queueURL,
	}
	for _, s := range d.Sellers {
		info.Sellers = append(info.Sellers, EmulatorSeller{ID: s.ID, Region: string(s.Region), Marketplaces: s.Marketplaces, RefreshToken: s.RefreshToken})
	}
	return info
}

// Port is the NA listener's port.
func (in EmulatorInfo) Port() int {
	u, _ := url.Parse(in.URL)
	p, _ := strconv.Atoi(u.Port())
	return p
}

// WriteBanner writes what a person needs to use the emulator: the demo
// credentials, curl commands for a token and a call, the SPGATE_ENDPOINT to
// export, and with a queue or TLS how to rotate or to point an unmodified
// client at it. scale is the emulator's time scale.
func (in EmulatorInfo) WriteBanner(w io.Writer, scale float64) {
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
	in.writeCurl(p)
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

// writeCurl writes the curl commands that get a token and call SP-API with
// it, through Amazon's host names when the emulator serves TLS.
func (in EmulatorInfo) writeCurl(p func(format string, a ...any)) {
	curl := "curl -s"
	lwaURL, spURL := in.TokenURL, in.URL
	if in.CAFile != "" {
		port := in.Port()
		curl = fmt.Sprintf("curl -s --cacert %s --resolve api.amazon.com:%d:127.0.0.1 --resolve sellingpartnerapi-na.amazon.com:%d:127.0.0.1", in.CAFile, port, port)
		lwaURL = fmt.Sprintf("https://api.amazon.com:%d/auth/o2/token", port)
		spURL = fmt.Sprintf("https://sellingpartnerapi-na.amazon.com:%d", port)
	}
	marketplace := "ATVPDKIKX0DER"
	if len(in.Marketplaces) > 0 {
		marketplace = in.Marketplaces[0]
	}
	p("Get an access token:")
	p("  %s %s -d grant_type=refresh_token \\", curl, lwaURL)
	p("    --data-urlencode 'refresh_token=%s' \\", in.RefreshToken)
	p("    -d client_id=%s -d client_secret=%s", in.ClientID, in.ClientSecret)
	p("Call the Selling Partner API with it:")
	p("  %s -H \"x-amz-access-token: $TOKEN\" '%s/orders/v0/orders?MarketplaceIds=%s&CreatedAfter=2020-01-01T00:00:00Z'", curl, spURL, marketplace)
	p("Other regions: EU at %s, FE at %s (or send Host: sellingpartnerapi-eu.amazon.com to any of them).", in.RegionURLs["eu"], in.RegionURLs["fe"])
}

// EmulateOptions say how Emulate runs the offline Amazon for a person
// (spgate emulate).
type EmulateOptions struct {
	Config amazontest.Config
	// Addr is where NA (and LWA) listen; EU and FE take the next two
	// ports, and port 0 picks three free ones.
	Addr string
	// TLS serves HTTPS with a throw-away CA and a certificate for Amazon's
	// host names and Addr's host, the CA certificate written to CAFile
	// (default: a file in the temporary directory named after the port).
	TLS    bool
	CAFile string
	// Queue names the demo app's notification queue at
	// Config.SQSEndpoint (StartAmazon).
	Queue string
	// Started is told what runs once the emulator listens; its error stops
	// the emulator.
	Started func(EmulatorInfo) error
}

// StepCAFile is the step of Emulate that writes the TLS CA certificate, as
// its StartError names it.
const StepCAFile = "ca-file"

// Emulate starts the offline Amazon as o says (StartAmazon), tells
// o.Started about it, and serves until ctx ends, then shuts it down within
// five seconds, or until a listener fails. An error starting it is a
// *StartError.
func Emulate(ctx context.Context, o EmulateOptions) error {
	so := amazontest.StartOptions{Addr: o.Addr}
	if o.TLS {
		host, _, _ := net.SplitHostPort(o.Addr)
		var err error
		if so.TLS, err = amazontest.NewTLSBundle(time.Now(), host); err != nil {
			return err
		}
	}
	srv, _, queueURL, err := StartAmazon(ctx, o.Config, so, o.Queue)
	if err != nil {
		return err
	}
	defer srv.Close()
	info := NewEmulatorInfo(srv, "", o.Config.SQSEndpoint, queueURL)
	if o.TLS {
		if info.CAFile = o.CAFile; info.CAFile == "" {
			info.CAFile = filepath.Join(os.TempDir(), fmt.Sprintf("spgate-emulator-ca-%d.pem", info.Port()))
		}
		if err := os.WriteFile(info.CAFile, srv.CACertPEM(), 0o644); err != nil {
			return &StartError{Step: StepCAFile, Err: fmt.Errorf("write the CA certificate: %w", err)}
		}
	}
	if o.Started != nil {
		if err := o.Started(info); err != nil {
			return err
		}
	}
	select {
	case err := <-srv.ServeErr():
		return fmt.Errorf("emulator stopped: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}
