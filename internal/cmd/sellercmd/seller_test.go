package sellercmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

const (
	sellerID     = "A2VYDBAL8BMVQK"
	refreshToken = "Atzr|IwEBIsellertestsellertestsellertestsellertest1234"
)

// sellerEnv is a vault holding app main, with refreshToken to give.
func sellerEnv(t *testing.T) *cmdtest.Env {
	t.Helper()
	e := cmdtest.New(t)
	v := e.Vault(t)
	defer v.Close()
	if err := v.AddApp(context.Background(), vault.App{Name: "main", AppID: "amzn1.sp.solution.1a2b3c4d-0000-4000-8000-1234567890ab",
		ClientID:      "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef",
		ClientSecrets: []vault.Secret{{Value: secret.New("amzn1.oa2-cs.v1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")}}}); err != nil {
		t.Fatal(err)
	}
	e.Secrets["refresh token"] = refreshToken
	return e
}

// TestRunSellerAdd: bad input is refused before the vault is opened, an
// unknown app is not found, and an added seller holds the token for the
// app without the token being printed.
func TestRunSellerAdd(t *testing.T) {
	ctx := context.Background()
	for name, o := range map[string]sellerAddOptions{
		"a bad seller id":           {ID: "X1", App: "main", Region: "eu", Marketplaces: []string{"DE"}},
		"no region":                 {ID: sellerID, App: "main", Marketplaces: []string{"DE"}},
		"no app":                    {ID: sellerID, Region: "eu", Marketplaces: []string{"DE"}},
		"no marketplace":            {ID: sellerID, App: "main", Region: "eu"},
		"a marketplace elsewhere":   {ID: sellerID, App: "main", Region: "eu", Marketplaces: []string{"US"}},
		"a bad name":                {ID: sellerID, App: "main", Region: "eu", Marketplaces: []string{"DE"}, Name: "a b"},
		"a malformed refresh token": {ID: sellerID, App: "main", Region: "eu", Marketplaces: []string{"DE"}},
	} {
		e := sellerEnv(t)
		if name == "a malformed refresh token" {
			e.Secrets["refresh token"] = "not-a-token"
		}
		e.OpenVault = func(context.Context, bool) (*vault.Vault, error) {
			t.Errorf("%s: the vault was opened", name)
			return nil, errors.New("not for bad input")
		}
		o.Factory = e.Factory
		if _, code := problem.Of(runSellerAdd(ctx, &o)); code != problem.ExitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, problem.ExitUsage)
		}
	}

	e := sellerEnv(t)
	o := sellerAddOptions{Factory: e.Factory, ID: sellerID, App: "other", Region: "eu", Marketplaces: []string{"DE", "FR"}}
	if p, _ := problem.Of(runSellerAdd(ctx, &o)); p != problem.NotFound {
		t.Errorf("an unknown app: problem %q, want %q", p, problem.NotFound)
	}
	o.App = "main"
	if err := runSellerAdd(ctx, &o); err != nil {
		t.Fatal(err)
	}
	if out := e.Out.String(); !strings.Contains(out, "added seller "+sellerID+" for app main (eu: A1PA6795UKMFR9,A13V1IB3VIYZZH)") || strings.Contains(out+e.Err.String(), refreshToken) {
		t.Errorf("stdout %q", out)
	}
	v := e.Vault(t)
	defer v.Close()
	if rt, err := v.RefreshToken(ctx, sellerID, "main"); err != nil || rt.Reveal() != refreshToken {
		t.Errorf("stored token: %v", err)
	}
}

// TestRunSellerUpdate: moving a seller to another region needs that
// region's marketplaces, and the refusal names some; with them the seller
// moves and keeps its token.
func TestRunSellerUpdate(t *testing.T) {
	ctx := context.Background()
	e := sellerEnv(t)
	if err := runSellerAdd(ctx, &sellerAddOptions{Factory: e.Factory, ID: sellerID, App: "main", Region: "eu", Marketplaces: []string{"DE"}}); err != nil {
		t.Fatal(err)
	}
	o := sellerUpdateOptions{Factory: e.Factory, Ref: sellerID, Region: "na", setRegion: true}
	err := runSellerUpdate(ctx, &o)
	if _, code := problem.Of(err); code != problem.ExitUsage || !strings.Contains(err.Error(), "--marketplace ATVPDKIKX0DER") {
		t.Fatalf("region alone: %v (exit %d)", err, code)
	}
	o.Marketplaces, o.setMP = []string{"US"}, true
	e.Out.Reset()
	if err := runSellerUpdate(ctx, &o); err != nil || !strings.Contains(e.Out.String(), "updated seller "+sellerID) {
		t.Fatalf("region and marketplaces: %v, stdout %q", err, e.Out.String())
	}
	v := e.Vault(t)
	defer v.Close()
	s, err := v.GetSeller(ctx, sellerID)
	if _, ok := s.Authorization("main"); err != nil || s.Region != "na" || !ok {
		t.Errorf("after the move: %+v (%v)", s, err)
	}
	if p, _ := problem.Of(runSellerUpdate(ctx, &sellerUpdateOptions{Factory: e.Factory, Ref: "A3NOSUCHSELLER1", Name: "x", setName: true})); p != problem.NotFound {
		t.Errorf("an unknown seller: problem %q", p)
	}
}
