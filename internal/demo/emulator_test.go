package demo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spgate/spgate/amazontest"
)

func TestEmulatorBanner(t *testing.T) {
	var b bytes.Buffer
	EmulatorInfo{URL: "https://127.0.0.1:8443", TokenURL: "https://127.0.0.1:8443/auth/o2/token", CAFile: "/tmp/ca.pem",
		ClientID: "cid", ClientSecret: "sec", RefreshToken: "Atzr|x", Region: "na", Marketplaces: []string{"ATVPDKIKX0DER"},
		Endpoint: "na=https://127.0.0.1:8443,eu=https://127.0.0.1:8444,fe=https://127.0.0.1:8445"}.WriteBanner(&b, 60)
	for _, want := range []string{"SPGATE_ENDPOINT=na=https://127.0.0.1:8443,eu=", "SSL_CERT_FILE=/tmp/ca.pem", "--resolve api.amazon.com:8443:127.0.0.1",
		"sandbox.sellingpartnerapi-fe.amazon.com", "60x faster", "x-amz-access-token"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	EmulatorInfo{URL: "http://127.0.0.1:8099", QueueURL: "http://127.0.0.1:5000/123456789012/q", SQSEndpoint: "http://127.0.0.1:5000"}.WriteBanner(&b, 1)
	for _, want := range []string{"export SPGATE_AWS_ENDPOINT=http://127.0.0.1:5000", "spgate rotate --app main", "MarketplaceIds=ATVPDKIKX0DER"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("banner with a queue lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "faster") || strings.Contains(b.String(), "SSL_CERT_FILE") {
		t.Errorf("banner at real time without TLS:\n%s", b.String())
	}
}

// StartAmazon names the step that failed, so that a caller can say which
// setting to fix.
func TestStartAmazonSteps(t *testing.T) {
	ctx := context.Background()
	srv, ep, queue, err := StartAmazon(ctx, amazontest.Config{Seed: 2, OrdersPerSeller: 1, Sellers: 1}, amazontest.StartOptions{}, "ignored-without-sqs")
	if err != nil {
		t.Fatal(err)
	}
	info := NewEmulatorInfo(srv, "", "", queue)
	srv.Close()
	if queue != "" || ep.TokenURL != srv.TokenURL() || info.Port() == 0 || info.ClientSecret == "" || len(info.Sellers) != 1 {
		t.Fatalf("started: endpoints %+v, queue %q, info %+v", ep, queue, info)
	}
	for _, tc := range []struct {
		name string
		cfg  amazontest.Config
		addr string
		step string
	}{
		{"registry file", amazontest.Config{RegistryFile: "/nonexistent/registry.json"}, "", StepConfigure},
		{"unreachable queue", amazontest.Config{SQSEndpoint: "http://127.0.0.1:1", SQSAccessKeyID: "testing"}, "", StepQueue},
		{"bad address", amazontest.Config{}, "not-an-address", StepListen},
	} {
		_, _, _, err := StartAmazon(ctx, tc.cfg, amazontest.StartOptions{Addr: tc.addr}, "q")
		var se *StartError
		if !errors.As(err, &se) || se.Step != tc.step || !strings.HasPrefix(err.Error(), "start the offline Amazon: ") {
			t.Errorf("%s: %v, want a StartError at step %s", tc.name, err, tc.step)
		}
	}
}

// Emulate serves until its context ends: Started sees it listening with
// TLS and its CA certificate written, and a CA file that cannot be written
// stops it at that step.
func TestEmulate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	var seen EmulatorInfo
	err := Emulate(ctx, EmulateOptions{Config: amazontest.Config{Seed: 2, OrdersPerSeller: 1, Sellers: 1, TimeScale: 1}, Addr: "127.0.0.1:0", TLS: true, CAFile: ca,
		Started: func(info EmulatorInfo) error {
			seen = info
			cancel()
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(ca); err != nil || !bytes.Contains(b, []byte("BEGIN CERTIFICATE")) || seen.CAFile != ca || !strings.HasPrefix(seen.URL, "https://") {
		t.Fatalf("info %+v, CA file: %v", seen, err)
	}
	err = Emulate(context.Background(), EmulateOptions{Config: amazontest.Config{Seed: 2, OrdersPerSeller: 1, Sellers: 1, TimeScale: 1}, Addr: "127.0.0.1:0",
		TLS: true, CAFile: filepath.Join(t.TempDir(), "no", "such", "dir", "ca.pem")})
	var se *StartError
	if !errors.As(err, &se) || se.Step != StepCAFile {
		t.Fatalf("an unwritable CA file: %v", err)
	}
}
