package orderpull_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEShowsTheExample: the README's "From Go" code is Example's
// body, line for line, and stays under 20 lines.
func TestREADMEShowsTheExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## From Go\n")
	_, code, ok2 := strings.Cut(section, "```go\n")
	code, _, ok3 := strings.Cut(code, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal(`README.md has no "## From Go" section with a go code block`)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(src), "func Example() {\n")
	body, _, _ = strings.Cut(body, "\t// Output:")
	var want []string
	for _, l := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		want = append(want, strings.TrimPrefix(l, "\t"))
	}
	got := strings.Split(strings.TrimRight(code, "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("README.md's From Go code differs from Example:\n--- README\n%s\n--- Example\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(got) >= 20 {
		t.Errorf("the example is %d lines; keep it under 20", len(got))
	}
}
