// Package rotatecmd is spgate rotate: an app's LWA client secret rotated
// through Amazon's API and its SQS notification (package rotation).
package rotatecmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/vault"
)

// rotateOptions are the flags of spgate rotate and what it takes from its
// surroundings.
type rotateOptions struct {
	Timeout     time.Duration
	SQSEndpoint string
	Watch       bool
	Reset       bool
	Threshold   time.Duration
	*cmdutil.Factory
}

// NewCmd returns spgate rotate.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	o := &rotateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate an app's LWA client secret through Amazon's API and its SQS notification",
		Long: `rotate replaces the app's LWA client secret without Seller Central:

  1. asks Amazon for a new secret (rotateApplicationClientSecret, a grantless
     call with scope sellingpartnerapi::client_credential:rotation);
  2. waits (--timeout, default 5m) for the APPLICATION_OAUTH_CLIENT_NEW_SECRET
     notification on the app's SQS queue, read with the app's stored AWS keys
     (or the AWS default chain);
  3. keeps the new secret pending (encrypted) in the vault and checks it with
     a real LWA grant;
  4. makes it current; the old secret stays as fallback until Amazon's
     oldClientSecretExpiryTime (about 7 days), so running processes keep
     working;
  5. deletes the message. Messages for other apps stay on the queue.

Each step is recorded in the vault: if rotate is interrupted (even kill -9),
running it again resumes without asking Amazon again and without losing a
working secret. --reset ends an interrupted rotation: if Amazon may have
made a new secret, it first reads the queue and keeps that secret (checked
with LWA, with the expiry its notification states); only then does it
forget the rest.

Two rotations of one app never run at once: each takes a lock in the vault,
and a second one (another terminal, serve --auto-rotate) stops at once,
naming the process that holds it.

--watch keeps reading the queue: an APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY
notice for a secret expiring within --threshold starts a rotation, and a new
secret made elsewhere (Seller Central) is checked and adopted.

Prerequisites: the queue is registered as the destination of
APPLICATION_OAUTH_CLIENT_NEW_SECRET in Developer Central, its policy lets
Amazon's account 437568002678 send to it, and the app's queue URL and AWS
keys are in the vault (spgate setup aws).`,
		Example: `  spgate rotate --app main
  spgate rotate --app main --timeout 10m --json
  spgate rotate --app main --watch
  SPGATE_AWS_ENDPOINT=http://127.0.0.1:5000 spgate rotate --app main --endpoint http://127.0.0.1:8099`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.NoDump()
			// Ctrl-C ends a wait or a --watch; the rotation resumes next time.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runRotate(ctx, o)
		},
	}
	cmdutil.AddClientFlags(cmd)
	fl := cmd.Flags()
	fl.DurationVar(&o.Timeout, "timeout", rotation.DefaultTimeout, "how long to wait for the new secret on the queue")
	fl.StringVar(&o.SQSEndpoint, "sqs-endpoint", "", "SQS endpoint URL (moto, LocalStack); default $"+cmdutil.EnvSQSEndpoint+", else $"+cmdutil.EnvAWSEndpoint+", else AWS")
	fl.BoolVar(&o.Watch, "watch", false, "keep reading the queue and rotate on Amazon's expiry notices")
	fl.BoolVar(&o.Reset, "reset", false, "end an interrupted rotation: keep a secret Amazon made (read from the queue first), forget the rest")
	fl.DurationVar(&o.Threshold, "threshold", rotation.DefaultExpiryThreshold, "with --watch: rotate when an expiry notice says less than this is left")
	return cmd
}

func runRotate(ctx context.Context, o *rotateOptions) error {
	if o.Timeout <= 0 {
		return cmdutil.UsageErr("--timeout must be positive (e.g. 5m)")
	}
	if o.Watch && o.Reset {
		return cmdutil.UsageErr("--watch and --reset exclude each other")
	}
	v, app, ep, err := o.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer v.Close()
	r, err := appvault.NewRotator(ctx, v, app, ep, cmdutil.ResolveSQSEndpoint(o.SQSEndpoint), rotation.Config{
		Owner: o.owner(), Logger: o.Log, Timeout: o.Timeout, ExpiryThreshold: o.Threshold,
		Progress: func(step, msg string) {
			if !o.JSON {
				fmt.Fprintf(o.IO.Err, "rotate: %s\n", msg)
			}
		},
	})
	if err != nil {
		return &problem.Error{Code: problem.ExitInternal, Err: err}
	}
	switch {
	case o.Reset:
		return o.reset(ctx, r, app)
	case o.Watch:
		return o.watch(ctx, r, app)
	}
	res, err := r.Rotate(ctx, app.Name)
	if err != nil {
		return rotateErr(err)
	}
	if o.JSON {
		return output.JSON(o.IO.Out, res)
	}
	fmt.Fprintf(o.IO.Out, "app %s: client secret v%d (%s) is current, expires %s; the old secret keeps working until %s\n",
		res.App, res.Version, res.Hint, res.ExpiresAt.Format(time.DateOnly), res.PreviousExpiresAt.Format(time.RFC3339))
	return nil
}

// reset ends an interrupted rotation and says what became of it.
func (o *rotateOptions) reset(ctx context.Context, r *rotation.Rotator, app vault.App) error {
	out, err := r.Reset(ctx, app.Name)
	if err != nil {
		return rotateErr(err)
	}
	if o.JSON {
		return output.JSON(o.IO.Out, map[string]any{"app": app.Name, "reset": out.Step != "", "step": out.Step,
			"drained": out.Drained, "stored": out.Stored, "dropped": out.Dropped})
	}
	_, err = fmt.Fprint(o.IO.Out, out.Text(app.SQSQueueURL))
	return err
}

// watch reads the queue until ctx ends (Ctrl-C: exit 0), printing each
// rotation.
func (o *rotateOptions) watch(ctx context.Context, r *rotation.Rotator, app vault.App) error {
	fmt.Fprintf(o.IO.Err, "rotate: watching %s for app %s's rotation notifications (Ctrl-C stops)\n", app.SQSQueueURL, app.Name)
	err := r.Watch(ctx, app.Name, func(a rotation.Action, res rotation.Result, err error) {
		if o.JSON {
			out := map[string]any{"action": a, "result": res}
			if err != nil {
				out["error"] = err.Error()
			}
			_ = output.JSON(o.IO.Out, out)
			return
		}
		if err != nil {
			fmt.Fprintf(o.IO.Err, "rotate: %s failed: %v\n", a, err)
			return
		}
		fmt.Fprintf(o.IO.Out, "%s: app %s client secret v%d (%s) current, expires %s\n", a, res.App, res.Version, res.Hint, res.ExpiresAt.Format(time.DateOnly))
	})
	if err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
		return rotateErr(err)
	}
	return nil
}

func rotateErr(err error) error {
	if errors.Is(err, rotation.ErrNoQueue) {
		return cmdutil.ConfigErr(err)
	}
	return cmdutil.Failed(err)
}

// owner says who rotates, for the lock another process would meet.
func (o *rotateOptions) owner() string {
	switch {
	case o.Watch:
		return "spgate rotate --watch"
	case o.Reset:
		return "spgate rotate --reset"
	}
	return "spgate rotate"
}
