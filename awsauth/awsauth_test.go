package awsauth_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/spgate/spgate/awsauth"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/provision"
	"github.com/spgate/spgate/secret"
)

var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.RunMain(m, &moto)) }

// chain sets up the guide's IAM chain in moto and returns the user's keys
// and the role ARN.
func chain(t *testing.T, prefix string) (awsauth.UserKeys, string, *mototest.Server) {
	srv := mototest.Need(t, moto)
	cfg := srv.AdminConfig()
	r, err := provision.Setup(context.Background(), provision.Options{Config: &cfg,
		UserName: prefix + "User", RoleName: prefix + "Role", PolicyName: prefix + "Policy"})
	if err != nil {
		t.Fatal(err)
	}
	return awsauth.UserKeys{AccessKeyID: r.NewAccessKey.AccessKeyID, SecretAccessKey: r.NewAccessKey.SecretAccessKey}, r.RoleARN, srv
}

func TestAssumeRoleAndSignedCallAcceptedByMoto(t *testing.T) {
	keys, role, srv := chain(t, "Sig")
	ctx := context.Background()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	opts := awsauth.AssumeRoleOptions{STSOptions: awsauth.STSOptions{Endpoint: srv.Endpoint}, RoleARN: role, User: keys}
	id, err := awsauth.CanAssume(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id.ARN, "arn:aws:sts::"+mototest.AccountID+":assumed-role/SigRole/spgate") {
		t.Errorf("assumed identity = %s", id.ARN)
	}

	// A request signed by our round-tripper with the session's credentials
	// (key, secret, session token) must pass moto's signature check.
	prov, err := awsauth.NewAssumeRoleProvider(opts)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(p aws.CredentialsProvider) (int, string) {
		hc := &http.Client{Transport: awsauth.NewSigner(nil, p, awsauth.SignerOptions{Service: "sts", Region: "us-east-1", Logger: logger})}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.Endpoint+"/", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := sign(prov)
	if status != 200 || !strings.Contains(body, "assumed-role/SigRole/spgate") {
		t.Fatalf("signed GetCallerIdentity: %d %s", status, body)
	}

	// The same request signed with a wrong secret is rejected: moto really
	// checks the signature.
	bad := credentials.NewStaticCredentialsProvider(keys.AccessKeyID, "0000000000000000000000000000000000000000", "")
	if status, body := sign(bad); status != 403 || !strings.Contains(body, "SignatureDoesNotMatch") {
		t.Fatalf("wrongly signed request: %d %s", status, body)
	}
	if strings.Contains(logs.String(), keys.SecretAccessKey.Reveal()) {
		t.Error("secret key in logs")
	}
}

func TestAssumeRoleDeniedWithoutInlinePolicy(t *testing.T) {
	keys, role, srv := chain(t, "Deny")
	ctx := context.Background()
	admin := iam.NewFromConfig(srv.AdminConfig())
	if _, err := admin.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("DenyUser"), PolicyName: aws.String(provision.DefaultInlinePolicyName)}); err != nil {
		t.Fatal(err)
	}
	_, err := awsauth.CanAssume(ctx, awsauth.AssumeRoleOptions{STSOptions: awsauth.STSOptions{Endpoint: srv.Endpoint}, RoleARN: role, User: keys})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), "inline policy") {
		t.Fatalf("err = %v, want AccessDenied explained", err)
	}
	if strings.Contains(err.Error(), keys.SecretAccessKey.Reveal()) {
		t.Error("secret in error")
	}
}

func TestAssumeRoleDeniedWhenTrustExcludesUser(t *testing.T) {
	keys, role, srv := chain(t, "Trust")
	ctx := context.Background()
	admin := iam.NewFromConfig(srv.AdminConfig())
	other := "arn:aws:iam::" + mototest.AccountID + ":user/" + srv.AdminUser
	if _, err := admin.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("TrustRole"), PolicyDocument: aws.String(provision.TrustPolicy(other))}); err != nil {
		t.Fatal(err)
	}
	if _, err := awsauth.CanAssume(ctx, awsauth.AssumeRoleOptions{STSOptions: awsauth.STSOptions{Endpoint: srv.Endpoint}, RoleARN: role, User: keys}); err == nil {
		t.Fatal("moto let a user assume a role whose trust policy names someone else")
	}
}

func TestCallerIdentityRejectsWrongSecret(t *testing.T) {
	keys, _, srv := chain(t, "Who")
	ctx := context.Background()
	id, err := awsauth.CallerIdentity(ctx, keys.Provider(), awsauth.STSOptions{Endpoint: srv.Endpoint})
	if err != nil || id.ARN != "arn:aws:iam::"+mototest.AccountID+":user/WhoUser" {
		t.Fatalf("identity = %+v, %v", id, err)
	}
	wrong := awsauth.UserKeys{AccessKeyID: keys.AccessKeyID, SecretAccessKey: secret.New("wrongwrongwrongwrongwrongwrongwrongwrong")}
	_, err = awsauth.CallerIdentity(ctx, wrong.Provider(), awsauth.STSOptions{Endpoint: srv.Endpoint})
	if err == nil || !strings.Contains(err.Error(), "rejected the access key") || strings.Contains(err.Error(), "wrongwrong") {
		t.Fatalf("err = %v", err)
	}
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=ASIATEST/(\d{8})/([a-z0-9-]+)/execute-api/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$`)

type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func (s *seen) record(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	s.body = append(s.body, string(b))
}

var sessionCreds = credentials.NewStaticCredentialsProvider("ASIATEST", "testsecretvalue0000000000000000000000000", "SESSIONTOKEN")

func TestSignerShape(t *testing.T) {
	var got seen
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.record(r)
		w.WriteHeader(204)
	}))
	defer ts.Close()
	start := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	fc := clock.NewFake(start)
	for _, tc := range []struct{ host, region string }{
		{"sellingpartnerapi-na.amazon.com", "us-east-1"},
		{"sellingpartnerapi-eu.amazon.com", "eu-west-1"},
		{"sandbox.sellingpartnerapi-fe.amazon.com", "us-west-2"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			hc := &http.Client{Transport: awsauth.NewSigner(nil, sessionCreds, awsauth.SignerOptions{Clock: fc})}
			payload := `{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders"}]}`
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/tokens/2021-03-01/restrictedDataToken", strings.NewReader(payload))
			req.Host = tc.host
			req.Header.Set("x-amz-access-token", "Atza|token")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			r, body := got.reqs[len(got.reqs)-1], got.body[len(got.body)-1]
			m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
			if m == nil {
				t.Fatalf("Authorization = %q", r.Header.Get("Authorization"))
			}
			if m[1] != "20260304" || m[2] != tc.region {
				t.Errorf("scope date/region = %s/%s, want 20260304/%s", m[1], m[2], tc.region)
			}
			for _, h := range []string{"host", "x-amz-access-token", "x-amz-date", "x-amz-security-token"} {
				if !strings.Contains(";"+m[3]+";", ";"+h+";") {
					t.Errorf("SignedHeaders %s lacks %s", m[3], h)
				}
			}
			if r.Header.Get("X-Amz-Date") != "20260304T050607Z" || r.Header.Get("X-Amz-Security-Token") != "SESSIONTOKEN" {
				t.Errorf("x-amz-date %q, token %q", r.Header.Get("X-Amz-Date"), r.Header.Get("X-Amz-Security-Token"))
			}
			if body != payload {
				t.Errorf("body reached the server as %q", body)
			}
			if req.Header.Get("Authorization") != "" {
				t.Error("the caller's request was modified")
			}
		})
	}
}

func TestSignerUnknownHostNeedsRegion(t *testing.T) {
	s := awsauth.NewSigner(http.DefaultTransport, sessionCreds, awsauth.SignerOptions{})
	req, _ := http.NewRequest(http.MethodGet, "http://example.invalid/x", nil)
	if _, err := s.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("err = %v", err)
	}
}

// skewServer plays AWS: it refuses signatures more than 5 minutes from its
// own time, as execute-api does, and sends its time in Date.
func skewServer(t *testing.T, serverNow func() time.Time, got *seen) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.record(r)
		now := serverNow()
		w.Header().Set("Date", now.Format(http.TimeFormat))
		at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil {
			w.WriteHeader(400)
			return
		}
		if d := now.Sub(at); d > 5*time.Minute || d < -5*time.Minute {
			w.WriteHeader(403)
			fmt.Fprintf(w, `{"errors":[{"code":"InvalidSignatureException","message":"Signature expired: %s is now earlier than %s (%s - 5 min.)"}]}`,
				r.Header.Get("X-Amz-Date"), now.Format("20060102T150405Z"), now.Format("20060102T150405Z"))
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestSignerCorrectsClockSkew(t *testing.T) {
	local := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	fc := clock.NewFake(local)
	skew := 17 * time.Minute // the local clock is 17 minutes behind
	var got seen
	ts := skewServer(t, func() time.Time { return fc.Now().Add(skew) }, &got)
	var logs bytes.Buffer
	signer := awsauth.NewSigner(nil, sessionCreds, awsauth.SignerOptions{Region: "us-east-1", Clock: fc,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	hc := &http.Client{Transport: signer}
	do := func() int {
		req, _ := http.NewRequest(http.MethodPut, ts.URL+"/x", strings.NewReader("payload"))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := do(); s != 200 {
		t.Fatalf("first call: %d, want 200 after the skew retry", s)
	}
	if n := len(got.reqs); n != 2 {
		t.Fatalf("server saw %d requests, want 2 (refused, then re-signed)", n)
	}
	if got.body[1] != "payload" {
		t.Errorf("retried body = %q", got.body[1])
	}
	if off := signer.ClockOffset(); off != skew {
		t.Errorf("offset = %v, want %v", off, skew)
	}
	fc.Advance(time.Hour)
	if s := do(); s != 200 || len(got.reqs) != 3 {
		t.Fatalf("second call: %d after %d requests; the correction should be used at once", s, len(got.reqs))
	}
	if !strings.Contains(logs.String(), "clock skew") || strings.Contains(logs.String(), "testsecretvalue") {
		t.Errorf("log = %s", logs.String())
	}
}

func TestSignerLearnsSkewFromDateHeader(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC))
	var got seen
	// The server accepts anything within 5 minutes; a 10-minute-off Date on
	// a success is still learned, a 2-second one is noise.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.record(r)
		w.Header().Set("Date", fc.Now().Add(-10*time.Minute).Format(http.TimeFormat))
	}))
	defer ts.Close()
	signer := awsauth.NewSigner(nil, sessionCreds, awsauth.SignerOptions{Region: "eu-west-1", Clock: fc})
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	resp, err := (&http.Client{Transport: signer}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if off := signer.ClockOffset(); off != -10*time.Minute {
		t.Errorf("offset = %v, want -10m", off)
	}
	if len(got.reqs) != 1 {
		t.Errorf("a successful call was retried")
	}
}

func TestRegionForHost(t *testing.T) {
	for host, want := range map[string]string{
		"sellingpartnerapi-na.amazon.com":         "us-east-1",
		"SellingPartnerAPI-EU.amazon.com:443":     "eu-west-1",
		"sandbox.sellingpartnerapi-fe.amazon.com": "us-west-2",
		"sellingpartnerapi-xx.amazon.com":         "",
		"api.amazon.com":                          "",
	} {
		got, ok := awsauth.RegionForHost(host)
		if got != want || ok != (want != "") {
			t.Errorf("RegionForHost(%q) = %q, %v", host, got, ok)
		}
	}
}
