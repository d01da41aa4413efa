package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/vault"
)

// WarnDays is how many days before its expiry the client secret's warning
// band shows (as doctor warns, and serve --auto-rotate rotates).
const WarnDays = 30

type secretData struct {
	App         string
	HasSecret   bool
	Version     int
	CreatedAt   time.Time
	ExpiresAt   time.Time
	VerifiedAt  time.Time
	AgeDays     int
	DaysLeft    int
	Band        string // "", "warn" or "expired"
	Previous    *vault.Secret
	HasQueue    bool
	CanRotate   bool
	Pending     string // step of an interrupted rotation
	Running     *vault.Lease
	Job         *jobView
	History     []vault.AuditEvent
	NoRotateWhy string
}

func (c *Console) secretData(ctx context.Context) (secretData, error) {
	app, err := c.app(ctx)
	if err != nil {
		return secretData{}, err
	}
	now := c.clk.Now()
	d := secretData{App: app.Name, HasQueue: app.SQSQueueURL != "", CanRotate: c.cfg.Rotate != nil}
	if cur, ok := app.CurrentSecret(); ok {
		d.HasSecret = true
		d.Version, d.CreatedAt, d.ExpiresAt, d.VerifiedAt = cur.Version, cur.CreatedAt, cur.ExpiresAt, cur.VerifiedAt
		d.AgeDays = int(now.Sub(cur.CreatedAt).Hours() / 24)
		if !cur.ExpiresAt.IsZero() {
			d.DaysLeft = cur.DaysLeft(now)
			switch {
			case cur.Expired(now):
				d.Band = "expired"
			case d.DaysLeft <= WarnDays:
				d.Band = "warn"
			}
		}
	}
	if prev, ok := app.PreviousSecret(); ok {
		d.Previous = &prev
	}
	switch {
	case c.cfg.Rotate == nil:
		d.NoRotateWhy = "This console was started without rotation."
	case !d.HasQueue:
		d.CanRotate = false
		d.NoRotateWhy = "The app has no notification queue, where Amazon sends the new secret: create it on the Setup page (step 8), or rotate in Seller Central and paste the secret with `spgate app set-secret " + app.Name + "`."
	}
	if st, err := rotation.Inspect(ctx, c.cfg.Vault, app); err == nil {
		d.Pending = st.Step
		if st.Lock != nil && now.Before(st.Lock.Expires) {
			d.Running = st.Lock
		}
	}
	if j := c.jobs.last("rotate"); j != nil {
		v := j.view()
		d.Job = &v
	}
	events, err := c.cfg.Vault.AuditLog(ctx, vault.AuditFilter{Subject: "app:" + app.Name, Limit: 200})
	if err != nil {
		return d, err
	}
	for _, e := range slices.Backward(events) {
		if e.Field == "client_secret" || e.Field == "app" || e.Field == "rotation" {
			e.Detail = scrub(e.Detail)
			d.History = append(d.History, e)
		}
		if len(d.History) == 50 {
			break
		}
	}
	return d, nil
}

func (c *Console) handleSecret(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := c.secretData(r.Context())
	if err != nil {
		c.render(w, r, http.StatusInternalServerError, "message", s, messageData{Title: "App secret", Text: scrub(err.Error())})
		return
	}
	c.renderView(w, r, http.StatusOK, "secret", s, view{Data: d, Refresh: d.Job != nil && !d.Job.Done})
}

func (c *Console) handleRotate(w http.ResponseWriter, r *http.Request, s *session) {
	if c.cfg.Rotate == nil {
		c.render(w, r, http.StatusNotFound, "message", s, messageData{Title: "Rotate", Text: "This console was started without rotation."})
		return
	}
	_, started := c.jobs.start(c.jobCtx(), "rotate", "Rotation of the client secret of app "+c.cfg.App, nil, func(ctx context.Context, j *job) error {
		res, err := c.cfg.Rotate(ctx, func(step, msg string) { j.add(step, msg, c.clk.Now()) })
		if err != nil {
			c.audit(ctx, "rotate", "app "+c.cfg.App, false, err.Error())
			return err
		}
		j.add("done", fmt.Sprintf("client secret v%d is current until %s; the old one keeps working until %s",
			res.Version, res.ExpiresAt.Local().Format(time.DateOnly), res.PreviousExpiresAt.Local().Format(time.DateTime)), c.clk.Now())
		c.audit(ctx, "rotate", "app "+c.cfg.App, true, fmt.Sprintf("client secret v%d current", res.Version))
		c.runChecks()
		return nil
	})
	if started {
		c.audit(r.Context(), "rotate-start", "app "+c.cfg.App, true, "rotation started")
	}
	http.Redirect(w, r, "/secret#rotation", http.StatusSeeOther)
}

// stepState is one rotation step and how far it got.
type stepState struct {
	Step  string `json:"step"`
	Label string `json:"label"`
	State string `json:"state"` // "done", "running", "pending", "failed"
}

var rotationStepLabels = []stepState{
	{Step: rotation.StepRequesting, Label: "Ask Amazon for a new secret"},
	{Step: rotation.StepRequested, Label: "Amazon accepted; wait for the secret on the queue"},
	{Step: rotation.StepReceived, Label: "New secret received"},
	{Step: rotation.StepVerified, Label: "LWA accepts the new secret"},
	{Step: rotation.StepStored, Label: "New secret is current in the vault"},
	{Step: "done", Label: "Finished"},
}

// rotationSteps derives each step's state from the progress lines.
func rotationSteps(v jobView) []stepState {
	reached := -1
	for _, l := range v.Lines {
		for i, s := range rotationStepLabels {
			if s.Step == l.Step && i > reached {
				reached = i
			}
		}
	}
	// Asking and waiting are under way while they are the last step
	// reached; the other steps are reported once they happened, so the
	// step after them is the one under way.
	ongoing := func(i int) bool {
		return i < 0 || rotationStepLabels[i].Step == rotation.StepRequesting || rotationStepLabels[i].Step == rotation.StepRequested
	}
	now := func() string {
		switch {
		case v.Failed:
			return "failed"
		case v.Done:
			return "done"
		}
		return "running"
	}
	out := make([]stepState, len(rotationStepLabels))
	for i, s := range rotationStepLabels {
		s.State = "pending"
		switch {
		case i < reached:
			s.State = "done"
		case i == reached && ongoing(i):
			s.State = now()
		case i == reached:
			s.State = "done"
		case i == reached+1 && !ongoing(reached):
			s.State = now()
			if s.State == "done" {
				s.State = "pending"
			}
		case reached < 0 && i == 0:
			s.State = now()
		}
		out[i] = s
	}
	return out
}
