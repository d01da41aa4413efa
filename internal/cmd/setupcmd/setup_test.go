package setupcmd

import (
	"context"
	"errors"
	"testing"

	"github.com/spgate/spgate/internal/cmd/cmdtest"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/provision"
	"github.com/spgate/spgate/vault"
)

// TestRunSetupAWSRefusesBadFlags: flags that contradict each other or
// name nothing usable are bad input, refused before the vault is opened
// or AWS is called.
func TestRunSetupAWSRefusesBadFlags(t *testing.T) {
	t.Setenv(cmdutil.EnvAWSEndpoint, "")
	names := provision.Options{UserName: provision.DefaultUserName, RoleName: provision.DefaultRoleName, PolicyName: provision.DefaultPolicyName,
		InlinePolicyName: provision.DefaultInlinePolicyName, QueueName: provision.DefaultQueueName}
	if err := (&setupAWSOptions{Options: names, App: "main"}).validate(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	for name, change := range map[string]func(*setupAWSOptions){
		"no --app":                      func(o *setupAWSOptions) { o.App = " " },
		"check and teardown":            func(o *setupAWSOptions) { o.Check, o.Teardown = true, true },
		"check and dry run":             func(o *setupAWSOptions) { o.Check, o.DryRun = true, true },
		"signing with teardown":         func(o *setupAWSOptions) { o.EnableSigning, o.Teardown = true, true },
		"yes without teardown":          func(o *setupAWSOptions) { o.Yes = true },
		"a queue name without it":       func(o *setupAWSOptions) { o.Given.QueueName = true },
		"an endpoint that is not a URL": func(o *setupAWSOptions) { o.Endpoint = "moto:5000" },
		"a bad user name":               func(o *setupAWSOptions) { o.UserName = "no spaces" },
	} {
		e := cmdtest.New(t)
		e.OpenVault = func(context.Context, bool) (*vault.Vault, error) {
			t.Errorf("%s: the vault was opened", name)
			return nil, errors.New("not for bad flags")
		}
		o := setupAWSOptions{Factory: e.Factory, Options: names, App: "main"}
		change(&o)
		if _, code := problem.Of(runSetupAWS(context.Background(), &o)); code != problem.ExitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, problem.ExitUsage)
		}
	}
}
