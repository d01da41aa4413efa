// Package testenv finds what tests need from outside the repository (Amazon's
// SP-API models) and decides whether its absence skips or fails a test.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// ModelsDir returns the folder of Amazon's SP-API models: $SPGATE_SP_API_MODELS,
// else ../shared/sp-api-models next to the module root. When it is absent
// the test is skipped, or failed when SPGATE_REQUIRE_MODELS=1 (CI).
func ModelsDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("SPGATE_SP_API_MODELS"); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	if root := ModuleRoot(tb); root != "" {
		d := filepath.Join(root, "..", "shared", "sp-api-models")
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	msg := "Amazon's SP-API models not found: set SPGATE_SP_API_MODELS to a checkout of github.com/amzn/selling-partner-api-models/models"
	if os.Getenv("SPGATE_REQUIRE_MODELS") == "1" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

// ModuleRoot returns the directory holding go.mod, walking up from the
// test's working directory.
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
