package vault

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/testenv"
)

func TestReplicas(t *testing.T) {
	ctx := context.Background()
	f := newVault(t)
	v := f.v
	r1 := NewReplica("http://10.0.0.1:8087", "v1.2.0")
	if h, _ := os.Hostname(); r1.Host != h || r1.PID != os.Getpid() || !strings.HasPrefix(r1.ID, h+"/") || r1.Started.IsZero() {
		t.Fatalf("NewReplica: %+v", r1)
	}
	r2 := Replica{ID: "web2/42/2026-01-10T11:00:00.000Z", Host: "web2", PID: 42, Started: t0.Add(-time.Hour), Addr: "http://10.0.0.2:8087", Version: "v1.1.0"}
	must(t, v.ReportReplica(ctx, r2))
	f.clk.Advance(time.Second)
	must(t, v.ReportReplica(ctx, r1))
	must(t, v.ReportReplica(ctx, r1)) // again: still one row

	now, got, err := v.Replicas(ctx)
	must(t, err)
	if len(got) != 2 || got[0].ID != r1.ID || got[1].ID != r2.ID {
		t.Fatalf("replicas: %+v", got)
	}
	g := got[1]
	if g.Host != "web2" || g.PID != 42 || !g.Started.Equal(r2.Started) || g.Addr != r2.Addr || g.Version != "v1.1.0" || !g.Clock.Equal(t0) {
		t.Errorf("replica as read: %+v", g)
	}
	if onPostgres() {
		// The database's clock dates the reports and answers now.
		real := time.Now()
		if d := now.Sub(real).Abs(); d > time.Minute {
			t.Errorf("the database's now is %v from this machine's", d)
		}
		if d := got[0].SeenAt.Sub(real).Abs(); d > time.Minute {
			t.Errorf("seen %v from now by the database's clock", d)
		}
	} else if !now.Equal(f.clk.Now()) || !got[0].SeenAt.Equal(t0.Add(time.Second)) || !got[1].SeenAt.Equal(t0) {
		t.Errorf("a vault file dates by the process's clock: now %v, seen %v and %v", now, got[0].SeenAt, got[1].SeenAt)
	}

	// A record silent for a day goes at the next report.
	rawExec(t, f.path, `UPDATE replicas SET seen_at = seen_at - ? WHERE id = ?`, int64(replicaForget+time.Minute), r2.ID)
	must(t, v.ReportReplica(ctx, r1))
	if _, got, _ := v.Replicas(ctx); len(got) != 1 || got[0].ID != r1.ID {
		t.Errorf("after a day's silence: %+v", got)
	}
	must(t, v.RemoveReplica(ctx, r1.ID))
	if _, got, _ := v.Replicas(ctx); len(got) != 0 {
		t.Errorf("after the removal: %+v", got)
	}
	if err := v.ReportReplica(ctx, Replica{}); err == nil {
		t.Error("a replica without an id was recorded")
	}
}

func TestHeartbeat(t *testing.T) {
	ctx, cancel := testenv.PatienceContext(t)
	defer cancel()
	f := newVault(t)
	v := f.v
	tick := clock.NewFake(t0)
	r := NewReplica("http://127.0.0.1:8087", "v2")
	hbCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		v.Heartbeat(hbCtx, tick, r, 0)
	}()
	clocks := func() []time.Time {
		t.Helper()
		_, got, err := v.Replicas(ctx)
		must(t, err)
		var out []time.Time
		for _, g := range got {
			out = append(out, g.Clock)
		}
		return out
	}
	must(t, tick.BlockUntil(ctx, 1)) // reported, waiting for the next beat
	if c := clocks(); len(c) != 1 || !c[0].Equal(t0) {
		t.Fatalf("after the first beat: %v", c)
	}
	f.clk.Advance(DefaultHeartbeat)
	tick.Advance(DefaultHeartbeat)
	must(t, tick.BlockUntil(ctx, 1))
	if c := clocks(); len(c) != 1 || !c[0].Equal(t0.Add(DefaultHeartbeat)) {
		t.Errorf("after the second beat: %v", c)
	}
	stop()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Heartbeat did not return when its context ended")
	}
	if c := clocks(); len(c) != 0 {
		t.Errorf("a stopped heartbeat left its record: %v", c)
	}
}
