package democmd

import (
	"context"
	"io"
	"testing"

	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/problem"
)

// TestDemoRefusesBadFlags: bad numbers or a console address that would
// need TLS are bad input, refused before anything starts or runs.
func TestDemoRefusesBadFlags(t *testing.T) {
	tests := []struct {
		name string
		o    demoOptions
		run  func(context.Context, *demoOptions) error
	}{
		{"no orders", demoOptions{Orders: 0, TimeScale: 600}, runDemo},
		{"time standing still", demoOptions{Orders: 10, TimeScale: 0}, runDemo},
		{"a console on every interface", demoOptions{Orders: 10, TimeScale: 1, Console: "0.0.0.0:8088"}, runDemoConsole},
		{"a console without a port", demoOptions{Orders: 10, TimeScale: 1, Console: "127.0.0.1"}, runDemoConsole},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := cmdtest.New(t)
			e.Main = func(context.Context, []string, io.Reader, io.Writer, io.Writer) int {
				t.Error("spgate serve ran")
				return problem.ExitInternal
			}
			o := tc.o
			o.Factory = e.Factory
			if _, code := problem.Of(tc.run(context.Background(), &o)); code != problem.ExitUsage {
				t.Errorf("exit %d, want %d", code, problem.ExitUsage)
			}
		})
	}
}
