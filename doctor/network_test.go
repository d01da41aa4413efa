package doctor

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// closedURL is an http URL on loopback where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

func networkInput(t *testing.T, lc *lwa.Client, c *spapi.Client, ep spapi.Endpoints, d amazontest.Demo) Input {
	app := vault.App{Name: "main", AppID: d.AppID, ClientID: d.ClientID,
		ClientSecrets: []vault.Secret{{Status: vault.StatusCurrent, Value: secret.New(d.ClientSecret), ExpiresAt: time.Now().Add(170 * 24 * time.Hour)}}}
	var sellers []vault.Seller
	for _, s := range d.Sellers {
		sellers = append(sellers, vault.Seller{ID: s.ID, Region: string(s.Region), Marketplaces: s.Marketplaces,
			Authorizations: []vault.Authorization{{AppName: "main", AppID: d.AppID, RefreshToken: vault.Secret{Value: secret.New(s.RefreshToken)}}}})
	}
	return Input{App: app, Sellers: sellers, Client: c, LWA: lc, Endpoints: ep}
}

// TestUnreachableLWAIsItsOwnFinding: when LWA gives no answer at all —
// nothing listens, DNS does not know the host, its certificate is not
// trusted, it does not answer in time — doctor says it cannot reach LWA,
// names the endpoint and the reason, blames no credential, and does not try
// the other sellers.
func TestUnreachableLWAIsItsOwnFinding(t *testing.T) {
	srv := amazontest.NewServer(amazontest.WithSeed(3))
	defer srv.Close()
	d := srv.Demo()

	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	stall := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(stall)
	noDNS := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
	}}}
	closed := closedURL(t)

	tests := []struct {
		name, tokenURL string
		hc             *http.Client
		why            string
	}{
		{"nothing listens", closed + "/auth/o2/token", nil, "connection refused"},
		{"DNS", "https://api.amazon.com/auth/o2/token", noDNS, "DNS knows no host api.amazon.com"},
		{"TLS", tlsSrv.URL + "/auth/o2/token", &http.Client{}, "TLS: the server's certificate is not trusted"},
		{"timeout", slow.URL + "/auth/o2/token", &http.Client{Timeout: 200 * time.Millisecond}, "timed out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lc := &lwa.Client{TokenURL: tc.tokenURL, HTTPClient: tc.hc}
			checks := Run(context.Background(), networkInput(t, lc, nil, spapi.Endpoints{}, d))
			var reach, skipped int
			for _, c := range checks {
				switch {
				case c.Name == "reach-lwa":
					reach++
					if c.Status != Fail || c.Step != StepNetwork || c.Layer != LayerNetwork ||
						!strings.Contains(c.Detail, "cannot reach Login with Amazon at "+tc.tokenURL) || !strings.Contains(c.Detail, tc.why) {
						t.Errorf("finding %+v, want a network failure naming %s and %q", c, tc.tokenURL, tc.why)
					}
				case c.Step == StepLWACredentials || c.Step == StepAuthorizeSeller:
					t.Errorf("an unreachable LWA is blamed on credentials: %+v", c)
				case c.Status == Skip && strings.Contains(c.Detail, "LWA cannot be reached"):
					skipped++
				}
			}
			if reach != 1 || skipped != len(d.Sellers)-1 {
				t.Errorf("%d reach-lwa findings and %d skipped sellers, want 1 and %d: %+v", reach, skipped, len(d.Sellers)-1, checks)
			}
		})
	}
}

// TestUnreachableSPAPIIsItsOwnFinding: LWA answers but the SP-API host
// does not: the seller call is a "cannot reach" finding naming the region's
// endpoint, not a problem of the app's registration.
func TestUnreachableSPAPIIsItsOwnFinding(t *testing.T) {
	srv := amazontest.NewServer(amazontest.WithSeed(3))
	defer srv.Close()
	d := srv.Demo()
	closed := closedURL(t)
	ep, err := spapi.Custom(closed, nil, srv.TokenURL())
	if err != nil {
		t.Fatal(err)
	}
	var static spapi.StaticSellers
	for _, s := range d.Sellers {
		static = append(static, spapi.Seller{ID: s.ID, Region: spapi.Region(s.Region), RefreshToken: secret.New(s.RefreshToken)})
	}
	c, err := spapi.New(spapi.Config{AppID: d.AppID, Credentials: lwa.StaticCredentials{ClientID: d.ClientID, ClientSecret: secret.New(d.ClientSecret)},
		Sellers: static, Endpoints: ep, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := networkInput(t, nil, c, ep, d)
	in.Sellers = in.Sellers[:1]
	var found bool
	for _, ch := range Run(context.Background(), in) {
		if ch.Status != Fail {
			continue
		}
		if ch.Name != "reach-sp-api" || ch.Step != StepNetwork || !strings.Contains(ch.Detail, "cannot reach the Selling Partner API") ||
			!strings.Contains(ch.Detail, closed) || !strings.Contains(ch.Detail, "connection refused") {
			t.Errorf("failure %+v, want reach-sp-api naming %s", ch, closed)
			continue
		}
		found = true
	}
	if !found {
		t.Error("no reach-sp-api finding")
	}
}
