package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// TestRotateCommand rotates through the CLI against the offline Amazon and
// a moto SQS queue, and checks that neither secret reaches the output at
// debug log level.
func TestRotateCommand(t *testing.T) {
	m := mototest.Start(t)
	dir := cliEnv(t)
	ctx := context.Background()
	srv := amazontest.NewServer(amazontest.WithoutRateLimits(), amazontest.WithSQS(m.Endpoint, m.Admin.AccessKeyID, secret.New(m.Admin.SecretAccessKey)))
	defer srv.Close()
	if _, err := sqs.NewFromConfig(m.AdminConfig()).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("cli-rotate")}); err != nil {
		t.Fatal(err)
	}
	queue := "https://sqs.us-east-1.amazonaws.com/" + mototest.AccountID + "/cli-rotate"
	app, err := srv.AddApp(amazontest.App{NotificationQueueURL: queue})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "cs")
	_ = os.WriteFile(f, []byte(app.ClientSecret), 0o600)
	if code, _, stderr := run(t, "", "app", "add", "main", "--app-id", app.ID, "--client-id", app.ClientID, "--client-secret-file", f); code != 0 {
		t.Fatal(stderr)
	}
	p, _ := vault.DefaultPaths()
	key, _ := vault.LoadKey(p, false)
	v, err := vault.Open(ctx, p.Vault, key, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = v.UpdateApp(ctx, "main", func(a *vault.App) error { a.SQSQueueURL = queue; return nil })
	if err := v.SetAWSKeys(ctx, "main", m.Admin.AccessKeyID, secret.New(m.Admin.SecretAccessKey)); err != nil {
		t.Fatal(err)
	}
	v.Close()

	code, out, stderr := run(t, "", "--log-level", "debug", "rotate", "--app", "main", "--endpoint", srv.URL, "--sqs-endpoint", m.Endpoint, "--timeout", "30s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	now, _ := srv.App(app.ID)
	all := out + stderr
	for _, s := range []string{app.ClientSecret, now.ClientSecret, m.Admin.SecretAccessKey} {
		if strings.Contains(all, s) {
			t.Fatalf("a secret (%s) in the output", secret.New(s).Hint())
		}
	}
	for _, want := range []string{"asking Amazon", "received the new secret", "LWA accepted", "is current"} {
		if !strings.Contains(all, want) {
			t.Errorf("output lacks %q:\n%s%s", want, out, stderr)
		}
	}
	code, out, _ = run(t, "", "app", "show", "main", "--json")
	if code != 0 || !strings.Contains(out, `"clientSecretVersion": 2`) || !strings.Contains(out, "previousClientSecretHint") {
		t.Errorf("after rotate: %s", out)
	}
}

// rotateEnv is the offline Amazon publishing to a moto queue, and a vault
// whose app "main" reads that queue with the administrator's keys.
type rotateEnv struct {
	m     *mototest.Server
	srv   *amazontest.Server
	app   amazontest.App
	queue string
}

func newRotateEnv(t *testing.T, queueName string) *rotateEnv {
	t.Helper()
	m := mototest.Start(t)
	dir := cliEnv(t)
	ctx := context.Background()
	srv := amazontest.NewServer(amazontest.WithoutRateLimits(), amazontest.WithSQS(m.Endpoint, m.Admin.AccessKeyID, secret.New(m.Admin.SecretAccessKey)))
	t.Cleanup(srv.Close)
	if _, err := sqs.NewFromConfig(m.AdminConfig()).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(queueName)}); err != nil {
		t.Fatal(err)
	}
	// Amazon's form of the URL: without an endpoint setting, calls go to AWS.
	queue := "https://sqs.us-east-1.amazonaws.com/" + mototest.AccountID + "/" + queueName
	app, err := srv.AddApp(amazontest.App{NotificationQueueURL: queue})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "cs")
	_ = os.WriteFile(f, []byte(app.ClientSecret), 0o600)
	if code, _, stderr := run(t, "", "app", "add", "main", "--app-id", app.ID, "--client-id", app.ClientID, "--client-secret-file", f); code != 0 {
		t.Fatal(stderr)
	}
	v := openTestVault(t)
	_ = v.UpdateApp(ctx, "main", func(a *vault.App) error { a.SQSQueueURL = queue; return nil })
	if err := v.SetAWSKeys(ctx, "main", m.Admin.AccessKeyID, secret.New(m.Admin.SecretAccessKey)); err != nil {
		t.Fatal(err)
	}
	v.Close()
	t.Setenv(EnvEndpoint, srv.URL)
	return &rotateEnv{m: m, srv: srv, app: app, queue: queue}
}

func openTestVault(t *testing.T) *vault.Vault {
	t.Helper()
	p, _ := vault.DefaultPaths()
	key, _ := vault.LoadKey(p, false)
	v, err := vault.Open(context.Background(), p.Vault, key, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// assertVaultHoldsAmazons checks the vault's current and previous secrets
// and their expiries against the emulated Amazon.
func (e *rotateEnv) assertVaultHoldsAmazons(t *testing.T, when string) {
	t.Helper()
	amz, _ := e.srv.App(e.app.ID)
	v := openTestVault(t)
	defer v.Close()
	a, err := v.GetApp(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := a.CurrentSecret()
	if cur.Value.Reveal() != amz.ClientSecret || !cur.ExpiresAt.Equal(amz.SecretExpiry.Truncate(time.Millisecond)) {
		t.Fatalf("%s: vault current v%d (Amazon's: %v) expires %v; Amazon's current expires %v",
			when, cur.Version, cur.Value.Reveal() == amz.ClientSecret, cur.ExpiresAt, amz.SecretExpiry)
	}
	if amz.PreviousSecret != "" {
		prev, ok := a.PreviousSecret()
		if !ok || prev.Value.Reveal() != amz.PreviousSecret || !prev.ExpiresAt.Equal(amz.PreviousExpiry.Truncate(time.Millisecond)) {
			t.Fatalf("%s: the vault's previous secret is not Amazon's previous one with its expiry", when)
		}
	}
}

// The scenario through the command line: Amazon accepts the
// rotation, the queue cannot be read, the operator runs --reset, then
// rotate. The vault ends with Amazon's current secret and its true expiry.
func TestRotateResetAfterAmazonAccepted(t *testing.T) {
	e := newRotateEnv(t, "cli-reset")
	// SQS unreachable: Amazon rotates, the notification waits on the queue.
	code, _, stderr := run(t, "", "rotate", "--app", "main", "--sqs-endpoint", "http://127.0.0.1:1", "--timeout", "30s")
	if code != ExitFailure || !strings.Contains(stderr, "cannot reach SQS") {
		t.Fatalf("first rotate: exit %d: %s", code, stderr)
	}
	t.Setenv(cmdutil.EnvAWSEndpoint, e.m.Endpoint)
	code, out, stderr := run(t, "", "rotate", "--app", "main", "--reset")
	if code != 0 || !strings.Contains(out, "kept it: client secret v2") {
		t.Fatalf("reset: exit %d\n%s%s", code, out, stderr)
	}
	e.assertVaultHoldsAmazons(t, "after --reset")
	if code, out, stderr := run(t, "", "rotate", "--app", "main", "--timeout", "30s"); code != 0 {
		t.Fatalf("rotate: exit %d\n%s%s", code, out, stderr)
	}
	e.assertVaultHoldsAmazons(t, "after the next rotate")
}

// rotate reads the queue through SPGATE_AWS_ENDPOINT, the one endpoint
// setup and doctor use, when no SQS endpoint is set.
func TestRotateHonoursAWSEndpoint(t *testing.T) {
	e := newRotateEnv(t, "cli-aws-endpoint")
	t.Setenv(cmdutil.EnvAWSEndpoint, e.m.Endpoint)
	code, out, stderr := run(t, "", "rotate", "--app", "main", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	e.assertVaultHoldsAmazons(t, "after rotate")
}

// serve --auto-rotate reads the queue through SPGATE_AWS_ENDPOINT too:
// with a secret due for rotation, the running gateway rotates it.
func TestServeAutoRotateHonoursAWSEndpoint(t *testing.T) {
	e := newRotateEnv(t, "serve-auto-rotate")
	t.Setenv(cmdutil.EnvAWSEndpoint, e.m.Endpoint)
	t.Setenv(cmdutil.EnvSQSEndpoint, "")
	v := openTestVault(t)
	if _, err := v.SetClientSecret(context.Background(), "main", secret.New(e.app.ClientSecret),
		vault.SecretChange{ExpiresAt: time.Now().Add(10 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	v.Close()
	ctx, cancel := testenv.PatienceContext(t)
	defer cancel()
	var stderr testenv.Buffer
	sctx, stop := context.WithCancel(ctx)
	_, done := e2eServe(t, sctx, &stderr, "--audit-log", filepath.Join(t.TempDir(), "audit.jsonl"), "--auto-rotate")
	defer func() { stop(); <-done }()
	for {
		v := openTestVault(t)
		a, err := v.GetApp(ctx, "main")
		v.Close()
		if err != nil {
			t.Fatal(err)
		}
		if cur, _ := a.CurrentSecret(); cur.Version >= 3 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("serve --auto-rotate did not rotate within %s:\n%s", testenv.Patience, e2eMask(stderr.String()))
		case <-time.After(100 * time.Millisecond):
		}
	}
	e.assertVaultHoldsAmazons(t, "after serve rotated")
}
