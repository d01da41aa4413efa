package doctor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/lwa"
	"github.com/spgate/spgate/rotation"
	"github.com/spgate/spgate/vault"
)

// Names of the checks Secrets reports (layer "secret").
const (
	CheckSecretCurrent   = "secret-current"
	CheckRotationPending = "rotation-pending"
)

// SecretsInput is what Secrets checks.
type SecretsInput struct {
	// App is the vault's app with its secrets decrypted (vault.GetApp).
	App vault.App
	// Verify checks one client secret on its own with LWA, without any
	// fallback (rotation.LWAVerifier). Nil skips the LWA checks.
	Verify rotation.Verifier
	// Rotation is what the vault says about the app's rotation
	// (rotation.Inspect).
	Rotation rotation.State
	// Clock dates the previous secret's expiry; nil means the real clock.
	Clock clock.Clock
}

// Secrets checks that the vault's current client secret is the one LWA
// accepts, on its own: calls fall back to the previous secret when the
// current one is refused, so a grant that succeeds proves only that one of
// them works. A current secret LWA refuses while the previous one works
// means the vault holds the wrong secret as current, and the calls stop
// when the previous one expires. It also reports an unfinished rotation.
func Secrets(ctx context.Context, in SecretsInput) []Check {
	now := clock.Or(in.Clock).Now()
	var out []Check
	a := in.App
	add := func(c Check) {
		c.Layer = "secret"
		out = append(out, c)
	}
	rotateFix := fmt.Sprintf("run `spgate rotate --app %s` (it takes Amazon's newest secret from the queue with the expiry Amazon states), or paste the secret Seller Central shows (Develop Apps → View) with `spgate app set-secret %s`", a.Name, a.Name)

	switch st := in.Rotation; {
	case st.Lock != nil && now.Before(st.Lock.Expires):
		add(Check{Name: CheckRotationPending, Status: Skip,
			Detail: fmt.Sprintf("a rotation of app %s is running now (%s, pid %d on host %s, since %s); the secret checks show the state before it ends",
				a.Name, st.Lock.Owner, st.Lock.PID, st.Lock.Host, st.Lock.Since.UTC().Format(time.RFC3339))})
	case st.Step != "":
		add(Check{Name: CheckRotationPending, Status: Warn, Step: StepRotateSecret,
			Detail: fmt.Sprintf("a rotation of app %s stopped after step %q; Amazon may have made a secret the vault does not hold yet", a.Name, st.Step),
			Fix:    fmt.Sprintf("finish it with `spgate rotate --app %s` (it does not ask Amazon again), or end it with `spgate rotate --app %s --reset` (it keeps a secret Amazon made)", a.Name, a.Name)})
	}

	cur, ok := a.CurrentSecret()
	if !ok || cur.Value.IsZero() || in.Verify == nil {
		return out
	}
	err := in.Verify(ctx, a.ClientID, cur.Value)
	switch {
	case err == nil:
		add(Check{Name: CheckSecretCurrent, Status: OK,
			Detail: fmt.Sprintf("LWA accepts the vault's current client secret v%d on its own", cur.Version)})
		return out
	case !errors.Is(err, lwa.ErrClientRejected):
		add(Check{Name: CheckSecretCurrent, Status: Warn,
			Detail: fmt.Sprintf("could not ask LWA about the current client secret v%d: %v", cur.Version, err),
			Fix:    "check the network path to the LWA endpoint (--endpoint / SPGATE_ENDPOINT) and run `spgate doctor` again"})
		return out
	}
	prev, hasPrev := a.PreviousSecret()
	if hasPrev && !prev.Value.IsZero() && !prev.Expired(now) {
		if perr := in.Verify(ctx, a.ClientID, prev.Value); perr == nil {
			add(Check{Name: CheckSecretCurrent, Status: Fail, Step: StepRotateSecret,
				Detail: fmt.Sprintf("LWA refuses the vault's current client secret v%d but accepts the previous one v%d: calls work only through the fallback, and stop when it expires on %s. The current secret is not the one Amazon holds (a rotation stored the wrong one, or the secret was replaced elsewhere)",
					cur.Version, prev.Version, prev.ExpiresAt.UTC().Format(time.DateOnly)),
				Fix: rotateFix})
			return out
		}
	}
	add(Check{Name: CheckSecretCurrent, Status: Fail, Step: StepLWACredentials,
		Detail: fmt.Sprintf("LWA refuses the vault's current client secret v%d%s", cur.Version, previousNote(prev, hasPrev, now)),
		Fix:    rotateFix})
	return out
}

func previousNote(prev vault.Secret, ok bool, now time.Time) string {
	switch {
	case !ok:
		return " and the vault holds no previous one"
	case prev.Expired(now):
		return fmt.Sprintf(", and the previous one v%d expired on %s", prev.Version, prev.ExpiresAt.UTC().Format(time.DateOnly))
	}
	return fmt.Sprintf(", and the previous one v%d too", prev.Version)
}
