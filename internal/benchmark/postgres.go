package benchmark

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/spgate/spgate/internal/demo"
	"github.com/spgate/spgate/vault"
)

// postgresVault copies the demo vault into a new schema of the
// PostgreSQL server dsn names and returns a DSN for it (dropping the
// schema is added to stops), or "" and why there is no PostgreSQL row.
func postgresVault(ctx context.Context, e *demo.Env, dsn string, stops *[]func()) (string, string) {
	if dsn == "" {
		return "", "left out: no PostgreSQL server (--postgres, $SPGATE_BENCH_POSTGRES or $SPGATE_TEST_POSTGRES)"
	}
	shown := vault.RedactDSN(dsn)
	fail := func(err error) (string, string) {
		return "", fmt.Sprintf("left out: %s: %v", shown, err)
	}
	u, err := url.Parse(dsn)
	if err != nil || !vault.IsPostgresDSN(dsn) {
		return fail(fmt.Errorf("not a postgres:// DSN"))
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "spgate_bench_" + hex.EncodeToString(b[:])
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	target := u.String()
	// Copy creates the schema, the vault's tables and its rows in one
	// transaction; the schema is dropped after the serve process stopped
	// (stops run last to first).
	*stops = append(*stops, func() { dropSchema(dsn, schema) })
	if _, err := vault.Copy(ctx, e.Vault, target, e.Key, vault.CopyOptions{}); err != nil {
		return fail(err)
	}
	return target, ""
}

// dropSchema drops the benchmark's schema, best effort: a left-over
// schema (a run that was killed) holds only the demo vault.
func dropSchema(dsn, schema string) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = db.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
}
