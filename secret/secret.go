// Package secret provides a string type for credentials that refuses to be
// printed: fmt, JSON and slog all see a mask. The raw value is reachable only
// through Reveal, at the point where it goes on the wire or into the vault.
package secret

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Mask is what a Secret prints as.
const Mask = "[redacted]"

// String holds a secret value (client secret, refresh token, access key…).
type String struct{ v string }

// New wraps a raw value.
func New(raw string) String { return String{v: raw} }

// Reveal returns the raw value. Call it only to put the value on the wire or
// into encrypted storage.
func (s String) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s String) IsZero() bool { return s.v == "" }

// Equal compares two secrets.
func (s String) Equal(o String) bool { return s.v == o.v }

// String returns the mask.
func (s String) String() string {
	if s.v == "" {
		return ""
	}
	return Mask
}

// GoString returns the mask, also for %#v.
func (s String) GoString() string { return `secret.String("` + Mask + `")` }

// Format masks every verb, including %x and %q.
func (s String) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// MarshalJSON writes the mask, never the value.
func (s String) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText writes the mask (encoding/xml, yaml and friends).
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue masks the secret in slog output.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Hint returns a recognisable but safe fragment: the prefix up to its last
// separator and the last four characters, e.g. "amzn1.oa2-cs.v1.…3f9a".
func (s String) Hint() string {
	if len(s.v) < 12 {
		return Mask
	}
	prefix := ""
	for i := len(s.v) - 5; i >= 0; i-- {
		if s.v[i] == '.' || s.v[i] == '|' {
			prefix = s.v[:i+1]
			break
		}
	}
	if len(prefix) > 24 {
		prefix = ""
	}
	return prefix + "…" + s.v[len(s.v)-4:]
}
