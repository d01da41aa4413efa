// Package doctor checks every layer of an spgate setup — formats, LWA
// credentials, the seller's authorization, restricted roles, secret age,
// the AWS chain — and names the setup step that fixes each failure.
package doctor

// Status is a check's outcome.
type Status string

// Outcomes, from best to worst.
const (
	OK   Status = "ok"
	Skip Status = "skip" // not applicable or not checkable here
	Warn Status = "warn" // works now, needs attention
	Fail Status = "fail"
)

// Check is one finding.
type Check struct {
	Layer  string `json:"layer"`  // "format", "lwa", "seller", "rdt", "secret", "aws"
	Name   string `json:"name"`   // stable id, e.g. "lwa-refresh-grant"
	Status Status `json:"status"` // ok, skip, warn, fail
	Detail string `json:"detail"` // what was found
	// Step names the setup step to redo: "app-registration",
	// "lwa-credentials", "authorize-seller", "rdt-role", "rotate-secret",
	// "aws-setup", or "" when nothing is to be done.
	Step string `json:"step,omitempty"`
	Fix  string `json:"fix,omitempty"` // how, as a command or a click path
}

// Worst returns the worst status among checks (OK for none).
func Worst(checks []Check) Status {
	rank := map[Status]int{OK: 0, Skip: 0, Warn: 1, Fail: 2}
	w := OK
	for _, c := range checks {
		if rank[c.Status] > rank[w] {
			w = c.Status
		}
	}
	return w
}
