package vault

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spgate/spgate/secret"
)

// App is a registered Selling Partner API application and its credentials.
type App struct {
	Name        string   // local handle, e.g. "main"
	AppID       string   // amzn1.sp.solution.<uuid>; cannot change once stored
	ClientID    string   // amzn1.application-oa2-client.<32 hex>
	Roles       []string // restricted roles the app holds (see KnownRestrictedRoles)
	Draft       bool     // true while the app is a draft (OAuth needs version=beta)
	Region      string   // default region: na, eu, fe or ""
	RoleARN     string   // IAM role for SigV4 (legacy chain), optional
	SQSQueueURL string   // queue for notifications (rotation), optional
	Signing     bool     // sign SP-API calls with SigV4
	RedirectURI string   // OAuth redirect URI, optional

	AWSAccessKeyID string // IAM user access key id, optional
	// AWSSecretKey is the IAM user's secret key: Version 0 when none is
	// stored; Value zero unless decrypted. On AddApp a non-zero Value is stored.
	AWSSecretKey Secret

	// ClientSecrets holds the current secret first, then the previous one
	// (kept until Amazon's oldClientSecretExpiryTime). Values are zero
	// unless decrypted. On AddApp, [0] is stored as current and [1], if
	// present, as previous.
	ClientSecrets []Secret

	CreatedAt time.Time
	UpdatedAt time.Time
}

// HasAWSSecretKey reports whether an AWS secret key is stored (or, on
// AddApp, given).
func (a App) HasAWSSecretKey() bool {
	return a.AWSSecretKey.Version > 0 || !a.AWSSecretKey.Value.IsZero()
}

// CurrentSecret returns the current client secret.
func (a App) CurrentSecret() (Secret, bool) {
	for _, s := range a.ClientSecrets {
		if s.Status == StatusCurrent {
			return s, true
		}
	}
	return Secret{}, false
}

// PreviousSecret returns the replaced client secret still kept, if any.
func (a App) PreviousSecret() (Secret, bool) {
	for _, s := range a.ClientSecrets {
		if s.Status == StatusPrevious {
			return s, true
		}
	}
	return Secret{}, false
}

func (a *App) validate() error {
	a.Roles = normStrings(a.Roles)
	var errs []error
	errs = append(errs, ValidateName("app", a.Name), ValidateAppID(a.AppID), ValidateClientID(a.ClientID))
	if a.Region != "" {
		errs = append(errs, ValidateRegion(a.Region))
	}
	if a.RoleARN != "" {
		errs = append(errs, ValidateRoleARN(a.RoleARN))
	}
	if a.AWSAccessKeyID != "" {
		errs = append(errs, ValidateAccessKeyID(a.AWSAccessKeyID))
	}
	if a.SQSQueueURL != "" {
		errs = append(errs, ValidateQueueURL(a.SQSQueueURL))
	}
	if a.RedirectURI != "" {
		errs = append(errs, ValidateRedirectURI(a.RedirectURI))
	}
	return errors.Join(errs...)
}

// checkSecretDates applies defaults and Amazon's 180-day limit.
func checkSecretDates(created, expires time.Time) (time.Time, error) {
	if expires.IsZero() {
		return created.Add(MaxClientSecretLifetime), nil
	}
	if expires.Sub(created) > MaxClientSecretLifetime+24*time.Hour {
		return time.Time{}, invalid("client secret expiry %s is more than 180 days after %s: Amazon secrets live at most 180 days; check the date", expires.UTC().Format(time.RFC3339), created.UTC().Format(time.RFC3339))
	}
	return expires, nil
}

const appCols = `name, app_id, client_id, roles, draft, region, aws_access_key_id, role_arn, sqs_queue_url, signing, redirect_uri, created_at, updated_at`

func scanApp(sc rowScanner) (App, error) {
	var a App
	var roles, created, updated string
	err := sc.Scan(&a.Name, &a.AppID, &a.ClientID, &roles, &a.Draft, &a.Region, &a.AWSAccessKeyID, &a.RoleARN, &a.SQSQueueURL, &a.Signing, &a.RedirectURI, &created, &updated)
	if err != nil {
		return a, err
	}
	_ = json.Unmarshal([]byte(roles), &a.Roles)
	a.CreatedAt, a.UpdatedAt = parseTime(created), parseTime(updated)
	return a, nil
}

func jsonList(s []string) string {
	if s == nil {
		s = []string{}
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// AddApp stores a new app with its secrets. ClientSecrets[0] (optional) is
// the current secret; a zero ExpiresAt means CreatedAt+180 days, a zero
// CreatedAt means now. ErrExists if the name, app id or client id is taken.
func (v *Vault) AddApp(ctx context.Context, a App) error {
	if err := checkNewApp(&a); err != nil {
		return err
	}
	return v.write(ctx, "add app "+a.Name, func(t *tx) error { return t.addApp(a) })
}

// getApp looks an app up by name, app id or client id.
func (t *tx) getApp(ref string) (App, error) {
	a, err := scanApp(t.queryRow(`SELECT `+appCols+` FROM apps WHERE name=? OR app_id=? OR client_id=? LIMIT 1`, ref, ref, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return a, newErr(ErrNotFound, "no app %q in the vault; see spgate app list", clip(ref))
	}
	return a, err
}

func (t *tx) fillAppSecrets(a *App, decrypt bool) error {
	var err error
	if a.ClientSecrets, err = t.loadSecrets(appSecretRef(a.AppID), decrypt, false); err != nil {
		return err
	}
	aws, err := t.loadSecrets(appAWSRef(a.AppID), decrypt, true)
	if err != nil {
		return err
	}
	if len(aws) > 0 {
		a.AWSSecretKey = aws[0]
	}
	return nil
}

// apps is how the vault reads, lists and updates apps.
var apps = &record[App]{
	kind: "app", get: (*tx).getApp, scan: scanApp,
	list: `SELECT ` + appCols + ` FROM apps ORDER BY name`,
	fill: (*tx).fillAppSecrets,
	clone: func(a App) App {
		a.Roles = append([]string(nil), a.Roles...)
		return a
	},
	save: (*tx).saveApp,
}

// GetApp returns the app named ref (its name, app id or client id) with all
// its secrets decrypted.
func (v *Vault) GetApp(ctx context.Context, ref string) (App, error) {
	return getRecord(ctx, v, apps, ref)
}

// ListApps returns every app, sorted by name, with secret metadata but no
// secret values (nothing is decrypted).
func (v *Vault) ListApps(ctx context.Context) ([]App, error) {
	return listRecords(ctx, v, apps)
}

// UpdateApp loads the app, lets fn change its plain fields, validates and
// saves them in one transaction. Secrets are changed with SetClientSecret
// and SetAWSKeys, not here (changes fn makes to them are ignored); the app
// id cannot change.
func (v *Vault) UpdateApp(ctx context.Context, ref string, fn func(*App) error) error {
	return updateRecord(ctx, v, apps, ref, fn)
}

// saveApp writes a's plain fields over old's.
func (t *tx) saveApp(old, a *App) error {
	if a.AppID != old.AppID {
		return invalid("the app id of %q cannot change; remove the app and add it again", old.Name)
	}
	if err := a.validate(); err != nil {
		return err
	}
	if a.AWSAccessKeyID != old.AWSAccessKeyID {
		return invalid("change the AWS access key id with SetAWSKeys, together with its secret key")
	}
	var n int
	if err := t.queryRow(`SELECT count(*) FROM apps WHERE app_id<>? AND (name=? OR client_id=?)`, a.AppID, a.Name, a.ClientID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return newErr(ErrExists, "another app already uses the name %q or client id %s", a.Name, a.ClientID)
	}
	if _, err := t.exec(`UPDATE apps SET name=?, client_id=?, roles=?, draft=?, region=?, role_arn=?, sqs_queue_url=?, signing=?, redirect_uri=?, updated_at=? WHERE app_id=?`,
		a.Name, a.ClientID, jsonList(a.Roles), a.Draft, a.Region, a.RoleARN, a.SQSQueueURL, a.Signing, a.RedirectURI, fmtTime(t.now), a.AppID); err != nil {
		return err
	}
	return t.audit("app:"+a.Name, "app", ActionChanged, "")
}

// RemoveApp deletes the app, its secrets and every seller's refresh token
// for it.
func (v *Vault) RemoveApp(ctx context.Context, ref string) error {
	return v.write(ctx, "remove app", func(t *tx) error {
		a, err := t.getApp(ref)
		if err != nil {
			return err
		}
		sellers, err := queryAll(t, scanString, `SELECT seller_id FROM authorizations WHERE app_id=?`, a.AppID)
		if err != nil {
			return err
		}
		for _, s := range sellers {
			if _, err := t.deleteSecrets(tokenRef(s, a.AppID)); err != nil {
				return err
			}
			if err := t.audit("seller:"+s, "refresh_token", ActionRemoved, "app "+a.Name+" removed"); err != nil {
				return err
			}
		}
		for _, ref := range []string{appSecretRef(a.AppID), appAWSRef(a.AppID)} {
			if _, err := t.deleteSecrets(ref); err != nil {
				return err
			}
		}
		if _, err := t.exec(`DELETE FROM apps WHERE app_id=?`, a.AppID); err != nil {
			return err
		}
		return t.audit("app:"+a.Name, "app", ActionRemoved, a.AppID)
	})
}

// SecretChange describes a client secret replacement.
type SecretChange struct {
	// ExpiresAt is when the new secret expires (Amazon's
	// newClientSecretExpiryTime); zero means now + 180 days.
	ExpiresAt time.Time
	// PreviousExpiresAt is when the replaced secret stops working (Amazon's
	// oldClientSecretExpiryTime). Non-zero keeps the replaced secret as
	// "previous" until then; zero discards it. An older previous secret is
	// always discarded.
	PreviousExpiresAt time.Time
	// Verified records that the new secret was already proven against LWA.
	Verified bool
}

// SetClientSecret makes value the app's current client secret. The old
// current secret becomes previous (see SecretChange) and the change is
// audited as "added" (first secret) or "rotated". It returns the new
// secret's metadata (without its value).
func (v *Vault) SetClientSecret(ctx context.Context, app string, value secret.String, ch SecretChange) (Secret, error) {
	if err := ValidateClientSecret(value.Reveal()); err != nil {
		return Secret{}, err
	}
	var out Secret
	err := v.write(ctx, "set client secret", func(t *tx) error {
		a, err := t.getApp(app)
		if err != nil {
			return err
		}
		exp, err := checkSecretDates(t.now, ch.ExpiresAt)
		if err != nil {
			return err
		}
		ref := appSecretRef(a.AppID)
		subject := "app:" + a.Name
		olds, err := t.loadSecrets(ref, false, false)
		if err != nil {
			return err
		}
		action := ActionAdded
		for _, o := range olds {
			keep := o.Status == StatusCurrent && !ch.PreviousExpiresAt.IsZero()
			if keep {
				action = ActionRotated
				prevExp := ch.PreviousExpiresAt
				if !o.ExpiresAt.IsZero() && o.ExpiresAt.Before(prevExp) {
					prevExp = o.ExpiresAt
				}
				if err := t.updateSecret(ref, o.Version, func(r *secretRow) {
					r.status, r.expires = StatusPrevious, sql.NullString{String: fmtTime(prevExp), Valid: true}
				}); err != nil {
					return err
				}
				continue
			}
			if o.Status == StatusCurrent {
				action = ActionRotated
			}
			if _, err := t.exec(`DELETE FROM secrets WHERE ref=? AND version=?`, ref, o.Version); err != nil {
				return err
			}
			if err := t.audit(subject, "client_secret", ActionRemoved, fmt.Sprintf("v%d (%s)", o.Version, o.Status)); err != nil {
				return err
			}
		}
		if out, err = t.putSecret(ref, StatusCurrent, value, t.now, exp); err != nil {
			return err
		}
		if ch.Verified {
			if _, err := t.markVerified(ref, out.Version); err != nil {
				return err
			}
			out.VerifiedAt = t.now
		}
		return t.audit(subject, "client_secret", action, fmt.Sprintf("v%d, expires %s", out.Version, exp.Format(time.RFC3339)))
	})
	return out, err
}

// markVerified records that version of ref (0: the current one) worked
// and returns the version marked.
func (t *tx) markVerified(ref string, version int) (int, error) {
	err := t.updateSecret(ref, version, func(r *secretRow) {
		r.verified = sql.NullString{String: fmtTime(t.now), Valid: true}
		version = r.version
	})
	return version, err
}

// MarkClientSecretVerified records that client secret version works
// (an LWA exchange succeeded with it); version 0 means the current one.
func (v *Vault) MarkClientSecretVerified(ctx context.Context, app string, version int) error {
	return v.write(ctx, "mark client secret verified", func(t *tx) error {
		a, err := t.getApp(app)
		if err != nil {
			return err
		}
		v, err := t.markVerified(appSecretRef(a.AppID), version)
		if errors.Is(err, ErrNotFound) && version == 0 {
			return newErr(ErrNotFound, "app %s has no client secret; add one with spgate app set-secret", a.Name)
		}
		if err != nil {
			return err
		}
		version = v
		return t.audit("app:"+a.Name, "client_secret", ActionVerified, fmt.Sprintf("v%d", version))
	})
}

// RemoveClientSecret deletes one client secret version (typically the
// previous one once it has expired).
func (v *Vault) RemoveClientSecret(ctx context.Context, app string, version int) error {
	return v.write(ctx, "remove client secret", func(t *tx) error {
		a, err := t.getApp(app)
		if err != nil {
			return err
		}
		res, err := t.exec(`DELETE FROM secrets WHERE ref=? AND version=?`, appSecretRef(a.AppID), version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return newErr(ErrNotFound, "app %s has no client secret version %d; see spgate app show %s", a.Name, version, a.Name)
		}
		return t.audit("app:"+a.Name, "client_secret", ActionRemoved, fmt.Sprintf("v%d", version))
	})
}

// SetAWSKeys stores (or, with an empty id and zero secret, removes) the
// app's IAM user access key.
func (v *Vault) SetAWSKeys(ctx context.Context, app, accessKeyID string, secretKey secret.String) error {
	remove := accessKeyID == "" && secretKey.IsZero()
	if !remove {
		if err := errors.Join(ValidateAccessKeyID(accessKeyID), ValidateAWSSecretKey(secretKey.Reveal())); err != nil {
			return err
		}
	}
	return v.write(ctx, "set AWS keys", func(t *tx) error {
		a, err := t.getApp(app)
		if err != nil {
			return err
		}
		n, err := t.deleteSecrets(appAWSRef(a.AppID))
		if err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE apps SET aws_access_key_id=?, updated_at=? WHERE app_id=?`, accessKeyID, fmtTime(t.now), a.AppID); err != nil {
			return err
		}
		if remove {
			return t.audit("app:"+a.Name, "aws_secret_key", ActionRemoved, a.AWSAccessKeyID)
		}
		if _, err := t.putSecret(appAWSRef(a.AppID), StatusCurrent, secretKey, t.now, time.Time{}); err != nil {
			return err
		}
		action := ActionAdded
		if n > 0 {
			action = ActionRotated
		}
		return t.audit("app:"+a.Name, "aws_secret_key", action, accessKeyID)
	})
}

// LWACredentials is what an LWA token exchange needs.
type LWACredentials struct {
	AppName      string
	AppID        string
	ClientID     string
	ClientSecret secret.String
	Version      int       // of the client secret
	ExpiresAt    time.Time // of the client secret
}

// LWACredentials decrypts only the app's current client secret.
func (v *Vault) LWACredentials(ctx context.Context, app string) (LWACredentials, error) {
	var c LWACredentials
	err := v.read(ctx, "read client secret", func(t *tx) error {
		a, err := t.getApp(app)
		if err != nil {
			return err
		}
		ss, err := t.loadSecrets(appSecretRef(a.AppID), true, true)
		if err != nil {
			return err
		}
		if len(ss) == 0 {
			return newErr(ErrNotFound, "app %s has no client secret; add it with spgate app set-secret %s", a.Name, a.Name)
		}
		c = LWACredentials{AppName: a.Name, AppID: a.AppID, ClientID: a.ClientID, ClientSecret: ss[0].Value, Version: ss[0].Version, ExpiresAt: ss[0].ExpiresAt}
		return nil
	})
	return c, err
}

func checkNewApp(a *App) error {
	if err := a.validate(); err != nil {
		return err
	}
	if len(a.ClientSecrets) > 2 {
		return invalid("an app keeps at most two client secrets (current and previous), got %d", len(a.ClientSecrets))
	}
	for i, s := range a.ClientSecrets {
		if err := ValidateClientSecret(s.Value.Reveal()); err != nil {
			return fmt.Errorf("client secret %d: %w", i+1, err)
		}
	}
	if !a.AWSSecretKey.Value.IsZero() {
		if err := ValidateAWSSecretKey(a.AWSSecretKey.Value.Reveal()); err != nil {
			return err
		}
		if a.AWSAccessKeyID == "" {
			return invalid("an AWS secret key needs its access key id")
		}
	}
	return nil
}

func (t *tx) addApp(a App) error {
	var n int
	if err := t.queryRow(`SELECT count(*) FROM apps WHERE name=? OR app_id=? OR client_id=?`, a.Name, a.AppID, a.ClientID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return newErr(ErrExists, "an app named %q or with app id %s or client id %s is already in the vault; see spgate app list", a.Name, a.AppID, a.ClientID)
	}
	if _, err := t.exec(`INSERT INTO apps(`+appCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		a.Name, a.AppID, a.ClientID, jsonList(a.Roles), a.Draft, a.Region, a.AWSAccessKeyID, a.RoleARN, a.SQSQueueURL, a.Signing, a.RedirectURI, fmtTime(t.now), fmtTime(t.now)); err != nil {
		return err
	}
	if err := t.audit("app:"+a.Name, "app", ActionAdded, a.AppID); err != nil {
		return err
	}
	// Store the previous secret first so the current one gets the higher version.
	for i := len(a.ClientSecrets) - 1; i >= 0; i-- {
		s := a.ClientSecrets[i]
		created := s.CreatedAt
		if created.IsZero() {
			created = t.now
		}
		status := StatusCurrent
		if i == 1 {
			status = StatusPrevious
		}
		exp, err := checkSecretDates(created, s.ExpiresAt)
		if err != nil {
			return err
		}
		st, err := t.putSecret(appSecretRef(a.AppID), status, s.Value, created, exp)
		if err != nil {
			return err
		}
		if err := t.audit("app:"+a.Name, "client_secret", ActionAdded, fmt.Sprintf("v%d %s, expires %s", st.Version, status, exp.UTC().Format(time.RFC3339))); err != nil {
			return err
		}
	}
	if !a.AWSSecretKey.Value.IsZero() {
		if _, err := t.putSecret(appAWSRef(a.AppID), StatusCurrent, a.AWSSecretKey.Value, a.AWSSecretKey.CreatedAt, time.Time{}); err != nil {
			return err
		}
		if err := t.audit("app:"+a.Name, "aws_secret_key", ActionAdded, a.AWSAccessKeyID); err != nil {
			return err
		}
	}
	return nil
}
