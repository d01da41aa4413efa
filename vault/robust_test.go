package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/secret"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWrongKeyChangesNothing(t *testing.T) {
	f := newVault(t)
	f.seed(t)
	f.v.Close()
	before := snapshot(t, f.path)
	pass, err := ParseKey("correct horse battery staple", EnvMasterKey)
	must(t, err)
	for name, k := range map[string]Key{"other raw key": rawKey(t), "passphrase": pass} {
		t.Run(name, func(t *testing.T) {
			_, err := Open(context.Background(), f.path, k, testOpts(f.clk))
			if !errors.Is(err, ErrWrongKey) {
				t.Fatalf("Open with wrong key: got %v, want ErrWrongKey", err)
			}
			if !strings.Contains(err.Error(), "wrong vault key: SPGATE_MASTER_KEY does not match this vault") {
				t.Errorf("message %q", err)
			}
			assertUnchanged(t, f.path, before)
		})
	}
	// The right key still works afterwards.
	v, err := Open(context.Background(), f.path, f.key, testOpts(f.clk))
	must(t, err)
	v.Close()
}

func TestTamper(t *testing.T) {
	ctx := context.Background()
	type check func(v *Vault) error
	readApp := func(v *Vault) error { _, err := v.GetApp(ctx, "main"); return err }
	readCreds := func(v *Vault) error { _, err := v.LWACredentials(ctx, "main"); return err }
	readToken := func(v *Vault) error { _, err := v.RefreshToken(ctx, seller1, "main"); return err }
	tests := []struct {
		name    string
		tamper  func(t *testing.T, path string)
		openErr error // expected from Open; nil: Open succeeds and read fails
		read    check
		record  string // expected in the message
	}{
		{
			name: "ciphertext byte flipped in the file",
			tamper: func(t *testing.T, path string) {
				fileOnly(t, "its bytes")
				ct := rawBlob(t, path, `SELECT ct FROM secrets WHERE ref=? AND status='current'`, appSecretRef(appID1))
				b := readFile(t, path)
				i := bytes.Index(b, ct)
				if i < 0 || bytes.Index(b[i+1:], ct) >= 0 {
					t.Fatal("ciphertext not found exactly once in the file")
				}
				b[i+len(ct)/2] ^= 0x01
				must(t, os.WriteFile(path, b, 0o600))
			},
			read: readCreds, record: "secret|app|" + appID1 + "|client_secret|v1",
		},
		{
			name: "client secrets swapped between apps",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `UPDATE secrets SET ref='tmp' WHERE ref=?`, appSecretRef(appID1))
				rawExec(t, path, `UPDATE secrets SET ref=? WHERE ref=?`, appSecretRef(appID1), appSecretRef(appID2))
				rawExec(t, path, `UPDATE secrets SET ref=? WHERE ref='tmp'`, appSecretRef(appID2))
			},
			read: readCreds, record: "client_secret",
		},
		{
			name: "refresh token moved to another seller",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `INSERT INTO sellers(id, region, created_at, updated_at) VALUES (?, 'eu', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`, seller2)
				rawExec(t, path, `INSERT INTO authorizations(seller_id, app_id, authorized_at) VALUES (?, ?, '2026-01-01T00:00:00Z')`, seller2, appID1)
				rawExec(t, path, `UPDATE secrets SET ref=? WHERE ref=?`, tokenRef(seller2, appID1), tokenRef(seller1, appID1))
			},
			read:   func(v *Vault) error { _, err := v.RefreshToken(ctx, seller2, "main"); return err },
			record: "refresh_token",
		},
		{
			name: "version number edited",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `UPDATE secrets SET version=7 WHERE ref=?`, tokenRef(seller1, appID1))
			},
			read: readToken, record: "|v7",
		},
		{
			name: "AWS secret replaced by the client secret's ciphertext",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, `UPDATE secrets SET ct=(SELECT ct FROM secrets WHERE ref=?) WHERE ref=?`, appSecretRef(appID1), appAWSRef(appID1))
			},
			read: readApp, record: "aws_secret_key",
		},
		{
			name:   "checkpoint truncated",
			tamper: func(t *testing.T, path string) { rawExec(t, path, `UPDATE checkpoints SET ct=substr(ct, 1, 20)`) },
			read:   func(v *Vault) error { _, err := v.GetCheckpoint(ctx, seller1, "orders"); return err },
			record: "checkpoint|",
		},
		{
			name:   "state renamed",
			tamper: func(t *testing.T, path string) { rawExec(t, path, `UPDATE state SET key='rotation/second'`) },
			read:   func(v *Vault) error { _, err := v.State(ctx, "rotation/second"); return err },
			record: "state|rotation/second",
		},
		{
			name: "wrapped data key flipped",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, sqlFor(path,
					`UPDATE meta SET value = X'00' || substr(value, 2) WHERE key='dek'`,
					`UPDATE meta SET value = '\x00'::bytea || substr(value, 2) WHERE key='dek'`))
			},
			openErr: ErrTampered, record: "dek",
		},
		{
			name: "key check value replaced",
			tamper: func(t *testing.T, path string) {
				rawExec(t, path, sqlFor(path,
					`UPDATE meta SET value = zeroblob(32) WHERE key='key_check'`,
					`UPDATE meta SET value = decode(repeat('00', 32), 'hex') WHERE key='key_check'`))
			},
			openErr: ErrWrongKey,
		},
		{
			name:    "key check value deleted",
			tamper:  func(t *testing.T, path string) { rawExec(t, path, `DELETE FROM meta WHERE key='key_check'`) },
			openErr: ErrCorrupt, record: "key_check",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newVault(t)
			f.seed(t)
			f.v.Close()
			tt.tamper(t, f.path)
			before := snapshot(t, f.path)
			v, err := Open(ctx, f.path, f.key, testOpts(f.clk))
			if tt.openErr != nil {
				if !errors.Is(err, tt.openErr) {
					t.Fatalf("Open: got %v, want %v", err, tt.openErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				err = tt.read(v)
				if !errors.Is(err, ErrTampered) {
					t.Fatalf("read: got %v, want ErrTampered", err)
				}
				// A changed ciphertext fails AES-GCM; a changed ref or
				// version fails the row's integrity check first.
				if !strings.Contains(err.Error(), "failed authentication: the vault was tampered with or the key is wrong") &&
					!strings.Contains(err.Error(), "fails the integrity check (was vault.db edited without spgate?)") {
					t.Errorf("message %q", err)
				}
				if verr := v.Verify(ctx); !errors.Is(verr, ErrTampered) {
					t.Errorf("Verify: got %v, want ErrTampered", verr)
				}
				// Other records are still readable.
				if _, err := v.LWACredentials(ctx, "second"); err != nil && tt.name != "client secrets swapped between apps" {
					t.Errorf("untouched record: %v", err)
				}
				v.Close()
			}
			var ie *IntegrityError
			if tt.record != "" && !strings.Contains(err.Error(), tt.record) && !(errors.As(err, &ie) && strings.Contains(ie.Key, tt.record)) {
				t.Errorf("message %q does not name record %q", err, tt.record)
			}
			assertNoSecrets(t, err.Error())
			assertUnchanged(t, f.path, before)
		})
	}
}

func TestDamagedFiles(t *testing.T) {
	fileOnly(t, "damaged files")
	ctx := context.Background()
	good := newVault(t)
	good.seed(t)
	good.v.Close()
	vaultBytes := readFile(t, good.path)
	random := make([]byte, 8192)
	rand.Read(random)

	otherDB := filepath.Join(t.TempDir(), "other.db")
	rawExec(t, otherDB, `CREATE TABLE t(x)`)

	tests := []struct {
		name    string
		content func() []byte
		create  bool
		want    error
		msg     string
	}{
		{"truncated to half", func() []byte { return vaultBytes[:len(vaultBytes)/2] }, false, ErrCorrupt, "truncated"},
		{"truncated to one page", func() []byte { return vaultBytes[:4096] }, true, ErrCorrupt, "truncated"},
		{"truncated inside the header", func() []byte { return vaultBytes[:50] }, false, ErrCorrupt, "not an SQLite database"},
		{"random bytes", func() []byte { return random }, true, ErrCorrupt, "not an SQLite database"},
		{"text file", func() []byte { return []byte("SPGATE_MASTER_KEY=abc\n") }, false, ErrCorrupt, "not an SQLite database"},
		{"other SQLite database", func() []byte { return readFile(t, otherDB) }, true, ErrCorrupt, "not an spgate vault"},
		{"empty file", func() []byte { return nil }, false, ErrNoVault, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vault.db")
			must(t, os.WriteFile(path, tt.content(), 0o600))
			before := readFile(t, path)
			opts := testOpts(good.clk)
			opts.Create = tt.create
			_, err := Open(ctx, path, good.key, opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q lacks %q", err, tt.msg)
			}
			assertUnchanged(t, path, before)
		})
	}
}

func TestMissingVault(t *testing.T) {
	fileOnly(t, "a missing file (postgres_test.go checks an empty database)")
	path := filepath.Join(t.TempDir(), "nope", "vault.db")
	_, err := Open(context.Background(), path, rawKey(t), Options{})
	if !errors.Is(err, ErrNoVault) {
		t.Fatalf("got %v, want ErrNoVault", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Error("Open without Create created the directory")
	}
}

func TestSchemaTooNew(t *testing.T) {
	f := newVault(t)
	f.v.Close()
	setSchemaVersion(t, f.path, 99)
	before := snapshot(t, f.path)
	_, err := Open(context.Background(), f.path, f.key, testOpts(f.clk))
	if !errors.Is(err, ErrTooNew) {
		t.Fatalf("got %v, want ErrTooNew", err)
	}
	want := fmt.Sprintf("vault schema version 99 is newer than this spgate (%d); upgrade spgate", LatestSchemaVersion())
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	assertUnchanged(t, f.path, before)
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	// Test migrations go after the real ones: n+1 adds a table, n+2 fails.
	n := len(migrations)
	v2 := migration{Version: n + 1, Name: "add notes", Up: execAll(`CREATE TABLE notes (x TEXT)`, `INSERT INTO notes VALUES ('migrated')`)}
	v3bad := migration{Version: n + 2, Name: "broken", Up: execAll(`CREATE TABLE half (x TEXT)`, `INSERT INTO nowhere VALUES (1)`)}
	with := func(ms ...migration) []migration { return append(migrations[:n:n], ms...) }

	t.Run("runner on an empty database", func(t *testing.T) {
		path := emptyVaultPath(t)
		opts := testOpts(nil)
		opts.migrations = with(v2)
		v, err := Open(ctx, path, rawKey(t), opts)
		must(t, err)
		defer v.Close()
		if v.SchemaVersion() != n+1 || !tableExists(t, path, "notes") || !tableExists(t, path, "apps") {
			t.Fatalf("version %d after creating with two migrations", v.SchemaVersion())
		}
	})
	t.Run("upgrade keeps data", func(t *testing.T) {
		f := newVault(t)
		f.seed(t)
		f.v.Close()
		opts := testOpts(f.clk)
		opts.migrations = with(v2)
		v, err := Open(ctx, f.path, f.key, opts)
		must(t, err)
		defer v.Close()
		if v.SchemaVersion() != n+1 || !tableExists(t, f.path, "notes") {
			t.Fatalf("not migrated: version %d", v.SchemaVersion())
		}
		c, err := v.LWACredentials(ctx, "main")
		must(t, err)
		if c.ClientSecret.Reveal() != secret1 {
			t.Error("secret lost in migration")
		}
	})
	t.Run("wrong key does not migrate", func(t *testing.T) {
		f := newVault(t)
		f.v.Close()
		before := snapshot(t, f.path)
		opts := testOpts(f.clk)
		opts.migrations = with(v2)
		if _, err := Open(ctx, f.path, rawKey(t), opts); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("got %v", err)
		}
		assertUnchanged(t, f.path, before)
	})
	t.Run("failing migration rolls back its step", func(t *testing.T) {
		f := newVault(t)
		f.v.Close()
		opts := testOpts(f.clk)
		opts.migrations = with(v2, v3bad)
		_, err := Open(ctx, f.path, f.key, opts)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("version %d (broken)", n+2)) {
			t.Fatalf("got %v", err)
		}
		if !tableExists(t, f.path, "notes") || tableExists(t, f.path, "half") {
			t.Error("step 2 should be committed and step 3 rolled back")
		}
		if ver := schemaVersionOf(t, f.path); ver != n+1 {
			t.Errorf("schema version %d, want %d", ver, n+1)
		}
	})
	t.Run("out of order list is refused", func(t *testing.T) {
		path := emptyVaultPath(t)
		opts := testOpts(nil)
		opts.migrations = with(v3bad)
		if _, err := Open(ctx, path, rawKey(t), opts); err == nil {
			t.Fatal("accepted a gap in the migration list")
		}
	})
}

func TestLocked(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	f.seed(t)
	f.reopenWith(t, func(o *Options) { o.BusyTimeout = 50 * time.Millisecond })

	// Another process (here: another connection) holds the write lock.
	db := rawDB(t, f.path)
	defer db.Close()
	conn, err := db.Conn(ctx)
	must(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, f.v.d.beginWrite(time.Minute))
	must(t, err)
	_, err = conn.ExecContext(ctx, f.v.d.q(`INSERT INTO state(key, ct, updated_at) VALUES ('x', ?, 'now')`), []byte{0})
	must(t, err)

	before, err := f.v.AuditLog(ctx, AuditFilter{})
	must(t, err)
	_, err = f.v.SetClientSecret(ctx, "main", secret.New(secret3), SecretChange{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("write under a foreign lock: got %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "vault is locked by another spgate process") {
		t.Errorf("message %q", err)
	}
	assertNoSecrets(t, err.Error())
	// Readers are not blocked (WAL).
	c, err := f.v.LWACredentials(ctx, "main")
	must(t, err)
	if c.ClientSecret.Reveal() != secret1 {
		t.Error("secret changed despite the failed write")
	}
	_, err = conn.ExecContext(ctx, `ROLLBACK`)
	must(t, err)
	after, err := f.v.AuditLog(ctx, AuditFilter{})
	must(t, err)
	if len(after) != len(before) {
		t.Error("the failed write left audit entries")
	}
	// Once the lock is gone, the write goes through.
	_, err = f.v.SetClientSecret(ctx, "main", secret.New(secret3), SecretChange{})
	must(t, err)
}

func (f *fixture) reopenWith(t testing.TB, mod func(*Options)) {
	t.Helper()
	f.v.Close()
	o := testOpts(f.clk)
	mod(&o)
	v, err := Open(context.Background(), f.path, f.key, o)
	must(t, err)
	f.v = v
}

func TestConcurrentHandles(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	f.seed(t)
	other, err := Open(ctx, f.path, f.key, testOpts(f.clk))
	must(t, err)
	defer other.Close()
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for i, v := range []*Vault{f.v, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range n {
				job := fmt.Sprintf("job-%d-%d", i, j)
				if err := v.SetCheckpoint(ctx, seller1, job, []byte(job)); err != nil {
					errs <- err
				}
				if _, err := v.SetClientSecret(ctx, "second", secret.New([]string{secret2, secret3}[j%2]), SecretChange{PreviousExpiresAt: t0.Add(time.Hour)}); err != nil {
					errs <- err
				}
				if _, err := v.LWACredentials(ctx, "main"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	cps, err := f.v.ListCheckpoints(ctx, seller1)
	must(t, err)
	if len(cps) != 2*n+1 {
		t.Errorf("%d checkpoints, want %d", len(cps), 2*n+1)
	}
	a, err := f.v.GetApp(ctx, "second")
	must(t, err)
	if len(a.ClientSecrets) != 2 || a.ClientSecrets[0].Version != 2*n+1 {
		t.Errorf("after %d rotations: %+v", 2*n, a.ClientSecrets)
	}
	must(t, f.v.Verify(ctx))
}

// TestHelperProcess is the child side of TestTwoProcesses.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("SPGATE_VAULT_TEST_CHILD")
	if path == "" {
		t.Skip("helper for TestTwoProcesses")
	}
	k, err := ParseKey(os.Getenv("SPGATE_VAULT_TEST_KEY"), "test")
	must(t, err)
	v, err := Open(context.Background(), path, k, Options{BusyTimeout: testenv.Patience})
	must(t, err)
	defer v.Close()
	for j := range 30 {
		must(t, v.SetCheckpoint(context.Background(), seller1, "child-"+strconv.Itoa(j), []byte("c")))
	}
}

func TestTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	ctx := context.Background()
	f := newVault(t)
	f.seed(t)
	enc, _ := f.key.Encode()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SPGATE_VAULT_TEST_CHILD="+f.path, "SPGATE_VAULT_TEST_KEY="+enc)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	for j := range 30 {
		must(t, f.v.SetCheckpoint(ctx, seller1, "parent-"+strconv.Itoa(j), []byte("p")))
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	cps, err := f.v.ListCheckpoints(ctx, seller1)
	must(t, err)
	if len(cps) != 61 {
		t.Errorf("%d checkpoints, want 61", len(cps))
	}
	must(t, f.v.Verify(ctx))
}

func TestFilePermissions(t *testing.T) {
	fileOnly(t, "file modes")
	f := newVault(t)
	f.seed(t)
	for _, p := range []string{f.path, f.path + "-wal", f.path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), perm)
		}
	}
	fi, err := os.Stat(filepath.Dir(f.path))
	must(t, err)
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("vault directory has mode %04o, want 0700", perm)
	}
}

// TestNoPlaintextOnDisk greps the vault file and its WAL for every secret.
func TestNoPlaintextOnDisk(t *testing.T) {
	fileOnly(t, "its bytes")
	f := newVault(t)
	f.seed(t)
	_, err := f.v.SetClientSecret(context.Background(), "main", secret.New(secret3), SecretChange{PreviousExpiresAt: t0.Add(7 * 24 * time.Hour)})
	must(t, err)
	check := func() {
		for _, p := range []string{f.path, f.path + "-wal"} {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			for _, s := range allSecrets {
				for _, frag := range []string{s, s[len(s)-24:]} {
					if bytes.Contains(b, []byte(frag)) {
						t.Errorf("%s contains a secret in plain text", filepath.Base(p))
					}
				}
			}
		}
	}
	check()
	f.v.Close()
	check()
	f.reopen(t)
}
