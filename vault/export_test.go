package vault

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/spgate/spgate/secret"
)

func TestExportImport(t *testing.T) {
	ctx := context.Background()
	src := newVault(t)
	src.seed(t)
	_, err := src.v.SetClientSecret(ctx, "main", secret.New(secret3), SecretChange{PreviousExpiresAt: t0.Add(7 * 24 * time.Hour)})
	must(t, err)
	snap, err := src.v.Export(ctx)
	must(t, err)

	dst, err := Open(ctx, filepath.Join(t.TempDir(), "dst.db"), rawKey(t), testOpts(src.clk))
	must(t, err)
	defer dst.Close()
	must(t, dst.Import(ctx, snap))

	a, err := dst.GetApp(ctx, "main")
	must(t, err)
	cur, _ := a.CurrentSecret()
	prev, ok := a.PreviousSecret()
	if cur.Value.Reveal() != secret3 || !ok || prev.Value.Reveal() != secret1 || !prev.ExpiresAt.Equal(t0.Add(7*24*time.Hour)) {
		t.Errorf("imported secrets %+v", a.ClientSecrets)
	}
	if a.AWSSecretKey.Value.Reveal() != awsSecret {
		t.Error("AWS key not imported")
	}
	tok, err := dst.RefreshToken(ctx, seller1, "main")
	must(t, err)
	if tok.Reveal() != token1 {
		t.Error("token not imported")
	}

	// A second import conflicts and adds nothing, not even the parts that
	// would not conflict.
	snap.Apps = append(snap.Apps, sampleApp("fresh", "amzn1.sp.solution.11111111-2222-3333-4444-555555555555", "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef", secret2))
	snap.Apps[0], snap.Apps[len(snap.Apps)-1] = snap.Apps[len(snap.Apps)-1], snap.Apps[0]
	ierr := dst.Import(ctx, snap)
	if !errors.Is(ierr, ErrExists) {
		t.Fatalf("second import: %v", ierr)
	}
	if _, err := dst.GetApp(ctx, "fresh"); !errors.Is(err, ErrNotFound) {
		t.Errorf("partial import: %v", err)
	}
	assertNoSecrets(t, ierr.Error())
}
