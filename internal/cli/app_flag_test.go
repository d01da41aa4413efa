package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// TestAppFlagSelectsTheApp stores two apps that the same seller authorized
// and checks that `spgate call` and `spgate orders pull` use the app --app
// names: each works with either app, neither guesses when --app is missing,
// an unknown --app is refused, and a revoked authorization of one app does
// not stop the other (so the credentials really are the named app's).
func TestAppFlagSelectsTheApp(t *testing.T) {
	e := newEmuEnv(t)
	seller := e.demo.Sellers[0]
	second, err := e.srv.AddApp(amazontest.App{Roles: []string{amazontest.RoleShipping}})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := e.srv.Authorize(seller.ID, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	v := e.open(t, false)
	ctx := context.Background()
	if err := v.AddApp(ctx, vault.App{Name: "second", AppID: second.ID, ClientID: second.ClientID,
		ClientSecrets: []vault.Secret{{Value: secret.New(second.ClientSecret)}}}); err != nil {
		t.Fatal(err)
	}
	if err := v.SetRefreshToken(ctx, seller.ID, "second", secret.New(rt), time.Time{}); err != nil {
		t.Fatal(err)
	}
	v.Close()

	dir := t.TempDir()
	call := func(app ...string) []string {
		return append([]string{"call", "getMarketplaceParticipations", "--seller", seller.ID}, app...)
	}
	n := 0
	pull := func(app ...string) []string {
		n++
		out := filepath.Join(dir, "orders-"+string(rune('a'+n))+".jsonl")
		return append([]string{"orders", "pull", "--seller", seller.ID, "--since", "30d", "--out", out}, app...)
	}

	for _, args := range [][]string{call(), pull()} {
		_, stderr := e.run(t, ExitUsage, args...)
		if !strings.Contains(stderr, "choose one with --app") {
			t.Errorf("spgate %s without --app: %q does not ask for --app", args[0], stderr)
		}
	}
	for _, args := range [][]string{call("--app", "nosuchapp"), pull("--app", "nosuchapp")} {
		_, stderr := e.run(t, ExitUsage, args...)
		if !strings.Contains(stderr, `no app "nosuchapp"`) {
			t.Errorf("spgate %s --app nosuchapp: %q does not name the unknown app", args[0], stderr)
		}
	}
	for _, app := range []string{"main", "second", second.ID, second.ClientID} {
		e.run(t, ExitOK, call("--app", app)...)
		e.run(t, ExitOK, pull("--app", app)...)
	}

	// The seller withdraws app main: only --app main fails now.
	e.srv.Revoke(seller.ID, e.demo.AppID)
	e.run(t, ExitFailure, call("--app", "main")...)
	e.run(t, ExitFailure, pull("--app", "main")...)
	e.run(t, ExitOK, call("--app", "second")...)
	e.run(t, ExitOK, pull("--app", "second")...)
}
