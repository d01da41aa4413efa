// Package rotation rotates an app's LWA client secret end to end: it asks
// Amazon for a new secret (rotateApplicationClientSecret, grantless token
// with the rotation scope), receives the APPLICATION_OAUTH_CLIENT_NEW_SECRET
// notification from the app's SQS queue, proves the new secret with a real
// LWA grant, and only then makes it current in the vault, keeping the old one
// as a fallback until Amazon's oldClientSecretExpiryTime.
//
// Every step is recorded (encrypted) in the vault state "rotation/<app>"
// before the next one starts, so a process killed at any point loses no
// working secret and a re-run resumes where it stopped:
//
//	requesting → requested → received → verified → stored → deleted → (state cleared)
//
// The new secret is written to the state before its SQS message is deleted;
// the message is deleted only after the secret is current in the vault.
// Messages for other client ids are never deleted: they are made visible
// again for their owner. Duplicates of a secret already known are deleted.
package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// Steps of a rotation, in order, as recorded in the vault state.
const (
	StepRequesting = "requesting" // about to call rotateApplicationClientSecret
	StepRequested  = "requested"  // Amazon answered 204
	StepReceived   = "received"   // the new secret is in the state (pending)
	StepVerified   = "verified"   // LWA accepted the new secret
	StepStored     = "stored"     // the new secret is current in the vault
	StepDeleted    = "deleted"    // the SQS message is deleted
)

// Defaults for Config fields left zero.
const (
	DefaultTimeout         = 5 * time.Minute
	DefaultPollWait        = 20 * time.Second
	DefaultExpiryThreshold = 7 * 24 * time.Hour
	// visibility hides a received message from other readers while this
	// process decides what to do with it.
	visibility = 30
)

// Errors callers can match with errors.Is.
var (
	// ErrNoNewSecret: the new-secret notification did not arrive in time.
	ErrNoNewSecret = errors.New("rotation: the new client secret did not arrive")
	// ErrNewSecretRefused: LWA did not accept the new secret; the old one
	// stays current.
	ErrNewSecretRefused = errors.New("rotation: LWA refused the new client secret")
	// ErrNoQueue: the app has no SQS queue URL in the vault.
	ErrNoQueue = errors.New("rotation: the app has no notification queue")
)

// StateKey is the vault state key of app's rotation in progress.
func StateKey(app string) string { return "rotation/" + app }

// Config holds a Rotator's dependencies.
type Config struct {
	// Vault stores the secrets and the step record. Required.
	Vault *vault.Vault
	// Request asks Amazon for a new secret (see SPAPIRequester). Required
	// for Rotate.
	Request Requester
	// Queues opens the app's SQS queue (see SQSQueues). Required.
	Queues QueueFactory
	// Verify proves a secret with LWA (see LWAVerifier). Required.
	Verify Verifier
	// Clock measures the timeout and secret ages; nil means the real clock.
	Clock clock.Clock
	// Logger gets progress and warnings; secrets never reach it.
	Logger *slog.Logger
	// Timeout bounds the wait for the new-secret notification
	// (DefaultTimeout when zero).
	Timeout time.Duration
	// PollWait is the SQS long-poll wait per receive (DefaultPollWait when
	// zero, at most 20 s); negative means short polling.
	PollWait time.Duration
	// ExpiryThreshold: an APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY notice whose
	// expiry is nearer than this triggers a rotation
	// (DefaultExpiryThreshold when zero).
	ExpiryThreshold time.Duration
	// Progress, when set, receives one line per step for people watching.
	Progress func(step, msg string)

	// afterStep is a fault-injection point for tests: called after each
	// step is recorded; an error aborts the run as a crash would.
	afterStep func(step string) error
}

// Rotator rotates client secrets. It is safe to use from one goroutine per
// app; two processes rotating the same app at once are not coordinated.
type Rotator struct {
	cfg Config
	clk clock.Clock
	log *slog.Logger
}

// New returns a Rotator.
func New(cfg Config) (*Rotator, error) {
	if cfg.Vault == nil || cfg.Queues == nil || cfg.Verify == nil {
		return nil, errors.New("rotation: Config.Vault, Queues and Verify are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PollWait == 0 {
		cfg.PollWait = DefaultPollWait
	}
	if cfg.PollWait > 20*time.Second {
		cfg.PollWait = 20 * time.Second
	}
	if cfg.ExpiryThreshold <= 0 {
		cfg.ExpiryThreshold = DefaultExpiryThreshold
	}
	r := &Rotator{cfg: cfg, clk: clock.Or(cfg.Clock), log: cfg.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// Result describes a finished rotation. It holds no secret.
type Result struct {
	App      string `json:"app"`
	ClientID string `json:"clientId"`
	// Version is the new current secret's version in the vault.
	Version int `json:"version"`
	// Hint identifies the new secret (prefix and last four characters).
	Hint string `json:"hint"`
	// ExpiresAt is when the new secret expires (newClientSecretExpiryTime).
	ExpiresAt time.Time `json:"expiresAt"`
	// PreviousExpiresAt is until when the old secret keeps working.
	PreviousExpiresAt time.Time `json:"previousExpiresAt"`
	// Resumed is true when an interrupted rotation was finished.
	Resumed bool `json:"resumed"`
	// Duplicates counts duplicate notifications deleted; Foreign counts
	// messages for other client ids left on the queue.
	Duplicates int `json:"duplicates"`
	Foreign    int `json:"foreign"`
}

// record is the step state persisted (encrypted) in the vault.
type record struct {
	Step        string    `json:"step"`
	ClientID    string    `json:"clientId"`
	StartedAt   time.Time `json:"startedAt"`
	RequestedAt time.Time `json:"requestedAt,omitzero"`
	// NewSecret is the pending secret; the vault encrypts state values.
	NewSecret string    `json:"newSecret,omitempty"`
	NewExpiry time.Time `json:"newExpiry,omitzero"`
	OldExpiry time.Time `json:"oldExpiry,omitzero"`
	MessageID string    `json:"messageId,omitempty"`
	Receipt   string    `json:"receipt,omitempty"`
}

func (r *Rotator) loadState(ctx context.Context, app string) (*record, error) {
	b, err := r.cfg.Vault.State(ctx, StateKey(app))
	if errors.Is(err, vault.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the rotation state of app %s: %w", app, err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("the rotation state of app %s is unreadable (%v): remove it with `spgate rotate --app %s --reset`", app, err, app)
	}
	return &rec, nil
}

func (r *Rotator) step(ctx context.Context, app string, rec *record, step string) error {
	rec.Step = step
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := r.cfg.Vault.SetState(ctx, StateKey(app), b); err != nil {
		return fmt.Errorf("recording rotation step %s for app %s: %w", step, app, err)
	}
	if r.cfg.afterStep != nil {
		if err := r.cfg.afterStep(step); err != nil {
			return err
		}
	}
	return nil
}

func (r *Rotator) progress(step, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.log.Info("rotation: "+msg, "step", step)
	if r.cfg.Progress != nil {
		r.cfg.Progress(step, msg)
	}
}

// Pending reports the step of an unfinished rotation of app ("" if none).
func (r *Rotator) Pending(ctx context.Context, app string) (string, error) {
	a, err := r.cfg.Vault.GetApp(ctx, app)
	if err != nil {
		return "", err
	}
	rec, err := r.loadState(ctx, a.Name)
	if err != nil || rec == nil {
		return "", err
	}
	return rec.Step, nil
}

// Reset forgets an unfinished rotation of app (its pending secret too). The
// current secret is not touched.
func (r *Rotator) Reset(ctx context.Context, app string) error {
	a, err := r.cfg.Vault.GetApp(ctx, app)
	if err != nil {
		return err
	}
	return r.cfg.Vault.DeleteState(ctx, StateKey(a.Name))
}

// Rotate rotates app's client secret, or finishes an interrupted rotation.
func (r *Rotator) Rotate(ctx context.Context, appRef string) (Result, error) {
	app, err := r.cfg.Vault.GetApp(ctx, appRef)
	if err != nil {
		return Result{}, fmt.Errorf("rotation: app %s: %w", appRef, err)
	}
	if app.SQSQueueURL == "" {
		return Result{}, fmt.Errorf("%w: app %s has no SQS queue URL; Amazon delivers the new secret only to the queue registered for APPLICATION_OAUTH_CLIENT_NEW_SECRET: create one and store it with `spgate setup aws`", ErrNoQueue, app.Name)
	}
	rec, err := r.loadState(ctx, app.Name)
	if err != nil {
		return Result{}, err
	}
	res := Result{App: app.Name, ClientID: app.ClientID}
	if rec != nil && rec.ClientID != app.ClientID {
		r.log.Warn("rotation: dropping a rotation state for another client id", "app", app.Name)
		rec = nil
	}
	q, err := r.cfg.Queues(ctx, app)
	if err != nil {
		return res, fmt.Errorf("rotation: opening the SQS queue of app %s: %w", app.Name, err)
	}
	held := &holder{q: q, url: app.SQSQueueURL, log: r.log}
	defer held.release(ctx)

	if rec == nil {
		if r.cfg.Request == nil {
			return res, errors.New("rotation: Config.Request is required to start a rotation")
		}
		rec = &record{ClientID: app.ClientID, StartedAt: r.clk.Now()}
		if err := r.step(ctx, app.Name, rec, StepRequesting); err != nil {
			return res, err
		}
		r.progress(StepRequesting, "asking Amazon for a new client secret for app %s (rotateApplicationClientSecret)", app.Name)
		if err := r.cfg.Request(ctx, app); err != nil {
			if definiteAnswer(err) {
				_ = r.cfg.Vault.DeleteState(context.WithoutCancel(ctx), StateKey(app.Name))
				return res, fmt.Errorf("rotation: Amazon refused to rotate app %s's client secret; nothing changed, the current secret stays: %w", app.Name, err)
			}
			return res, fmt.Errorf("rotation: the rotation request for app %s got no clear answer (%w); Amazon may have made a new secret: run `spgate rotate --app %s` again to wait for it (it does not ask again)", app.Name, err, app.Name)
		}
		rec.RequestedAt = r.clk.Now()
		if err := r.step(ctx, app.Name, rec, StepRequested); err != nil {
			return res, err
		}
		r.progress(StepRequested, "Amazon accepted the request; waiting up to %s for the new secret on %s", r.cfg.Timeout, app.SQSQueueURL)
	} else {
		res.Resumed = true
		r.progress(rec.Step, "resuming the interrupted rotation of app %s after step %q", app.Name, rec.Step)
	}
	return r.finish(ctx, app, rec, held, res)
}

// finish runs the steps after the request, from rec.Step on.
func (r *Rotator) finish(ctx context.Context, app vault.App, rec *record, held *holder, res Result) (Result, error) {
	if rec.Step == StepRequesting || rec.Step == StepRequested {
		n, m, err := r.receive(ctx, app, rec, held, &res)
		if err != nil {
			return res, err
		}
		rec.NewSecret, rec.NewExpiry, rec.OldExpiry = n.NewSecret.Reveal(), n.NewExpiry, n.OldExpiry
		rec.MessageID, rec.Receipt = aws.ToString(m.MessageId), aws.ToString(m.ReceiptHandle)
		if err := r.step(ctx, app.Name, rec, StepReceived); err != nil {
			return res, err
		}
		r.progress(StepReceived, "received the new secret %s (expires %s); the old one works until %s", n.NewSecret.Hint(), day(n.NewExpiry), day(n.OldExpiry))
	}
	pending := secret.New(rec.NewSecret)
	res.Hint, res.ExpiresAt, res.PreviousExpiresAt = pending.Hint(), rec.NewExpiry, rec.OldExpiry
	if rec.Step == StepReceived {
		r.progress(StepReceived, "checking the new secret with LWA")
		if err := r.cfg.Verify(ctx, app.ClientID, pending); err != nil {
			if errors.Is(err, lwa.ErrClientRejected) {
				return res, fmt.Errorf("%w (invalid_client) for app %s: the old secret stays current and works until %s; the new secret %s is kept pending in the vault. Run `spgate rotate --app %s` again to retry the check (Amazon may need a minute to activate it); `spgate rotate --app %s --reset` drops it: %w",
					ErrNewSecretRefused, app.Name, day(rec.OldExpiry), pending.Hint(), app.Name, app.Name, err)
			}
			return res, fmt.Errorf("rotation: could not check the new secret of app %s with LWA; the old secret stays current and the new one is kept pending: run `spgate rotate --app %s` again: %w", app.Name, app.Name, err)
		}
		if err := r.step(ctx, app.Name, rec, StepVerified); err != nil {
			return res, err
		}
		r.progress(StepVerified, "LWA accepted the new secret")
	}
	if rec.Step == StepVerified {
		cur, err := r.cfg.Vault.GetApp(ctx, app.Name)
		if err != nil {
			return res, fmt.Errorf("rotation: reading app %s: %w", app.Name, err)
		}
		if c, ok := cur.CurrentSecret(); ok && c.Value.Equal(pending) {
			res.Version = c.Version // stored before a crash
		} else {
			s, err := r.cfg.Vault.SetClientSecret(ctx, app.Name, pending, vault.SecretChange{
				ExpiresAt: rec.NewExpiry, PreviousExpiresAt: rec.OldExpiry, Verified: true})
			if err != nil {
				return res, fmt.Errorf("rotation: storing the new secret of app %s (it stays pending; re-run to retry): %w", app.Name, err)
			}
			res.Version = s.Version
		}
		if err := r.step(ctx, app.Name, rec, StepStored); err != nil {
			return res, err
		}
		r.progress(StepStored, "the new secret is current (v%d); the old one stays as fallback until %s", res.Version, day(rec.OldExpiry))
	}
	if rec.Step == StepStored {
		if rec.Receipt != "" {
			_, err := held.q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(app.SQSQueueURL), ReceiptHandle: aws.String(rec.Receipt)})
			if err != nil {
				// A receipt from before a crash may be stale; the message then
				// comes back and is deleted as a duplicate of a known secret.
				r.log.Warn("rotation: could not delete the new-secret message; it will be recognised as a duplicate later", "app", app.Name, "err", err)
			}
		}
		held.deleteDuplicates(ctx)
		if err := r.step(ctx, app.Name, rec, StepDeleted); err != nil {
			return res, err
		}
	}
	if res.Version == 0 {
		if a, err := r.cfg.Vault.GetApp(ctx, app.Name); err == nil {
			if c, ok := a.CurrentSecret(); ok {
				res.Version = c.Version
			}
		}
	}
	if err := r.cfg.Vault.DeleteState(ctx, StateKey(app.Name)); err != nil {
		return res, fmt.Errorf("rotation: clearing the finished rotation state of app %s: %w", app.Name, err)
	}
	r.progress("done", "rotation of app %s finished", app.Name)
	return res, nil
}

// receive waits for app's new-secret notification until the timeout.
func (r *Rotator) receive(ctx context.Context, app vault.App, rec *record, held *holder, res *Result) (Notification, receivedMsg, error) {
	deadline := r.clk.Now().Add(r.cfg.Timeout)
	known, err := r.knownSecrets(ctx, app.Name)
	if err != nil {
		return Notification{}, receivedMsg{}, err
	}
	for {
		if !r.clk.Now().Before(deadline) {
			return Notification{}, receivedMsg{}, r.lostError(app, rec)
		}
		msgs, err := r.poll(ctx, held.q, app.SQSQueueURL)
		if err != nil {
			return Notification{}, receivedMsg{}, fmt.Errorf("rotation: reading SQS queue %s: %w (check that the AWS keys may sqs:ReceiveMessage and sqs:DeleteMessage on it); the rotation stays pending: run `spgate rotate --app %s` again", app.SQSQueueURL, err, app.Name)
		}
		var found *Notification
		var foundMsg receivedMsg
		for _, m := range msgs {
			n, perr := ParseNotification(aws.ToString(m.Body))
			switch {
			case perr != nil || n.ClientID != app.ClientID:
				if held.hold(m) {
					res.Foreign++
				}
			case n.Type == TypeSecretExpiry:
				// An expiry notice for this app: the rotation under way answers it.
				held.delete(ctx, m)
			case found != nil && n.NewSecret.Equal(found.NewSecret), isKnown(known, n.NewSecret):
				r.log.Info("rotation: duplicate new-secret notification", "app", app.Name, "notification", n.NotificationID)
				res.Duplicates++
				if found != nil && n.NewSecret.Equal(found.NewSecret) {
					held.duplicate(m) // deleted once the secret is stored
				} else {
					held.delete(ctx, m)
				}
			case found == nil:
				nn := n
				found, foundMsg = &nn, m
			default:
				// A second, different new secret in one batch: leave it for a later run.
				held.hold(m)
			}
		}
		if found != nil {
			return *found, foundMsg, nil
		}
		if err := ctx.Err(); err != nil {
			return Notification{}, receivedMsg{}, err
		}
	}
}

func (r *Rotator) lostError(app vault.App, rec *record) error {
	old := "its expiry date"
	if cur, ok := app.CurrentSecret(); ok && !cur.ExpiresAt.IsZero() {
		old = day(cur.ExpiresAt)
	}
	return fmt.Errorf("%w within %s on SQS queue %s. Check that (1) the queue is the destination registered for APPLICATION_OAUTH_CLIENT_NEW_SECRET in Developer Central (Solution Provider Portal → app → notifications); "+
		"(2) the queue policy allows Amazon's account %s to sqs:SendMessage; (3) the AWS keys spgate uses may sqs:ReceiveMessage and sqs:DeleteMessage on it. "+
		"If Amazon already made a new secret (the request was accepted at %s), your old secret still works until about 7 days after that, and at the latest until %s: run `spgate rotate --app %s` again to keep waiting (it does not ask Amazon again), "+
		"or paste the secret from Seller Central with `spgate app set-secret %s`",
		ErrNoNewSecret, r.cfg.Timeout, app.SQSQueueURL, AmazonAccountID, stamp(rec.RequestedAt, rec.StartedAt), old, app.Name, app.Name)
}

func (r *Rotator) poll(ctx context.Context, q Queue, url string) ([]receivedMsg, error) {
	wait := int32(0)
	if r.cfg.PollWait > 0 {
		wait = int32(r.cfg.PollWait / time.Second)
	}
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: wait, VisibilityTimeout: visibility})
	if err != nil {
		return nil, err
	}
	msgs := make([]receivedMsg, len(out.Messages))
	for i, m := range out.Messages {
		msgs[i] = receivedMsg{MessageId: m.MessageId, ReceiptHandle: m.ReceiptHandle, Body: m.Body}
	}
	return msgs, nil
}

// knownSecrets are the app's current and previous secrets: a notification
// carrying one of them was already handled.
func (r *Rotator) knownSecrets(ctx context.Context, app string) ([]secret.String, error) {
	a, err := r.cfg.Vault.GetApp(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("rotation: reading app %s: %w", app, err)
	}
	var out []secret.String
	for _, s := range a.ClientSecrets {
		out = append(out, s.Value)
	}
	return out, nil
}

func isKnown(known []secret.String, s secret.String) bool {
	for _, k := range known {
		if !k.IsZero() && k.Equal(s) {
			return true
		}
	}
	return false
}

func day(t time.Time) string {
	if t.IsZero() {
		return "(unknown)"
	}
	return t.UTC().Format("2006-01-02 15:04 MST")
}

func stamp(ts ...time.Time) string {
	for _, t := range ts {
		if !t.IsZero() {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return "(unknown)"
}

// receivedMsg is the part of an SQS message the rotator reads.
type receivedMsg struct {
	MessageId     *string
	ReceiptHandle *string
	Body          *string
}

// holder keeps messages that are not this run's to handle, and makes them
// visible again when the run ends, so their owner sees them at once.
type holder struct {
	q    Queue
	url  string
	log  *slog.Logger
	held map[string]string // message id → latest receipt
	dups []string          // receipts of duplicates to delete once stored
}

// hold remembers m; it reports whether m was new.
func (h *holder) hold(m receivedMsg) bool {
	if h.held == nil {
		h.held = map[string]string{}
	}
	id := aws.ToString(m.MessageId)
	_, seen := h.held[id]
	h.held[id] = aws.ToString(m.ReceiptHandle)
	return !seen
}

func (h *holder) duplicate(m receivedMsg) { h.dups = append(h.dups, aws.ToString(m.ReceiptHandle)) }

func (h *holder) delete(ctx context.Context, m receivedMsg) {
	if _, err := h.q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(h.url), ReceiptHandle: m.ReceiptHandle}); err != nil {
		h.log.Warn("rotation: could not delete a handled message", "err", err)
	}
}

func (h *holder) deleteDuplicates(ctx context.Context) {
	for _, rh := range h.dups {
		if _, err := h.q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(h.url), ReceiptHandle: aws.String(rh)}); err != nil {
			h.log.Warn("rotation: could not delete a duplicate message", "err", err)
		}
	}
	h.dups = nil
}

// release makes every held message visible again.
func (h *holder) release(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	for id, rh := range h.held {
		if _, err := h.q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(h.url), ReceiptHandle: aws.String(rh), VisibilityTimeout: 0}); err != nil {
			h.log.Warn("rotation: could not make a message for another app visible again; it reappears after its visibility timeout", "message", id, "err", err)
		}
	}
	h.held = nil
}
