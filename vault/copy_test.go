package vault

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/pgtest"
)

// copySource is a vault with every kind of record: apps with a rotated
// secret and AWS keys, a seller's refresh token, gateway clients (one
// revoked), a checkpoint, work state, a lease, audit and access records.
// In the first pass it is a file, in the PostgreSQL pass a schema (a copy
// between two databases).
func copySource(t *testing.T) *accessFixture {
	t.Helper()
	f := newAccessVault(t)
	ctx := context.Background()
	must(t, f.v.RecordAccess(ctx, AccessEvent{Client: "erp", Seller: seller1, Operation: "getOrders", PII: true, Status: 200, RequestID: "r1"}))
	_, err := f.v.AcquireLease(ctx, Lease{Name: "rotation/main", Token: "t", Owner: "the file's rotation"}, time.Hour)
	must(t, err)
	return f
}

func TestCopyIntoPostgres(t *testing.T) {
	srv := pgtest.Need(t)
	ctx := context.Background()
	src := copySource(t)
	dsn := srv.Schema(t)

	rep, err := Copy(ctx, src.v, dsn, src.key, CopyOptions{})
	must(t, err)
	if !rep.Created || rep.Target != RedactDSN(dsn) {
		t.Errorf("report %+v", rep)
	}
	rows := map[string]int{}
	for _, tt := range rep.Tables {
		rows[tt.Table] = tt.Rows
	}
	if rows["apps"] != 2 || rows["sellers"] != 1 || rows["clients"] != 3 || rows["secrets"] != 5 || rows["access_log"] != 1 || rows["state"] != 1 {
		t.Errorf("rows copied: %v", rows)
	}

	dst, err := Open(ctx, dsn, src.key, testOpts(src.clk))
	must(t, err)
	defer dst.Close()
	t.Run("the copy holds the same vault", func(t *testing.T) {
		for _, v := range []*Vault{src.v, dst} {
			c, err := v.LWACredentials(ctx, "main")
			must(t, err)
			if c.ClientSecret.Reveal() != secret3 || c.Version != 2 {
				t.Errorf("%s: credentials v%d", v.Backend(), c.Version)
			}
		}
		for name, key := range src.keys {
			_, err1 := src.v.AuthenticateClient(ctx, key)
			_, err2 := dst.AuthenticateClient(ctx, key)
			if (err1 == nil) != (err2 == nil) || !errors.Is(err2, ErrRevoked) != (name != "bc") {
				t.Errorf("client %s: %v in the source, %v in the copy", name, err1, err2)
			}
		}
		tok, err := dst.RefreshToken(ctx, seller1, "main")
		must(t, err)
		if tok.Reveal() != token1 {
			t.Error("refresh token differs")
		}
		cp, err := dst.GetCheckpoint(ctx, seller1, "orders")
		must(t, err)
		if string(cp.Value) != `{"after":"2026-01-01"}` {
			t.Errorf("checkpoint %q", cp.Value)
		}
		a1, err := src.v.AuditLog(ctx, AuditFilter{})
		must(t, err)
		a2, err := dst.AuditLog(ctx, AuditFilter{})
		must(t, err)
		if len(a2) == 0 || len(a1) != len(a2)+1 || !slices.Equal(a1[:len(a2)], a2) {
			t.Errorf("audit: %d records in the source, %d in the copy", len(a1), len(a2))
		}
		if last := a1[len(a1)-1]; last.Action != ActionCopied || !strings.Contains(last.Detail, "copied to postgres://") {
			t.Errorf("the source's last audit record: %+v", last)
		}
		acc, err := dst.AccessLog(ctx, AccessFilter{})
		must(t, err)
		if len(acc) != 1 || acc[0].RequestID != "r1" || !acc[0].PII {
			t.Errorf("access log %+v", acc)
		}
		if _, err := dst.GetLease(ctx, "rotation/main"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the source's lease was copied: %v", err)
		}
		must(t, dst.Verify(ctx))
	})
	t.Run("secrets cross encrypted, as they are", func(t *testing.T) {
		q := `SELECT ct FROM secrets WHERE ref=? AND status='current'`
		if a, b := rawBlob(t, src.path, q, appSecretRef(appID1)), rawBlob(t, dsn, q, appSecretRef(appID1)); !bytes.Equal(a, b) {
			t.Error("the client secret was encrypted anew")
		}
		assertNoSecrets(t, string(snapshot(t, dsn)))
	})
	t.Run("new records continue the ids", func(t *testing.T) {
		must(t, dst.RecordAccess(ctx, AccessEvent{Client: "erp", Seller: seller1, Operation: "getOrder", Status: 200}))
		acc, err := dst.AccessLog(ctx, AccessFilter{})
		must(t, err)
		if len(acc) != 2 || acc[1].ID != acc[0].ID+1 {
			t.Errorf("access log after the copy %+v", acc)
		}
	})
	t.Run("again after the source changed", func(t *testing.T) {
		must(t, src.v.AddSeller(ctx, Seller{ID: seller2, Name: "second", Region: RegionEU}))
		// The copy was used (an access record above): refused unless replaced.
		_, err := Copy(ctx, src.v, dsn, src.key, CopyOptions{})
		if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "has changed since it was copied") {
			t.Fatalf("copy over a used copy: %v", err)
		}
		rep, err := Copy(ctx, src.v, dsn, src.key, CopyOptions{Replace: true})
		must(t, err)
		if rep.Created {
			t.Error("the second copy says it created the vault")
		}
		if _, err := dst.GetSeller(ctx, seller2); err != nil {
			t.Errorf("the new seller did not reach the copy: %v", err)
		}
		if acc, _ := dst.AccessLog(ctx, AccessFilter{}); len(acc) != 1 {
			t.Errorf("%d access records after replacing, want the source's 1", len(acc))
		}
		// Unused since: copying again needs no --replace.
		must(t, src.v.SetState(ctx, "rotation/second", []byte(`{}`)))
		_, err = Copy(ctx, src.v, dsn, src.key, CopyOptions{})
		must(t, err)
		if _, err := dst.State(ctx, "rotation/second"); err != nil {
			t.Errorf("state after the third copy: %v", err)
		}
	})
}

func TestCopyRefuses(t *testing.T) {
	srv := pgtest.Need(t)
	ctx := context.Background()
	src := newVault(t)
	src.seed(t)
	t.Run("a file", func(t *testing.T) {
		if _, err := Copy(ctx, src.v, "/tmp/vault2.db", src.key, CopyOptions{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("got %v, want ErrInvalid", err)
		}
	})
	t.Run("the wrong key", func(t *testing.T) {
		dsn := srv.Schema(t)
		if _, err := Copy(ctx, src.v, dsn, rawKey(t), CopyOptions{}); !errors.Is(err, ErrWrongKey) {
			t.Errorf("got %v, want ErrWrongKey", err)
		}
		if tableExists(t, dsn, "meta") {
			t.Error("a copy with the wrong key created tables")
		}
	})
	t.Run("another vault", func(t *testing.T) {
		dsn := srv.Schema(t)
		other, err := Open(ctx, dsn, src.key, testOpts(src.clk))
		must(t, err)
		must(t, other.AddApp(ctx, sampleApp("theirs", appID2, clientID2, secret2)))
		other.Close()
		before := snapshot(t, dsn)
		if _, err := Copy(ctx, src.v, dsn, src.key, CopyOptions{Replace: true}); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "holds another vault") {
			t.Errorf("got %v, want ErrExists", err)
		}
		assertUnchanged(t, dsn, before)
	})
	t.Run("other tables", func(t *testing.T) {
		dsn := srv.Schema(t)
		rawExec(t, dsn, `CREATE TABLE invoices (id INTEGER)`)
		if _, err := Copy(ctx, src.v, dsn, src.key, CopyOptions{}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("got %v, want ErrCorrupt", err)
		}
	})
}

// A copy that does not match its source fails verification, naming the
// table.
func TestCopyVerification(t *testing.T) {
	srv := pgtest.Need(t)
	ctx := context.Background()
	src := newVault(t)
	src.seed(t)
	dsn := srv.Schema(t)
	_, err := Copy(ctx, src.v, dsn, src.key, CopyOptions{})
	must(t, err)
	dst, err := connectPostgres(ctx, dsn, Options{})
	must(t, err)
	cols, err := dst.copyColumns(ctx)
	dst.db.Close()
	must(t, err)
	// (Copy verified the copy before it noted the copy in the source's
	// audit log; tables before the audit log still match.)
	rawExec(t, dsn, `UPDATE checkpoints SET updated_at = '2020-01-01T00:00:00Z'`)
	if err := verifyCopy(ctx, src.v, dsn, src.key, CopyOptions{}, cols); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "table checkpoints differs") {
		t.Errorf("got %v, want the checkpoints named", err)
	}
	rawExec(t, dsn, `UPDATE secrets SET ct = substr(ct, 1, 20) WHERE ref = ?`, tokenRef(seller1, appID1))
	if err := verifyCopy(ctx, src.v, dsn, src.key, CopyOptions{}, cols); !errors.Is(err, ErrTampered) {
		t.Errorf("got %v, want ErrTampered", err)
	}
}
