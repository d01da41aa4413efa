package vault

import (
	"bytes"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/spgate/spgate/internal/pgtest"
	"github.com/spgate/spgate/internal/testenv"
)

// The vault's tests are one conformance suite for both backends: TestMain
// runs every test against SQLite, then all of them again against
// PostgreSQL when a server is available (internal/pgtest: the one
// $SPGATE_TEST_POSTGRES names, or a throw-away cluster started from the
// PostgreSQL binaries on PATH), each test's vault in a fresh schema.
// Without a server the second run is skipped, saying so on stderr; with
// SPGATE_REQUIRE_POSTGRES=1 (CI) that is a failure. A test that checks a
// property of the vault file itself skips itself in the second run
// (fileOnly).
//
// A failure in the second run logs "vault in PostgreSQL schema …" first.

// pgServer is set while the tests run against PostgreSQL.
var pgServer *pgtest.Server

func TestMain(m *testing.M) {
	testenv.NoExitPause()
	// A helper process runs the one test it was started for, against the
	// vault its parent names.
	if os.Getenv("SPGATE_VAULT_TEST_CHILD") != "" || os.Getenv("SPGATE_VAULT_RL_CHILD") != "" {
		os.Exit(m.Run())
	}
	code := m.Run()
	srv, err := pgtest.Shared()
	switch {
	case err == nil:
		fmt.Println("=== the vault tests again, on PostgreSQL (a fresh schema per test)")
		skipAlso(sqliteOnly)
		pgServer = srv
		if c := m.Run(); c != 0 {
			code = c
		}
		pgServer = nil
	case pgtest.Required() || !errors.Is(err, pgtest.ErrUnavailable):
		fmt.Fprintf(os.Stderr, "FAIL: the vault tests cannot run on PostgreSQL: %v\n", err)
		code = 1
	default:
		fmt.Fprintf(os.Stderr, "vault tests on PostgreSQL skipped: %v\n", err)
	}
	pgtest.Stop()
	os.Exit(code)
}

// sqliteOnly are tests of what only the SQLite backend has (its write
// lock, its synchronous pragma); ratelimit_pg_test.go has their
// PostgreSQL counterparts.
var sqliteOnly = []string{
	"TestRateLimitStoreFallsBackWhenLocked",
	"TestRateLimitStoreRestoresSynchronous",
}

// skipAlso adds tests to -test.skip for the next m.Run.
func skipAlso(names []string) {
	f := flag.Lookup("test.skip")
	pattern := "^(" + strings.Join(names, "|") + ")$"
	if cur := f.Value.String(); cur != "" {
		pattern = cur + "|" + pattern
	}
	_ = f.Value.Set(pattern)
}

func onPostgres() bool { return pgServer != nil }

// fileOnly skips a test of the vault file itself in the PostgreSQL run.
func fileOnly(t testing.TB, what string) {
	t.Helper()
	if onPostgres() {
		t.Skip("a property of the vault file (" + what + "); PostgreSQL keeps no file")
	}
}

// emptyVaultPath is where a test may create a vault of its own: a file in
// a temporary folder, or a fresh schema.
func emptyVaultPath(t testing.TB) string {
	t.Helper()
	if onPostgres() {
		dsn := pgServer.Schema(t)
		t.Logf("vault in PostgreSQL: %s", dsn)
		return dsn
	}
	return filepath.Join(t.TempDir(), "spgate", "vault.db")
}

// rawDB opens the vault's database directly, bypassing the vault.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", path+"?_pragma=busy_timeout("+strconv.FormatInt(testenv.Patience.Milliseconds(), 10)+")"
	if IsPostgresDSN(path) {
		driver, dsn = "pgx", path
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// rawSQL rewrites a statement with ? placeholders for path's database.
func rawSQL(path, q string) string {
	if IsPostgresDSN(path) {
		return (&pgDialect{}).q(q)
	}
	return q
}

// sqlFor picks the statement for path's database where they differ.
func sqlFor(path, sqlite, postgres string) string {
	if IsPostgresDSN(path) {
		return postgres
	}
	return sqlite
}

func rawExec(t testing.TB, path, q string, args ...any) {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	if _, err := db.Exec(rawSQL(path, q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func rawBlob(t testing.TB, path, q string, args ...any) []byte {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	var b []byte
	if err := db.QueryRow(rawSQL(path, q), args...).Scan(&b); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return b
}

// setSchemaVersion writes the schema version behind the vault's back.
func setSchemaVersion(t testing.TB, path string, n int) {
	t.Helper()
	rawExec(t, path, sqlFor(path, fmt.Sprintf(`PRAGMA user_version = %d`, n), fmt.Sprintf(`UPDATE schema_version SET version = %d`, n)))
}

// schemaVersionOf reads the schema version behind the vault's back.
func schemaVersionOf(t testing.TB, path string) int {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	var n int
	must(t, db.QueryRow(sqlFor(path, `PRAGMA user_version`, `SELECT version FROM schema_version`)).Scan(&n))
	return n
}

// tableExists reports whether the vault's database has table name.
func tableExists(t testing.TB, path, name string) bool {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	var n int
	must(t, db.QueryRow(rawSQL(path, sqlFor(path,
		`SELECT count(*) FROM sqlite_master WHERE name=?`,
		`SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = ?`)), name).Scan(&n))
	return n == 1
}

// snapshot is everything the vault stores: the file's bytes, or every
// table's definition and rows in PostgreSQL.
func snapshot(t testing.TB, path string) []byte {
	t.Helper()
	if !IsPostgresDSN(path) {
		return readFile(t, path)
	}
	db := rawDB(t, path)
	defer db.Close()
	var out bytes.Buffer
	cols, err := db.Query(`SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
	must(t, err)
	var tables []string
	for cols.Next() {
		var tbl, col, typ string
		must(t, cols.Scan(&tbl, &col, &typ))
		fmt.Fprintf(&out, "column %s.%s %s\n", tbl, col, typ)
		if len(tables) == 0 || tables[len(tables)-1] != tbl {
			tables = append(tables, tbl)
		}
	}
	must(t, cols.Err())
	cols.Close()
	for _, tbl := range tables {
		rows, err := db.Query(`SELECT r::text FROM ` + tbl + ` r ORDER BY 1`)
		must(t, err)
		for rows.Next() {
			var r string
			must(t, rows.Scan(&r))
			fmt.Fprintf(&out, "row %s %s\n", tbl, r)
		}
		must(t, rows.Err())
		rows.Close()
	}
	return out.Bytes()
}

// assertUnchanged checks the vault still holds exactly what snapshot
// returned as before, and (for a file) that no WAL content was left
// behind.
func assertUnchanged(t *testing.T, path string, before []byte) {
	t.Helper()
	if IsPostgresDSN(path) {
		if after := snapshot(t, path); !bytes.Equal(before, after) {
			t.Errorf("vault database changed:\n%s", lineDiff(string(before), string(after)))
		}
		return
	}
	if after := readFile(t, path); !bytes.Equal(before, after) {
		t.Errorf("vault file changed (%d bytes before, %d after)", len(before), len(after))
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("a WAL with %d bytes was left behind", fi.Size())
	}
}

// lineDiff lists the lines only in a (-) or only in b (+).
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out.WriteString("+ " + l + "\n")
		}
	}
	return out.String()
}
