package rotation

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/testenv"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// assertVaultIsAmazon fails unless the vault's current and previous secrets
// are Amazon's, with Amazon's expiries.
func (e *env) assertVaultIsAmazon(when string) {
	e.t.Helper()
	amz := e.amazonApp()
	a := e.vaultApp()
	cur, _ := a.CurrentSecret()
	if cur.Value.Reveal() != amz.ClientSecret {
		e.t.Fatalf("%s: the vault's current secret v%d is not Amazon's current one", when, cur.Version)
	}
	if !cur.ExpiresAt.Equal(amz.SecretExpiry.Truncate(time.Millisecond)) {
		e.t.Errorf("%s: current secret recorded to expire %v, Amazon says %v", when, cur.ExpiresAt, amz.SecretExpiry)
	}
	prev, ok := a.PreviousSecret()
	if amz.PreviousSecret == "" {
		return
	}
	if !ok || prev.Value.Reveal() != amz.PreviousSecret {
		e.t.Fatalf("%s: the vault's previous secret is not the one Amazon still accepts", when)
	}
	if !prev.ExpiresAt.Equal(amz.PreviousExpiry.Truncate(time.Millisecond)) {
		e.t.Errorf("%s: previous secret recorded to expire %v, Amazon says %v", when, prev.ExpiresAt, amz.PreviousExpiry)
	}
	if err := e.works(cur.Value); err != nil {
		e.t.Errorf("%s: current secret refused: %v", when, err)
	}
}

// The scenario: Amazon accepted a rotation, the process died before
// reading the notification, and the operator ran --reset, then rotate.
// Reset reads the queue first and keeps Amazon's secret with its true
// expiry; the next rotation ends with Amazon's current secret.
func TestResetAfterAcceptedRequestKeepsAmazonsSecret(t *testing.T) {
	e := newEnv(t)
	e.cfg.afterStep = func(s string) error {
		if s == StepRequested {
			return errCrash
		}
		return nil
	}
	if _, err := e.rotator().Rotate(e.ctx, "main"); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v", err)
	}
	e.cfg.afterStep = nil
	e.fake.Advance(24 * time.Hour)
	out, err := e.rotator().Reset(e.ctx, "main")
	if err != nil {
		t.Fatalf("reset: %v\n%s", err, e.progress)
	}
	if out.Step != StepRequested || !out.Drained || out.Stored == nil {
		t.Fatalf("reset %+v: want the queue drained and Amazon's secret stored", out)
	}
	e.assertVaultIsAmazon("after reset")
	if step, _ := e.rotator().Pending(e.ctx, "main"); step != "" {
		t.Errorf("still pending: %s", step)
	}
	e.fake.Advance(24 * time.Hour)
	if _, err := e.rotator().Rotate(e.ctx, "main"); err != nil {
		t.Fatalf("rotate after reset: %v", err)
	}
	e.assertVaultIsAmazon("after the next rotation")
	if q := e.queued(); len(q) != 0 {
		t.Errorf("%d messages left", len(q))
	}
}

// A rotation state forgotten without reading the queue (what --reset did)
// leaves the first rotation's notification there. The next rotation sees
// both and keeps the newest as current, the one it replaced as previous
// with the newest notification's oldClientSecretExpiryTime, and drops the
// vault's older secret, which Amazon no longer accepts.
func TestRotateKeepsNewestOfSeveralSecrets(t *testing.T) {
	e := newEnv(t)
	old := secret.New(e.app.ClientSecret)
	e.cfg.afterStep = func(s string) error {
		if s == StepRequested {
			return errCrash
		}
		return nil
	}
	_, _ = e.rotator().Rotate(e.ctx, "main")
	e.cfg.afterStep = nil
	if err := e.v.DeleteState(e.ctx, StateKey("main")); err != nil {
		t.Fatal(err)
	}
	e.fake.Advance(24 * time.Hour)
	res, err := e.rotator().Rotate(e.ctx, "main")
	if err != nil {
		t.Fatalf("rotate: %v\n%s", err, e.progress)
	}
	if res.Superseded != 1 {
		t.Errorf("superseded = %d, want 1", res.Superseded)
	}
	e.assertVaultIsAmazon("after the rotation")
	for _, s := range e.vaultApp().ClientSecrets {
		if s.Value.Equal(old) {
			t.Error("the vault still holds the secret Amazon dropped two rotations ago")
		}
	}
	if err := e.works(old); err == nil {
		t.Fatal("test premise: Amazon still accepts the first secret")
	}
	if q := e.queued(); len(q) != 0 {
		t.Errorf("%d messages left", len(q))
	}
}

// lateQueue hides messages from the first receive whose body satisfies
// hide, and sends them back right after it: a notification delivered late.
type lateQueue struct {
	Queue
	e    *env
	once sync.Once
	hide func(string) bool
}

func (q *lateQueue) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	out, err := q.Queue.ReceiveMessage(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	first := false
	q.once.Do(func() { first = true })
	if !first {
		return out, nil
	}
	var keep []sqstypes.Message
	for _, m := range out.Messages {
		if q.hide(aws.ToString(m.Body)) {
			_, _ = q.e.admin.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: in.QueueUrl, ReceiptHandle: m.ReceiptHandle})
			defer q.e.send(aws.ToString(m.Body))
			continue
		}
		keep = append(keep, m)
	}
	out.Messages = keep
	return out, nil
}

// A notification from an earlier, forgotten rotation that arrives before
// ours is not taken for ours: the rotator keeps waiting for the one its
// request caused and ends with Amazon's current secret.
func TestRotateWaitsPastAnEarlierRotationsNotification(t *testing.T) {
	e := newEnv(t)
	e.cfg.afterStep = func(s string) error {
		if s == StepRequested {
			return errCrash
		}
		return nil
	}
	_, _ = e.rotator().Rotate(e.ctx, "main")
	e.cfg.afterStep = nil
	first := e.amazonApp().ClientSecret
	_ = e.v.DeleteState(e.ctx, StateKey("main"))
	e.fake.Advance(24 * time.Hour)
	queues := e.cfg.Queues
	e.cfg.Queues = func(ctx context.Context, a vault.App) (Queue, error) {
		q, err := queues(ctx, a)
		return &lateQueue{Queue: q, e: e, hide: func(body string) bool { return !strings.Contains(body, first) }}, err
	}
	if _, err := e.rotator().Rotate(e.ctx, "main"); err != nil {
		t.Fatalf("rotate: %v\n%s", err, e.progress)
	}
	e.assertVaultIsAmazon("after the rotation")
}

// Two rotations of one app at once: the second one says plainly that the
// first is running, and who runs it, instead of failing on the queue.
func TestConcurrentRotationsTakeTheLock(t *testing.T) {
	e := newEnv(t)
	second, err := vault.Open(e.ctx, e.vpath, e.vkey, vault.Options{Clock: e.fake, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	reached, release := make(chan struct{}), make(chan struct{})
	e.cfg.afterStep = func(s string) error {
		if s == StepRequested {
			close(reached)
			<-release
		}
		return nil
	}
	e.cfg.Owner = "spgate rotate"
	done := make(chan error, 1)
	go func() { _, err := e.rotator().Rotate(e.ctx, "main"); done <- err }()
	<-reached

	cfg := e.cfg
	cfg.Vault, cfg.afterStep = second, nil
	r2, _ := New(cfg)
	_, err = r2.Rotate(e.ctx, "main")
	var running *RunningError
	if !errors.As(err, &running) || !errors.Is(err, ErrRotationRunning) {
		t.Fatalf("second rotation: %v, want a RunningError", err)
	}
	host, _ := os.Hostname()
	for _, want := range []string{"another rotation of app main is running", "pid " + itoa(os.Getpid()), "host " + host, "since 2026-03-01 12:00:00 UTC", "spgate rotate", "wait for it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "SQS") {
		t.Errorf("the loser blames the queue: %v", err)
	}
	if _, err := r2.Reset(e.ctx, "main"); !errors.Is(err, ErrRotationRunning) {
		t.Errorf("reset during a rotation: %v, want ErrRotationRunning", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("first rotation: %v", err)
	}
	if e.requests.Load() != 1 {
		t.Errorf("Amazon asked %d times", e.requests.Load())
	}
	e.assertVaultIsAmazon("after the first rotation")
	// The lock is free again.
	if _, err := r2.Rotate(e.ctx, "main"); err != nil {
		t.Fatalf("a later rotation: %v", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run a child process: %v", err)
	}
	return cmd.Process.Pid
}

// A lock left by a process that died is not respected forever: on this
// host a dead pid frees it at once; from another host it lapses.
func TestStaleRotationLock(t *testing.T) {
	e := newEnv(t)
	app := e.vaultApp()
	host, _ := os.Hostname()
	// A pid that is not running: a child that has exited.
	dead := deadPID(t)
	if _, err := e.v.AcquireLease(e.ctx, vault.Lease{Name: LockName(app.AppID), Token: "gone", Owner: "spgate rotate", PID: dead, Host: host}, leaseTTL); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rotator().Rotate(e.ctx, "main"); err != nil {
		t.Fatalf("a dead process's lock on this host blocked the rotation: %v", err)
	}
	if _, err := e.v.AcquireLease(e.ctx, vault.Lease{Name: LockName(app.AppID), Token: "far", Owner: "spgate serve --auto-rotate", PID: 1, Host: "elsewhere.example"}, leaseTTL); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rotator().Rotate(e.ctx, "main"); !errors.Is(err, ErrRotationRunning) || !strings.Contains(err.Error(), "elsewhere.example") {
		t.Fatalf("another host's live lock: %v", err)
	}
	e.fake.Advance(leaseTTL + time.Second)
	if _, err := e.rotator().Rotate(e.ctx, "main"); err != nil {
		t.Fatalf("after the lock lapsed: %v", err)
	}
}

// A rotation stopped before its request was on the wire (here LWA is down,
// so no grantless token) is not recorded as "maybe sent": nothing stays
// pending and the next run asks Amazon.
func TestRotateStoppedBeforeSendingIsNotPending(t *testing.T) {
	e := newEnv(t)
	if err := e.srv.SetFaults(amazontest.Faults{LWAOutage: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, testenv.Patience)
	defer cancel()
	_, err := e.rotator().Rotate(ctx, "main")
	if err == nil || !strings.Contains(err.Error(), "stopped before it was sent") || strings.Contains(err.Error(), "may have made") {
		t.Fatalf("err = %v", err)
	}
	if step, _ := e.rotator().Pending(e.ctx, "main"); step != "" {
		t.Fatalf("pending step %q after a request that never left", step)
	}
	if n := e.srv.Counters().Calls[rotateOp]; n != 0 {
		t.Fatalf("Amazon got %d rotation calls", n)
	}
	_ = e.srv.SetFaults(amazontest.Faults{})
	if _, err := e.rotator().Rotate(e.ctx, "main"); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Counters().Calls[rotateOp]; n != 1 {
		t.Errorf("Amazon got %d rotation calls, want 1", n)
	}
	e.assertVaultIsAmazon("after the retry")
}

const rotateOp = "application-management/2023-11-30/rotateApplicationClientSecret"

// emptyQueue is a queue nothing arrives on; each receive takes its long
// poll's wait on the fake clock, as a real one would.
type emptyQueue struct {
	noQueue
	e     *env
	waits []int32
}

func (q *emptyQueue) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.waits = append(q.waits, in.WaitTimeSeconds)
	q.e.fake.Advance(time.Duration(in.WaitTimeSeconds) * time.Second)
	return &sqs.ReceiveMessageOutput{}, nil
}

// --timeout bounds the wait: the last long poll is shortened to what is
// left instead of running its full 20 s past the deadline.
func TestRotateTimeoutDoesNotOvershoot(t *testing.T) {
	e := newEnv(t)
	q := &emptyQueue{e: e}
	e.cfg.Queues = func(context.Context, vault.App) (Queue, error) { return q, nil }
	e.cfg.PollWait, e.cfg.Timeout = 20*time.Second, 50*time.Second
	start := e.fake.Now()
	if _, err := e.rotator().Rotate(e.ctx, "main"); !errors.Is(err, ErrNoNewSecret) {
		t.Fatalf("err = %v", err)
	}
	if waited := e.fake.Now().Sub(start); waited != 50*time.Second {
		t.Errorf("waited %v for a 50s timeout (long polls %v)", waited, q.waits)
	}
}

// A queue that cannot be reached is said to be unreachable, not blamed on
// the keys' permissions.
func TestRotateUnreachableQueueIsNotAPermissionProblem(t *testing.T) {
	e := newEnv(t)
	e.cfg.Queues = SQSQueues("http://127.0.0.1:1")
	_, err := e.rotator().Rotate(e.ctx, "main")
	if err == nil || !strings.Contains(err.Error(), "cannot reach SQS") || strings.Contains(err.Error(), "sqs:ReceiveMessage") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "SPGATE_AWS_ENDPOINT") {
		t.Errorf("no hint at the endpoint setting: %v", err)
	}
}

// An old new-secret notification (older than the secret the vault holds)
// that reappears is not adopted over the newer secret.
func TestWatchIgnoresNotificationOlderThanCurrentSecret(t *testing.T) {
	e := newEnv(t)
	e.fake.Advance(24 * time.Hour)
	if _, err := e.rotator().Rotate(e.ctx, "main"); err != nil {
		t.Fatal(err)
	}
	stale := "amzn1.oa2-cs.v1." + strings.Repeat("ef", 32)
	e.secrets = append(e.secrets, stale)
	old := e.fake.Now().Add(-24 * time.Hour)
	n, err := ParseNotification(strings.Replace(newSecretJSON(e.app.ClientID, stale, old.Add(180*24*time.Hour), old.Add(7*24*time.Hour)),
		`"eventTime":"2026-03-01T12:00:00.000Z"`, `"eventTime":"`+old.Format("2006-01-02T15:04:05.000Z")+`"`, 1))
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := e.rotator().HandleNotification(e.ctx, "main", n)
	if a != ActionIgnored || err != nil {
		t.Fatalf("stale notification: %s, %v", a, err)
	}
	e.assertVaultIsAmazon("after the stale notification")
}
