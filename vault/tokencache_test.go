package vault

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/secret"
)

var (
	tcKey   = "lwa|" + appID1 + "|" + seller1 + "|0123456789abcdef"
	tcValue = "Atza|IwEBIACCESSTOKENSECRETVALUE-0001" + strings.Repeat("z", 30)
)

func tcToken(value string) CachedToken {
	return CachedToken{Value: secret.New(value), Expiry: t0.Add(time.Hour), RefreshAt: t0.Add(55 * time.Minute)}
}

// rawTokenRows returns every token_cache row as text, for searching.
func rawTokenRows(t *testing.T, path string) string {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	rows, err := db.Query(`SELECT key, ct, expires_at, holder, lease_until FROM token_cache`)
	must(t, err)
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var key, holder string
		var ct []byte
		var exp, until int64
		must(t, rows.Scan(&key, &ct, &exp, &holder, &until))
		fmt.Fprintf(&b, "%s %s %d %s %d\n", key, ct, exp, holder, until)
	}
	must(t, rows.Err())
	return b.String()
}

func TestTokenCacheRows(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	v := f.v

	s, err := v.TokenSlot(ctx, tcKey)
	must(t, err)
	if s.Has || s.Leased || s.Damaged || s.Fresh() {
		t.Fatalf("empty cache: %+v", s)
	}
	if ok, err := v.TakeTokenLease(ctx, tcKey, "h1", s, 10*time.Second); err != nil || !ok {
		t.Fatalf("first lease: %v %v", ok, err)
	}
	if ok, err := v.TakeTokenLease(ctx, tcKey, "h2", s, 10*time.Second); err != nil || ok {
		t.Fatalf("a second holder took a live lease: %v %v", ok, err)
	}
	s, err = v.TokenSlot(ctx, tcKey)
	must(t, err)
	if !s.Leased || !s.LeaseUntil.Equal(t0.Add(10*time.Second)) || s.Has {
		t.Fatalf("leased slot: %+v", s)
	}
	if ok, err := v.TakeTokenLease(ctx, tcKey, "h1", TokenSlot{}, 20*time.Second); err != nil || !ok {
		t.Fatalf("renewal by the holder: %v %v", ok, err)
	}

	must(t, v.PutToken(ctx, tcKey, "h1", tcToken(tcValue)))
	s, err = v.TokenSlot(ctx, tcKey)
	must(t, err)
	if !s.Has || !s.Fresh() || s.Leased || s.Token.Value.Reveal() != tcValue ||
		!s.Token.Expiry.Equal(t0.Add(time.Hour)) || !s.Token.RefreshAt.Equal(t0.Add(55*time.Minute)) {
		t.Fatalf("stored token: %+v (put by the holder ends its lease)", s)
	}
	raw := rawTokenRows(t, f.path)
	for _, plain := range []string{tcValue, tcValue[len(tcValue)-20:], seller1, appID1} {
		if strings.Contains(raw, plain) {
			t.Errorf("the token_cache table shows %q in plaintext:\n%s", plain, raw)
		}
	}

	// A lease taken on what was read before the put fails: the row moved.
	if ok, err := v.TakeTokenLease(ctx, tcKey, "h3", TokenSlot{}, 10*time.Second); err != nil || ok {
		t.Errorf("a lease on a stale read of the row: %v %v", ok, err)
	}
	f.clk.Advance(55 * time.Minute)
	s, err = v.TokenSlot(ctx, tcKey)
	must(t, err)
	if !s.Has || s.Fresh() {
		t.Errorf("at the refresh time: %+v, want a token no longer fresh", s)
	}
	if ok, err := v.TakeTokenLease(ctx, tcKey, "h3", s, 10*time.Second); err != nil || !ok {
		t.Errorf("a lease on the row as read: %v %v", ok, err)
	}
	// Another holder's put stores its token but leaves h3's lease.
	must(t, v.PutToken(ctx, tcKey, "h4", CachedToken{Value: secret.New("other"), Expiry: f.clk.Now().Add(time.Hour)}))
	if s, _ = v.TokenSlot(ctx, tcKey); !s.Leased || !s.Fresh() || s.Token.Value.Reveal() != "other" {
		t.Errorf("after another holder's put: %+v", s)
	}
	must(t, v.ReleaseTokenLease(ctx, tcKey, "h3"))
	if s, _ = v.TokenSlot(ctx, tcKey); s.Leased {
		t.Errorf("after the release: %+v", s)
	}

	// Invalidation compares the value.
	if ok, err := v.DropToken(ctx, tcKey, tcValue); err != nil || ok {
		t.Errorf("dropping a value no longer cached: %v %v", ok, err)
	}
	if ok, err := v.DropToken(ctx, tcKey, "other"); err != nil || !ok {
		t.Errorf("dropping the cached value: %v %v", ok, err)
	}
	if s, _ = v.TokenSlot(ctx, tcKey); s.Has {
		t.Errorf("after the drop: %+v", s)
	}
}

func TestTokenCacheRefusesForeignRows(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	v := f.v
	other := "rdt|" + seller1 + "|" + appID1 + "||GET /orders/v0/orders/{orderId}/address "
	must(t, v.PutToken(ctx, tcKey, "", tcToken(tcValue)))
	must(t, v.PutToken(ctx, other, "", tcToken("the other token")))

	// Another row's ciphertext, moved: it does not open under this key.
	rawExec(t, f.path, `UPDATE token_cache SET ct = (SELECT ct FROM token_cache WHERE key = ?) WHERE key = ?`, v.tokenRow(other), v.tokenRow(tcKey))
	s, err := v.TokenSlot(ctx, tcKey)
	must(t, err)
	if s.Has || !s.Damaged || s.Fresh() || !s.Token.Value.IsZero() {
		t.Errorf("a row holding another key's token: %+v", s)
	}
	if ok, err := v.DropToken(ctx, tcKey, "the other token"); err != nil || ok {
		t.Errorf("a damaged row was dropped as if it held the value: %v %v", ok, err)
	}
	// A damaged row is leased against what it holds, then overwritten.
	if ok, err := v.TakeTokenLease(ctx, tcKey, "h1", s, 10*time.Second); err != nil || !ok {
		t.Errorf("no lease on a damaged row: %v %v", ok, err)
	}
	must(t, v.PutToken(ctx, tcKey, "h1", tcToken("fresh")))
	if s, _ := v.TokenSlot(ctx, tcKey); !s.Fresh() || s.Token.Value.Reveal() != "fresh" {
		t.Errorf("after the put over a damaged row: %+v", s)
	}

	// Garbage, and a lease dated absurdly far ahead (a forged row, or a
	// holder whose clock runs days ahead): no token, no lease.
	rawExec(t, f.path, `UPDATE token_cache SET ct = ?, holder = 'x', lease_until = ? WHERE key = ?`,
		[]byte("\x01not a sealed token at all, but long enough"), t0.Add(48*time.Hour).UnixNano(), v.tokenRow(tcKey))
	s, err = v.TokenSlot(ctx, tcKey)
	must(t, err)
	if s.Has || !s.Damaged || s.Leased {
		t.Errorf("a garbage row with a far lease: %+v", s)
	}
	if ok, err := v.TakeTokenLease(ctx, tcKey, "h2", s, 10*time.Second); err != nil || !ok {
		t.Errorf("the far lease was respected: %v %v", ok, err)
	}
}

func TestTokenCachePrunesExpiredRows(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	v := f.v
	must(t, v.PutToken(ctx, "short", "", CachedToken{Value: secret.New("a"), Expiry: t0.Add(time.Minute)}))
	must(t, v.PutToken(ctx, "long", "", CachedToken{Value: secret.New("b"), Expiry: t0.Add(time.Hour)}))
	s, _ := v.TokenSlot(ctx, "failed")
	_, err := v.TakeTokenLease(ctx, "failed", "h", s, 10*time.Second)
	must(t, err)
	must(t, v.ReleaseTokenLease(ctx, "failed", "h"))

	f.clk.Advance(tokenPruneEvery + time.Second)
	s, _ = v.TokenSlot(ctx, "fetching")
	_, err = v.TakeTokenLease(ctx, "fetching", "h", s, 10*time.Second)
	must(t, err)
	must(t, v.PutToken(ctx, "new", "", CachedToken{Value: secret.New("c"), Expiry: f.clk.Now().Add(time.Hour)}))
	db := rawDB(t, f.path)
	defer db.Close()
	var n int
	must(t, db.QueryRow(`SELECT count(*) FROM token_cache`).Scan(&n))
	if n != 3 {
		t.Errorf("%d rows after pruning, want 3 (long, fetching, new)", n)
	}
	for _, k := range []string{"long", "new"} {
		if s, _ := v.TokenSlot(ctx, k); !s.Fresh() {
			t.Errorf("%s pruned: %+v", k, s)
		}
	}
	if s, _ := v.TokenSlot(ctx, "fetching"); !s.Leased {
		t.Errorf("a live lease was pruned: %+v", s)
	}
}

func TestTokenCacheArguments(t *testing.T) {
	ctx := context.Background()
	v := newVault(t).v
	for name, err := range map[string]error{
		"no key":           v.PutToken(ctx, "", "", tcToken("x")),
		"no value":         v.PutToken(ctx, "k", "", CachedToken{Expiry: t0}),
		"no expiry":        v.PutToken(ctx, "k", "", CachedToken{Value: secret.New("x")}),
		"no holder":        func() error { _, err := v.TakeTokenLease(ctx, "k", "", TokenSlot{}, time.Second); return err }(),
		"a lease too long": func() error { _, err := v.TakeTokenLease(ctx, "k", "h", TokenSlot{}, time.Hour); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
