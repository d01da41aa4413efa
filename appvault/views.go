package appvault

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// AppView is an app as spgate shows it (app list, show, add and update
// print it, as JSON under --json): its ids and settings, and of its client
// secrets only hints, dates and the days left. It holds no secret value.
type AppView struct {
	Name               string     `json:"name"`
	AppID              string     `json:"appId"`
	ClientID           string     `json:"clientId"`
	Region             string     `json:"region,omitempty"`
	Draft              bool       `json:"draft"`
	Roles              []string   `json:"roles"`
	RedirectURI        string     `json:"redirectUri,omitempty"`
	SecretHint         string     `json:"clientSecretHint,omitempty"`
	SecretVersion      int        `json:"clientSecretVersion"`
	SecretCreatedAt    *time.Time `json:"clientSecretCreatedAt,omitempty"`
	SecretExpiresAt    *time.Time `json:"clientSecretExpiresAt,omitempty"`
	SecretVerifiedAt   *time.Time `json:"clientSecretVerifiedAt,omitempty"`
	SecretDaysLeft     int        `json:"clientSecretDaysLeft"` // -1: no expiry recorded
	PreviousSecretHint string     `json:"previousClientSecretHint,omitempty"`
	PreviousExpiresAt  *time.Time `json:"previousClientSecretExpiresAt,omitempty"`
	Warning            string     `json:"warning,omitempty"` // see ExpiryWarning
	AWSAccessKeyID     string     `json:"awsAccessKeyId,omitempty"`
	RoleARN            string     `json:"roleArn,omitempty"`
	SQSQueueURL        string     `json:"sqsQueueUrl,omitempty"`
}

// NewAppView returns a's view at now. a may come from ListApps (nothing
// decrypted): the hints then read as masks.
func NewAppView(a vault.App, now time.Time) AppView {
	j := AppView{Name: a.Name, AppID: a.AppID, ClientID: a.ClientID, Region: a.Region, Draft: a.Draft,
		Roles: a.Roles, RedirectURI: a.RedirectURI, AWSAccessKeyID: a.AWSAccessKeyID, RoleARN: a.RoleARN, SQSQueueURL: a.SQSQueueURL}
	if j.Roles == nil {
		j.Roles = []string{}
	}
	if cur, ok := a.CurrentSecret(); ok {
		j.SecretHint = hint(cur.Value)
		j.SecretVersion = cur.Version
		j.SecretCreatedAt, j.SecretExpiresAt, j.SecretVerifiedAt = timePtr(cur.CreatedAt), timePtr(cur.ExpiresAt), timePtr(cur.VerifiedAt)
		j.SecretDaysLeft = cur.DaysLeft(now)
		if j.SecretDaysLeft == math.MaxInt {
			j.SecretDaysLeft = -1
		}
		j.Warning = ExpiryWarning(a.Name, cur, now)
	} else {
		j.Warning = "no client secret stored: run `spgate app set-secret " + a.Name + "`"
	}
	if prev, ok := a.PreviousSecret(); ok {
		j.PreviousSecretHint = hint(prev.Value)
		j.PreviousExpiresAt = timePtr(prev.ExpiresAt)
	}
	return j
}

// DaysLeftText is the secret's days left for a table: a number, or
// "expired".
func (a AppView) DaysLeftText() string {
	if a.SecretDaysLeft < 0 {
		return "expired"
	}
	return fmt.Sprint(a.SecretDaysLeft)
}

// Fields lists the app as name and value pairs for a text display, in the
// order spgate shows them; optional fields without a value are left out.
func (a AppView) Fields() [][2]string {
	f := fields{}
	f.add("name", a.Name)
	f.add("app id", a.AppID)
	f.add("client id", a.ClientID)
	f.add("region", dash(a.Region))
	f.add("draft", fmt.Sprint(a.Draft))
	f.add("roles", dash(strings.Join(a.Roles, ", ")))
	f.add("redirect uri", a.RedirectURI)
	f.add("client secret", fmt.Sprintf("%s (v%d)", dash(a.SecretHint), a.SecretVersion))
	if a.SecretExpiresAt != nil {
		f.add("  expires", fmt.Sprintf("%s (%s days left)", a.SecretExpiresAt.Format(time.DateOnly), a.DaysLeftText()))
	}
	verified := "never"
	if a.SecretVerifiedAt != nil {
		verified = a.SecretVerifiedAt.Format(time.RFC3339)
	}
	f.add("  verified", verified)
	if a.PreviousSecretHint != "" {
		exp := ""
		if a.PreviousExpiresAt != nil {
			exp = " until " + a.PreviousExpiresAt.Format(time.DateOnly)
		}
		f.add("previous secret", a.PreviousSecretHint+exp)
	}
	f.add("aws access key", a.AWSAccessKeyID)
	f.add("role arn", a.RoleARN)
	f.add("sqs queue", a.SQSQueueURL)
	return f
}

// fields collects name and value pairs, leaving out empty values.
type fields [][2]string

func (f *fields) add(name, value string) {
	if value != "" {
		*f = append(*f, [2]string{name, value})
	}
}

// dash is s, or "-" for an empty s.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ExpiryWarning says how urgent the 180-day rotation of app's client
// secret s is at now: warnings start 30 days ahead and sharpen at 14, 7
// and 1 day(s); "" when none is due.
func ExpiryWarning(app string, s vault.Secret, now time.Time) string {
	if s.ExpiresAt.IsZero() {
		return ""
	}
	d := s.DaysLeft(now)
	switch {
	case s.Expired(now):
		return fmt.Sprintf("client secret EXPIRED on %s: LWA refuses it; get a new one and run `spgate app set-secret %s`", s.ExpiresAt.Format(time.DateOnly), app)
	case d < 1:
		return "client secret expires within a day: rotate it now (`spgate rotate --app " + app + "` or `spgate app set-secret " + app + "`)"
	case d <= 1:
		return "client secret expires in 1 day: rotate it now"
	case d <= 7:
		return fmt.Sprintf("client secret expires in %d days: rotate it this week", d)
	case d <= 14:
		return fmt.Sprintf("client secret expires in %d days: plan the rotation", d)
	case d <= 30:
		return fmt.Sprintf("client secret expires in %d days (Amazon's 180-day limit)", d)
	}
	return ""
}

// SellerView is a seller as spgate shows it: no refresh token values, only
// hints.
type SellerView struct {
	ID             string              `json:"id"`
	Name           string              `json:"name,omitempty"`
	Region         string              `json:"region"`
	Marketplaces   []string            `json:"marketplaces"`
	Authorizations []AuthorizationView `json:"authorizations"`
}

// AuthorizationView is a seller's grant to one app as spgate shows it.
type AuthorizationView struct {
	App              string     `json:"app"`
	AppID            string     `json:"appId,omitempty"`
	AuthorizedAt     *time.Time `json:"authorizedAt,omitempty"`
	VerifiedAt       *time.Time `json:"verifiedAt,omitempty"`
	RefreshTokenHint string     `json:"refreshTokenHint,omitempty"`
}

// NewSellerView returns s's view.
func NewSellerView(s vault.Seller) SellerView {
	j := SellerView{ID: s.ID, Name: s.Name, Region: s.Region, Marketplaces: s.Marketplaces, Authorizations: []AuthorizationView{}}
	for _, a := range s.Authorizations {
		j.Authorizations = append(j.Authorizations, AuthorizationView{App: a.AppName, AppID: a.AppID, AuthorizedAt: timePtr(a.AuthorizedAt),
			VerifiedAt: timePtr(a.RefreshToken.VerifiedAt), RefreshTokenHint: hint(a.RefreshToken.Value)})
	}
	return j
}

// Fields lists the seller as name and value pairs for a text display: its
// id, name, region and marketplaces, then one line per app it authorized.
func (s SellerView) Fields() [][2]string {
	f := [][2]string{{"seller id", s.ID}, {"name", dash(s.Name)}, {"region", s.Region}, {"marketplaces", strings.Join(s.Marketplaces, ",")}}
	for _, a := range s.Authorizations {
		at := "-"
		if a.AuthorizedAt != nil {
			at = a.AuthorizedAt.Format(time.DateOnly)
		}
		f = append(f, [2]string{"app " + a.App, fmt.Sprintf("refresh token %s, authorized %s", dash(a.RefreshTokenHint), at)})
	}
	return f
}

// ClientView is a gateway client as spgate lists it: its scopes and
// state, never its key.
type ClientView struct {
	Name       string     `json:"name"`
	Sellers    []string   `json:"sellers"`
	Operations []string   `json:"operations"`
	PII        bool       `json:"pii"`
	CreatedAt  time.Time  `json:"createdAt"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
}

// NewClientView returns c's view.
func NewClientView(c vault.Client) ClientView {
	return ClientView{Name: c.Name, Sellers: c.Sellers, Operations: c.Operations, PII: c.PII, CreatedAt: c.CreatedAt, RevokedAt: timePtr(c.RevokedAt)}
}

// hint is s's hint, "" when s is empty.
func hint(s secret.String) string {
	if s.IsZero() {
		return ""
	}
	return s.Hint()
}

// timePtr is t, nil when zero, so that JSON leaves unknown times out.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
