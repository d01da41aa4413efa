package servecmd

import (
	"errors"
	"testing"

	"github.com/spgate/spgate/internal/problem"
)

func TestConsoleFlagsRefusePlainNetworkAddress(t *testing.T) {
	for _, o := range []consoleOptions{{Addr: "0.0.0.0:0"}, {Addr: "127.0.0.1:0", TLSCert: "c.pem"}} {
		err := o.validate()
		var ee *problem.Error
		if err == nil || !errors.As(err, &ee) || ee.Code != problem.ExitUsage {
			t.Errorf("%+v: validate() = %v, want a usage error", o, err)
		}
	}
	if err := (consoleOptions{}).validate(); err != nil {
		t.Errorf("without --console: %v", err)
	}
	if c, err := (consoleOptions{}).config(nil, nil); c != nil || err != nil {
		t.Errorf("without --console: a console %+v (%v)", c, err)
	}
}
