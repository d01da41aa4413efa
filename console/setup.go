package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/vault"
)

// checkCache keeps the last run of doctor's checks: they call LWA and
// Amazon, so a page shows the last run and "Check again" runs them anew.
type checkCache struct {
	mu     sync.Mutex
	run    sync.Mutex // one run at a time
	at     time.Time
	checks []doctor.Check
	err    error
}

// runChecks runs the checks now (waiting for a run in progress instead of
// starting a second one).
func (c *Console) runChecks() {
	cc := &c.checks
	before := cc.at
	cc.run.Lock()
	defer cc.run.Unlock()
	cc.mu.Lock()
	done := cc.at != before
	cc.mu.Unlock()
	if done {
		return // another request just ran them
	}
	// A browser that goes away does not cut the checks short (the next
	// page shows their result); the console stopping does.
	ctx, cancel := context.WithTimeout(c.base, c.cfg.CheckTimeout)
	defer cancel()
	checks, err := c.cfg.Checks(ctx)
	cc.mu.Lock()
	cc.at, cc.checks, cc.err = c.clk.Now(), checks, err
	cc.mu.Unlock()
}

func (c *Console) lastChecks() ([]doctor.Check, time.Time, error) {
	c.checks.mu.Lock()
	defer c.checks.mu.Unlock()
	return c.checks.checks, c.checks.at, c.checks.err
}

// State of a setup step.
const (
	StateDone     = "done"
	StateAction   = "action"    // needs action (a check failed)
	StateWarn     = "attention" // works now, needs attention
	StateUnknown  = "unknown"   // cannot check, and why
	StateOptional = "optional"  // not needed for this setup
)

var stateLabels = map[string]string{
	StateDone: "Done", StateAction: "Needs action", StateWarn: "Needs attention",
	StateUnknown: "Cannot check", StateOptional: "Not needed",
}

// setupStep is one step of the guide as the Setup page shows it.
type setupStep struct {
	N      string
	ID     string
	Title  string
	Amazon string // what Amazon requires, in a sentence
	State  string
	Label  string
	Why    string // why it cannot be checked, or is not needed
	Checks []doctor.Check
	Fixes  []string
	Values []pasteValue
	// Actions are what spgate does itself for this step.
	Actions []stepAction
}

// pasteValue is a value to paste into one of Amazon's consoles.
type pasteValue struct {
	Label, Value, Where string
}

type stepAction struct {
	Label string
	Href  string // a link to the page that does it
	Form  string // or a form posting here
	Field string // with this "mode" value
	Value string
}

// guideStep describes a step of docs/setup-guide.md and which of doctor's
// checks speak for it.
type guideStep struct {
	n, id, title, amazon string
	match                func(doctor.Check) bool
}

func named(names ...string) func(doctor.Check) bool {
	return func(ch doctor.Check) bool { return slices.Contains(names, ch.Name) }
}

var guide = []guideStep{
	{"1", "developer", "Developer registration", "Register as a developer in Seller Central. Only Amazon can do it.", func(doctor.Check) bool { return false }},
	{"2", "app", "App registration and roles", "Register the app in Seller Central → Develop Apps, with the restricted roles for the personal data you need.",
		func(ch doctor.Check) bool {
			return (ch.Layer == "format" && (ch.Name == "app-id" || ch.Name == "client-id")) || ch.Step == doctor.StepAppRegistration && ch.Layer != "rdt"
		}},
	{"3", "lwa", "LWA client id and client secret", "Every call starts with a Login with Amazon token, asked with the app's client id and secret.",
		func(ch doctor.Check) bool {
			return ch.Name == "client-secret" || ch.Name == "formats" || ch.Name == doctor.CheckSecretCurrent || ch.Step == doctor.StepLWACredentials
		}},
	{"4", "iam-user", "IAM user and access key", "Only needed to read the notification queue (step 8) and for SigV4 signing; SP-API calls need no IAM since October 2023.",
		named(doctor.CheckAWSKeys, doctor.CheckAWSUser, doctor.CheckAWSAccount, doctor.CheckAWSOrgPolicies)},
	{"5", "iam-policy", "IAM policy", "A policy allowing execute-api:Invoke: only if calls are still signed with SigV4.",
		named(doctor.CheckAWSRolePolicy, doctor.CheckAWSSigV4)},
	{"6", "iam-role", "IAM role and trust policy", "A role carrying the policy, that only the user may assume: only for SigV4.",
		named(doctor.CheckAWSRoleARN, doctor.CheckAWSTrust, doctor.CheckAWSAssumeRole)},
	{"7", "sts", "STS AssumeRole inline policy", "The user's inline policy allowing sts:AssumeRole on exactly the role: only for SigV4.",
		named(doctor.CheckAWSUserPolicy)},
	{"8", "queue", "SQS queue for notifications", "Amazon delivers a rotated client secret to an SQS queue that admits its account 437568002678; the queue is registered in Developer Central.",
		named(doctor.CheckAWSQueue, doctor.CheckAWSQueueRead)},
	{"9", "sellers", "Seller authorization (refresh token)", "Each seller authorizes the app once (self-authorization or the OAuth website flow) and spgate keeps its refresh token.",
		func(ch doctor.Check) bool {
			return ch.Layer == "seller" || ch.Layer == "lwa" || ch.Name == "seller-id" || ch.Name == "refresh-token" || ch.Name == "seller-marketplaces" ||
				ch.Step == doctor.StepAuthorizeSeller || ch.Step == doctor.StepRegion
		}},
	{"11", "rdt", "Restricted Data Tokens (roles)", "Personal data needs a Restricted Data Token, which Amazon grants only for the restricted roles the app holds.",
		func(ch doctor.Check) bool { return ch.Layer == "rdt" }},
	{"12", "rotation", "Client secret rotation (every 180 days)", "A client secret must be rotated at least every 180 days, or LWA refuses it.",
		func(ch doctor.Check) bool {
			return ch.Layer == "secret" && ch.Name != doctor.CheckSecretCurrent || ch.Step == doctor.StepRotateSecret && ch.Layer != "format"
		}},
}

// setupData is what the Setup page shows.
type setupData struct {
	CheckedAt time.Time
	Err       string
	Steps     []setupStep
	Network   []doctor.Check // unreachable endpoints and Amazon outages
	AWS       *jobView       // the last AWS setup (plan or apply)
	HasAWS    bool
	Summary   map[string]int
}

func (c *Console) handleSetup(w http.ResponseWriter, r *http.Request, s *session) {
	_, at, _ := c.lastChecks()
	if at.IsZero() {
		c.runChecks()
	}
	d, err := c.setupData(r.Context())
	if err != nil {
		c.render(w, r, http.StatusInternalServerError, "message", s, messageData{Title: "Setup", Text: scrub(err.Error())})
		return
	}
	v := view{Data: d}
	if d.AWS != nil && !d.AWS.Done {
		v.Refresh = true
	}
	c.renderView(w, r, http.StatusOK, "setup", s, v)
}

func (c *Console) handleSetupCheck(w http.ResponseWriter, r *http.Request, _ *session) {
	c.runChecks()
	c.audit(r.Context(), "check", "app "+c.cfg.App, true, "ran doctor's checks")
	http.Redirect(w, r, "/setup", http.StatusSeeOther)
}

// handleSetupAWS runs `spgate setup aws --queue`, as a dry run (mode=plan)
// or for real (mode=apply), in the background.
func (c *Console) handleSetupAWS(w http.ResponseWriter, r *http.Request, s *session) {
	if c.cfg.SetupAWS == nil {
		c.render(w, r, http.StatusNotFound, "message", s, messageData{Title: "AWS setup", Text: "This console cannot run the AWS setup."})
		return
	}
	dry := r.PostFormValue("mode") != "apply"
	kind, title := "aws-plan", "AWS setup, dry run"
	if !dry {
		kind, title = "aws-apply", "AWS setup"
	}
	_, started := c.jobs.start(c.jobCtx(), kind, title, []string{"aws-plan", "aws-apply"}, func(ctx context.Context, j *job) error {
		err := c.cfg.SetupAWS(ctx, dry, func(line string) { j.add("", line, c.clk.Now()) })
		if !dry {
			c.runChecks()
		}
		return err
	})
	if started {
		c.audit(r.Context(), kind, "app "+c.cfg.App, true, title+" started")
	}
	http.Redirect(w, r, "/setup#aws", http.StatusSeeOther)
}

func (c *Console) setupData(ctx context.Context) (setupData, error) {
	checks, at, err := c.lastChecks()
	d := setupData{CheckedAt: at, HasAWS: c.cfg.SetupAWS != nil, Summary: map[string]int{}}
	if err != nil {
		d.Err = err.Error()
	}
	for _, k := range []string{"aws-apply", "aws-plan"} {
		if j := c.jobs.last(k); j != nil {
			v := j.view()
			if d.AWS == nil || v.Started.After(d.AWS.Started) {
				d.AWS = &v
			}
		}
	}
	app, err := c.app(ctx)
	if err != nil {
		return d, err
	}
	sellers, err := c.cfg.Vault.ListSellers(ctx)
	if err != nil {
		return d, err
	}
	authorized := 0
	for _, s := range sellers {
		if _, ok := s.Authorization(c.cfg.App); ok {
			authorized++
		}
	}
	used := make([]bool, len(checks))
	for i, ch := range checks {
		if ch.Layer == doctor.LayerNetwork || ch.Step == doctor.StepNetwork || ch.Step == doctor.StepAmazon {
			d.Network = append(d.Network, ch)
			used[i] = true
		}
	}
	for _, g := range guide {
		st := setupStep{N: g.n, ID: g.id, Title: g.title, Amazon: g.amazon}
		for i, ch := range checks {
			if !used[i] && g.match(ch) {
				st.Checks = append(st.Checks, ch)
				used[i] = true
				if ch.Fix != "" && (ch.Status == doctor.Fail || ch.Status == doctor.Warn) && !slices.Contains(st.Fixes, ch.Fix) {
					st.Fixes = append(st.Fixes, ch.Fix)
				}
			}
		}
		c.decorate(&st, checks, app, authorized, at.IsZero())
		st.Label = stateLabels[st.State]
		d.Summary[st.State]++
		d.Steps = append(d.Steps, st)
	}
	return d, nil
}

// decorate sets a step's state from its checks, and adds what only this
// console knows: values to paste into Amazon's consoles and buttons.
func (c *Console) decorate(st *setupStep, all []doctor.Check, app vault.App, authorized int, unchecked bool) {
	st.State = stateOf(st.Checks)
	aws := app.AWSAccessKeyID != "" || app.RoleARN != "" || app.SQSQueueURL != ""
	switch st.ID {
	case "developer":
		st.State, st.Why = StateUnknown, "Only Amazon knows; spgate cannot see your developer profile."
		if app.AppID != "" && vault.ValidateAppID(app.AppID) == nil {
			st.State, st.Why = StateDone, "An app ("+app.AppID+") is registered, so the developer registration was done."
		}
	case "app":
		c.decorateApp(st, all, app, unchecked)
	case "lwa":
		st.Values = append(st.Values, pasteValue{"LWA client id (to compare)", app.ClientID, "Develop Apps → View → LWA credentials"})
	case "iam-user", "iam-policy", "iam-role", "sts":
		if !aws {
			st.State, st.Why = StateOptional, "Since 2 October 2023 SP-API needs no IAM or SigV4. The IAM user's keys are needed only to read the notification queue (step 8), which the AWS setup creates with them."
		}
		if st.ID == "iam-user" && c.cfg.SetupAWS != nil {
			st.Actions = append(st.Actions, awsActions...)
		}
	case "queue":
		c.decorateQueue(st, app)
	case "sellers":
		st.Actions = append(st.Actions, stepAction{Label: "Sellers and authorization", Href: "/sellers"})
		if authorized == 0 && st.State != StateAction {
			st.State = StateAction
			st.Why = "No seller has authorized app " + app.Name + " yet."
		}
	case "rdt":
		if len(app.Roles) == 0 && st.State == StateUnknown {
			st.State, st.Why = StateOptional, "The app claims no restricted role, so it receives no personal data (addresses, buyer data)."
		}
	case "rotation":
		st.Actions = append(st.Actions, stepAction{Label: "App secret and rotation", Href: "/secret"})
	}
	if st.State == StateUnknown && st.Why == "" {
		switch {
		case unchecked:
			st.Why = "The checks have not run yet."
		case len(st.Checks) > 0:
			st.Why = "The checks were skipped: see their details."
		default:
			st.Why = "No check covers this step in this setup."
		}
	}
}

// decorateApp lists what to paste into the app's registration; only a
// seller call Amazon answered shows the registration done.
func (c *Console) decorateApp(st *setupStep, all []doctor.Check, app vault.App, unchecked bool) {
	st.Values = append(st.Values, pasteValue{"App ID (to find the app)", app.AppID, "Seller Central → Develop Apps"})
	redirect := app.RedirectURI
	if c.cfg.Consent != nil && c.cfg.Consent.RedirectURI != "" {
		redirect = c.cfg.Consent.RedirectURI
	}
	if redirect == "" {
		redirect = c.RedirectURL()
	}
	st.Values = append(st.Values, pasteValue{"OAuth redirect URI", redirect, "Develop Apps → Edit App → OAuth Redirect URI"})
	if len(app.Roles) > 0 {
		st.Values = append(st.Values, pasteValue{"Restricted roles to tick", strings.Join(app.Roles, ", "), "Develop Apps → Edit App → Roles"})
	}
	if app.RoleARN != "" {
		st.Values = append(st.Values, pasteValue{"IAM ARN (only for SigV4 signing)", app.RoleARN, "Develop Apps → Edit App → IAM ARN"})
	}
	if st.State == StateUnknown && !unchecked {
		st.Why = "Only Amazon's answers tell: see steps 9 and 11."
		if slices.ContainsFunc(all, func(ch doctor.Check) bool { return ch.Name == "seller-call" && ch.Status == doctor.OK }) {
			st.State, st.Why = StateDone, "Amazon answered the app's calls for a seller (step 9), so the app is registered and authorized."
		}
	}
}

// decorateQueue warns when no queue is stored, as secret rotation by API
// needs one, and otherwise gives its ARN to register with Amazon.
func (c *Console) decorateQueue(st *setupStep, app vault.App) {
	if app.SQSQueueURL == "" {
		if st.State == StateUnknown || st.State == StateDone {
			st.State = StateWarn
		}
		st.Why = "No notification queue is stored with the app: spgate cannot rotate the client secret by API (step 12) without one."
		if c.cfg.SetupAWS != nil {
			st.Fixes = append(st.Fixes, "create the user, its key and the queue with the AWS setup below (a dry run shows every step first), then register the queue in Developer Central")
		} else {
			st.Fixes = append(st.Fixes, "`spgate setup aws --app "+app.Name+" --queue --dry-run`, then without --dry-run")
		}
	} else {
		st.Values = append(st.Values, pasteValue{"Queue to register for APPLICATION_OAUTH_CLIENT_NEW_SECRET", queueARN(app.SQSQueueURL), "Solution Provider Portal → your app → Notifications"})
	}
	if c.cfg.SetupAWS != nil {
		st.Actions = append(st.Actions, awsActions...)
	}
}

var awsActions = []stepAction{
	{Label: "Preview the AWS setup (dry run)", Form: "/setup/aws", Field: "mode", Value: "plan"},
	{Label: "Create the user, key and queue", Form: "/setup/aws", Field: "mode", Value: "apply"},
}

// stateOf folds a step's checks into a state: the worst failure wins; only
// skipped checks (or none) mean it cannot be checked.
func stateOf(checks []doctor.Check) string {
	st := StateUnknown
	for _, ch := range checks {
		switch ch.Status {
		case doctor.Fail:
			return StateAction
		case doctor.Warn:
			st = StateWarn
		case doctor.OK:
			if st == StateUnknown {
				st = StateDone
			}
		}
	}
	return st
}

// queueARN turns an SQS queue URL (https://sqs.R.amazonaws.com/ACCOUNT/NAME)
// into the ARN Developer Central asks for; another shape is returned as is.
func queueARN(u string) string {
	rest, ok := strings.CutPrefix(u, "https://sqs.")
	if !ok {
		return u
	}
	region, rest, ok := strings.Cut(rest, ".amazonaws.com/")
	if !ok {
		return u
	}
	account, name, ok := strings.Cut(rest, "/")
	if !ok || account == "" || name == "" || strings.Contains(name, "/") {
		return u
	}
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, account, name)
}

// app returns the console's app without its secrets decrypted.
func (c *Console) app(ctx context.Context) (vault.App, error) {
	apps, err := c.cfg.Vault.ListApps(ctx)
	if err != nil {
		return vault.App{}, err
	}
	for _, a := range apps {
		if a.Name == c.cfg.App {
			return a, nil
		}
	}
	return vault.App{}, fmt.Errorf("app %s is no longer in the vault: %w", c.cfg.App, vault.ErrNotFound)
}

var errNoConsent = errors.New("this console cannot run the consent flow")
