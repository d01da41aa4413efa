package emulatecmd

import (
	"testing"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/provision"
)

func TestEmulateConfig(t *testing.T) {
	good := amazontest.Config{OrdersPerSeller: 10, Sellers: 3, TimeScale: 1}
	sqs := good
	sqs.SQSEndpoint = "http://127.0.0.1:5000"
	tests := []struct {
		name    string
		cfg     amazontest.Config
		queue   string
		wantErr bool
	}{
		{"the defaults", good, provision.DefaultQueueName, false},
		{"negative orders", amazontest.Config{OrdersPerSeller: -1, TimeScale: 1}, "", true},
		{"negative sellers", amazontest.Config{Sellers: -1, TimeScale: 1}, "", true},
		{"time standing still", amazontest.Config{TimeScale: 0}, "", true},
		{"an SQS endpoint", sqs, provision.DefaultQueueName, false},
		{"an SQS endpoint that is not http", amazontest.Config{TimeScale: 1, SQSEndpoint: "ftp://x"}, provision.DefaultQueueName, true},
		{"a bad queue name", sqs, "no spaces allowed", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := (&emulateOptions{Amazon: tc.cfg, SQSQueue: tc.queue}).config()
			if tc.wantErr {
				if _, code := problem.Of(err); err == nil || code != problem.ExitUsage {
					t.Fatalf("err = %v, want bad input", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if keyed := cfg.SQSAccessKeyID != ""; keyed != (tc.cfg.SQSEndpoint != "") {
				t.Errorf("SQS keys set: %v, with endpoint %q", keyed, tc.cfg.SQSEndpoint)
			}
		})
	}
}
