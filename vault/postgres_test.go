package vault

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/pgtest"
)

// What only a vault in PostgreSQL has: DSNs, schemas, a server that may be
// away. These need a server, not the PostgreSQL pass of TestMain: they run
// in the first.

// firstPassOnly skips a test that has run in the first pass already.
func firstPassOnly(t *testing.T) {
	t.Helper()
	if onPostgres() {
		t.Skip("ran in the first pass")
	}
}

func TestIsPostgresDSN(t *testing.T) {
	firstPassOnly(t)
	for path, want := range map[string]bool{
		"postgres://u@h/db":             true,
		"postgresql://u:p@h:5432/db":    true,
		"POSTGRES://h/db":               true,
		"/var/lib/spgate/vault.db":      false,
		"vault.db":                      false,
		"postgres.db":                   false,
		"file:postgres://x":             false,
		"sqlite:///var/lib/spgate/x.db": false,
	} {
		if got := IsPostgresDSN(path); got != want {
			t.Errorf("IsPostgresDSN(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestRedactDSN(t *testing.T) {
	firstPassOnly(t)
	for dsn, want := range map[string]string{
		"postgres://spgate:s3cret-pw@db.example:5432/spgate?sslmode=require":    "postgres://spgate:xxxxx@db.example:5432/spgate?sslmode=require",
		"postgres://spgate@db.example/spgate?password=s3cret-pw&sslmode=verify": "postgres://spgate@db.example/spgate?password=xxxxx&sslmode=verify",
		"/var/lib/spgate/vault.db": "/var/lib/spgate/vault.db",
	} {
		if got := RedactDSN(dsn); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}

func TestPostgresOpen(t *testing.T) {
	firstPassOnly(t)
	srv := pgtest.Need(t)
	ctx := context.Background()

	t.Run("no vault yet and no Create", func(t *testing.T) {
		dsn := srv.Schema(t)
		_, err := Open(ctx, dsn, rawKey(t), Options{})
		if !errors.Is(err, ErrNoVault) || !strings.Contains(err.Error(), "no vault in postgres://") {
			t.Fatalf("got %v, want ErrNoVault naming the database", err)
		}
		if tableExists(t, dsn, "meta") {
			t.Error("Open without Create created tables")
		}
	})
	t.Run("a schema holding other tables", func(t *testing.T) {
		dsn := srv.Schema(t)
		rawExec(t, dsn, `CREATE TABLE invoices (id INTEGER)`)
		before := snapshot(t, dsn)
		_, err := Open(ctx, dsn, rawKey(t), testOpts(nil))
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "holds tables but no spgate vault") {
			t.Fatalf("got %v, want ErrCorrupt", err)
		}
		assertUnchanged(t, dsn, before)
	})
	t.Run("a schema named in search_path is created", func(t *testing.T) {
		name := "spgate_new_" + strconv.FormatInt(time.Now().UnixNano(), 36)
		srv.Exec(t, `DROP SCHEMA IF EXISTS `+name+` CASCADE`)
		t.Cleanup(func() { srv.Exec(t, `DROP SCHEMA IF EXISTS `+name+` CASCADE`) })
		dsn := pgtest.WithParam(srv.DSN, "search_path", name)
		if _, err := Open(ctx, dsn, rawKey(t), Options{}); !errors.Is(err, ErrNoVault) {
			t.Fatalf("without Create: got %v, want ErrNoVault", err)
		}
		v, err := Open(ctx, dsn, rawKey(t), testOpts(nil))
		must(t, err)
		defer v.Close()
		if !tableExists(t, dsn, "secrets") || v.Backend() != "postgres" {
			t.Fatal("vault not created in the new schema")
		}
	})
	t.Run("a database that does not exist", func(t *testing.T) {
		dsn := strings.Replace(srv.Database(t), "/spgate_t_", "/spgate_nodb_", 1)
		_, err := Open(ctx, dsn, rawKey(t), testOpts(nil))
		if !errors.Is(err, ErrNoVault) || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("got %v, want ErrNoVault", err)
		}
	})
	t.Run("two vaults in two schemas of one database", func(t *testing.T) {
		a, b := srv.Schema(t), srv.Schema(t)
		va, err := Open(ctx, a, rawKey(t), testOpts(nil))
		must(t, err)
		defer va.Close()
		vb, err := Open(ctx, b, rawKey(t), testOpts(nil))
		must(t, err)
		defer vb.Close()
		must(t, va.AddApp(ctx, sampleApp("main", appID1, clientID1, secret1)))
		must(t, vb.AddApp(ctx, sampleApp("main", appID2, clientID2, secret2)))
		ca, err := va.LWACredentials(ctx, "main")
		must(t, err)
		cb, err := vb.LWACredentials(ctx, "main")
		must(t, err)
		if ca.ClientSecret.Reveal() != secret1 || cb.ClientSecret.Reveal() != secret2 {
			t.Fatal("the vaults of two schemas mixed up")
		}
		// One vault's writer lock does not hold up the other's writers.
		db := rawDB(t, a)
		defer db.Close()
		conn, err := db.Conn(ctx)
		must(t, err)
		defer conn.Close()
		_, err = conn.ExecContext(ctx, va.d.beginWrite(0))
		must(t, err)
		must(t, vb.SetState(ctx, "x", []byte("y")))
		_, err = conn.ExecContext(ctx, "ROLLBACK")
		must(t, err)
	})
}

func TestPostgresUnreachable(t *testing.T) {
	firstPassOnly(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dsn := "postgres://spgate:s3cret-pw@127.0.0.1:" + strconv.Itoa(port) + "/spgate?sslmode=disable&connect_timeout=5"
	_, err = Open(context.Background(), dsn, rawKey(t), testOpts(nil))
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "cannot reach the vault database") {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("the message shows the password: %v", err)
	}
	if _, err := Open(context.Background(), "postgres://u:s3cret-pw@h:notaport/db", rawKey(t), testOpts(nil)); !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("unparsable DSN: %v", err)
	}
}

// A password in the DSN never shows in what the vault says about itself,
// and no table holds a secret in plain text.
func TestPostgresPathHidesPassword(t *testing.T) {
	firstPassOnly(t)
	srv := pgtest.Need(t)
	dsn := pgtest.WithParam(srv.Schema(t), "password", "s3cret-pw")
	v, err := Open(context.Background(), dsn, rawKey(t), testOpts(nil))
	must(t, err)
	defer v.Close()
	if strings.Contains(v.Path(), "s3cret-pw") || !strings.Contains(v.Path(), "password=xxxxx") {
		t.Errorf("Path() = %q", v.Path())
	}
	must(t, v.AddApp(context.Background(), sampleApp("main", appID1, clientID1, secret1)))
	// The secret is stored encrypted: no row holds it in plain text.
	if dump := snapshot(t, dsn); strings.Contains(string(dump), secret1) || strings.Contains(string(dump), hexOf(secret1)) {
		t.Error("a secret is stored in plain text")
	}
}

func hexOf(s string) string { return hex.EncodeToString([]byte(s)) }
