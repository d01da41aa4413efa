package servecmd

import (
	"errors"
	"testing"
	"time"

	"github.com/spgate/spgate/gatewayserver"
	"github.com/spgate/spgate/internal/problem"
)

// TestServeValidate: flag values that cannot work are bad input, before
// anything is opened.
func TestServeValidate(t *testing.T) {
	good := serveOptions{Config: gatewayserver.Config{AuditKeep: 5, ReadySecretDays: 7, MaxQueueWait: time.Second, MaxDeadline: time.Minute,
		MaxConns: 10, MaxUnauthenticatedConns: 10}, AuditMaxMB: 10}
	if err := good.validate(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	for name, change := range map[string]func(*serveOptions){
		"no audit log size":         func(o *serveOptions) { o.AuditMaxMB = 0 },
		"a certificate without key": func(o *serveOptions) { o.TLSCert = "gw.pem" },
		"a queue longer than calls": func(o *serveOptions) { o.MaxQueueWait = time.Hour },
		"no connections":            func(o *serveOptions) { o.MaxConns = 0 },
		"a negative key cache":      func(o *serveOptions) { o.KeyCacheTTL = -time.Second },
		"a console on the network":  func(o *serveOptions) { o.ConsoleFlags.Addr = "0.0.0.0:8088" },
	} {
		o := good
		change(&o)
		if _, code := problem.Of(o.validate()); code != problem.ExitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, problem.ExitUsage)
		}
	}
}

func TestServeErr(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		err  error
		code int
	}{
		{&gatewayserver.Error{Part: gatewayserver.PartRateLimits, Err: cause}, problem.ExitUsage},
		{&gatewayserver.Error{Part: gatewayserver.PartGateway, Err: cause}, problem.ExitInternal},
		{&gatewayserver.Error{Part: gatewayserver.PartAutoRotate, Err: cause}, problem.ExitConfig},
		{cause, problem.ExitFailure},
	}
	for _, tc := range tests {
		if _, code := problem.Of(serveErr(tc.err)); code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.err, code, tc.code)
		}
	}
}
