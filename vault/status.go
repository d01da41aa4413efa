package vault

import (
	"context"
	"time"
)

// DatabaseStatus is what the vault's database says about itself, for
// spgate doctor.
type DatabaseStatus struct {
	// Backend is "sqlite" or "postgres"; Server the database's version.
	Backend, Server string
	// SchemaVersion is the schema version stored in the database now
	// (another process may have migrated it since this one opened it).
	SchemaVersion int
	// Now is the database server's clock; Sent and Received are this
	// process's clock (the vault's) just before and after asking for it.
	// For a file, Now is the process's own clock.
	Now, Sent, Received time.Time
}

// Skew is how far the database's clock is ahead of this process's (behind
// when negative), measured at the middle of the round trip, and the
// uncertainty of that measure (half the round trip).
func (s DatabaseStatus) Skew() (skew, uncertainty time.Duration) {
	rtt := s.Received.Sub(s.Sent)
	mid := s.Sent.Add(rtt / 2)
	return s.Now.Sub(mid), rtt / 2
}

// DatabaseStatus asks the vault's database for its version, the schema
// version it holds and its clock. Leases, rate-limit buckets and the
// dates of records are written with each process's clock, so the
// replicas' clocks should agree with the database's.
func (v *Vault) DatabaseStatus(ctx context.Context) (DatabaseStatus, error) {
	st := DatabaseStatus{Backend: v.d.name()}
	c, err := v.db.Conn(ctx)
	if err != nil {
		return st, v.classify(err, "reach the vault's database")
	}
	defer c.Close()
	if v.d.name() == "sqlite" {
		err = c.QueryRowContext(ctx, `SELECT 'SQLite ' || sqlite_version()`).Scan(&st.Server)
		st.Sent = v.clk.Now()
		st.Now, st.Received = st.Sent, st.Sent
	} else {
		err = c.QueryRowContext(ctx, `SELECT version()`).Scan(&st.Server)
		if err == nil {
			st.Sent = v.clk.Now()
			err = c.QueryRowContext(ctx, `SELECT clock_timestamp()`).Scan(&st.Now)
			st.Received = v.clk.Now()
		}
	}
	if err != nil {
		return st, v.classify(err, "ask the vault's database")
	}
	st.SchemaVersion, err = v.d.schemaVersion(ctx, c)
	return st, v.classify(err, "read the vault's schema version")
}
