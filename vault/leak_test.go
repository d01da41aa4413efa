package vault

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNoRevealInMessages greps the package source: a revealed secret must
// never be an argument of an error or log call.
func TestNoRevealInMessages(t *testing.T) {
	files, err := filepath.Glob("*.go")
	must(t, err)
	msgCall := regexp.MustCompile(`(Errorf|newErr|wrapErr|invalid|Sprintf|Printf|Println|slog\.|log\.)\(`)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		must(t, err)
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "Reveal()") && msgCall.MatchString(line) {
				t.Errorf("%s:%d passes a revealed secret to a message: %s", name, i+1, strings.TrimSpace(line))
			}
			if strings.Contains(line, "passphrase") && msgCall.MatchString(line) && strings.Contains(line, "k.passphrase") {
				t.Errorf("%s:%d formats the passphrase", name, i+1)
			}
		}
	}
}
