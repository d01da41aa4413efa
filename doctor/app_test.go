package doctor

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// TestAppFromTheVault checks an app the way spgate doctor does: the
// sellers that authorized it (not one that did not), its secret with LWA,
// and no AWS or database checks for an app without an AWS chain in a vault
// file.
func TestAppFromTheVault(t *testing.T) {
	ctx := context.Background()
	srv := amazontest.NewServer(amazontest.WithSeed(5))
	defer srv.Close()
	d := srv.Demo()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, filepath.Join(t.TempDir(), "vault.db"), key, vault.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.AddApp(ctx, vault.App{Name: "main", AppID: d.AppID, ClientID: d.ClientID,
		ClientSecrets: []vault.Secret{{Value: secret.New(d.ClientSecret)}}}); err != nil {
		t.Fatal(err)
	}
	for i, s := range d.Sellers {
		sl := vault.Seller{ID: s.ID, Region: string(s.Region), Marketplaces: s.Marketplaces}
		if i > 0 { // only the first seller authorized the app
			if err := v.AddSeller(ctx, sl); err != nil {
				t.Fatal(err)
			}
			continue
		}
		sl.Authorizations = []vault.Authorization{{AppName: "main", RefreshToken: vault.Secret{Value: secret.New(s.RefreshToken)}}}
		if err := v.AddSeller(ctx, sl); err != nil {
			t.Fatal(err)
		}
	}
	app, err := v.GetApp(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	ep, err := spapi.Custom(srv.URL, map[spapi.Region]string{
		spapi.EU: srv.RegionURL(amazontest.RegionEU), spapi.FE: srv.RegionURL(amazontest.RegionFE)}, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := spapi.New(spapi.Config{AppID: d.AppID, Endpoints: ep, Credentials: rotation.VaultCredentials{Vault: v, App: "main"},
		Sellers: appvault.NewSellers(v, "main", time.Minute, nil)})
	if err != nil {
		t.Fatal(err)
	}
	checks, err := App(ctx, AppInput{Vault: v, App: app, Client: c, Endpoints: ep})
	if err != nil {
		t.Fatal(err)
	}
	if Worst(checks) != OK {
		t.Fatalf("not green: %+v", checks)
	}
	var sawSecret bool
	for _, ch := range checks {
		if strings.Contains(ch.Detail, d.Sellers[1].ID) || strings.Contains(ch.Detail, d.Sellers[2].ID) {
			t.Errorf("checked a seller that did not authorize the app: %+v", ch)
		}
		// The replicas check runs on every vault (several processes may
		// serve from one SQLite file); the database's own checks do not.
		if ch.Layer == "aws" || ch.Layer == "database" && ch.Name != CheckReplicas {
			t.Errorf("a check of what the app does not use: %+v", ch)
		}
		sawSecret = sawSecret || ch.Name == CheckSecretCurrent
	}
	if !sawSecret {
		t.Errorf("no %s check: %+v", CheckSecretCurrent, checks)
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	err := WriteText(&b, []Check{
		{Layer: "lwa", Name: "grant", Status: OK, Detail: "fine"},
		{Layer: "spapi", Name: "call", Status: Fail, Detail: "refused", Step: StepAuthorizeSeller, Fix: "run `spgate seller authorize`"},
		{Layer: "aws", Name: "queue", Status: Skip, Detail: "no queue", Fix: "not shown for a skipped check"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "✓ lwa     grant                fine\n" +
		"✗ spapi   call                 refused\n" +
		"    step: authorize-seller\n" +
		"    fix:  run `spgate seller authorize`\n" +
		"- aws     queue                no queue\n" +
		"\n1 ok, 0 warnings, 1 failed, 1 skipped\n"
	if b.String() != want {
		t.Errorf("WriteText wrote\n%s\nwant\n%s", b.String(), want)
	}
}
