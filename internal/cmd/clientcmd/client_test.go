package clientcmd

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

const seller = "A2VYDBAL8BMVQK"

// TestRunClientAdd runs client add without cobra: bad flags are refused
// before the vault is opened; a client is created with the key printed
// once on stdout, and only a working key.
func TestRunClientAdd(t *testing.T) {
	ctx := context.Background()
	for name, o := range map[string]clientAddOptions{
		"no --seller":            {Name: "bc", Operations: []string{"getOrders"}},
		"no --operation":         {Name: "bc", Sellers: []string{seller}},
		"an unknown operation":   {Name: "bc", Sellers: []string{seller}, Operations: []string{"getEverything"}},
		"an operation of no api": {Name: "bc", Sellers: []string{seller}, Operations: []string{"nosuchapi/v0"}},
	} {
		e := cmdtest.New(t)
		e.OpenVault = func(context.Context, bool) (*vault.Vault, error) {
			t.Errorf("%s: the vault was opened for bad flags", name)
			return nil, errors.New("not for bad flags")
		}
		o.Factory = e.Factory
		if _, code := problem.Of(runClientAdd(ctx, &o)); code != problem.ExitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, problem.ExitUsage)
		}
	}

	e := cmdtest.New(t)
	v := e.Vault(t)
	if err := v.AddSeller(ctx, vault.Seller{ID: seller, Region: "eu", Marketplaces: []string{"A1PA6795UKMFR9"}}); err != nil {
		t.Fatal(err)
	}
	v.Close()
	add := func(name string, sellers ...string) error {
		return runClientAdd(ctx, &clientAddOptions{Factory: e.Factory, Name: name, Sellers: sellers, Operations: []string{"orders/v0"}, PII: true})
	}
	if err := add("bc", seller); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(e.Out.String())
	if !strings.HasPrefix(key, "spg_") || strings.Contains(e.Err.String(), key) || !strings.Contains(e.Err.String(), "shown only now") {
		t.Fatalf("stdout %q, stderr %q: want the key on stdout only, and the note on stderr", key, e.Err.String())
	}
	v = e.Vault(t)
	c, err := v.AuthenticateClient(ctx, secret.New(key))
	v.Close()
	if err != nil || c.Name != "bc" || !c.PII || !c.AllowsSeller(seller) {
		t.Fatalf("the printed key authenticates %+v (%v)", c, err)
	}
	for _, tc := range []struct {
		name, seller, problem string
	}{
		{"bc", seller, problem.Exists},
		{"other", "A3ABCDEFGHIJK1", problem.NotFound},
	} {
		if p, _ := problem.Of(add(tc.name, tc.seller)); p != tc.problem {
			t.Errorf("add %s for %s: problem %q, want %q", tc.name, tc.seller, p, tc.problem)
		}
	}
}

// TestRunClientRotateKeyAndRevoke: a new key replaces the old one and is
// printed once; a revoked key stops working; an unknown client is not
// found.
func TestRunClientRotateKeyAndRevoke(t *testing.T) {
	ctx := context.Background()
	e := cmdtest.New(t)
	v := e.Vault(t)
	old, err := v.CreateClient(ctx, vault.Client{Name: "bc", Sellers: []string{"*"}, Operations: []string{"*"}})
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	authenticates := func(key string) bool {
		v := e.Vault(t)
		defer v.Close()
		_, err := v.AuthenticateClient(ctx, secret.New(key))
		return err == nil
	}
	if err := runClientRotateKey(ctx, &keyOptions{Factory: e.Factory, Name: "bc"}); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(e.Out.String())
	if key == old.Reveal() || !authenticates(key) || authenticates(old.Reveal()) || strings.Contains(e.Err.String(), key) {
		t.Fatalf("after rotate-key: stdout %q; the new key must work, the old one not, and stderr hold neither", key)
	}
	if err := runClientRevoke(ctx, &keyOptions{Factory: e.Factory, Name: "bc"}); err != nil || authenticates(key) {
		t.Fatalf("revoke: %v; the key still works: %v", err, authenticates(key))
	}
	for name, run := range map[string]func(context.Context, *keyOptions) error{"rotate-key": runClientRotateKey, "revoke": runClientRevoke} {
		if p, _ := problem.Of(run(ctx, &keyOptions{Factory: e.Factory, Name: "nosuch"})); p != problem.NotFound {
			t.Errorf("%s of an unknown client: problem %q", name, p)
		}
	}
}
