package testenv

import (
	"os"
	"strings"
)

// NoExitPause makes the processes a test starts (its own binary
// re-executed, spgate built with -race) exit at once: under -race a Go
// program otherwise sleeps a second on exit (GORACE atexit_sleep_ms, 1000
// by default) to let racing goroutines report, which adds a second to every
// command a test runs. Race reports are still printed and still fail the
// process. A GORACE that already sets atexit_sleep_ms is left alone. Call it
// from TestMain, before any process is started; scripts whose environment
// is built from scratch pass on RaceEnv.
func NoExitPause() {
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
	}
}

// RaceEnv is the GORACE setting NoExitPause chose, for environments built
// from scratch (testscript's).
func RaceEnv() string { return os.Getenv("GORACE") }
