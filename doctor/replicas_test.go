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

func TestReplicaChecks(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC))
	key, _ := vault.NewRandomKey()
	v, err := vault.Open(ctx, filepath.Join(t.TempDir(), "vault.db"), key, vault.Options{Create: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if c := Replicas(ctx, v, "v1"); len(c) != 1 || c[0].Name != CheckReplicas || c[0].Status != Skip {
		t.Fatalf("no replicas: %+v", c)
	}
	web1 := vault.Replica{ID: "web1/10/2026-01-10T11:00:00.000Z", Host: "web1", PID: 10, Addr: "http://10.0.0.1:8087", Version: "v1"}
	web2 := vault.Replica{ID: "web2/20/2026-01-10T11:00:00.000Z", Host: "web2", PID: 20, Addr: "http://10.0.0.2:8087", Version: "v0.9"}
	report := func(rs ...vault.Replica) {
		for _, r := range rs {
			if err := v.ReportReplica(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	report(web1, web2)
	clk.Advance(30 * time.Second)
	checks := Replicas(ctx, v, "v1")
	byN := byName(checks)
	if c := byN[CheckReplicas]; c.Status != OK || !strings.Contains(c.Detail, "2 replicas seen in the last minute") ||
		!strings.Contains(c.Detail, web1.ID+" at http://10.0.0.1:8087 (spgate v1, seen 30s ago)") || !strings.Contains(c.Detail, web2.ID) {
		t.Errorf("replicas: %+v", c)
	}
	if c := byN[CheckReplicaVersion]; c.Status != Warn || !strings.Contains(c.Detail, "replica "+web2.ID+" runs spgate v0.9, this spgate is v1") {
		t.Errorf("version: %+v", c)
	}
	if len(checks) != 2 {
		t.Errorf("checks: %+v", checks)
	}

	// web2 stops reporting (kill -9); web1 goes on.
	clk.Advance(3*time.Minute + 30*time.Second)
	report(web1)
	byN = byName(Replicas(ctx, v, "v1"))
	if c := byN[CheckReplicaSilent]; c.Status != Warn || c.Detail != "replica "+web2.ID+" (http://10.0.0.2:8087) last seen 4m ago: crashed or cut off from the database?" ||
		!strings.Contains(c.Fix, "web2") {
		t.Errorf("silent: %+v", c)
	}
	if c := byN[CheckReplicas]; c.Status != OK || !strings.HasPrefix(c.Detail, "1 replica seen in the last minute: "+web1.ID) {
		t.Errorf("replicas: %+v", c)
	}
	if _, ok := byN[CheckReplicaVersion]; ok {
		t.Error("a silent replica's version is compared")
	}
	if Worst(Replicas(ctx, v, "v1")) != Warn {
		t.Error("a silent replica does not warn")
	}

	// An hour later web2 is forgotten.
	clk.Advance(time.Hour)
	report(web1)
	if checks := Replicas(ctx, v, "v1"); len(checks) != 1 || checks[0].Status != OK {
		t.Errorf("an hour later: %+v", checks)
	}
	v.Close()
	if c := Replicas(ctx, v, "v1"); len(c) != 1 || c[0].Status != Warn || !strings.Contains(c[0].Detail, "cannot read") {
		t.Errorf("a closed vault: %+v", c)
	}
}

func TestReplicaChecksOnPostgres(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t)
	dsn := srv.Schema(t)
	ahead := clock.NewFake(time.Now().Add(10 * time.Second))
	v := openPG(t, dsn, ahead)
	defer v.Close()
	r := vault.NewReplica("http://10.0.0.3:8087", "v1")
	if err := v.ReportReplica(ctx, r); err != nil {
		t.Fatal(err)
	}
	byN := byName(Replicas(ctx, v, "v1"))
	if c := byN[CheckReplicas]; c.Status != OK || !strings.Contains(c.Detail, r.ID) {
		t.Errorf("replicas: %+v", c)
	}
	if c := byN[CheckReplicaClock]; c.Status != Warn || !strings.Contains(c.Detail, "off the database's") || !strings.Contains(c.Fix, "NTP") {
		t.Errorf("a replica 10 s ahead: %+v", c)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE replicas SET seen_at = seen_at - $1`, int64(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if c := byName(Replicas(ctx, v, "v1"))[CheckReplicaSilent]; c.Status != Warn || !strings.Contains(c.Detail, "last seen 5m ago") {
		t.Errorf("silent by the database's clock: %+v", c)
	}
}
