package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/testenv"
)

// TestEmulateTLSAndJSON runs `spgate emulate --tls --json` on a free port
// and talks to it as an unmodified client would: trusting the printed CA and
// resolving Amazon's names to the emulator.
func TestEmulateTLSAndJSON(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"emulate", "--addr", "127.0.0.1:0", "--json", "--tls", "--ca-file", ca, "--seed", "3", "--orders", "2"}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	var info emulateInfo
	if err := json.NewDecoder(pr).Decode(&info); err != nil {
		cancel()
		t.Fatalf("emulate --json printed no JSON: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	defer func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("exit code %d after cancel", code)
		}
	}()
	if info.CAFile != ca || info.ClientSecret == "" || !strings.HasPrefix(info.RefreshToken, "Atzr|") || len(info.Sellers) != 3 {
		t.Fatalf("info %+v", info)
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	u, _ := url.Parse(info.URL)
	addr := u.Host
	client := &http.Client{Timeout: testenv.Patience, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) { // "--resolve"
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {info.Sellers[1].RefreshToken}, "client_id": {info.ClientID}, "client_secret": {info.ClientSecret}}
	res, err := client.Post("https://api.amazon.com/auth/o2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("LWA over TLS as api.amazon.com: %v", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if res.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token: %d", res.StatusCode)
	}
	// The EU seller's token works on the EU host name and not on NA.
	for host, want := range map[string]int{"sellingpartnerapi-eu.amazon.com": 200, "sellingpartnerapi-na.amazon.com": 403} {
		req, _ := http.NewRequest("GET", "https://"+host+"/sellers/v1/marketplaceParticipations", nil)
		req.Header.Set("x-amz-access-token", tok.AccessToken)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("%s: %d, want %d: %s", host, res.StatusCode, want, b)
		}
	}
	// Without Amazon's host names, each region has its own port, as
	// SPGATE_ENDPOINT lists them.
	if !strings.Contains(info.Endpoint, "eu="+info.RegionURLs["eu"]) || info.RegionURLs["eu"] == info.URL {
		t.Fatalf("endpoint %q, region URLs %v", info.Endpoint, info.RegionURLs)
	}
	plain := &http.Client{Timeout: testenv.Patience, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for region, want := range map[string]int{"eu": 200, "na": 403} {
		req, _ := http.NewRequest("GET", info.RegionURLs[region]+"/sellers/v1/marketplaceParticipations", nil)
		req.Header.Set("x-amz-access-token", tok.AccessToken)
		res, err := plain.Do(req)
		if err != nil {
			t.Fatalf("%s port: %v", region, err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("EU seller on the %s port: %d, want %d", region, res.StatusCode, want)
		}
	}
}

func TestEmulateBannerAndFlags(t *testing.T) {
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"emulate", "--time-scale", "0"}, strings.NewReader(""), &out, &out); code != ExitUsage {
		t.Errorf("--time-scale 0: exit %d, want %d", code, ExitUsage)
	}
	out.Reset()
	if code := Main(context.Background(), []string{"emulate", "--addr", "not-an-address"}, strings.NewReader(""), &out, &out); code != ExitUsage {
		t.Errorf("bad --addr: exit %d: %s", code, out.String())
	}
	var b bytes.Buffer
	printEmulateBanner(&b, emulateInfo{URL: "https://127.0.0.1:8443", TokenURL: "https://127.0.0.1:8443/auth/o2/token", CAFile: "/tmp/ca.pem",
		ClientID: "cid", ClientSecret: "sec", RefreshToken: "Atzr|x", Region: "na", Marketplaces: []string{"ATVPDKIKX0DER"},
		Endpoint: "na=https://127.0.0.1:8443,eu=https://127.0.0.1:8444,fe=https://127.0.0.1:8445"}, 8443, 60)
	for _, want := range []string{"SPGATE_ENDPOINT=na=https://127.0.0.1:8443,eu=", "SSL_CERT_FILE=/tmp/ca.pem", "--resolve api.amazon.com:8443:127.0.0.1", "sandbox.sellingpartnerapi-fe.amazon.com", "60x faster", "x-amz-access-token"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, b.String())
		}
	}
}
