package vault

import (
	"context"
	"testing"
)

func TestSmoke(t *testing.T) {
	f := newVault(t)
	f.seed(t)
	f.reopen(t)
	ctx := context.Background()
	a, err := f.v.GetApp(ctx, "main")
	must(t, err)
	cur, _ := a.CurrentSecret()
	if cur.Value.Reveal() != secret1 {
		t.Fatalf("secret mismatch")
	}
	tok, err := f.v.RefreshToken(ctx, "acme", appID1)
	must(t, err)
	if tok.Reveal() != token1 {
		t.Fatal("token mismatch")
	}
	must(t, f.v.Verify(ctx))
}
