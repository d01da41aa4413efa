package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/spgate/spgate/vault"
)

// Names of the checks of the vault's database (layer "database"), made
// when the vault is in PostgreSQL: several replicas share it, and each
// one's view of it matters.
const (
	CheckDatabaseReachable = "database-reachable"
	CheckDatabaseSchema    = "database-schema"
	CheckDatabaseClock     = "database-clock"
)

// StepDatabase is the setup step a database failure points to.
const StepDatabase = "database"

// Clock skew between this process and the vault's database at which the
// clock check warns and fails. Replicas date leases and pace Amazon's rate
// limits with their own clocks: a replica ahead of the others spends slots
// early (429s), one behind waits too long, and a lease can look lapsed
// while its holder still works.
const (
	ClockSkewWarn = 250 * time.Millisecond
	ClockSkewFail = 2 * time.Second
)

// Database checks the vault's database when it is PostgreSQL: that it
// answers, that its schema is the one this spgate writes (another replica
// may have been upgraded and migrated it), and that this machine's clock
// agrees with the database's. A vault file gets no checks here.
func Database(ctx context.Context, v *vault.Vault) []Check {
	if v.Backend() != "postgres" {
		return nil
	}
	st, err := v.DatabaseStatus(ctx)
	if err != nil {
		return []Check{{Layer: "database", Name: CheckDatabaseReachable, Status: Fail,
			Detail: fmt.Sprintf("the vault's database %s does not answer: %v", v.Path(), err), Step: StepDatabase,
			Fix: "check that PostgreSQL runs and accepts this machine (host, port, sslmode, user and password in SPGATE_VAULT)"}}
	}
	rtt := st.Received.Sub(st.Sent)
	out := []Check{{Layer: "database", Name: CheckDatabaseReachable, Status: OK,
		Detail: fmt.Sprintf("%s answers in %s: %s", v.Path(), rtt.Round(time.Microsecond), st.Server)}}

	latest := vault.LatestSchemaVersion()
	switch {
	case st.SchemaVersion > latest:
		out = append(out, Check{Layer: "database", Name: CheckDatabaseSchema, Status: Fail,
			Detail: fmt.Sprintf("the vault's schema is at version %d, newer than this spgate's %d: another replica runs a newer spgate", st.SchemaVersion, latest),
			Step:   StepDatabase, Fix: "upgrade spgate on this machine to the version the other replicas run"})
	case st.SchemaVersion < latest:
		out = append(out, Check{Layer: "database", Name: CheckDatabaseSchema, Status: Fail,
			Detail: fmt.Sprintf("the vault's schema is at version %d, this spgate writes %d", st.SchemaVersion, latest),
			Step:   StepDatabase, Fix: "open the vault once with this spgate (e.g. `spgate app list`) to migrate it"})
	default:
		out = append(out, Check{Layer: "database", Name: CheckDatabaseSchema, Status: OK,
			Detail: fmt.Sprintf("schema version %d, current", st.SchemaVersion)})
	}

	skew, unc := st.Skew()
	off := skew.Abs() - unc // the least the clocks can differ by
	c := Check{Layer: "database", Name: CheckDatabaseClock, Status: OK,
		Detail: fmt.Sprintf("this machine's clock and the database's differ by %s (±%s)", skew.Round(time.Millisecond), unc.Round(time.Millisecond))}
	switch {
	case off >= ClockSkewFail:
		c.Status = Fail
	case off >= ClockSkewWarn:
		c.Status = Warn
	}
	if c.Status != OK {
		ahead := "behind"
		if skew < 0 {
			ahead = "ahead of"
		}
		c.Detail = fmt.Sprintf("this machine's clock is %s %s the database's (±%s): replicas pace Amazon's rate limits and date their leases with their own clocks, so a clock ahead collects 429s and one behind waits too long",
			skew.Abs().Round(time.Millisecond), ahead, unc.Round(time.Millisecond))
		c.Step = StepDatabase
		c.Fix = "synchronize this machine's clock (and the database server's) with NTP: e.g. `timedatectl set-ntp true`, or chrony"
	}
	return append(out, c)
}
