package doctor

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/pgtest"
	"github.com/spgate/spgate/vault"
)

func openPG(t *testing.T, dsn string, clk clock.Clock) *vault.Vault {
	t.Helper()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(context.Background(), dsn, key, vault.Options{Create: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func byName(checks []Check) map[string]Check {
	m := map[string]Check{}
	for _, c := range checks {
		m[c.Name] = c
	}
	return m
}

func TestDatabaseChecks(t *testing.T) {
	ctx := context.Background()
	t.Run("a vault file has none", func(t *testing.T) {
		key, _ := vault.NewRandomKey()
		v, err := vault.Open(ctx, filepath.Join(t.TempDir(), "vault.db"), key, vault.Options{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		if checks := Database(ctx, v); len(checks) != 0 {
			t.Errorf("checks for a file: %+v", checks)
		}
	})
	srv := pgtest.Start(t)
	t.Run("all well", func(t *testing.T) {
		v := openPG(t, srv.Schema(t), nil)
		defer v.Close()
		checks := byName(Database(ctx, v))
		for _, name := range []string{CheckDatabaseReachable, CheckDatabaseSchema, CheckDatabaseClock} {
			if c := checks[name]; c.Status != OK {
				t.Errorf("%s: %+v", name, c)
			}
		}
		if !strings.Contains(checks[CheckDatabaseReachable].Detail, "PostgreSQL") {
			t.Errorf("reachable: %+v", checks[CheckDatabaseReachable])
		}
	})
	t.Run("a clock ahead of the database's", func(t *testing.T) {
		clk := clock.NewFake(time.Now().Add(10 * time.Second))
		v := openPG(t, srv.Schema(t), clk)
		defer v.Close()
		c := byName(Database(ctx, v))[CheckDatabaseClock]
		if c.Status != Fail || !strings.Contains(c.Detail, "ahead of the database's") || c.Step != StepDatabase || !strings.Contains(c.Fix, "NTP") {
			t.Errorf("clock check: %+v", c)
		}
		clk.Set(time.Now().Add(-500 * time.Millisecond))
		if c := byName(Database(ctx, v))[CheckDatabaseClock]; c.Status != Warn && c.Status != Fail {
			t.Errorf("a clock half a second behind: %+v", c)
		}
	})
	t.Run("a schema migrated by a newer replica", func(t *testing.T) {
		dsn := srv.Schema(t)
		v := openPG(t, dsn, nil)
		defer v.Close()
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`UPDATE schema_version SET version = 99`); err != nil {
			t.Fatal(err)
		}
		c := byName(Database(ctx, v))[CheckDatabaseSchema]
		if c.Status != Fail || !strings.Contains(c.Detail, "newer than this spgate") {
			t.Errorf("schema check: %+v", c)
		}
	})
	t.Run("a database that stopped answering", func(t *testing.T) {
		v := openPG(t, srv.Schema(t), nil)
		v.Close()
		checks := Database(ctx, v)
		if len(checks) != 1 || checks[0].Name != CheckDatabaseReachable || checks[0].Status != Fail {
			t.Errorf("checks: %+v", checks)
		}
	})
}
