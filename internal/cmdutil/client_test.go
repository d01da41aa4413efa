package cmdutil

import (
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in      string
		na, eu  string
		wantErr bool
	}{
		{in: "http://127.0.0.1:1", na: "http://127.0.0.1:1", eu: "http://127.0.0.1:1"},
		{in: "na=http://a:1,eu=http://b:2", na: "http://a:1", eu: "http://b:2"},
		{in: "http://c:3,eu=http://b:2", na: "http://c:3", eu: "http://b:2"},
		{in: "xx=http://a:1", wantErr: true},
		{in: "ftp://a", wantErr: true},
	}
	for _, tc := range tests {
		ep, err := ParseEndpoint(tc.in)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%q: err %v", tc.in, err)
		}
		if err != nil {
			continue
		}
		if got := ep.SPAPI("na").String(); got != tc.na {
			t.Errorf("%q: na %s want %s", tc.in, got, tc.na)
		}
		if got := ep.SPAPI("eu").String(); got != tc.eu {
			t.Errorf("%q: eu %s want %s", tc.in, got, tc.eu)
		}
	}
}

func TestConsentHosts(t *testing.T) {
	t.Setenv(EnvConsentURL, "")
	for region, want := range map[string]string{"na": "https://sellercentral.amazon.com/", "eu": "https://sellercentral-europe.amazon.com/", "fe": "https://sellercentral.amazon.co.jp/"} {
		if got := ConsentPage(region); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "/apps/authorize/consent") {
			t.Errorf("%s: %s", region, got)
		}
	}
	t.Setenv(EnvConsentURL, "http://127.0.0.1:9/apps/authorize/consent")
	if ConsentPage("eu") != "http://127.0.0.1:9/apps/authorize/consent" {
		t.Error("override ignored")
	}
}
