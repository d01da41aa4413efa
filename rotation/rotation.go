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
	"slices"
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
	// Owner says who rotates, for the lock another process would meet
	// ("spgate rotate", "spgate serve --auto-rotate"); default "spgate".
	Owner string

	// afterStep is a fault-injection point for tests: called after each
	// step is recorded; an error aborts the run as a crash would.
	afterStep func(step string) error
}

// Rotator rotates client secrets. Rotations of one app are serialised by a
// lock in the vault, across goroutines and processes: the second one fails
// at once with a *RunningError naming the holder.
type Rotator struct {
	cfg   Config
	clk   clock.Clock
	log   *slog.Logger
	locks locks
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
	if cfg.Owner == "" {
		cfg.Owner = "spgate"
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
	// Superseded counts new-secret notifications older than the one whose
	// secret became current (rotations nobody finished); the newest of
	// them is kept as the previous secret.
	Superseded int `json:"superseded,omitempty"`
}

// skew is how far Amazon's clock (a notification's eventTime) may be from
// ours: a notification older than our request by more than this answers an
// earlier rotation.
const skew = 5 * time.Minute

// record is the step state persisted (encrypted) in the vault.
type record struct {
	Step        string    `json:"step"`
	ClientID    string    `json:"clientId"`
	StartedAt   time.Time `json:"startedAt"`
	RequestedAt time.Time `json:"requestedAt,omitzero"`
	// SentAt is when the request was handed to the network.
	SentAt time.Time `json:"sentAt,omitzero"`
	// NewSecret is the pending secret; the vault encrypts state values.
	NewSecret string    `json:"newSecret,omitempty"`
	NewExpiry time.Time `json:"newExpiry,omitzero"`
	OldExpiry time.Time `json:"oldExpiry,omitzero"`
	EventTime time.Time `json:"eventTime,omitzero"`
	MessageID string    `json:"messageId,omitempty"`
	Receipt   string    `json:"receipt,omitempty"`
	// PrevSecret is the secret NewSecret replaced at Amazon when it came in
	// a notification of its own that the vault never stored (two rotations
	// since the vault's current secret). It becomes the previous secret
	// until OldExpiry; the vault's older one, which Amazon dropped, goes.
	PrevSecret string `json:"prevSecret,omitempty"`
	// OlderReceipts are the messages of superseded notifications, deleted
	// once NewSecret is current.
	OlderReceipts []string `json:"olderReceipts,omitempty"`
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

func (r *Rotator) step(ctx context.Context, app vault.App, rec *record, step string) error {
	if err := r.renew(ctx, app); err != nil {
		return err
	}
	rec.Step = step
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := r.cfg.Vault.SetState(ctx, StateKey(app.Name), b); err != nil {
		return fmt.Errorf("recording rotation step %s for app %s: %w", step, app.Name, err)
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

// ResetResult says what Reset did. It holds no secret.
type ResetResult struct {
	App string `json:"app"`
	// Step is the step the forgotten rotation had reached ("" when none
	// was in progress).
	Step string `json:"step,omitempty"`
	// Drained is true when the queue was read for a secret Amazon may
	// have made.
	Drained bool `json:"drained"`
	// Stored is the secret found and made current, if any.
	Stored *Result `json:"stored,omitempty"`
	// Dropped says why a pending secret was not kept ("" when none was).
	Dropped string `json:"dropped,omitempty"`
}

// Text says what a Reset did, for a person: queueURL is the queue it read
// (the app's).
func (r ResetResult) Text(queueURL string) string {
	switch {
	case r.Step == "":
		return fmt.Sprintf("app %s: no rotation in progress\n", r.App)
	case r.Stored != nil:
		return fmt.Sprintf("app %s: the rotation stopped after step %q had a new secret from Amazon; kept it: client secret v%d (%s) is current, expires %s; the old one works until %s\n",
			r.App, r.Step, r.Stored.Version, r.Stored.Hint, r.Stored.ExpiresAt.Format(time.DateOnly), r.Stored.PreviousExpiresAt.Format(time.RFC3339))
	case r.Dropped != "":
		return fmt.Sprintf("app %s: dropped the pending secret of the rotation stopped after step %q (%s); the current secret is unchanged\n", r.App, r.Step, r.Dropped)
	case r.Drained:
		return fmt.Sprintf("app %s: forgot the rotation stopped after step %q; no new secret was on %s. If Amazon made one, its notification may still come: `spgate rotate --app %s --watch` (or serve --auto-rotate) adopts it; the current secret is unchanged\n",
			r.App, r.Step, queueURL, r.App)
	}
	return fmt.Sprintf("app %s: forgot the rotation stopped after step %q; the current secret is unchanged\n", r.App, r.Step)
}

// Reset ends an unfinished rotation of app. It never forgets a secret
// Amazon may have made: when the request may have reached Amazon, it first
// reads the queue; a secret found there (or already pending) is checked
// with LWA and made current with the expiry its own notification states,
// as a finished rotation would. Only a pending secret LWA refuses is
// dropped. The rotation lock is taken, so a running rotation is not reset
// under its feet.
func (r *Rotator) Reset(ctx context.Context, appRef string) (ResetResult, error) {
	app, err := r.cfg.Vault.GetApp(ctx, appRef)
	if err != nil {
		return ResetResult{}, err
	}
	out := ResetResult{App: app.Name}
	unlock, err := r.lock(ctx, app, r.cfg.Owner+" (reset)")
	if err != nil {
		return out, err
	}
	defer unlock()
	rec, err := r.loadState(ctx, app.Name)
	if err != nil || rec == nil {
		if err != nil {
			// Unreadable: nothing in it can be used.
			return out, r.cfg.Vault.DeleteState(ctx, StateKey(app.Name))
		}
		return out, nil
	}
	out.Step = rec.Step
	if rec.ClientID != app.ClientID {
		return out, r.cfg.Vault.DeleteState(ctx, StateKey(app.Name))
	}
	var held *holder
	if app.SQSQueueURL != "" {
		q, err := r.cfg.Queues(ctx, app)
		if err != nil {
			return out, fmt.Errorf("rotation: opening the SQS queue of app %s to look for a secret Amazon may have made; nothing was forgotten: %w", app.Name, err)
		}
		held = &holder{q: q, url: app.SQSQueueURL, log: r.log}
		defer held.release(ctx)
	} else {
		held = &holder{q: noQueue{}, log: r.log}
	}
	res := Result{App: app.Name, ClientID: app.ClientID, Resumed: true}
	if (rec.Step == StepRequesting || rec.Step == StepRequested) && app.SQSQueueURL != "" {
		r.progress("reset", "reading %s for a secret Amazon may have made for app %s before forgetting the rotation", app.SQSQueueURL, app.Name)
		cands, err := r.collect(ctx, app, held, &res, func(Notification) bool { return true }, r.clk.Now().Add(time.Second), nil)
		if err != nil {
			return out, fmt.Errorf("%w; nothing was forgotten", err)
		}
		out.Drained = true
		if len(cands) > 0 {
			r.take(rec, cands, held, &res)
			if err := r.step(ctx, app, rec, StepReceived); err != nil {
				return out, err
			}
			r.progress(StepReceived, "found the new secret %s Amazon made (expires %s); the old one works until %s", secret.New(rec.NewSecret).Hint(), day(rec.NewExpiry), day(rec.OldExpiry))
		} else if rec.Step == StepRequested || !rec.SentAt.IsZero() {
			r.log.Warn("rotation: reset found no new secret on the queue, though Amazon may have made one", "app", app.Name)
		}
	}
	if rec.NewSecret != "" {
		stored, err := r.finish(ctx, app, rec, held, res)
		switch {
		case err == nil:
			out.Stored = &stored
			return out, nil
		case errors.Is(err, ErrNewSecretRefused):
			out.Dropped = "LWA refused it (invalid_client)"
			held.deleteReceipts(ctx, append([]string{rec.Receipt}, rec.OlderReceipts...))
		default:
			return out, fmt.Errorf("%w; nothing was forgotten", err)
		}
	}
	return out, r.cfg.Vault.DeleteState(ctx, StateKey(app.Name))
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
	unlock, err := r.lock(ctx, app, r.cfg.Owner)
	if err != nil {
		return Result{App: app.Name, ClientID: app.ClientID}, err
	}
	defer unlock()
	return r.rotate(ctx, app)
}

func (r *Rotator) rotate(ctx context.Context, app vault.App) (Result, error) {
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
		announce := func(ctx context.Context) error {
			rec.SentAt = r.clk.Now()
			if err := r.step(ctx, app, rec, StepRequesting); err != nil {
				return err
			}
			r.progress(StepRequesting, "asking Amazon for a new client secret for app %s (rotateApplicationClientSecret)", app.Name)
			return nil
		}
		tr := &sendTrack{mark: announce}
		if err := r.cfg.Request(context.WithValue(ctx, wireKey{}, tr), app); err != nil {
			cleanup := context.WithoutCancel(ctx)
			switch {
			case definiteAnswer(err):
				_ = r.cfg.Vault.DeleteState(cleanup, StateKey(app.Name))
				return res, fmt.Errorf("rotation: Amazon refused to rotate app %s's client secret; nothing changed, the current secret stays: %w", app.Name, err)
			case !tr.mayHaveSent():
				if tr.announced() {
					_ = r.cfg.Vault.DeleteState(cleanup, StateKey(app.Name))
				}
				return res, fmt.Errorf("rotation: the rotation request for app %s stopped before it was sent (%w); Amazon was not asked and the current secret stays: run `spgate rotate --app %s` again", app.Name, err, app.Name)
			case !tr.announced():
				// A Requester that does not say when it sends: it may have.
				if serr := announce(cleanup); serr != nil {
					return res, errors.Join(err, serr)
				}
			}
			return res, fmt.Errorf("rotation: the rotation request for app %s got no clear answer (%w); Amazon may have made a new secret: run `spgate rotate --app %s` again to wait for it (it does not ask again)", app.Name, err, app.Name)
		}
		if !tr.announced() {
			rec.SentAt = rec.StartedAt
			r.progress(StepRequesting, "asked Amazon for a new client secret for app %s (rotateApplicationClientSecret)", app.Name)
		}
		rec.RequestedAt = r.clk.Now()
		if err := r.step(ctx, app, rec, StepRequested); err != nil {
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
		ours := func(n Notification) bool {
			return rec.SentAt.IsZero() || n.EventTime.IsZero() || !n.EventTime.Before(rec.SentAt.Add(-skew))
		}
		cands, err := r.collect(ctx, app, held, &res, ours, r.clk.Now().Add(r.cfg.Timeout), func() error { return r.lostError(app, rec) })
		if err != nil {
			return res, err
		}
		r.take(rec, cands, held, &res)
		if err := r.step(ctx, app, rec, StepReceived); err != nil {
			return res, err
		}
		r.progress(StepReceived, "received the new secret %s (expires %s); the old one works until %s", secret.New(rec.NewSecret).Hint(), day(rec.NewExpiry), day(rec.OldExpiry))
		if rec.PrevSecret != "" {
			r.progress(StepReceived, "%d earlier new secret(s) were on the queue too (a rotation nobody finished); the latest of them, %s, stays as the previous secret until %s",
				len(rec.OlderReceipts), secret.New(rec.PrevSecret).Hint(), day(rec.OldExpiry))
		}
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
		if err := r.step(ctx, app, rec, StepVerified); err != nil {
			return res, err
		}
		r.progress(StepVerified, "LWA accepted the new secret")
	}
	if rec.Step == StepVerified {
		v, err := r.store(ctx, app, rec, pending)
		if err != nil {
			return res, err
		}
		res.Version = v
		if err := r.step(ctx, app, rec, StepStored); err != nil {
			return res, err
		}
		r.progress(StepStored, "the new secret is current (v%d) until %s; the old one stays as fallback until %s", res.Version, day(rec.NewExpiry), day(rec.OldExpiry))
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
		held.deleteReceipts(ctx, rec.OlderReceipts)
		held.deleteDuplicates(ctx)
		if err := r.step(ctx, app, rec, StepDeleted); err != nil {
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

// store makes pending current with the expiries its notification states.
// When it replaced a secret the vault never held (rec.PrevSecret), that one
// becomes the previous secret and the vault's older one, which Amazon no
// longer accepts, is dropped.
func (r *Rotator) store(ctx context.Context, app vault.App, rec *record, pending secret.String) (int, error) {
	cur, err := r.cfg.Vault.GetApp(ctx, app.Name)
	if err != nil {
		return 0, fmt.Errorf("rotation: reading app %s: %w", app.Name, err)
	}
	c, ok := cur.CurrentSecret()
	if ok && c.Value.Equal(pending) {
		return c.Version, nil // stored before a crash
	}
	if rec.PrevSecret != "" {
		prev := secret.New(rec.PrevSecret)
		if !ok || !c.Value.Equal(prev) {
			if _, err := r.cfg.Vault.SetClientSecret(ctx, app.Name, prev, vault.SecretChange{ExpiresAt: rec.OldExpiry}); err != nil {
				return 0, fmt.Errorf("rotation: storing the secret %s that Amazon keeps as previous for app %s (the new one stays pending; re-run to retry): %w", prev.Hint(), app.Name, err)
			}
		}
	}
	s, err := r.cfg.Vault.SetClientSecret(ctx, app.Name, pending, vault.SecretChange{
		ExpiresAt: rec.NewExpiry, PreviousExpiresAt: rec.OldExpiry, Verified: true})
	if err != nil {
		return 0, fmt.Errorf("rotation: storing the new secret of app %s (it stays pending; re-run to retry): %w", app.Name, err)
	}
	return s.Version, nil
}

// candidate is a new-secret notification for the app read from the queue.
type candidate struct {
	n Notification
	m receivedMsg
}

// take puts the newest candidate in rec as the new secret, the one before
// it as the secret it replaced, and the older ones' messages up for
// deletion.
func (r *Rotator) take(rec *record, cands []candidate, held *holder, res *Result) {
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if c := a.n.EventTime.Compare(b.n.EventTime); c != 0 {
			return c
		}
		return a.n.NewExpiry.Compare(b.n.NewExpiry)
	})
	newest := cands[len(cands)-1]
	n := newest.n
	rec.NewSecret, rec.NewExpiry, rec.OldExpiry, rec.EventTime = n.NewSecret.Reveal(), n.NewExpiry, n.OldExpiry, n.EventTime
	rec.MessageID, rec.Receipt = aws.ToString(newest.m.MessageId), aws.ToString(newest.m.ReceiptHandle)
	rec.PrevSecret, rec.OlderReceipts = "", nil
	if len(cands) > 1 {
		rec.PrevSecret = cands[len(cands)-2].n.NewSecret.Reveal()
		for _, c := range cands[:len(cands)-1] {
			rec.OlderReceipts = append(rec.OlderReceipts, aws.ToString(c.m.ReceiptHandle))
			held.forget(c.m)
		}
		res.Superseded = len(cands) - 1
	}
	held.forget(newest.m)
}

// collect reads app's queue for new-secret notifications. Until one that
// ours accepts has arrived it long-polls, never past deadline (then it
// returns lost(), or what it has when lost is nil); once it has one it
// keeps reading with short waits until a read brings nothing new, so every
// secret already on the queue is seen.
func (r *Rotator) collect(ctx context.Context, app vault.App, held *holder, res *Result, ours func(Notification) bool, deadline time.Time, lost func() error) ([]candidate, error) {
	known, err := r.knownSecrets(ctx, app.Name)
	if err != nil {
		return nil, err
	}
	var cands []candidate
	for {
		if err := r.renew(ctx, app); err != nil {
			return nil, err
		}
		have := slices.ContainsFunc(cands, func(c candidate) bool { return ours(c.n) })
		remaining := deadline.Sub(r.clk.Now())
		wait := r.cfg.PollWait
		switch {
		case have:
			wait = min(wait, time.Second)
		case remaining <= 0:
			if lost != nil {
				return nil, lost()
			}
			return cands, nil
		default:
			wait = min(wait, remaining)
		}
		msgs, err := r.poll(ctx, held.q, app.SQSQueueURL, wait)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, r.queueError(app, err)
		}
		added := 0
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
			case isKnown(known, n.NewSecret):
				r.log.Info("rotation: duplicate new-secret notification", "app", app.Name, "notification", n.NotificationID)
				res.Duplicates++
				held.delete(ctx, m)
			default:
				if i := slices.IndexFunc(cands, func(c candidate) bool { return c.n.NewSecret.Equal(n.NewSecret) }); i >= 0 {
					if aws.ToString(cands[i].m.MessageId) == aws.ToString(m.MessageId) {
						cands[i].m = m // seen again after its visibility lapsed
					} else {
						res.Duplicates++
						held.duplicate(m) // deleted once the secret is stored
					}
					continue
				}
				cands = append(cands, candidate{n: n, m: m})
				added++
			}
		}
		if have && added == 0 {
			return cands, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// queueError explains a failed queue read: an endpoint that cannot be
// reached is not a permission problem.
func (r *Rotator) queueError(app vault.App, err error) error {
	if Unreachable(err) {
		return fmt.Errorf("rotation: cannot reach SQS for queue %s: %w. Check the network; for a local SQS (moto, LocalStack) pass --sqs-endpoint or set SPGATE_AWS_ENDPOINT. The rotation stays pending: run `spgate rotate --app %s` again", app.SQSQueueURL, err, app.Name)
	}
	return fmt.Errorf("rotation: reading SQS queue %s: %w (check that the AWS keys may sqs:ReceiveMessage and sqs:DeleteMessage on it); the rotation stays pending: run `spgate rotate --app %s` again", app.SQSQueueURL, err, app.Name)
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

// poll receives up to 10 messages, long-polling for wait (whole seconds;
// less than one is a short poll).
func (r *Rotator) poll(ctx context.Context, q Queue, url string, wait time.Duration) ([]receivedMsg, error) {
	secs := int32(0)
	if wait >= time.Second {
		secs = int32(wait / time.Second)
	}
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: secs, VisibilityTimeout: visibility})
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

// forget drops m from the messages made visible again at the end.
func (h *holder) forget(m receivedMsg) { delete(h.held, aws.ToString(m.MessageId)) }

func (h *holder) duplicate(m receivedMsg) { h.dups = append(h.dups, aws.ToString(m.ReceiptHandle)) }

func (h *holder) delete(ctx context.Context, m receivedMsg) {
	if _, err := h.q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(h.url), ReceiptHandle: m.ReceiptHandle}); err != nil {
		h.log.Warn("rotation: could not delete a handled message", "err", err)
	}
}

// deleteReceipts deletes the messages with these receipts (superseded
// notifications); failures are logged: such a message comes back and is
// recognised then.
func (h *holder) deleteReceipts(ctx context.Context, receipts []string) {
	for _, rh := range receipts {
		if rh == "" {
			continue
		}
		if _, err := h.q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(h.url), ReceiptHandle: aws.String(rh)}); err != nil {
			h.log.Warn("rotation: could not delete a superseded new-secret message", "err", err)
		}
	}
}

func (h *holder) deleteDuplicates(ctx context.Context) {
	h.deleteReceipts(ctx, h.dups)
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
