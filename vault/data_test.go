package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/secret"
)

func TestApps(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	f.seed(t)

	t.Run("get decrypts, by name, app id or client id", func(t *testing.T) {
		for _, ref := range []string{"main", appID1, clientID1} {
			a, err := f.v.GetApp(ctx, ref)
			must(t, err)
			cur, ok := a.CurrentSecret()
			if !ok || cur.Value.Reveal() != secret1 || cur.Version != 1 {
				t.Fatalf("%s: current secret %+v", ref, cur)
			}
			if !cur.CreatedAt.Equal(t0) || !cur.ExpiresAt.Equal(t0.Add(MaxClientSecretLifetime)) {
				t.Errorf("dates %v %v", cur.CreatedAt, cur.ExpiresAt)
			}
			if !a.HasAWSSecretKey() || a.AWSSecretKey.Value.Reveal() != awsSecret {
				t.Error("AWS secret key not decrypted")
			}
			if a.Region != RegionEU || len(a.Roles) != 1 {
				t.Errorf("fields %+v", a)
			}
		}
	})
	t.Run("list decrypts nothing", func(t *testing.T) {
		apps, err := f.v.ListApps(ctx)
		must(t, err)
		if len(apps) != 2 || apps[0].Name != "main" || apps[1].Name != "second" {
			t.Fatalf("list %+v", apps)
		}
		for _, a := range apps {
			for _, s := range a.ClientSecrets {
				if !s.Value.IsZero() || s.ExpiresAt.IsZero() {
					t.Errorf("%s: list secret %+v", a.Name, s)
				}
			}
			if !a.AWSSecretKey.Value.IsZero() {
				t.Error("list decrypted the AWS key")
			}
		}
		if !apps[0].HasAWSSecretKey() || apps[1].HasAWSSecretKey() {
			t.Error("AWS key presence not reported")
		}
	})
	t.Run("duplicates", func(t *testing.T) {
		for _, a := range []App{
			sampleApp("main", appID2, clientID2, secret3),
			sampleApp("third", appID1, "amzn1.application-oa2-client."+strings.Repeat("ef", 16), secret3),
			sampleApp("third", "amzn1.sp.solution.00000000-0000-0000-0000-000000000000", clientID1, secret3),
		} {
			if err := f.v.AddApp(ctx, a); !errors.Is(err, ErrExists) {
				t.Errorf("got %v, want ErrExists", err)
			}
		}
	})
	t.Run("invalid", func(t *testing.T) {
		bad := sampleApp("main 2", "amzn1.sp.solution.x", "client", "amzn1.oa2-cs.v1.short")
		err := f.v.AddApp(ctx, bad)
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("got %v", err)
		}
		for _, want := range []string{"app name", "app id", "client id"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q lacks %q", err, want)
			}
		}
		bad = sampleApp("ok", "amzn1.sp.solution.11111111-0000-0000-0000-000000000000", "amzn1.application-oa2-client."+strings.Repeat("01", 16), "amzn1.oa2-cs.v1."+strings.Repeat("9", 63))
		err = f.v.AddApp(ctx, bad)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "client secret") {
			t.Errorf("bad secret: %v", err)
		}
		assertNoSecrets(t, err.Error())
		if strings.Contains(err.Error(), strings.Repeat("9", 63)) {
			t.Error("error echoes the secret")
		}
		bad = sampleApp("ok", "amzn1.sp.solution.11111111-0000-0000-0000-000000000000", "amzn1.application-oa2-client."+strings.Repeat("01", 16), secret3)
		bad.ClientSecrets[0].ExpiresAt = t0.Add(200 * 24 * time.Hour)
		if err := f.v.AddApp(ctx, bad); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "180 days") {
			t.Errorf("expiry beyond 180 days: %v", err)
		}
	})
	t.Run("update", func(t *testing.T) {
		must(t, f.v.UpdateApp(ctx, "second", func(a *App) error {
			a.Name = "backup"
			a.Draft = true
			a.Signing = true
			a.RoleARN = "arn:aws:iam::123456789012:role/SellingPartnerAPIRole"
			a.SQSQueueURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/spgate-rotation"
			a.RedirectURI = "https://example.com/callback"
			a.Roles = append(a.Roles, "Tax Invoicing", "Tax Invoicing")
			return nil
		}))
		a, err := f.v.GetApp(ctx, appID2)
		must(t, err)
		if a.Name != "backup" || !a.Draft || !a.Signing || len(a.Roles) != 2 || a.RoleARN == "" {
			t.Errorf("after update %+v", a)
		}
		if cur, _ := a.CurrentSecret(); cur.Value.Reveal() != secret2 {
			t.Error("rename lost the secret")
		}
		if err := f.v.UpdateApp(ctx, "backup", func(a *App) error { a.AppID = appID1; return nil }); !errors.Is(err, ErrInvalid) {
			t.Errorf("app id change: %v", err)
		}
		if err := f.v.UpdateApp(ctx, "backup", func(a *App) error { a.Name = "main"; return nil }); !errors.Is(err, ErrExists) {
			t.Errorf("name clash: %v", err)
		}
		if err := f.v.UpdateApp(ctx, "backup", func(a *App) error { a.Region = "us"; return nil }); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad region: %v", err)
		}
		fnErr := errors.New("stop")
		if err := f.v.UpdateApp(ctx, "backup", func(a *App) error { a.Draft = false; return fnErr }); !errors.Is(err, fnErr) {
			t.Errorf("fn error: %v", err)
		}
		if a, _ := f.v.GetApp(ctx, "backup"); !a.Draft {
			t.Error("a failed update was saved")
		}
		if _, err := f.v.GetApp(ctx, "second"); !errors.Is(err, ErrNotFound) {
			t.Errorf("old name: %v", err)
		}
	})
	t.Run("remove cascades to refresh tokens", func(t *testing.T) {
		must(t, f.v.RemoveApp(ctx, "main"))
		if _, err := f.v.GetApp(ctx, "main"); !errors.Is(err, ErrNotFound) {
			t.Errorf("get after remove: %v", err)
		}
		s, err := f.v.GetSeller(ctx, seller1)
		must(t, err)
		if len(s.Authorizations) != 0 {
			t.Errorf("authorizations left: %+v", s.Authorizations)
		}
		if _, err := f.v.RefreshToken(ctx, seller1, appID1); !errors.Is(err, ErrNotFound) {
			t.Errorf("token after app removal: %v", err)
		}
		must(t, f.v.Verify(ctx))
		if err := f.v.RemoveApp(ctx, "main"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second remove: %v", err)
		}
	})
}

func TestClientSecretRotation(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	f.seed(t)

	f.clk.Advance(170 * 24 * time.Hour)
	a, err := f.v.GetApp(ctx, "main")
	must(t, err)
	cur, _ := a.CurrentSecret()
	if d := cur.DaysLeft(f.clk.Now()); d != 10 {
		t.Errorf("DaysLeft = %d, want 10", d)
	}

	// Rotation as Amazon's notification reports it.
	newExp := f.clk.Now().Add(180 * 24 * time.Hour)
	oldExp := f.clk.Now().Add(7 * 24 * time.Hour)
	ctxR := WithActor(ctx, "rotation")
	s, err := f.v.SetClientSecret(ctxR, "main", secret.New(secret3), SecretChange{ExpiresAt: newExp, PreviousExpiresAt: oldExp})
	must(t, err)
	if s.Version != 2 || !s.ExpiresAt.Equal(newExp) || !s.Value.IsZero() {
		t.Errorf("new secret %+v", s)
	}
	a, err = f.v.GetApp(ctx, "main")
	must(t, err)
	cur, _ = a.CurrentSecret()
	prev, ok := a.PreviousSecret()
	if cur.Value.Reveal() != secret3 || !ok || prev.Value.Reveal() != secret1 || !prev.ExpiresAt.Equal(oldExp) {
		t.Fatalf("after rotation: %+v", a.ClientSecrets)
	}
	if d := prev.DaysLeft(f.clk.Now()); d != 7 {
		t.Errorf("previous DaysLeft %d", d)
	}
	c, err := f.v.LWACredentials(ctx, clientID1)
	must(t, err)
	if c.ClientSecret.Reveal() != secret3 || c.Version != 2 || c.ClientID != clientID1 {
		t.Errorf("LWA credentials %+v", c)
	}

	must(t, f.v.MarkClientSecretVerified(ctxR, "main", 0))
	a, _ = f.v.GetApp(ctx, "main")
	if cur, _ := a.CurrentSecret(); !cur.VerifiedAt.Equal(f.clk.Now()) {
		t.Errorf("VerifiedAt %v", cur.VerifiedAt)
	}

	f.clk.Advance(8 * 24 * time.Hour)
	if prev, _ := a.PreviousSecret(); !prev.Expired(f.clk.Now()) {
		t.Error("previous should have expired")
	}
	must(t, f.v.RemoveClientSecret(ctx, "main", 1))
	if err := f.v.RemoveClientSecret(ctx, "main", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("second remove %v", err)
	}

	// A manual set without PreviousExpiresAt drops the old current one.
	_, err = f.v.SetClientSecret(ctx, "main", secret.New(secret2), SecretChange{Verified: true})
	must(t, err)
	a, _ = f.v.GetApp(ctx, "main")
	if len(a.ClientSecrets) != 1 || a.ClientSecrets[0].Version != 3 || a.ClientSecrets[0].VerifiedAt.IsZero() {
		t.Errorf("after manual set %+v", a.ClientSecrets)
	}

	// An expiry beyond Amazon's 180-day limit is refused.
	if _, err := f.v.SetClientSecret(ctx, "main", secret.New(secret1), SecretChange{ExpiresAt: f.clk.Now().Add(365 * 24 * time.Hour)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("1-year expiry: %v", err)
	}
	if _, err := f.v.SetClientSecret(ctx, "nope", secret.New(secret1), SecretChange{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown app: %v", err)
	}

	ev, err := f.v.AuditLog(ctx, AuditFilter{Subject: "app:main"})
	must(t, err)
	var got []string
	for _, e := range ev {
		got = append(got, e.Actor+" "+e.Field+" "+e.Action)
		assertNoSecrets(t, fmt.Sprintf("%+v", e))
	}
	want := []string{
		"spgate app added", "spgate client_secret added", "spgate aws_secret_key added",
		"rotation client_secret rotated", "rotation client_secret verified",
		"spgate client_secret removed", // v1 removed by hand
		"spgate client_secret removed", // v2 dropped by the manual set
		"spgate client_secret rotated",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	last, err := f.v.AuditLog(ctx, AuditFilter{Subject: "app:main", Limit: 1})
	must(t, err)
	if len(last) != 1 || last[0].Action != ActionRotated {
		t.Errorf("limit 1: %+v", last)
	}
}

func TestSecretDaysLeft(t *testing.T) {
	now := t0
	tests := []struct {
		exp  time.Time
		want int
	}{
		{now.Add(180 * 24 * time.Hour), 180},
		{now.Add(24*time.Hour + time.Minute), 1},
		{now.Add(23 * time.Hour), 0},
		{now.Add(-time.Hour), -1},
		{now.Add(-48 * time.Hour), -2},
	}
	for _, tt := range tests {
		if got := (Secret{ExpiresAt: tt.exp}).DaysLeft(now); got != tt.want {
			t.Errorf("DaysLeft(%v) = %d, want %d", tt.exp.Sub(now), got, tt.want)
		}
	}
	if (Secret{}).Expired(now) {
		t.Error("a secret without expiry expired")
	}
}

func TestSellers(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	f.seed(t)

	t.Run("validation", func(t *testing.T) {
		tests := []struct {
			s    Seller
			want string
		}{
			{Seller{ID: "a2vydbal8bmvqk", Region: RegionEU}, "selling partner id"},
			{Seller{ID: seller2, Region: "europe"}, "region"},
			{Seller{ID: seller2, Region: RegionNA, Marketplaces: []string{"A1PA6795UKMFR9"}}, "is in region eu, not na"},
			{Seller{ID: seller2, Region: RegionEU, Marketplaces: []string{"XYZ"}}, "unknown marketplace"},
		}
		for _, tt := range tests {
			err := f.v.AddSeller(ctx, tt.s)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%+v: got %v, want %q", tt.s, err, tt.want)
			}
		}
		if err := f.v.AddSeller(ctx, Seller{ID: seller1, Region: RegionEU}); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate: %v", err)
		}
		if err := f.v.AddSeller(ctx, Seller{ID: seller2, Name: "acme", Region: RegionEU}); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate name: %v", err)
		}
	})
	t.Run("tokens", func(t *testing.T) {
		must(t, f.v.AddSeller(ctx, Seller{ID: seller2, Region: RegionNA, Marketplaces: []string{"ATVPDKIKX0DER"},
			Authorizations: []Authorization{{AppName: "second", RefreshToken: Secret{Value: secret.New(token2)}, AuthorizedAt: t0.Add(-time.Hour)}}}))
		tok, err := f.v.RefreshToken(ctx, seller2, "second")
		must(t, err)
		if tok.Reveal() != token2 {
			t.Error("token2")
		}
		if _, err := f.v.RefreshToken(ctx, seller2, "main"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unauthorized app: %v", err)
		}
		if err := f.v.SetRefreshToken(ctx, seller1, "main", secret.New("Atza|access-token-not-refresh-"+strings.Repeat("z", 30)), time.Time{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "access token") {
			t.Errorf("access token accepted: %v", err)
		}
		// Replace the token: a new version, audited as rotated.
		must(t, f.v.SetRefreshToken(ctx, "acme", "main", secret.New(token2), time.Time{}))
		must(t, f.v.MarkRefreshTokenVerified(ctx, "acme", "main"))
		s, err := f.v.GetSeller(ctx, "acme")
		must(t, err)
		z, ok := s.Authorization("main")
		if !ok || z.RefreshToken.Value.Reveal() != token2 || z.RefreshToken.Version != 2 || z.RefreshToken.VerifiedAt.IsZero() {
			t.Errorf("authorization %+v", z)
		}
		list, err := f.v.ListSellers(ctx)
		must(t, err)
		if len(list) != 2 || list[0].ID != seller1 || len(list[0].Authorizations) != 1 || !list[0].Authorizations[0].RefreshToken.Value.IsZero() {
			t.Errorf("list %+v", list)
		}
		if list[1].Authorizations[0].AuthorizedAt != t0.Add(-time.Hour) {
			t.Errorf("authorized at %v", list[1].Authorizations[0].AuthorizedAt)
		}
	})
	t.Run("update and remove", func(t *testing.T) {
		must(t, f.v.UpdateSeller(ctx, seller1, func(s *Seller) error {
			s.Name = "acme-eu"
			s.Marketplaces = append(s.Marketplaces, "APJ6JRA9NG5V4")
			return nil
		}))
		s, err := f.v.GetSeller(ctx, "acme-eu")
		must(t, err)
		if len(s.Marketplaces) != 3 {
			t.Errorf("marketplaces %v", s.Marketplaces)
		}
		if err := f.v.UpdateSeller(ctx, seller1, func(s *Seller) error { s.Region = RegionFE; return nil }); !errors.Is(err, ErrInvalid) {
			t.Errorf("region change with EU marketplaces: %v", err)
		}
		must(t, f.v.RemoveRefreshToken(ctx, seller2, "second"))
		if err := f.v.RemoveRefreshToken(ctx, seller2, "second"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second removal: %v", err)
		}
		must(t, f.v.RemoveSeller(ctx, seller1))
		if _, err := f.v.GetCheckpoint(ctx, seller1, "orders"); !errors.Is(err, ErrNotFound) {
			t.Errorf("checkpoint survived seller removal: %v", err)
		}
		must(t, f.v.Verify(ctx))
	})
}

func TestClients(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	f.seed(t)
	key, err := f.v.CreateClient(ctx, Client{Name: "bc", Sellers: []string{seller1}, Operations: []string{"getOrders", "getOrder"}, PII: true})
	must(t, err)
	if !strings.HasPrefix(key.Reveal(), ClientKeyPrefix) || len(key.Reveal()) != len(ClientKeyPrefix)+43 {
		t.Fatalf("key format %d chars", len(key.Reveal()))
	}
	if _, err := f.v.CreateClient(ctx, Client{Name: "bc"}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate: %v", err)
	}
	c, err := f.v.AuthenticateClient(ctx, key)
	must(t, err)
	if c.Name != "bc" || !c.PII || !c.AllowsSeller(seller1) || c.AllowsSeller(seller2) || !c.AllowsOperation("getOrder") || c.AllowsOperation("getOrderAddress") {
		t.Errorf("client %+v", c)
	}
	for _, bad := range []string{"", "spg_nope", key.Reveal() + "x", strings.TrimPrefix(key.Reveal(), ClientKeyPrefix)} {
		_, err := f.v.AuthenticateClient(ctx, secret.New(bad))
		if !errors.Is(err, ErrNotFound) || (bad != "" && strings.Contains(err.Error(), bad)) {
			t.Errorf("bad key: %v", err)
		}
	}
	must(t, f.v.UpdateClientScopes(ctx, "bc", func(c *Client) error { c.Sellers = []string{"*"}; c.PII = false; return nil }))
	c, _ = f.v.GetClient(ctx, "bc")
	if !c.AllowsSeller(seller2) || c.PII {
		t.Errorf("after update %+v", c)
	}
	must(t, f.v.RevokeClient(ctx, "bc"))
	c, err = f.v.AuthenticateClient(ctx, key)
	if !errors.Is(err, ErrRevoked) || c.Name != "bc" {
		t.Errorf("revoked: %v", err)
	}
	newKey, err := f.v.RotateClientKey(ctx, "bc")
	must(t, err)
	if _, err := f.v.AuthenticateClient(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Errorf("old key after rotation: %v", err)
	}
	if _, err := f.v.AuthenticateClient(ctx, newKey); err != nil {
		t.Errorf("new key: %v", err)
	}
	list, err := f.v.ListClients(ctx)
	must(t, err)
	if len(list) != 1 {
		t.Errorf("list %+v", list)
	}
	must(t, f.v.RemoveClient(ctx, "bc"))
	if err := f.v.RemoveClient(ctx, "bc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove twice: %v", err)
	}
}

func TestCheckpointsAndState(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	f.seed(t)
	cp, err := f.v.GetCheckpoint(ctx, seller1, "orders")
	must(t, err)
	if string(cp.Value) != `{"after":"2026-01-01"}` || !cp.UpdatedAt.Equal(t0) {
		t.Errorf("checkpoint %+v", cp)
	}
	f.clk.Advance(time.Minute)
	must(t, f.v.SetCheckpoint(ctx, seller1, "orders", []byte(`{"after":"2026-01-02"}`)))
	cp, _ = f.v.GetCheckpoint(ctx, seller1, "orders")
	if string(cp.Value) != `{"after":"2026-01-02"}` || !cp.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("updated checkpoint %+v", cp)
	}
	if _, err := f.v.GetCheckpoint(ctx, seller2, "orders"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	must(t, f.v.DeleteCheckpoint(ctx, seller1, "orders"))
	if _, err := f.v.GetCheckpoint(ctx, seller1, "orders"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted: %v", err)
	}

	must(t, f.v.SetState(ctx, "rotation/main", []byte(`{"step":2}`)))
	must(t, f.v.SetState(ctx, "rotation/second", nil))
	must(t, f.v.SetState(ctx, "other", []byte("x")))
	b, err := f.v.State(ctx, "rotation/main")
	must(t, err)
	if string(b) != `{"step":2}` {
		t.Errorf("state %q", b)
	}
	keys, err := f.v.StateKeys(ctx, "rotation/")
	must(t, err)
	if strings.Join(keys, ",") != "rotation/main,rotation/second" {
		t.Errorf("keys %v", keys)
	}
	must(t, f.v.DeleteState(ctx, "rotation/main"))
	if _, err := f.v.State(ctx, "rotation/main"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted state: %v", err)
	}
}

func TestAccessLog(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	for i := range 5 {
		f.clk.Advance(24 * time.Hour)
		must(t, f.v.RecordAccess(ctx, AccessEvent{Client: "bc", Seller: seller1, Operation: "getOrderAddress", PII: i%2 == 0, Status: 200, RequestID: fmt.Sprint(i)}))
	}
	all, err := f.v.AccessLog(ctx, AccessFilter{})
	must(t, err)
	pii, err := f.v.AccessLog(ctx, AccessFilter{PIIOnly: true, Client: "bc"})
	must(t, err)
	if len(all) != 5 || len(pii) != 3 || all[0].RequestID != "0" {
		t.Fatalf("all %d pii %d", len(all), len(pii))
	}
	n, err := f.v.PruneAccessLog(ctx, t0.Add(3*24*time.Hour))
	must(t, err)
	if n != 2 {
		t.Errorf("pruned %d", n)
	}
	recent, _ := f.v.AccessLog(ctx, AccessFilter{Since: t0.Add(4 * 24 * time.Hour)})
	if len(recent) != 2 {
		t.Errorf("since: %d", len(recent))
	}
}

func TestValidators(t *testing.T) {
	tests := []struct {
		name  string
		fn    func(string) error
		ok    []string
		bad   []string
		hint  string
		quiet bool // must not echo the value
	}{
		{"app id", ValidateAppID, []string{appID1}, []string{"", "amzn1.sp.solution.", "amzn1.sp.solution.0A1B2C3D-1111-2222-3333-444455556666", appID1 + " "}, "amzn1.sp.solution.<uuid>", false},
		{"client id", ValidateClientID, []string{clientID1}, []string{"", clientID1[:len(clientID1)-1], appID1}, "amzn1.application-oa2-client.", false},
		{"client secret", ValidateClientSecret, []string{secret1}, []string{"", secret1[:60], secret1 + "\n", clientID1, strings.ToUpper(secret1)}, "amzn1.oa2-cs.v1. followed by 64", true},
		{"refresh token", ValidateRefreshToken, []string{token1}, []string{"", "Atzr|short", "Atza|" + token1[5:], " " + token1, token1[5:], "Atzr|" + strings.Repeat("q", 30) + " " + strings.Repeat("q", 10)}, "Atzr|", true},
		{"seller id", ValidateSellerID, []string{seller1, "A3ABCDEFGHIJK", "AAAAAAAAAAAAAAA"}, []string{"", "B2VYDBAL8BMVQK", "a2vydbal8bmvqk", "A12", "A2VYDBAL8BMVQK!"}, "A followed by 12–14", false},
		{"aws secret", ValidateAWSSecretKey, []string{awsSecret}, []string{"", awsSecret[:39], awsSecret + "=", strings.Repeat("é", 20)}, "40 characters", true},
		{"role arn", ValidateRoleARN, []string{"arn:aws:iam::123456789012:role/SP"}, []string{"arn:aws:iam::123:role/x", "arn:aws:iam::123456789012:user/x"}, "arn:aws:iam::", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range tt.ok {
				if err := tt.fn(s); err != nil {
					t.Errorf("%q rejected: %v", s, err)
				}
			}
			for _, s := range tt.bad {
				err := tt.fn(s)
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("%q accepted", s)
					continue
				}
				if !strings.Contains(err.Error(), tt.hint) {
					t.Errorf("%q: message %q lacks the format %q", s, err, tt.hint)
				}
				if tt.quiet && len(s) > 8 && strings.Contains(err.Error(), strings.TrimSpace(s)[4:]) {
					t.Errorf("message echoes the secret: %q", err)
				}
			}
		})
	}
}

func TestMarketplaces(t *testing.T) {
	for _, m := range Marketplaces() {
		r, err := RegionOfMarketplace(m.ID)
		if err != nil || r != m.Region {
			t.Errorf("%s: %v %v", m.ID, r, err)
		}
		must(t, ValidateMarketplace(m.Region, m.ID))
		for _, other := range Regions() {
			if other != m.Region && ValidateMarketplace(other, m.ID) == nil {
				t.Errorf("%s accepted in %s", m.ID, other)
			}
		}
	}
	if len(Marketplaces()) != 23 {
		t.Errorf("%d marketplaces, the reference lists 23", len(Marketplaces()))
	}
	if m, ok := LookupMarketplace("de"); !ok || m.ID != "A1PA6795UKMFR9" {
		t.Errorf("lookup DE: %+v", m)
	}
}

// TestSecretsNeverPrinted formats and marshals every returned structure.
func TestSecretsNeverPrinted(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	f.seed(t)
	a, err := f.v.GetApp(ctx, "main")
	must(t, err)
	s, err := f.v.GetSeller(ctx, seller1)
	must(t, err)
	c, err := f.v.LWACredentials(ctx, "main")
	must(t, err)
	for _, x := range []any{a, s, c, f.key} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			assertNoSecrets(t, fmt.Sprintf(verb, x))
		}
		b, err := json.Marshal(x)
		must(t, err)
		assertNoSecrets(t, string(b))
	}
	enc, _ := f.key.Encode()
	if strings.Contains(fmt.Sprintf("%v %+v %#v", f.key, f.key, f.key), enc) {
		t.Error("Key prints its material")
	}
	ev, err := f.v.AuditLog(ctx, AuditFilter{})
	must(t, err)
	b, _ := json.Marshal(ev)
	assertNoSecrets(t, string(b))
}
