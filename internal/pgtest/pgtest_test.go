package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"
)

// The throw-away cluster a developer's `go test ./...` starts when
// SPGATE_TEST_POSTGRES is unset: it serves schemas and databases, trusts
// its one user from loopback only, and leaves nothing behind.
func TestThrowAwayCluster(t *testing.T) {
	if _, err := binDir(); errors.Is(err, ErrUnavailable) {
		if Required() {
			t.Fatal(err)
		}
		t.Skip(err.Error())
	}
	c, err := startCluster()
	if err != nil {
		t.Fatal(err)
	}
	s, err := connect(c.dsn, c)
	if err != nil {
		c.stop()
		t.Fatal(err)
	}
	t.Run("schemas and databases", func(t *testing.T) {
		for _, dsn := range []string{s.Schema(t), s.Database(t)} {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`CREATE TABLE x (n INTEGER)`); err != nil {
				t.Fatalf("%s: %v", dsn, err)
			}
			db.Close()
		}
	})
	t.Run("no other user", func(t *testing.T) {
		s.Exec(t, `CREATE ROLE other LOGIN`)
		db, _ := sql.Open("pgx", WithParam(replaceUser(c.dsn, "other"), "connect_timeout", "5"))
		defer db.Close()
		err := db.PingContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), "pg_hba.conf") {
			t.Errorf("another user of the cluster: %v, want refused by pg_hba.conf", err)
		}
	})
	s.close()
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cluster's folder is left behind: %v", err)
	}
}

func replaceUser(dsn, user string) string {
	return "postgres://" + user + "@" + dsn[len("postgres://"+User+"@"):]
}
