package rotatecmd

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// TestRunRotateRefusesBadFlags: flags that cannot work are bad input, and
// the vault is not opened for them.
func TestRunRotateRefusesBadFlags(t *testing.T) {
	for name, o := range map[string]rotateOptions{
		"no timeout":      {Timeout: 0},
		"a past timeout":  {Timeout: -time.Minute},
		"watch and reset": {Timeout: time.Minute, Watch: true, Reset: true},
	} {
		e := cmdtest.New(t)
		e.OpenApp = func(context.Context) (*vault.Vault, vault.App, spapi.Endpoints, error) {
			t.Errorf("%s: the vault was opened", name)
			return nil, vault.App{}, spapi.Endpoints{}, errors.New("not for bad flags")
		}
		o.Factory = e.Factory
		if _, code := problem.Of(runRotate(context.Background(), &o)); code != problem.ExitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, problem.ExitUsage)
		}
	}
}

func TestRotateErrAndOwner(t *testing.T) {
	if _, code := problem.Of(rotateErr(fmt.Errorf("app main: %w", rotation.ErrNoQueue))); code != problem.ExitConfig {
		t.Errorf("no queue: exit %d, want %d", code, problem.ExitConfig)
	}
	if _, code := problem.Of(rotateErr(errors.New("LWA refused"))); code != problem.ExitFailure {
		t.Errorf("a failure: exit %d, want %d", code, problem.ExitFailure)
	}
	for o, want := range map[rotateOptions]string{{}: "spgate rotate", {Watch: true}: "spgate rotate --watch", {Reset: true}: "spgate rotate --reset"} {
		if got := o.owner(); got != want {
			t.Errorf("owner %q, want %q", got, want)
		}
	}
}
