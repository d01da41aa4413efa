package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/mototest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/spapi/sellers"
	"github.com/spgate/spgate/vault"
)

var moto *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.RunMain(m, &moto)) }

// clockQueue advances the fake clock on every empty receive, as a long poll
// would, so the timeout is reached without sleeping.
type clockQueue struct {
	Queue
	fake *clock.Fake
}

func (c clockQueue) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	out, err := c.Queue.ReceiveMessage(ctx, in, opts...)
	if err == nil && len(out.Messages) == 0 {
		c.fake.Advance(20 * time.Second)
	}
	return out, err
}

type env struct {
	t        *testing.T
	ctx      context.Context
	srv      *amazontest.Server
	fake     *clock.Fake
	v        *vault.Vault
	vpath    string
	vkey     vault.Key
	app      amazontest.App
	queueURL string
	admin    *sqs.Client
	ep       spapi.Endpoints
	logs     *testenv.Buffer
	progress *testenv.Buffer
	cfg      Config
	requests atomic.Int64
	secrets  []string // every secret value seen, for the leak check
}

// patient is the HTTP client for LWA checks: bounded by testenv.Patience,
// not by the 30 s a loaded machine can use up.
var patient = &http.Client{Timeout: testenv.Patience}

var nonName = regexp.MustCompile(`[^A-Za-z0-9_-]`)

func newEnv(t *testing.T) *env {
	t.Helper()
	m := mototest.Need(t, moto)
	e := &env{t: t, ctx: context.Background(), logs: &testenv.Buffer{}, progress: &testenv.Buffer{}}
	e.fake = clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	e.srv = amazontest.NewServer(amazontest.WithClock(e.fake), amazontest.WithoutRateLimits(),
		amazontest.WithSQS(m.Endpoint, m.Admin.AccessKeyID, secret.New(m.Admin.SecretAccessKey)))
	t.Cleanup(e.srv.Close)
	name := nonName.ReplaceAllString(t.Name(), "-")
	if len(name) > 70 {
		name = name[len(name)-70:]
	}
	e.admin = sqs.NewFromConfig(m.AdminConfig())
	if _, err := e.admin.CreateQueue(e.ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)}); err != nil {
		t.Fatalf("create queue: %v", err)
	}
	e.queueURL = "https://sqs.us-east-1.amazonaws.com/" + mototest.AccountID + "/" + name
	app, err := e.srv.AddApp(amazontest.App{NotificationQueueURL: e.queueURL})
	if err != nil {
		t.Fatal(err)
	}
	e.app = app
	e.secrets = append(e.secrets, app.ClientSecret, m.Admin.SecretAccessKey)
	e.vkey, _ = vault.NewRandomKey()
	e.vpath = filepath.Join(t.TempDir(), "vault.db")
	e.v, err = vault.Open(e.ctx, e.vpath, e.vkey, vault.Options{Create: true, Clock: e.fake, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.v.Close() })
	err = e.v.AddApp(e.ctx, vault.App{Name: "main", AppID: app.ID, ClientID: app.ClientID, SQSQueueURL: e.queueURL,
		AWSAccessKeyID: m.Admin.AccessKeyID, AWSSecretKey: vault.Secret{Value: secret.New(m.Admin.SecretAccessKey)},
		ClientSecrets: []vault.Secret{{Value: secret.New(app.ClientSecret), CreatedAt: e.fake.Now(), ExpiresAt: app.SecretExpiry}}})
	if err != nil {
		t.Fatal(err)
	}
	e.ep, err = spapi.Custom(e.srv.URL, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	real := SPAPIRequester(e.v, e.ep, nil, clock.Real{}, log)
	sqsq := SQSQueues(m.Endpoint)
	e.cfg = Config{
		Vault: e.v,
		Request: func(ctx context.Context, a vault.App) error {
			e.requests.Add(1)
			return real(ctx, a)
		},
		Queues: func(ctx context.Context, a vault.App) (Queue, error) {
			q, err := sqsq(ctx, a)
			if err != nil {
				return nil, err
			}
			return clockQueue{Queue: q, fake: e.fake}, nil
		},
		Verify:   LWAVerifier(e.srv.TokenURL(), patient, nil),
		Clock:    e.fake,
		Logger:   log,
		PollWait: -1,
		Progress: func(step, msg string) { fmt.Fprintf(e.progress, "[%s] %s\n", step, msg) },
	}
	t.Cleanup(e.leakCheck)
	return e
}

func (e *env) rotator() *Rotator {
	r, err := New(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// amazonApp is the app as the emulated Amazon sees it now.
func (e *env) amazonApp() amazontest.App {
	a, _ := e.srv.App(e.app.ID)
	e.secrets = append(e.secrets, a.ClientSecret, a.PreviousSecret)
	return a
}

func (e *env) vaultApp() vault.App {
	a, err := e.v.GetApp(e.ctx, "main")
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// works reports whether LWA accepts the secret now.
func (e *env) works(s secret.String) error {
	return LWAVerifier(e.srv.TokenURL(), patient, nil)(e.ctx, e.app.ClientID, s)
}

// queued returns the bodies of the messages on the queue now (received
// and made visible again).
func (e *env) queued() []string {
	out, err := e.admin.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 0})
	if err != nil {
		e.t.Fatal(err)
	}
	var bodies []string
	for _, m := range out.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
		_, _ = e.admin.ChangeMessageVisibility(e.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(e.queueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
	}
	return bodies
}

func (e *env) send(body string) {
	if _, err := e.admin.SendMessage(e.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(e.queueURL), MessageBody: aws.String(body)}); err != nil {
		e.t.Fatal(err)
	}
}

// leakCheck fails the test if any secret appears in the logs or progress.
func (e *env) leakCheck() {
	e.amazonApp()
	all := e.logs.String() + e.progress.String()
	for _, s := range e.secrets {
		if len(s) > 8 && strings.Contains(all, s) {
			e.t.Errorf("a secret (%s) appears in the logs or progress output", secret.New(s).Hint())
		}
	}
}

func newSecretJSON(clientID, sec string, newExp, oldExp time.Time) string {
	f := "2006-01-02T15:04:05.000Z"
	return fmt.Sprintf(`{"notificationVersion":"1.0","notificationType":"APPLICATION_OAUTH_CLIENT_NEW_SECRET","payloadVersion":"2023-11-30","eventTime":"2026-03-01T12:00:00.000Z",`+
		`"payload":{"applicationOAuthClientNewSecret":{"clientId":%q,"newClientSecret":%q,"newClientSecretExpiryTime":%q,"oldClientSecretExpiryTime":%q}},`+
		`"notificationMetadata":{"applicationId":"amzn1.sp.solution.x","subscriptionId":"s","publishTime":"2026-03-01T12:00:01.000Z","notificationId":"n1"}}`,
		clientID, sec, newExp.UTC().Format(f), oldExp.UTC().Format(f))
}

func TestRotateHappyPath(t *testing.T) {
	e := newEnv(t)
	old := secret.New(e.app.ClientSecret)
	res, err := e.rotator().Rotate(e.ctx, "main")
	if err != nil {
		t.Fatalf("Rotate: %v\nprogress:\n%s", err, e.progress)
	}
	amz := e.amazonApp()
	a := e.vaultApp()
	cur, _ := a.CurrentSecret()
	prev, ok := a.PreviousSecret()
	if cur.Value.Reveal() != amz.ClientSecret || cur.Value.Equal(old) {
		t.Fatalf("current secret is not Amazon's new one")
	}
	if !ok || !prev.Value.Equal(old) {
		t.Fatalf("old secret not kept as previous")
	}
	if !cur.ExpiresAt.Equal(amz.SecretExpiry.Truncate(time.Millisecond)) || !prev.ExpiresAt.Equal(amz.PreviousExpiry.Truncate(time.Millisecond)) {
		t.Errorf("expiries: current %v (Amazon %v), previous %v (Amazon %v)", cur.ExpiresAt, amz.SecretExpiry, prev.ExpiresAt, amz.PreviousExpiry)
	}
	if cur.VerifiedAt.IsZero() || res.Version != cur.Version || res.Resumed {
		t.Errorf("result %+v, verified %v", res, cur.VerifiedAt)
	}
	if err := e.works(cur.Value); err != nil {
		t.Errorf("new secret refused: %v", err)
	}
	if err := e.works(old); err != nil {
		t.Errorf("old secret refused before its expiry: %v", err)
	}
	if q := e.queued(); len(q) != 0 {
		t.Errorf("%d messages left on the queue", len(q))
	}
	if _, err := e.v.State(e.ctx, StateKey("main")); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("rotation state not cleared: %v", err)
	}
	// The provider the gateway uses offers the old secret as fallback
	// until Amazon's old expiry, then drops it.
	cr, _ := VaultCredentials{Vault: e.v, App: "main", Clock: e.fake}.Credentials(e.ctx)
	if !cr.Fallback.Equal(old) || !cr.ClientSecret.Equal(cur.Value) {
		t.Error("VaultCredentials: want new current and old fallback")
	}
	e.fake.Set(amz.PreviousExpiry.Add(time.Minute))
	if err := e.works(old); !errors.Is(err, lwa.ErrClientRejected) {
		t.Errorf("old secret after its expiry: %v, want invalid_client", err)
	}
	if err := e.works(cur.Value); err != nil {
		t.Errorf("new secret after the old one's expiry: %v", err)
	}
	cr, _ = VaultCredentials{Vault: e.v, App: "main", Clock: e.fake}.Credentials(e.ctx)
	if !cr.Fallback.IsZero() {
		t.Error("an expired previous secret is still offered as fallback")
	}
	for _, want := range []string{"[requesting]", "[received]", "[verified]", "[stored]", "[done]"} {
		if !strings.Contains(e.progress.String(), want) {
			t.Errorf("progress lacks %s:\n%s", want, e.progress)
		}
	}
}

func TestRotateMessageLost(t *testing.T) {
	e := newEnv(t)
	// Amazon publishes to a queue nobody reads: the message is lost to us.
	if _, err := e.admin.CreateQueue(e.ctx, &sqs.CreateQueueInput{QueueName: aws.String("elsewhere")}); err != nil {
		t.Fatal(err)
	}
	lost := "https://sqs.us-east-1.amazonaws.com/" + mototest.AccountID + "/elsewhere"
	app, err := e.srv.AddApp(amazontest.App{NotificationQueueURL: lost})
	if err != nil {
		t.Fatal(err)
	}
	e.secrets = append(e.secrets, app.ClientSecret)
	if err := e.v.AddApp(e.ctx, vault.App{Name: "lost", AppID: app.ID, ClientID: app.ClientID, SQSQueueURL: e.queueURL,
		AWSAccessKeyID: moto.Admin.AccessKeyID, AWSSecretKey: vault.Secret{Value: secret.New(moto.Admin.SecretAccessKey)},
		ClientSecrets: []vault.Secret{{Value: secret.New(app.ClientSecret), ExpiresAt: app.SecretExpiry}}}); err != nil {
		t.Fatal(err)
	}
	start := e.fake.Now()
	_, err = e.rotator().Rotate(e.ctx, "lost")
	if !errors.Is(err, ErrNoNewSecret) {
		t.Fatalf("err = %v, want ErrNoNewSecret", err)
	}
	if waited := e.fake.Now().Sub(start); waited < DefaultTimeout || waited > DefaultTimeout+time.Minute {
		t.Errorf("waited %v of fake time, want the 5 min default", waited)
	}
	msg := err.Error()
	for _, want := range []string{"APPLICATION_OAUTH_CLIENT_NEW_SECRET", "437568002678", "still works until", "sqs:ReceiveMessage", "spgate app set-secret lost"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	a, _ := e.v.GetApp(e.ctx, "lost")
	if cur, _ := a.CurrentSecret(); cur.Value.Reveal() != app.ClientSecret {
		t.Error("current secret changed")
	}
	// A re-run waits again without asking Amazon for yet another secret.
	r := e.rotator()
	if step, _ := r.Pending(e.ctx, "lost"); step != StepRequested {
		t.Errorf("pending step %q, want %q", step, StepRequested)
	}
	if _, err := r.Rotate(e.ctx, "lost"); !errors.Is(err, ErrNoNewSecret) || e.requests.Load() != 1 {
		t.Errorf("re-run: %v, %d requests (want 1)", err, e.requests.Load())
	}
}

func TestRotateDuplicateMessage(t *testing.T) {
	e := newEnv(t)
	real := e.cfg.Request
	e.cfg.Request = func(ctx context.Context, a vault.App) error {
		if err := real(ctx, a); err != nil {
			return err
		}
		// Take Amazon's message and put it back twice (SQS at-least-once).
		out, err := e.admin.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL), WaitTimeSeconds: 2})
		if err != nil || len(out.Messages) != 1 {
			return fmt.Errorf("test: receive Amazon's message: %v (%d)", err, len(out.Messages))
		}
		_, _ = e.admin.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(e.queueURL), ReceiptHandle: out.Messages[0].ReceiptHandle})
		e.send(aws.ToString(out.Messages[0].Body))
		e.send(aws.ToString(out.Messages[0].Body))
		return nil
	}
	r := e.rotator()
	res, err := r.Rotate(e.ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 2 {
		t.Errorf("version %d, want 2 (one rotation)", res.Version)
	}
	// Whatever copy is left is recognised as a duplicate and removed.
	for _, body := range e.queued() {
		n, err := ParseNotification(body)
		if err != nil {
			t.Fatal(err)
		}
		if a, _, err := r.HandleNotification(e.ctx, "main", n); a != ActionDuplicate || err != nil {
			t.Errorf("left-over copy: %s, %v", a, err)
		}
	}
	ctx, cancel := context.WithCancel(e.ctx)
	go func() {
		for len(e.queued()) > 0 {
		}
		cancel()
	}()
	_ = r.Watch(ctx, "main", nil)
	if v := e.vaultApp(); len(v.ClientSecrets) != 2 {
		t.Errorf("%d secrets kept", len(v.ClientSecrets))
	}
	if cur, _ := e.vaultApp().CurrentSecret(); cur.Version != 2 {
		t.Errorf("duplicates changed the secret again: v%d", cur.Version)
	}
}

func TestRotateLeavesOtherClientsMessages(t *testing.T) {
	e := newEnv(t)
	other := "amzn1.application-oa2-client.00000000000000000000000000000000"
	foreignSecret := "amzn1.oa2-cs.v1." + strings.Repeat("ab", 32)
	e.secrets = append(e.secrets, foreignSecret)
	body := newSecretJSON(other, foreignSecret, e.fake.Now().Add(180*24*time.Hour), e.fake.Now().Add(7*24*time.Hour))
	e.send(body)
	res, err := e.rotator().Rotate(e.ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if res.Foreign != 1 {
		t.Errorf("foreign = %d, want 1", res.Foreign)
	}
	q := e.queued()
	if len(q) != 1 || q[0] != body {
		t.Fatalf("the other client's message is not back on the queue at once: %d messages", len(q))
	}
	if cur, _ := e.vaultApp().CurrentSecret(); cur.Value.Reveal() == foreignSecret {
		t.Fatal("took another client's secret")
	}
}

func TestRotateNewSecretRefused(t *testing.T) {
	e := newEnv(t)
	bogus := "amzn1.oa2-cs.v1." + strings.Repeat("cd", 32)
	e.secrets = append(e.secrets, bogus)
	e.cfg.Request = func(ctx context.Context, a vault.App) error {
		e.send(newSecretJSON(a.ClientID, bogus, e.fake.Now().Add(180*24*time.Hour), e.fake.Now().Add(7*24*time.Hour)))
		return nil
	}
	r := e.rotator()
	_, err := r.Rotate(e.ctx, "main")
	if !errors.Is(err, ErrNewSecretRefused) {
		t.Fatalf("err = %v, want ErrNewSecretRefused", err)
	}
	if strings.Contains(err.Error(), bogus) {
		t.Fatal("error shows the secret")
	}
	for _, want := range []string{"old secret stays current", "--reset"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	cur, _ := e.vaultApp().CurrentSecret()
	if cur.Value.Reveal() != e.app.ClientSecret || cur.Version != 1 {
		t.Fatal("the old secret is no longer current")
	}
	if err := e.works(cur.Value); err != nil {
		t.Fatalf("old secret: %v", err)
	}
	if step, _ := r.Pending(e.ctx, "main"); step != StepReceived {
		t.Errorf("pending step %q, want received (kept for a retry)", step)
	}
	if _, err := r.Reset(e.ctx, "main"); err != nil {
		t.Fatal(err)
	}
	if step, _ := r.Pending(e.ctx, "main"); step != "" {
		t.Errorf("after reset: %q", step)
	}
}

// errCrash simulates kill -9 at a step.
var errCrash = errors.New("simulated crash")

func TestRotateCrashAtEachStepThenResume(t *testing.T) {
	for _, step := range []string{StepRequested, StepReceived, StepVerified, StepStored, StepDeleted} {
		t.Run(step, func(t *testing.T) {
			e := newEnv(t)
			old := secret.New(e.app.ClientSecret)
			crashed := false
			e.cfg.afterStep = func(s string) error {
				if s == step && !crashed {
					crashed = true
					return errCrash
				}
				return nil
			}
			if _, err := e.rotator().Rotate(e.ctx, "main"); !errors.Is(err, errCrash) {
				t.Fatalf("first run: %v, want the crash", err)
			}
			// After the crash some stored secret works (current, or
			// previous as fallback).
			cr, err := VaultCredentials{Vault: e.v, App: "main", Clock: e.fake}.Credentials(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if e.works(cr.ClientSecret) != nil && (cr.Fallback.IsZero() || e.works(cr.Fallback) != nil) {
				t.Fatal("no working secret in the vault after the crash")
			}
			res, err := e.rotator().Rotate(e.ctx, "main")
			if err != nil {
				t.Fatalf("re-run: %v\n%s", err, e.progress)
			}
			if !res.Resumed {
				t.Error("re-run did not resume")
			}
			if n := e.requests.Load(); n != 1 {
				t.Errorf("Amazon was asked %d times, want 1", n)
			}
			amz := e.amazonApp()
			a := e.vaultApp()
			cur, _ := a.CurrentSecret()
			prev, _ := a.PreviousSecret()
			if cur.Value.Reveal() != amz.ClientSecret || !prev.Value.Equal(old) || cur.Version != 2 {
				t.Errorf("after resume: current is Amazon's: %v, previous is old: %v, version %d",
					cur.Value.Reveal() == amz.ClientSecret, prev.Value.Equal(old), cur.Version)
			}
			if err := e.works(cur.Value); err != nil {
				t.Error(err)
			}
			if _, err := e.v.State(e.ctx, StateKey("main")); !errors.Is(err, vault.ErrNotFound) {
				t.Error("state not cleared")
			}
		})
	}
	t.Run(StepRequesting, func(t *testing.T) {
		// Killed before Amazon was asked: the re-run cannot know, waits, and
		// says so; the old secret is untouched; --reset starts over.
		e := newEnv(t)
		e.cfg.afterStep = func(s string) error {
			if s == StepRequesting {
				return errCrash
			}
			return nil
		}
		if _, err := e.rotator().Rotate(e.ctx, "main"); !errors.Is(err, errCrash) {
			t.Fatal(err)
		}
		e.cfg.afterStep = nil
		r := e.rotator()
		if _, err := r.Rotate(e.ctx, "main"); !errors.Is(err, ErrNoNewSecret) {
			t.Fatalf("re-run: %v", err)
		}
		if cur, _ := e.vaultApp().CurrentSecret(); e.works(cur.Value) != nil {
			t.Fatal("current secret broken")
		}
		_, _ = r.Reset(e.ctx, "main")
		if _, err := r.Rotate(e.ctx, "main"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCallsKeepWorkingDuringRotation(t *testing.T) {
	e := newEnv(t)
	sl := e.srv.Sellers()[0]
	rt, err := e.srv.Authorize(sl.ID, e.app.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.secrets = append(e.secrets, rt)
	sellersStore := spapi.StaticSellers{{ID: sl.ID, Region: spapi.Region(sl.Region), RefreshToken: secret.New(rt)}}
	// One connection pool for every client, as in one process: a transport
	// per call would leave thousands of connections open.
	wire := http.DefaultTransport.(*http.Transport).Clone()
	wire.MaxIdleConnsPerHost = 64
	t.Cleanup(wire.CloseIdleConnections)
	var calls, failures atomic.Int64
	var firstErr atomic.Value
	call := func() {
		// A fresh client per call asks LWA each time, with whatever the
		// vault holds at that moment. Its token request ends with the test,
		// not after a fixed time a loaded machine can use up.
		c, err := spapi.New(spapi.Config{AppID: e.app.ID, Credentials: VaultCredentials{Vault: e.v, App: "main", Clock: e.fake},
			Sellers: sellersStore, Endpoints: e.ep, MaxAttempts: 1, Base: wire, TokenTimeout: testenv.Patience})
		if err == nil {
			_, err = sellers.New(c).MarketplaceParticipations(t.Context(), sl.ID)
		}
		calls.Add(1)
		if err != nil {
			failures.Add(1)
			firstErr.CompareAndSwap(nil, err)
		}
	}
	// Calls at every step of the rotation: the state each step leaves in
	// the vault and at Amazon (crash or not) must serve them.
	var checked []string
	e.cfg.afterStep = func(step string) error {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(call)
		}
		wg.Wait()
		checked = append(checked, step)
		return nil
	}
	// And calls racing every step.
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				call()
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	_, err = e.rotator().Rotate(e.ctx, "main")
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls during the rotation", calls.Load())
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d of %d calls failed during the rotation, first: %v", f, calls.Load(), firstErr.Load())
	}
	if want := []string{StepRequesting, StepRequested, StepReceived, StepVerified, StepStored, StepDeleted}; !slices.Equal(checked, want) {
		t.Errorf("calls checked after steps %v, want %v", checked, want)
	}
	// And after it, with the new secret current.
	call()
	if f := failures.Load(); f != 0 {
		t.Fatalf("call after the rotation: %v", firstErr.Load())
	}
}

func TestExpiryNoticeTriggersRotation(t *testing.T) {
	e := newEnv(t)
	r := e.rotator()
	// Far from expiry: ignored.
	far := Notification{Type: TypeSecretExpiry, ClientID: e.app.ClientID, Expiry: e.fake.Now().Add(60 * 24 * time.Hour)}
	if a, _, err := r.HandleNotification(e.ctx, "main", far); a != ActionIgnored || err != nil {
		t.Fatalf("far expiry: %s %v", a, err)
	}
	if err := e.srv.EmitSecretExpiry(e.ctx, e.app.ID, e.fake.Now().Add(3*24*time.Hour), "PERIODIC_ROTATION"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, testenv.Patience)
	defer cancel()
	var got Action
	var gotErr error
	_ = r.Watch(ctx, "main", func(a Action, _ Result, err error) {
		got, gotErr = a, err
		cancel()
	})
	if got != ActionRotated || gotErr != nil {
		t.Fatalf("watch: %s, %v", got, gotErr)
	}
	if cur, _ := e.vaultApp().CurrentSecret(); cur.Version != 2 || cur.Value.Reveal() != e.amazonApp().ClientSecret {
		t.Fatal("expiry notice did not rotate")
	}
}

func TestWatchAdoptsUnrequestedSecret(t *testing.T) {
	e := newEnv(t)
	// Someone rotated elsewhere (Seller Central, a dead process): the new
	// secret arrives without a request from us.
	if err := e.cfg.Request(e.ctx, e.vaultApp()); err != nil {
		t.Fatal(err)
	}
	r := e.rotator()
	ctx, cancel := context.WithTimeout(e.ctx, testenv.Patience)
	defer cancel()
	var got Action
	_ = r.Watch(ctx, "main", func(a Action, _ Result, err error) {
		if err != nil {
			t.Error(err)
		}
		got = a
		cancel()
	})
	if got != ActionAdopted {
		t.Fatalf("got %s", got)
	}
	if cur, _ := e.vaultApp().CurrentSecret(); cur.Value.Reveal() != e.amazonApp().ClientSecret {
		t.Fatal("not adopted")
	}
	if len(e.queued()) != 0 {
		t.Error("message left on the queue")
	}
}

func TestScheduleRotatesAheadOfExpiry(t *testing.T) {
	e := newEnv(t)
	r := e.rotator()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	results := make(chan error, 4)
	go func() {
		_ = Schedule(ctx, r, "main", ScheduleOptions{Every: 24 * time.Hour, Before: 30 * 24 * time.Hour, OnResult: func(_ Result, err error) { results <- err }})
	}()
	// 180 days left: the first check does nothing and sleeps a day.
	if err := e.fake.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-results:
		t.Fatalf("rotated with 180 days left: %v", err)
	default:
	}
	if cur, _ := e.vaultApp().CurrentSecret(); cur.Version != 1 {
		t.Fatal("rotated too early")
	}
	// 151 days later fewer than 30 are left.
	e.fake.Advance(151 * 24 * time.Hour)
	select {
	case err := <-results:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testenv.Patience):
		t.Fatal("no scheduled rotation")
	}
	if cur, _ := e.vaultApp().CurrentSecret(); cur.Version != 2 {
		t.Fatal("schedule did not rotate")
	}
}

// TestScheduledRotationDecidesUnderTheLock: two processes (gateway
// replicas) both found the secret due; the one that takes the lock second
// finds the secret already rotated and does not rotate again.
func TestScheduledRotationDecidesUnderTheLock(t *testing.T) {
	e := newEnv(t)
	first, second := e.rotator(), e.rotator()
	e.fake.Advance(151 * 24 * time.Hour) // fewer than 30 days left
	for _, r := range []*Rotator{first, second} {
		if due, err := r.due(e.ctx, "main", 30*24*time.Hour); err != nil || !due {
			t.Fatalf("due = %v, %v before any rotation", due, err)
		}
	}
	if _, rotated, err := first.rotateIfDue(e.ctx, "main", 30*24*time.Hour); err != nil || !rotated {
		t.Fatalf("first replica: rotated %v, %v", rotated, err)
	}
	if _, rotated, err := second.rotateIfDue(e.ctx, "main", 30*24*time.Hour); err != nil || rotated {
		t.Fatalf("second replica: rotated %v, %v; want no second rotation", rotated, err)
	}
	if cur, _ := e.vaultApp().CurrentSecret(); cur.Version != 2 {
		t.Errorf("secret version %d, want 2 (one rotation)", cur.Version)
	}
}
