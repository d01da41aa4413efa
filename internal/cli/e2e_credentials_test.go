package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/rotation"
)

// waitFor polls cond until it holds; testenv.Patience only bounds a broken
// run, it never measures speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(testenv.Patience); time.Now().Before(end); time.Sleep(25 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: still not so after %v", what, testenv.Patience)
}

// TestServeFollowsTheVault: what another process changes in the vault — a
// seller's new refresh token, a revoked key — reaches a running gateway
// without restart, even with a long key cache.
func TestServeFollowsTheVault(t *testing.T) {
	f := newServeFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	base, _ := e2eServe(t, ctx, &stderr, "--audit-log", f.audit, "--key-cache", "10m", "--ready-interval", "1h")
	path := "/sellers/v1/marketplaceParticipations"
	if code, _, body := gatewayCall(t, base, path, f.metaKey, f.na.ID); code != http.StatusOK {
		t.Fatalf("first call: %d %.300s", code, body)
	}

	t.Run("a re-authorized seller is served with the new refresh token", func(t *testing.T) {
		// The seller revokes the app and authorizes it again; the operator
		// stores the new refresh token from another process.
		if !f.srv.Revoke(f.na.ID, f.demo.AppID) {
			t.Fatal("revoke failed")
		}
		fresh, err := f.srv.Authorize(f.na.ID, f.demo.AppID)
		if err != nil {
			t.Fatal(err)
		}
		e2eMust(t, ExitOK, fresh, "seller", "add", f.na.ID, "--app", "main", "--region", string(f.na.Region),
			"--marketplace", strings.Join(f.na.Marketplaces, ","), "--refresh-token-file", "-")
		before := f.srv.Counters().LWAErrors["invalid_grant"]
		// The gateway notices the vault changed: the seller's state starts
		// afresh with the new token.
		waitFor(t, "the gateway taking the new refresh token", func() bool {
			_, _, m := gatewayCall(t, base, "/metrics", f.metaKey, "")
			return strings.Contains(m, `spgate_seller_credential_state{seller="`+f.na.ID+`",state="unknown"} 1`)
		})
		if code, _, body := gatewayCall(t, base, path, f.metaKey, f.na.ID); code != http.StatusOK {
			t.Fatalf("the re-authorized seller: %d %.300s", code, body)
		}
		// The old refresh token is dead at Amazon: had the gateway used it,
		// LWA would have answered invalid_grant.
		if n := f.srv.Counters().LWAErrors["invalid_grant"] - before; n != 0 {
			t.Errorf("LWA refused the old refresh token %d times", n)
		}
		for range 5 {
			if code, _, body := gatewayCall(t, base, path, f.metaKey, f.na.ID); code != http.StatusOK {
				t.Fatalf("after re-authorization: %d %.300s", code, body)
			}
		}
	})

	t.Run("a revoked key is refused despite the key cache", func(t *testing.T) {
		e2eMust(t, ExitOK, "", "client", "revoke", "plain")
		waitFor(t, "the revoked key refused", func() bool {
			code, _, _ := gatewayCall(t, base, path, f.plainKey, f.na.ID)
			return code == http.StatusUnauthorized
		})
	})
}

// TestServeRevokedSeller: a seller whose authorization Amazon refuses gets
// 401 seller_authorization_revoked with the fix; LWA is asked once per
// backoff window however many calls arrive; readiness degrades.
func TestServeRevokedSeller(t *testing.T) {
	f := newServeFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	// The seller revoked the app before the gateway started: the gateway
	// holds no token for it, only the refresh token Amazon now refuses.
	if !f.srv.Revoke(f.eu.ID, f.demo.AppID) {
		t.Fatal("revoke failed")
	}
	before := f.srv.Counters().LWAErrors["invalid_grant"]
	base, _ := e2eServe(t, ctx, &stderr, "--audit-log", f.audit, "--ready-interval", "50ms")
	path := "/sellers/v1/marketplaceParticipations"
	if code, _, body := gatewayCall(t, base, path, f.metaKey, f.na.ID); code != http.StatusOK {
		t.Fatalf("first call: %d %.300s", code, body)
	}
	var wg sync.WaitGroup
	codes := make(chan string, 60)
	for range 60 {
		wg.Go(func() {
			code, _, body := gatewayCall(t, base, path, f.metaKey, f.eu.ID)
			if code != http.StatusUnauthorized || !strings.Contains(body, `"seller_authorization_revoked"`) || !strings.Contains(body, "spgate seller authorize") {
				codes <- body
			}
		})
	}
	wg.Wait()
	close(codes)
	for body := range codes {
		t.Errorf("a call for the revoked seller: %.300s", body)
	}
	// Readiness runs every 50 ms too; it shares the state, so it adds no
	// request within the backoff window.
	if n := f.srv.Counters().LWAErrors["invalid_grant"] - before; n != 1 {
		t.Errorf("LWA was asked %d times about the revoked seller, want once per backoff window", n)
	}
	waitFor(t, "readiness reporting the revoked seller", func() bool {
		_, _, body := gatewayCall(t, base, "/readyz", "", "")
		return strings.Contains(body, `"degraded":true`)
	})
	_, _, body := gatewayCall(t, base, "/readyz", f.metaKey, "")
	if !strings.Contains(body, `"ready":true`) || !strings.Contains(body, "token:"+f.eu.ID) {
		t.Errorf("readiness with one seller of two revoked: %s", e2eMask(body))
	}
	_, _, metrics := gatewayCall(t, base, "/metrics", f.metaKey, "")
	if !strings.Contains(metrics, `spgate_seller_credential_state{seller="`+f.eu.ID+`",state="authorization_revoked"} 1`) {
		t.Errorf("/metrics does not show the revoked seller:\n%s", grepLines(metrics, "credential_state"))
	}
	// The other seller is still served.
	if code, _, body := gatewayCall(t, base, path, f.metaKey, f.na.ID); code != http.StatusOK {
		t.Errorf("the other seller: %d %.300s", code, body)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestServeUsesASecretRotatedElsewhere: the client secret is rotated at
// Amazon by another system and stored by another process (`spgate app
// set-secret`); the old secret dies at once. A running gateway needs no
// restart: its next token request uses the vault's new secret.
func TestServeUsesASecretRotatedElsewhere(t *testing.T) {
	dir := e2eHome(t)
	srv := amazontest.NewServer(amazontest.WithSeed(11), amazontest.WithOrdersPerSeller(5), amazontest.WithoutRateLimits(),
		amazontest.WithPreviousSecretWindow(time.Nanosecond))
	t.Cleanup(srv.Close)
	t.Setenv(EnvEndpoint, e2eEndpoint(srv))
	d := srv.Demo()
	s := d.Sellers[0]
	e2eMust(t, ExitOK, "", "app", "add", "main", "--app-id", d.AppID, "--client-id", d.ClientID,
		"--client-secret-file", e2eWriteFile(t, dir, "client-secret", d.ClientSecret+"\n"), "--role", amazontest.RoleShipping)
	e2eMust(t, ExitOK, s.RefreshToken, "seller", "add", s.ID, "--app", "main", "--region", string(s.Region),
		"--marketplace", strings.Join(s.Marketplaces, ","), "--refresh-token-file", "-")
	out, _ := e2eMust(t, ExitOK, "", "client", "add", "meta", "--seller", "*", "--operation", "getMarketplaceParticipations")
	key := strings.TrimSpace(out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	base, _ := e2eServe(t, ctx, &stderr, "--audit-log", filepath.Join(dir, "audit.jsonl"), "--ready-interval", "1h")
	path := "/sellers/v1/marketplaceParticipations"
	if code, _, body := gatewayCall(t, base, path, key, s.ID); code != http.StatusOK {
		t.Fatalf("first call: %d %.300s", code, body)
	}

	// Another system rotates the secret at Amazon.
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"sellingpartnerapi::client_credential:rotation"},
		"client_id": {d.ClientID}, "client_secret": {d.ClientSecret}}
	resp, err := http.PostForm(srv.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("grantless token: %v", err)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.RegionURL(amazontest.RegionNA)+"/applications/2023-11-30/clientSecret", nil)
	req.Header.Set("x-amz-access-token", tok.AccessToken)
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("rotate at Amazon: %v %v", resp, err)
	}
	resp.Body.Close()
	n, err := rotation.ParseNotification(string(<-srv.Notifications()))
	if err != nil {
		t.Fatal(err)
	}
	// …and another process stores the new secret.
	e2eMust(t, ExitOK, "", "app", "set-secret", "main", "--client-secret-file", e2eWriteFile(t, dir, "new-secret", n.NewSecret.Reveal()+"\n"))
	// Amazon forgets the gateway's access token: the next call needs a new
	// one, which only the new secret can get.
	srv.ForgetAccessTokens()
	if code, _, body := gatewayCall(t, base, path, key, s.ID); code != http.StatusOK {
		t.Fatalf("after the rotation elsewhere: %d %.300s", code, body)
	}
	if n := srv.Counters().LWAErrors["invalid_client"]; n != 0 {
		t.Errorf("LWA refused a client secret %d times: the gateway tried the dead one", n)
	}
}

// TestServeShortLivedRDT: Amazon may issue Restricted Data Tokens that live
// a minute; the gateway uses them instead of sending an empty token.
func TestServeShortLivedRDT(t *testing.T) {
	f := newServeFixture(t, amazontest.WithTokenLifetime(60*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testenv.Buffer
	base, _ := e2eServe(t, ctx, &stderr, "--audit-log", f.audit)
	created := time.Now().Add(-90 * 24 * time.Hour).UTC().Format(time.RFC3339)
	code, _, body := gatewayCall(t, base, "/orders/v0/orders?MarketplaceIds="+f.na.Marketplaces[0]+"&CreatedAfter="+created, f.orderKey, f.na.ID)
	ids := orderIDs(body)
	if code != http.StatusOK || len(ids) < 2 {
		t.Fatalf("getOrders: %d %.300s", code, body)
	}
	for _, id := range ids[:2] {
		code, _, body := gatewayCall(t, base, "/orders/v0/orders/"+id+"/address", f.orderKey, f.na.ID)
		if code != http.StatusOK || !strings.Contains(body, `"AddressLine1"`) {
			t.Errorf("getOrderAddress with a 60 s RDT: %d %.300s", code, body)
		}
	}
}
