package spapi

import "testing"

func TestParseEndpoints(t *testing.T) {
	tests := []struct {
		in         string
		na, eu, fe string
		token      string
		wantErr    bool
	}{
		{in: "http://127.0.0.1:1", na: "http://127.0.0.1:1", eu: "http://127.0.0.1:1", fe: "http://127.0.0.1:1", token: "http://127.0.0.1:1/auth/o2/token"},
		{in: "na=http://a:1,eu=http://b:2", na: "http://a:1", eu: "http://b:2", fe: "http://a:1", token: "http://a:1/auth/o2/token"},
		{in: "http://c:3,eu=http://b:2", na: "http://c:3", eu: "http://b:2", fe: "http://c:3", token: "http://c:3/auth/o2/token"},
		{in: "fe=http://f:6, eu=http://b:2", na: "http://b:2", eu: "http://b:2", fe: "http://f:6", token: "http://b:2/auth/o2/token"},
		{in: "xx=http://a:1", wantErr: true},
		{in: "ftp://a", wantErr: true},
		{in: " , ", wantErr: true},
		{in: "http://a:1/prefix", wantErr: true},
	}
	for _, tc := range tests {
		ep, err := ParseEndpoints(tc.in)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%q: err %v", tc.in, err)
		}
		if err != nil {
			continue
		}
		for r, want := range map[Region]string{NA: tc.na, EU: tc.eu, FE: tc.fe} {
			if got := ep.SPAPI(r).String(); got != want {
				t.Errorf("%q: %s %s, want %s", tc.in, r, got, want)
			}
		}
		if ep.TokenURL != tc.token {
			t.Errorf("%q: token URL %s, want %s", tc.in, ep.TokenURL, tc.token)
		}
	}
}
