package amazontest

import (
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestTLSServerAndClient(t *testing.T) {
	srv := NewServer(WithTLS())
	t.Cleanup(srv.Close)
	d := srv.Demo()
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatalf("URL = %s, want https", srv.URL)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {d.RefreshToken},
		"client_id": {d.ClientID}, "client_secret": {d.ClientSecret}}
	resp, err := srv.Client().PostForm("https://api.amazon.com/auth/o2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token over TLS: %s", resp.Status)
	}
	// A client that does not trust the emulator's CA is refused: the
	// certificate is real TLS, not a plain listener behind an https URL.
	_, err = http.Get(srv.URL + "/auth/o2/token")
	var ua x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &ua) && !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusting client: err = %v, want a certificate error", err)
	}
	if len(srv.CACertPEM()) == 0 {
		t.Error("no CA certificate")
	}
}
