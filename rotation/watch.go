package rotation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/vault"
)

// Action says what HandleNotification did.
type Action string

// Actions of HandleNotification.
const (
	ActionIgnored   Action = "ignored"   // not for this app, or the expiry is far
	ActionRotated   Action = "rotated"   // a rotation ran (expiry notice)
	ActionAdopted   Action = "adopted"   // an unrequested new secret was verified and stored
	ActionDuplicate Action = "duplicate" // a new secret already stored
)

// HandleNotification acts on one rotation notification for app: an
// APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY whose expiry is within
// Config.ExpiryThreshold starts a rotation; an
// APPLICATION_OAUTH_CLIENT_NEW_SECRET nobody here asked for (a rotation
// started in Seller Central, or by a process that died) is verified and
// made current. Notifications for other client ids are ignored.
func (r *Rotator) HandleNotification(ctx context.Context, appRef string, n Notification) (Action, Result, error) {
	return r.handle(ctx, appRef, n, receivedMsg{}, nil)
}

func (r *Rotator) handle(ctx context.Context, appRef string, n Notification, m receivedMsg, q Queue) (Action, Result, error) {
	app, err := r.cfg.Vault.GetApp(ctx, appRef)
	if err != nil {
		return ActionIgnored, Result{}, fmt.Errorf("rotation: app %s: %w", appRef, err)
	}
	if n.ClientID != app.ClientID {
		return ActionIgnored, Result{}, nil
	}
	switch n.Type {
	case TypeSecretExpiry:
		left := n.Expiry.Sub(r.clk.Now())
		if left > r.cfg.ExpiryThreshold {
			r.log.Info("rotation: secret expiry notice, not due yet", "app", app.Name, "expires", n.Expiry, "threshold", r.cfg.ExpiryThreshold)
			return ActionIgnored, Result{}, nil
		}
		r.progress("expiry", "Amazon says app %s's client secret expires %s (%s left, reason %s): rotating", app.Name, day(n.Expiry), left.Round(time.Minute), n.Reason)
		res, err := r.Rotate(ctx, app.Name)
		return ActionRotated, res, err
	case TypeNewSecret:
		unlock, err := r.lock(ctx, app, r.cfg.Owner)
		if err != nil {
			return ActionIgnored, Result{}, err
		}
		defer unlock()
		known, err := r.knownSecrets(ctx, app.Name)
		if err != nil {
			return ActionIgnored, Result{}, err
		}
		if isKnown(known, n.NewSecret) {
			return ActionDuplicate, Result{}, nil
		}
		if cur, ok := app.CurrentSecret(); ok && !n.EventTime.IsZero() && n.EventTime.Before(cur.CreatedAt.Add(-skew)) {
			// Older than the secret the vault holds: a rotation superseded
			// since; its secret is dead or about to be.
			r.log.Info("rotation: a new-secret notification older than the current secret; ignored", "app", app.Name, "event", n.EventTime, "current_since", cur.CreatedAt)
			return ActionIgnored, Result{}, nil
		}
		rec, err := r.loadState(ctx, app.Name)
		if err != nil {
			return ActionIgnored, Result{}, err
		}
		if rec != nil && rec.NewSecret != "" {
			if rec.NewSecret == n.NewSecret.Reveal() {
				return ActionDuplicate, Result{}, nil
			}
			return ActionIgnored, Result{}, fmt.Errorf("rotation: app %s has another new secret pending (step %s): finish it with `spgate rotate --app %s` first", app.Name, rec.Step, app.Name)
		}
		if rec == nil {
			rec = &record{ClientID: app.ClientID, StartedAt: r.clk.Now()}
		}
		rec.NewSecret, rec.NewExpiry, rec.OldExpiry, rec.EventTime = n.NewSecret.Reveal(), n.NewExpiry, n.OldExpiry, n.EventTime
		rec.MessageID, rec.Receipt = aws.ToString(m.MessageId), aws.ToString(m.ReceiptHandle)
		if err := r.step(ctx, app, rec, StepReceived); err != nil {
			return ActionIgnored, Result{}, err
		}
		r.progress(StepReceived, "received a new secret %s for app %s that this process did not ask for; checking and adopting it", n.NewSecret.Hint(), app.Name)
		held := &holder{q: q, url: app.SQSQueueURL, log: r.log}
		if q == nil {
			held.q = noQueue{}
		}
		res, err := r.finish(ctx, app, rec, held, Result{App: app.Name, ClientID: app.ClientID})
		return ActionAdopted, res, err
	}
	return ActionIgnored, Result{}, nil
}

// Watch polls app's queue until ctx ends and handles every rotation
// notification for it (see HandleNotification). Messages for other client
// ids are made visible again at once and never deleted. Failures are
// logged and reported through onResult; Watch returns only ctx's error or
// a queue that cannot be opened.
func (r *Rotator) Watch(ctx context.Context, appRef string, onResult func(Action, Result, error)) error {
	app, err := r.cfg.Vault.GetApp(ctx, appRef)
	if err != nil {
		return fmt.Errorf("rotation: app %s: %w", appRef, err)
	}
	if app.SQSQueueURL == "" {
		return fmt.Errorf("%w: app %s has no SQS queue URL: store it with `spgate setup aws`", ErrNoQueue, app.Name)
	}
	q, err := r.cfg.Queues(ctx, app)
	if err != nil {
		return fmt.Errorf("rotation: opening the SQS queue of app %s: %w", app.Name, err)
	}
	report := func(a Action, res Result, err error) {
		if err != nil {
			r.log.Error("rotation: handling a notification failed", "app", app.Name, "err", err)
		}
		if onResult != nil {
			onResult(a, res, err)
		}
	}
	// A rotation interrupted earlier is finished first.
	if step, err := r.Pending(ctx, app.Name); err == nil && step != "" {
		res, err := r.Rotate(ctx, app.Name)
		report(ActionRotated, res, err)
	}
	seen := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		msgs, err := r.poll(ctx, q, app.SQSQueueURL, r.cfg.PollWait)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			report(ActionIgnored, Result{}, fmt.Errorf("rotation: reading SQS queue %s: %w", app.SQSQueueURL, err))
			if err := clock.Sleep(ctx, r.clk, 10*time.Second); err != nil {
				return err
			}
			continue
		}
		if fresh := r.handleMessages(ctx, app, q, msgs, seen, report); !fresh && len(msgs) > 0 {
			// Only messages for other apps, already seen: give their owner
			// time to take them.
			if err := clock.Sleep(ctx, r.clk, 5*time.Second); err != nil {
				return err
			}
		}
	}
}

// handleMessages handles one batch of the queue's messages for app and
// hands the others back to the queue; fresh says whether any was for app or
// not seen before.
func (r *Rotator) handleMessages(ctx context.Context, app vault.App, q Queue, msgs []receivedMsg, seen map[string]bool, report func(Action, Result, error)) (fresh bool) {
	// Secrets in the order Amazon made them, so each one's previous
	// is the one before it.
	slices.SortStableFunc(msgs, func(a, b receivedMsg) int {
		na, _ := ParseNotification(aws.ToString(a.Body))
		nb, _ := ParseNotification(aws.ToString(b.Body))
		return na.EventTime.Compare(nb.EventTime)
	})
	for _, m := range msgs {
		id := aws.ToString(m.MessageId)
		n, perr := ParseNotification(aws.ToString(m.Body))
		if perr != nil || n.ClientID != app.ClientID {
			if !seen[id] {
				fresh = true
				seen[id] = true
			}
			_, _ = q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(app.SQSQueueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
			continue
		}
		fresh = true
		a, res, herr := r.handle(ctx, app.Name, n, m, q)
		switch {
		case a == ActionAdopted:
			// finish deleted the message after storing the secret.
		case herr != nil && n.Type == TypeNewSecret:
			// Keep the secret's message; the state holds it too.
		default:
			_, _ = q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(app.SQSQueueURL), ReceiptHandle: m.ReceiptHandle})
		}
		if a != ActionIgnored || herr != nil {
			report(a, res, herr)
		}
	}
	return fresh
}

// ScheduleOptions tune Schedule.
type ScheduleOptions struct {
	// Every is how often the secret's age is checked (default 6 h).
	Every time.Duration
	// Before rotates when the current secret has less than this left
	// (default 30 days).
	Before time.Duration
	// OnResult, when set, is told about each rotation attempt.
	OnResult func(Result, error)
}

// Schedule keeps app's client secret rotated ahead of its expiry, for
// long-running processes such as the gateway: every opts.Every it checks the
// current secret and rotates when less than opts.Before is left, or when an
// earlier rotation was interrupted. Calls keep working during a rotation
// because VaultCredentials re-reads the vault and offers the previous secret
// as fallback. Schedule returns when ctx ends.
func Schedule(ctx context.Context, r *Rotator, appRef string, opts ScheduleOptions) error {
	if opts.Every <= 0 {
		opts.Every = 6 * time.Hour
	}
	if opts.Before <= 0 {
		opts.Before = 30 * 24 * time.Hour
	}
	for {
		if due, err := r.due(ctx, appRef, opts.Before); err != nil {
			r.log.Error("rotation: checking the client secret's age failed", "app", appRef, "err", err)
		} else if due {
			res, rotated, err := r.rotateIfDue(ctx, appRef, opts.Before)
			switch {
			case errors.Is(err, ErrRotationRunning):
				// Another process (a gateway replica) is rotating: its
				// result reaches this one through the vault.
				r.log.Info("rotation: another process is rotating the client secret", "app", appRef, "err", err)
			case err != nil:
				r.log.Error("rotation: scheduled rotation failed; the current secret stays", "app", appRef, "err", err)
			}
			if opts.OnResult != nil && (rotated || err != nil && !errors.Is(err, ErrRotationRunning)) {
				opts.OnResult(res, err)
			}
		}
		if err := clock.Sleep(ctx, r.clk, opts.Every); err != nil {
			return err
		}
	}
}

// rotateIfDue rotates app when it is still due once the rotation lock is
// held. Several processes scheduling the same app (gateway replicas) may
// all find it due; the first to take the lock rotates, and the others,
// deciding again under the lock, find the new secret and do nothing.
func (r *Rotator) rotateIfDue(ctx context.Context, appRef string, before time.Duration) (res Result, rotated bool, err error) {
	app, err := r.cfg.Vault.GetApp(ctx, appRef)
	if err != nil {
		return Result{}, false, fmt.Errorf("rotation: app %s: %w", appRef, err)
	}
	if app.SQSQueueURL == "" {
		return Result{App: app.Name, ClientID: app.ClientID}, false, fmt.Errorf("%w: app %s has no SQS queue URL; Amazon delivers the new secret only to the queue registered for APPLICATION_OAUTH_CLIENT_NEW_SECRET: create one and store it with `spgate setup aws`", ErrNoQueue, app.Name)
	}
	unlock, err := r.lock(ctx, app, r.cfg.Owner)
	if err != nil {
		return Result{App: app.Name, ClientID: app.ClientID}, false, err
	}
	defer unlock()
	if due, err := r.due(ctx, appRef, before); err != nil || !due {
		return Result{App: app.Name, ClientID: app.ClientID}, false, err
	}
	if app, err = r.cfg.Vault.GetApp(ctx, appRef); err != nil {
		return Result{}, false, fmt.Errorf("rotation: app %s: %w", appRef, err)
	}
	res, err = r.rotate(ctx, app)
	return res, true, err
}

// due reports whether app needs a rotation: less than before left on the
// current secret, or an interrupted rotation to finish.
func (r *Rotator) due(ctx context.Context, appRef string, before time.Duration) (bool, error) {
	app, err := r.cfg.Vault.GetApp(ctx, appRef)
	if err != nil {
		return false, err
	}
	if rec, err := r.loadState(ctx, app.Name); err != nil {
		return false, err
	} else if rec != nil {
		return true, nil
	}
	cur, ok := app.CurrentSecret()
	if !ok {
		return false, errors.New("no client secret stored")
	}
	return !cur.ExpiresAt.IsZero() && cur.ExpiresAt.Sub(r.clk.Now()) < before, nil
}

// noQueue stands in when HandleNotification is given a notification that
// did not come from a queue: there is nothing to delete.
type noQueue struct{}

func (noQueue) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return &sqs.ReceiveMessageOutput{}, nil
}

func (noQueue) DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return &sqs.DeleteMessageOutput{}, nil
}

func (noQueue) ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}
