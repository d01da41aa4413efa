package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spgate/spgate/vault"
)

// Names of the checks of the gateway replicas that report to the vault
// (layer "database"), on either backend: several spgate serve on one
// machine's vault file, or on several machines' PostgreSQL.
const (
	CheckReplicas       = "replicas"
	CheckReplicaSilent  = "replica-silent"
	CheckReplicaVersion = "replica-version"
	CheckReplicaClock   = "replica-clock"
)

// StepReplicas is the setup step a replica warning points to.
const StepReplicas = "replicas"

// A replica reports every vault.DefaultHeartbeat (10 s). One seen within
// ReplicaRecent is alive; one seen within ReplicaForgotten but not since
// ReplicaRecent stopped reporting without stopping gracefully (which
// removes its record). Older records are left out.
const (
	ReplicaRecent    = time.Minute
	ReplicaForgotten = time.Hour
)

// Replicas lists the spgate serve processes that reported to the vault
// within the last minute, and warns about those that stopped reporting
// within the last hour (crashed, killed, or cut off from the database),
// those running another spgate version than version (this one's; "" skips
// the comparison), and those whose clock was off the database's by
// ClockSkewFail or more when they last reported.
func Replicas(ctx context.Context, v *vault.Vault, version string) []Check {
	now, all, err := v.Replicas(ctx)
	if err != nil {
		return []Check{{Layer: "database", Name: CheckReplicas, Status: Warn, Step: StepDatabase,
			Detail: fmt.Sprintf("cannot read the replicas' heartbeats from the vault: %v", err),
			Fix:    "check that the vault's database answers (see the checks above)"}}
	}
	var live []string
	var out []Check
	for _, r := range all {
		age := max(now.Sub(r.SeenAt), 0)
		switch {
		case age > ReplicaForgotten:
			continue
		case age > ReplicaRecent:
			out = append(out, Check{Layer: "database", Name: CheckReplicaSilent, Status: Warn, Step: StepReplicas,
				Detail: fmt.Sprintf("replica %s (%s) last seen %s ago: crashed or cut off from the database?", r.ID, r.Addr, ago(age)),
				Fix: fmt.Sprintf("if it was stopped on purpose nothing is to be done (its record lapses after an hour); else look at spgate serve on host %s: its process, its log and its connection to the database",
					r.Host)})
			continue
		}
		live = append(live, fmt.Sprintf("%s at %s (spgate %s, seen %s ago)", r.ID, r.Addr, r.Version, ago(age)))
		if version != "" && r.Version != version {
			out = append(out, Check{Layer: "database", Name: CheckReplicaVersion, Status: Warn, Step: StepReplicas,
				Detail: fmt.Sprintf("replica %s runs spgate %s, this spgate is %s", r.ID, r.Version, version),
				Fix:    "run the same spgate version on every replica (upgrade one at a time; the vault's schema follows the newest)"})
		}
		if v.Backend() == "postgres" {
			if off := r.Clock.Sub(r.SeenAt); off.Abs() >= ClockSkewFail {
				out = append(out, Check{Layer: "database", Name: CheckReplicaClock, Status: Warn, Step: StepDatabase,
					Detail: fmt.Sprintf("replica %s's clock was %s off the database's when it last reported: it paces Amazon's rate limits and dates token leases with it", r.ID, off.Round(time.Millisecond)),
					Fix:    "synchronize that machine's clock with NTP: e.g. `timedatectl set-ntp true`, or chrony"})
			}
		}
	}
	c := Check{Layer: "database", Name: CheckReplicas, Status: OK}
	switch len(live) {
	case 0:
		c.Status, c.Detail = Skip, "no spgate serve reported to this vault in the last minute"
	case 1:
		c.Detail = "1 replica seen in the last minute: " + live[0]
	default:
		c.Detail = fmt.Sprintf("%d replicas seen in the last minute: %s", len(live), strings.Join(live, "; "))
	}
	return append([]Check{c}, out...)
}

// ago formats an age for people: seconds under a minute, then minutes.
func ago(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	return fmt.Sprintf("%dm", int(d/time.Minute))
}
