package vault

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/secret"
)

// accessFixture is a seeded vault with gateway clients and a rotated client
// secret (current and previous), the records the integrity check guards.
type accessFixture struct {
	*fixture
	keys map[string]secret.String // client name → key
}

// evilKey is a well-formed client key nobody was given.
var evilKey = ClientKeyPrefix + strings.Repeat("x", 43)

func newAccessVault(t *testing.T) *accessFixture {
	t.Helper()
	ctx := context.Background()
	f := &accessFixture{fixture: newVault(t), keys: map[string]secret.String{}}
	f.seed(t)
	_, err := f.v.SetClientSecret(ctx, "main", secret.New(secret3), SecretChange{PreviousExpiresAt: t0.Add(7 * 24 * time.Hour)})
	must(t, err)
	for _, c := range []Client{
		{Name: "erp", Sellers: []string{"acme"}, Operations: []string{"getOrders"}},
		{Name: "bc", Sellers: []string{seller1}, Operations: []string{"*"}, PII: true},
		{Name: "ok", Sellers: []string{"*"}, Operations: []string{"getOrder"}},
	} {
		k, err := f.v.CreateClient(ctx, c)
		must(t, err)
		f.keys[c.Name] = k
	}
	must(t, f.v.RevokeClient(ctx, "bc"))
	return f
}

func sha(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func TestRecordIntegrity(t *testing.T) {
	ctx := context.Background()
	const ts = "2026-01-01T00:00:00Z"
	auth := func(name string) func(*accessFixture) error {
		return func(f *accessFixture) error { _, err := f.v.AuthenticateClient(ctx, f.keys[name]); return err }
	}
	authEvil := func(f *accessFixture) error { _, err := f.v.AuthenticateClient(ctx, secret.New(evilKey)); return err }
	creds := func(f *accessFixture) error { _, err := f.v.LWACredentials(ctx, "main"); return err }
	tests := []struct {
		name   string
		tamper func(t *testing.T, path string)
		read   func(*accessFixture) error // the read that grants access
		key    string                     // IntegrityError.Key
		record string                     // in the message
	}{
		{
			name: "client row inserted",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `INSERT INTO clients(name, key_hash, sellers, operations, pii, created_at) VALUES ('evil', ?, '["*"]', '["*"]', 1, ?)`, sha(evilKey), ts)
			},
			read: authEvil, key: "evil", record: `client "evil"`,
		},
		{
			name: "client row inserted with another row's MAC",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `INSERT INTO clients(name, key_hash, sellers, operations, pii, created_at, mac) SELECT 'evil', ?, '["*"]', '["*"]', 1, created_at, mac FROM clients WHERE name='ok'`, sha(evilKey))
			},
			read: authEvil, key: "evil", record: `client "evil"`,
		},
		{
			name: "sellers widened",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `UPDATE clients SET sellers='["*"]' WHERE name='erp'`)
			},
			read: auth("erp"), key: "erp", record: `client "erp"`,
		},
		{
			name: "operations widened",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `UPDATE clients SET operations='["*"]' WHERE name='erp'`)
			},
			read: func(f *accessFixture) error { _, err := f.v.GetClient(ctx, "erp"); return err },
			key:  "erp", record: `client "erp"`,
		},
		{
			name:   "PII flag flipped",
			tamper: func(t *testing.T, path string) { rawExec(t, path, `UPDATE clients SET pii=1 WHERE name='erp'`) },
			read:   auth("erp"), key: "erp", record: `client "erp"`,
		},
		{
			name: "revocation cleared",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `UPDATE clients SET revoked_at=NULL WHERE name='bc'`)
			},
			read: auth("bc"), key: "bc", record: `client "bc"`,
		},
		{
			name: "key hash replaced",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `UPDATE clients SET key_hash=? WHERE name='erp'`, sha(evilKey))
			},
			read: authEvil, key: "erp", record: `client "erp"`,
		},
		{
			name:   "client renamed",
			tamper: func(t *testing.T, path string) { rawExec(t, path, `UPDATE clients SET name='erp2' WHERE name='erp'`) },
			read:   func(f *accessFixture) error { _, err := f.v.ListClients(ctx); return err },
			key:    "erp2", record: `client "erp2"`,
		},
		{
			name: "client secret statuses swapped",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `UPDATE secrets SET status = CASE status WHEN 'current' THEN 'previous' ELSE 'current' END WHERE ref=?`, appSecretRef(appID1))
			},
			read: creds, key: secretAAD(appSecretRef(appID1), 1), record: `client secret v1 of app "main"`,
		},
		{
			name: "current secret's expiry changed",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `UPDATE secrets SET expires_at='2030-01-01T00:00:00Z' WHERE ref=? AND status='current'`, appSecretRef(appID1))
			},
			read: func(f *accessFixture) error { _, err := f.v.GetApp(ctx, "main"); return err },
			key:  secretAAD(appSecretRef(appID1), 2), record: `client secret v2 of app "main"`,
		},
		{
			name: "previous secret's expiry extended",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `UPDATE secrets SET expires_at='2030-01-01T00:00:00Z' WHERE ref=? AND status='previous'`, appSecretRef(appID1))
			},
			read: creds, key: secretAAD(appSecretRef(appID1), 1), record: `client secret v1 of app "main"`,
		},
		{
			name: "refresh token's dates changed",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `UPDATE secrets SET created_at=?, verified_at=? WHERE ref=?`, ts, ts, tokenRef(seller1, appID1))
			},
			read: func(f *accessFixture) error { _, err := f.v.RefreshToken(ctx, seller1, "main"); return err },
			key:  secretAAD(tokenRef(seller1, appID1), 1), record: `refresh token of seller ` + seller1 + ` for app "main"`,
		},
		{
			name: "secret MAC removed",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `UPDATE secrets SET mac=NULL WHERE ref=?`, appAWSRef(appID1))
			},
			read: func(f *accessFixture) error { _, err := f.v.GetApp(ctx, "main"); return err },
			key:  secretAAD(appAWSRef(appID1), 1), record: `AWS secret key of app "main"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAccessVault(t)
			f.v.Close()
			tt.tamper(t, f.path)
			before := snapshot(t, f.path)
			v, err := Open(ctx, f.path, f.key, testOpts(f.clk))
			must(t, err)
			f.v = v
			err = tt.read(f)
			var ie *IntegrityError
			if !errors.As(err, &ie) || !errors.Is(err, ErrIntegrity) || !errors.Is(err, ErrTampered) {
				t.Fatalf("got %v, want an *IntegrityError", err)
			}
			if ie.Key != tt.key {
				t.Errorf("Key %q, want %q", ie.Key, tt.key)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.record+": its record fails the integrity check (was vault.db edited without spgate?); ") {
				t.Errorf("message %q does not name %s", msg, tt.record)
			}
			assertNoSecrets(t, err.Error())
			if verr := v.Verify(ctx); !errors.As(verr, &ie) || ie.Key != tt.key {
				t.Errorf("Verify: got %v", verr)
			}
			// Records nobody touched still work.
			if _, err := v.AuthenticateClient(ctx, f.keys["ok"]); err != nil && tt.key != "ok" {
				t.Errorf("untouched client: %v", err)
			}
			if _, err := v.LWACredentials(ctx, "second"); err != nil {
				t.Errorf("untouched app: %v", err)
			}
			v.Close()
			assertUnchanged(t, f.path, before)
		})
	}
}

func TestUntouchedVaultGrantsAsStored(t *testing.T) {
	ctx := context.Background()
	f := newAccessVault(t)
	f.reopen(t)
	c, err := f.v.AuthenticateClient(ctx, f.keys["erp"])
	must(t, err)
	if !slices.Equal(c.Sellers, []string{seller1}) || !c.AllowsSeller(seller1) || c.AllowsSeller("acme") || c.PII || !c.AllowsOperation("getOrders") {
		t.Errorf("erp: %+v", c)
	}
	if _, err := f.v.AuthenticateClient(ctx, f.keys["bc"]); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked client: %v", err)
	}
	if _, err := f.v.AuthenticateClient(ctx, secret.New(evilKey)); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	list, err := f.v.ListClients(ctx)
	must(t, err)
	if len(list) != 3 {
		t.Errorf("%d clients", len(list))
	}
	cr, err := f.v.LWACredentials(ctx, "main")
	must(t, err)
	if cr.ClientSecret.Reveal() != secret3 || cr.Version != 2 {
		t.Errorf("credentials v%d", cr.Version)
	}
	a, err := f.v.GetApp(ctx, "main")
	must(t, err)
	if prev, ok := a.PreviousSecret(); !ok || prev.Value.Reveal() != secret1 || !prev.ExpiresAt.Equal(t0.Add(7*24*time.Hour)) {
		t.Errorf("previous secret %+v", prev)
	}
	must(t, f.v.Verify(ctx))
}

// TestWritesKeepIntegrity runs every write path that touches a client or a
// secret's metadata, then checks that each record still verifies.
func TestWritesKeepIntegrity(t *testing.T) {
	ctx := context.Background()
	f := newAccessVault(t)
	_, err := f.v.RotateClientKey(ctx, "bc")
	must(t, err)
	must(t, f.v.UpdateClientScopes(ctx, "erp", func(c *Client) error {
		c.Sellers, c.Operations, c.PII = []string{"acme", seller2}, []string{"orders/v0"}, true
		return nil
	}))
	must(t, f.v.RevokeClient(ctx, "ok"))
	must(t, f.v.MarkClientSecretVerified(ctx, "main", 0))
	must(t, f.v.MarkClientSecretVerified(ctx, "main", 1))
	_, err = f.v.SetClientSecret(ctx, "main", secret.New(secret2), SecretChange{PreviousExpiresAt: t0.Add(24 * time.Hour), Verified: true})
	must(t, err)
	must(t, f.v.MarkRefreshTokenVerified(ctx, seller1, "main"))
	must(t, f.v.SetRefreshToken(ctx, seller1, "second", secret.New(token2), time.Time{}))
	must(t, f.v.SetAWSKeys(ctx, "second", "AKIAIOSFODNN7EXAMPLE", secret.New(awsSecret)))
	snap, err := f.v.Export(ctx)
	must(t, err)
	other := newVault(t)
	must(t, other.v.Import(ctx, snap))
	must(t, other.v.Verify(ctx))
	must(t, f.v.ChangeKey(ctx, rawKey(t)))

	must(t, f.v.Verify(ctx))
	c, err := f.v.GetClient(ctx, "erp")
	must(t, err)
	if !slices.Equal(c.Sellers, []string{seller1, seller2}) || !c.PII {
		t.Errorf("erp after update: %+v", c)
	}
	a, err := f.v.GetApp(ctx, "main")
	must(t, err)
	if cur, _ := a.CurrentSecret(); cur.Value.Reveal() != secret2 || cur.VerifiedAt.IsZero() {
		t.Errorf("current secret %+v", cur)
	}
}

func TestRepairTamperedRecords(t *testing.T) {
	ctx := context.Background()
	f := newAccessVault(t)
	f.v.Close()
	rawExec(t, f.path, `UPDATE clients SET pii=1 WHERE name='erp'`)
	rawExec(t, f.path, `UPDATE secrets SET expires_at=NULL WHERE ref=? AND status='previous'`, appSecretRef(appID1))
	rawExec(t, f.path, `UPDATE secrets SET status='previous' WHERE ref=?`, tokenRef(seller1, appID1))
	f.reopen(t)

	// Revoking a tampered client deletes it; the name can be used again.
	must(t, f.v.RevokeClient(ctx, "erp"))
	if _, err := f.v.AuthenticateClient(ctx, f.keys["erp"]); !errors.Is(err, ErrNotFound) {
		t.Errorf("old key after revoke: %v", err)
	}
	_, err := f.v.CreateClient(ctx, Client{Name: "erp", Sellers: []string{seller1}, Operations: []string{"getOrders"}})
	must(t, err)
	// A tampered secret version can be removed by version.
	must(t, f.v.RemoveClientSecret(ctx, "main", 1))
	_, err = f.v.LWACredentials(ctx, "main")
	must(t, err)
	// A seller whose token record was tampered with can be removed.
	must(t, f.v.RemoveSeller(ctx, seller1))
	must(t, f.v.Verify(ctx))
}

// schema2Keys are the client keys created in testdata/schema2.db, a vault
// written by spgate at schema version 2 (before record integrity) with
// fixtureKey: app main (client secrets v1 previous, v2 current, AWS key),
// sellers A2VYDBAL8BMVQK "acme" and A3ABCDEFGHIJK1 with refresh tokens,
// and clients erp (seller "acme" by name, PII), byid, all, gone (revoked)
// and ghost (a seller name no seller has, and an id).
var schema2Keys = map[string]string{
	"erp":   "spg_o8_w2-wBgETDPzGENeFqdbvmBh7Oxcd0x4I6M64Oobc",
	"byid":  "spg_AaDY8FQ5q3vdm88KFsSWSqwHuhRZwh6YeknofQ3QhRY",
	"all":   "spg_Dq5-_rPRBO_mayRpxgi2eNY-Nqvvdc-NMOWYwxUHjBE",
	"gone":  "spg_A9C9VnY1FIN831XAl5JfFjH-pCqpFFiSqY84gHMhk-8",
	"ghost": "spg_hO0sZwFuAgEkERzON-jAoNYXNNdBi6ZPnmZLjH2pD10",
}

const fixtureKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// copySchema2 copies the schema 2 fixture into a private directory.
func copySchema2(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "schema2.db"))
	must(t, err)
	path := filepath.Join(t.TempDir(), "vault.db")
	must(t, os.WriteFile(path, b, 0o600))
	return path
}

func TestMigrateSchema2(t *testing.T) {
	fileOnly(t, "a vault file written by an older spgate")
	ctx := context.Background()
	path := copySchema2(t)
	key, err := ParseKey(fixtureKey, "test")
	must(t, err)
	open := func() *Vault {
		t.Helper()
		v, err := Open(ctx, path, key, testOpts(clock.NewFake(t0.Add(time.Hour))))
		must(t, err)
		return v
	}
	v := open()
	if v.SchemaVersion() != LatestSchemaVersion() {
		t.Fatalf("schema %d after opening, want %d", v.SchemaVersion(), LatestSchemaVersion())
	}
	wantSellers := map[string][]string{"erp": {seller1}, "byid": {seller2}, "all": {"*"}, "ghost": {seller1}}
	for name, want := range wantSellers {
		c, err := v.AuthenticateClient(ctx, secret.New(schema2Keys[name]))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !slices.Equal(c.Sellers, want) {
			t.Errorf("%s: sellers %v, want %v", name, c.Sellers, want)
		}
	}
	if c, _ := v.GetClient(ctx, "erp"); !c.PII || !c.AllowsSeller(seller1) || !slices.Equal(c.Operations, []string{"getOrders"}) {
		t.Errorf("erp after migration: %+v", c)
	}
	if _, err := v.AuthenticateClient(ctx, secret.New(schema2Keys["gone"])); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked client after migration: %v", err)
	}
	cr, err := v.LWACredentials(ctx, "main")
	must(t, err)
	if cr.ClientSecret.Reveal() != secret1 || cr.Version != 2 {
		t.Errorf("credentials v%d after migration", cr.Version)
	}
	a, err := v.GetApp(ctx, "main")
	must(t, err)
	if prev, ok := a.PreviousSecret(); !ok || prev.Value.Reveal() != secret2 || a.AWSSecretKey.Value.Reveal() != awsSecret {
		t.Errorf("app after migration: %+v", a.ClientSecrets)
	}
	tok, err := v.RefreshToken(ctx, seller2, "main")
	must(t, err)
	if tok.Reveal() != token2 {
		t.Error("refresh token lost in migration")
	}
	must(t, v.Verify(ctx))
	events, err := v.AuditLog(ctx, AuditFilter{Subject: "client:ghost"})
	must(t, err)
	if last := events[len(events)-1]; !strings.Contains(last.Detail, "nosuchshop matches no seller") {
		t.Errorf("audit of the scope change: %+v", last)
	}
	v.Close()

	// The migrated rows are protected, and a second open does not sign
	// again what was changed in between.
	rawExec(t, path, `UPDATE clients SET pii=1 WHERE name='byid'`)
	v = open()
	defer v.Close()
	if _, err := v.AuthenticateClient(ctx, secret.New(schema2Keys["byid"])); !errors.Is(err, ErrIntegrity) {
		t.Errorf("tampered after migration: %v", err)
	}
	if _, err := v.AuthenticateClient(ctx, secret.New(schema2Keys["erp"])); err != nil {
		t.Errorf("untouched after migration: %v", err)
	}
}

func TestRollbackToUnprotectedSchemaRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		tamper func(t *testing.T, path string, key Key, dek []byte)
		want   string
	}{
		{
			// Without the refusal the next open would migrate again and
			// sign the inserted row.
			name: "schema version set back and MACs dropped",
			tamper: func(t *testing.T, path string, _ Key, _ []byte) {
				rawExec(t, path, `ALTER TABLE clients DROP COLUMN mac`)
				rawExec(t, path, `ALTER TABLE secrets DROP COLUMN mac`)
				rawExec(t, path, `INSERT INTO clients(name, key_hash, sellers, operations, pii, created_at) VALUES ('evil', ?, '["*"]', '["*"]', 1, '2026-01-01T00:00:00Z')`, sha(evilKey))
				setSchemaVersion(t, path, 2)
			},
			want: "its schema version was set back to 2",
		},
		{
			// As restored from a backup taken before the migration.
			name: "data key record wrapped as before record integrity",
			tamper: func(t *testing.T, path string, key Key, dek []byte) {
				id := rawBlob(t, path, `SELECT value FROM meta WHERE key='vault_id'`)
				aead, err := newAEAD(key.raw)
				must(t, err)
				old, err := seal(aead, dek, dekAADPrefix+string(id))
				must(t, err)
				rawExec(t, path, `UPDATE meta SET value=? WHERE key='dek'`, old)
			},
			want: "its data key record is older than its schema",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAccessVault(t)
			dek := append([]byte(nil), f.v.dek...)
			f.v.Close()
			tt.tamper(t, f.path, f.key, dek)
			before := snapshot(t, f.path)
			_, err := Open(ctx, f.path, f.key, testOpts(f.clk))
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrTampered with %q", err, tt.want)
			}
			assertUnchanged(t, f.path, before)
		})
	}
}

func TestVaultFilePermissions(t *testing.T) {
	fileOnly(t, "file modes")
	ctx := context.Background()
	tests := []struct {
		name      string
		fileMode  os.FileMode // 0: leave as created
		dirMode   os.FileMode
		walMode   os.FileMode // non-zero: leave a -wal file with this mode
		wantPath  string      // "file", "dir", "wal"; "" means Open succeeds
		wantWords string
	}{
		{name: "world-writable file", fileMode: 0o666, wantPath: "file", wantWords: "group or others can write to it"},
		{name: "group-writable file", fileMode: 0o620, wantPath: "file"},
		{name: "world-writable folder", dirMode: 0o777, wantPath: "dir"},
		{name: "world-writable folder with sticky bit", dirMode: 0o777 | os.ModeSticky, wantPath: "dir"},
		{name: "group-writable folder", dirMode: 0o770, wantPath: "dir"},
		{name: "world-writable WAL file", walMode: 0o666, wantPath: "wal"},
		{name: "readable by others", fileMode: 0o644, dirMode: 0o755},
		{name: "private WAL file", walMode: 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newVault(t)
			f.seed(t)
			f.v.Close()
			dir := filepath.Dir(f.path)
			if tt.fileMode != 0 {
				must(t, os.Chmod(f.path, tt.fileMode))
			}
			if tt.dirMode != 0 {
				must(t, os.Chmod(dir, tt.dirMode))
			}
			if tt.walMode != 0 {
				must(t, os.WriteFile(f.path+"-wal", nil, 0o600))
				must(t, os.Chmod(f.path+"-wal", tt.walMode))
			}
			v, err := Open(ctx, f.path, f.key, testOpts(f.clk))
			if tt.wantPath == "" {
				must(t, err)
				_, err = v.LWACredentials(ctx, "main")
				must(t, err)
				v.Close()
				return
			}
			if !errors.Is(err, ErrVaultPermissions) {
				t.Fatalf("got %v, want ErrVaultPermissions", err)
			}
			p := map[string]string{"file": f.path, "dir": dir, "wal": f.path + "-wal"}[tt.wantPath]
			if !strings.Contains(err.Error(), p+" has mode") || !strings.HasSuffix(err.Error(), "fix with: chmod go-w "+p) {
				t.Errorf("message %q does not name %s and its chmod", err, p)
			}
			if !strings.Contains(err.Error(), tt.wantWords) {
				t.Errorf("message %q lacks %q", err, tt.wantWords)
			}
		})
	}

	t.Run("new vault in a world-writable folder", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "shared")
		must(t, os.Mkdir(dir, 0o700))
		must(t, os.Chmod(dir, 0o777))
		path := filepath.Join(dir, "vault.db")
		if _, err := Open(ctx, path, rawKey(t), testOpts(nil)); !errors.Is(err, ErrVaultPermissions) {
			t.Fatalf("got %v, want ErrVaultPermissions", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a vault file was created: %v", err)
		}
	})
}

func TestSellerNamesAndScopes(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	f.seed(t) // seller1 is named "acme"

	t.Run("a name shaped like a selling partner id is refused", func(t *testing.T) {
		for _, name := range []string{seller2, seller1, "A1234567890"} {
			err := f.v.AddSeller(ctx, Seller{ID: seller2, Name: name, Region: RegionEU})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "has the shape of a selling partner id") {
				t.Errorf("add seller named %s: %v", name, err)
			}
			err = f.v.UpdateSeller(ctx, seller1, func(s *Seller) error { s.Name = name; return nil })
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("rename to %s: %v", name, err)
			}
		}
		if err := ValidateName("seller", seller2); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateName: %v", err)
		}
		for _, ok := range []string{"shop-eu", "a2vydbal8bmvqk", "A2VYDBAL8BMVQK-eu", "Acme"} {
			must(t, ValidateSellerName(ok))
		}
		must(t, ValidateName("client", seller2))
	})

	t.Run("AllowsSeller matches ids only", func(t *testing.T) {
		c := Client{Sellers: []string{"acme", seller1}}
		if c.AllowsSeller("acme") || !c.AllowsSeller(seller1) || c.AllowsSeller(seller2) {
			t.Error("by name")
		}
		all := Client{Sellers: []string{"*"}}
		if !all.AllowsSeller(seller2) || all.AllowsSeller("acme") || all.AllowsSeller("") {
			t.Error("*")
		}
	})

	t.Run("scopes by name are stored as ids", func(t *testing.T) {
		_, err := f.v.CreateClient(ctx, Client{Name: "erp", Sellers: []string{" acme ", seller1}, Operations: []string{"*"}})
		must(t, err)
		c, err := f.v.GetClient(ctx, "erp")
		must(t, err)
		if !slices.Equal(c.Sellers, []string{seller1}) {
			t.Fatalf("sellers %v", c.Sellers)
		}
		// Renaming the seller and giving its old name to another does
		// not move the client.
		must(t, f.v.UpdateSeller(ctx, seller1, func(s *Seller) error { s.Name = "acme-old"; return nil }))
		must(t, f.v.AddSeller(ctx, Seller{ID: seller2, Name: "acme", Region: RegionEU}))
		c, _ = f.v.GetClient(ctx, "erp")
		if !c.AllowsSeller(seller1) || c.AllowsSeller(seller2) {
			t.Errorf("after rename: %v", c.Sellers)
		}
		must(t, f.v.UpdateClientScopes(ctx, "erp", func(c *Client) error { c.Sellers = []string{"acme"}; return nil }))
		c, _ = f.v.GetClient(ctx, "erp")
		if !slices.Equal(c.Sellers, []string{seller2}) {
			t.Errorf("after update: %v", c.Sellers)
		}
	})

	t.Run("an unknown seller name is refused", func(t *testing.T) {
		_, err := f.v.CreateClient(ctx, Client{Name: "x", Sellers: []string{"nosuchshop"}})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `no seller named "nosuchshop"`) {
			t.Errorf("create: %v", err)
		}
		err = f.v.UpdateClientScopes(ctx, "erp", func(c *Client) error { c.Sellers = []string{"nosuchshop"}; return nil })
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("update: %v", err)
		}
	})
}
