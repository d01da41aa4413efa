package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/spgate/spgate/internal/testenv"
)

// The committed table must be exactly what the generator makes from the
// models: a model update without `go generate ./operations` fails here.
func TestTableMatchesModels(t *testing.T) {
	models := testenv.ModelsDir(t)
	ops, err := Load(models)
	if err != nil {
		t.Fatal(err)
	}
	want, err := render(ops)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "operations", "table.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("operations/table.go is stale: run `go generate ./operations`")
	}
}

func TestLoadIsDeterministic(t *testing.T) {
	models := testenv.ModelsDir(t)
	a, err := Load(models)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(models)
	if err != nil {
		t.Fatal(err)
	}
	ra, _ := render(a)
	rb, _ := render(b)
	if !bytes.Equal(ra, rb) {
		t.Fatal("two runs over the same models differ")
	}
}

func TestEveryListedFactNamesARealOperation(t *testing.T) {
	models := testenv.ModelsDir(t)
	ops, err := Load(models)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, o := range ops {
		have[o.API+"/"+o.Version+"/"+o.ID] = true
		have[o.API+"/"+o.ID] = true
	}
	for k := range restricted {
		if !have[k] {
			t.Errorf("restricted list names %s, which no model defines", k)
		}
	}
	for k := range grantless {
		if !have[k] {
			t.Errorf("grantless list names %s, which no model defines", k)
		}
	}
}

func TestUsagePlanParsing(t *testing.T) {
	tests := []struct {
		desc        string
		rate        string
		burst       string
		shouldMatch bool
	}{
		{"**Usage Plan:**\n\n| Rate (requests per second) | Burst |\n| ---- | ---- |\n| 0.0167 | 20 |\n", "0.0167", "20", true},
		{"Usage Plan:\n\n| Rate (requests per second) | Burst |\n|----|----|\n| 5 | 15 |", "5", "15", true},
		{"no table here", "", "", false},
	}
	for _, tt := range tests {
		m := usagePlan.FindStringSubmatch(tt.desc)
		if (m != nil) != tt.shouldMatch {
			t.Fatalf("%q: match=%v", tt.desc, m != nil)
		}
		if m != nil && (m[1] != tt.rate || m[2] != tt.burst) {
			t.Fatalf("%q: got %s/%s", tt.desc, m[1], m[2])
		}
	}
}
