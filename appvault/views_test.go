package appvault_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

func TestExpiryWarning(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		expires time.Time
		want    string // "" for no warning
	}{
		{"no expiry recorded", time.Time{}, ""},
		{"months left", now.AddDate(0, 0, 90), ""},
		{"31 days", now.AddDate(0, 0, 31), ""},
		{"30 days", now.AddDate(0, 0, 30), "expires in 30 days (Amazon's 180-day limit)"},
		{"14 days", now.AddDate(0, 0, 14), "plan the rotation"},
		{"7 days", now.AddDate(0, 0, 7), "rotate it this week"},
		{"1 day", now.AddDate(0, 0, 1), "expires in 1 day: rotate it now"},
		{"hours", now.Add(5 * time.Hour), "expires within a day"},
		{"expired", now.Add(-time.Hour), "EXPIRED on 2026-03-01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := appvault.ExpiryWarning("main", vault.Secret{ExpiresAt: tc.expires}, now)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("ExpiryWarning = %q, want one with %q", got, tc.want)
			}
		})
	}
}

// TestViewsHoldNoSecret: the views show hints, dates and days left, and
// marshal without a secret value.
func TestViewsHoldNoSecret(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cs := secret.New("amzn1.oa2-cs.v1." + strings.Repeat("1f", 32))
	rt := secret.New("Atzr|IwEBIKviewtest" + strings.Repeat("z", 40))
	a := vault.App{Name: "main", ClientSecrets: []vault.Secret{{Value: cs, Version: 3, Status: vault.StatusCurrent, CreatedAt: now, ExpiresAt: now.AddDate(0, 0, 10)}}}
	av := appvault.NewAppView(a, now)
	if av.SecretVersion != 3 || av.SecretDaysLeft != 10 || av.SecretHint == "" || av.Warning == "" || av.Roles == nil || av.SecretVerifiedAt != nil {
		t.Errorf("app view %+v", av)
	}
	if none := appvault.NewAppView(vault.App{Name: "bare"}, now); !strings.Contains(none.Warning, "set-secret bare") {
		t.Errorf("app without a secret: %+v", none)
	}
	sv := appvault.NewSellerView(vault.Seller{ID: "A2VYDBAL8BMVQK", Region: "eu", Authorizations: []vault.Authorization{{AppName: "main", AuthorizedAt: now, RefreshToken: vault.Secret{Value: rt}}}})
	if len(sv.Authorizations) != 1 || sv.Authorizations[0].RefreshTokenHint == "" || sv.Authorizations[0].VerifiedAt != nil {
		t.Errorf("seller view %+v", sv)
	}
	cv := appvault.NewClientView(vault.Client{Name: "erp", CreatedAt: now})
	if cv.RevokedAt != nil {
		t.Errorf("client view %+v", cv)
	}
	b, err := json.Marshal([]any{av, sv, cv})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []secret.String{cs, rt} {
		if strings.Contains(string(b), s.Reveal()) {
			t.Errorf("a view holds a secret: %s", b)
		}
	}
}
