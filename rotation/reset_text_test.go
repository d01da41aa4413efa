package rotation

import (
	"strings"
	"testing"
	"time"
)

// TestResetResultText: each outcome of a reset is told as it is, naming the
// step the rotation stopped at and what became of the secrets.
func TestResetResultText(t *testing.T) {
	exp := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		r    ResetResult
		want []string
	}{
		{"nothing to reset", ResetResult{App: "main"}, []string{"app main: no rotation in progress"}},
		{"kept Amazon's secret", ResetResult{App: "main", Step: StepRequested, Drained: true,
			Stored: &Result{Version: 2, Hint: "…abcd", ExpiresAt: exp, PreviousExpiresAt: exp.Add(-170 * 24 * time.Hour)}},
			[]string{`after step "requested"`, "kept it: client secret v2 (…abcd) is current, expires 2026-09-01"}},
		{"dropped a refused one", ResetResult{App: "main", Step: StepReceived, Dropped: "LWA refused it (invalid_client)"},
			[]string{"dropped the pending secret", "LWA refused it", "current secret is unchanged"}},
		{"nothing on the queue", ResetResult{App: "main", Step: StepRequested, Drained: true},
			[]string{"no new secret was on https://sqs.example/q", "`spgate rotate --app main --watch`"}},
		{"forgotten", ResetResult{App: "main", Step: StepRequesting}, []string{`forgot the rotation stopped after step "requesting"`}},
	}
	for _, tc := range tests {
		got := tc.r.Text("https://sqs.example/q")
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
		if !strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 1 {
			t.Errorf("%s: %q is not one line", tc.name, got)
		}
	}
}
