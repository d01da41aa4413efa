package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/mototest"
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
