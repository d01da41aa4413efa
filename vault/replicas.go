package vault

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spgate/spgate/clock"
)

// Replica is a running spgate serve as it last reported itself in the
// vault (Heartbeat), so that spgate doctor can tell which replicas are
// alive, which stopped reporting, and which run another version.
type Replica struct {
	// ID is host/pid/start time: unique among the processes that ever
	// used the vault.
	ID      string    `json:"id"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// Addr is where it serves (its URL); Version its spgate version.
	Addr    string `json:"addr"`
	Version string `json:"version"`
	// SeenAt is when it last reported, by the database's clock (for a
	// vault file: by the reporting process's clock, the machine's).
	SeenAt time.Time `json:"seenAt"`
	// Clock is what the replica's own clock said when it reported.
	Clock time.Time `json:"clock"`
}

// NewReplica describes this process, started now, serving at addr with
// spgate version.
func NewReplica(addr, version string) Replica {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	start := time.Now().UTC()
	return Replica{ID: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), start.Format("2006-01-02T15:04:05.000Z")),
		Host: host, PID: os.Getpid(), Started: start, Addr: addr, Version: version}
}

// replicaForget is how long the record of a replica that stopped reporting
// is kept; reports delete older ones.
const replicaForget = 24 * time.Hour

// dbNow is the database's clock in Unix nanoseconds as an SQL expression,
// or "?" for a vault file (the process's clock is passed).
func (v *Vault) dbNow() string {
	if v.d.name() == "postgres" {
		return `(extract(epoch from clock_timestamp()) * 1000000000)::bigint`
	}
	return "?"
}

// ReportReplica records that r is alive now (inserting or updating its
// row), and deletes the records of replicas silent for a day.
func (v *Vault) ReportReplica(ctx context.Context, r Replica) error {
	if r.ID == "" {
		return invalid("a replica needs an id")
	}
	clk := v.clk.Now()
	args := []any{r.ID, r.Host, r.PID, toNanos(r.Started), r.Addr, r.Version}
	if v.d.name() != "postgres" {
		args = append(args, clk.UnixNano())
	}
	args = append(args, clk.UnixNano())
	_, err := v.db.ExecContext(ctx, v.d.q(`INSERT INTO replicas(id, host, pid, started_at, addr, version, seen_at, clock)
		VALUES (?, ?, ?, ?, ?, ?, `+v.dbNow()+`, ?)
		ON CONFLICT(id) DO UPDATE SET addr = excluded.addr, version = excluded.version, seen_at = excluded.seen_at, clock = excluded.clock`),
		v.d.args(args)...)
	if err != nil {
		return v.classify(err, "record this replica in the vault")
	}
	old := []any{}
	if v.d.name() != "postgres" {
		old = append(old, clk.UnixNano())
	}
	old = append(old, int64(replicaForget))
	_, err = v.db.ExecContext(ctx, v.d.q(`DELETE FROM replicas WHERE seen_at < `+v.dbNow()+` - ?`), old...)
	return v.classify(err, "forget old replicas")
}

// RemoveReplica deletes the replica's record (it stops gracefully).
func (v *Vault) RemoveReplica(ctx context.Context, id string) error {
	_, err := v.db.ExecContext(ctx, v.d.q(`DELETE FROM replicas WHERE id = ?`), id)
	return v.classify(err, "remove this replica from the vault")
}

// Replicas returns the replicas' records, most recently seen first, and
// the database's clock now, to tell their age by (for a vault file: this
// process's clock).
func (v *Vault) Replicas(ctx context.Context) (time.Time, []Replica, error) {
	now := v.clk.Now()
	if v.d.name() == "postgres" {
		var n int64
		if err := v.db.QueryRowContext(ctx, `SELECT `+v.dbNow()).Scan(&n); err != nil {
			return time.Time{}, nil, v.classify(err, "read the database's clock")
		}
		now = time.Unix(0, n)
	}
	rows, err := v.db.QueryContext(ctx, `SELECT id, host, pid, started_at, addr, version, seen_at, clock FROM replicas ORDER BY seen_at DESC, id`)
	if err != nil {
		return time.Time{}, nil, v.classify(err, "list the replicas")
	}
	defer rows.Close()
	var out []Replica
	for rows.Next() {
		var r Replica
		var started, seen, clk int64
		if err := rows.Scan(&r.ID, &r.Host, &r.PID, &started, &r.Addr, &r.Version, &seen, &clk); err != nil {
			return time.Time{}, nil, v.classify(err, "list the replicas")
		}
		r.Started, r.SeenAt, r.Clock = fromNanos(started), fromNanos(seen), fromNanos(clk)
		out = append(out, r)
	}
	return now, out, v.classify(rows.Err(), "list the replicas")
}

// DefaultHeartbeat is how often Heartbeat reports a replica.
const DefaultHeartbeat = 10 * time.Second

// Heartbeat reports r now and every interval (DefaultHeartbeat when
// zero) on clk until ctx ends, then removes its record: a replica that
// stops gracefully leaves none, one that crashed or lost the database
// leaves one that ages. A failed report is tried again at the next tick.
func (v *Vault) Heartbeat(ctx context.Context, clk clock.Clock, r Replica, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultHeartbeat
	}
	clk = clock.Or(clk)
	for {
		_ = v.ReportReplica(ctx, r)
		if waitTick(ctx, clk, interval, nil) != nil {
			break
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.busy)
	defer cancel()
	_ = v.RemoveReplica(rctx, r.ID)
}
