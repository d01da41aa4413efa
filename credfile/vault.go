package credfile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spgate/spgate/vault"
)

// Check reports the first value of c that is missing or malformed, naming
// it as src spells it (src's Keys). The LWA client id and secret are
// required, the refresh token when needRefreshToken (otherwise it is not
// looked at); the AWS keys come as a pair or not at all.
func (c Credentials) Check(src Source, needRefreshToken bool) error {
	k := src.Keys()
	if c.ClientID == "" {
		return missing(k.ClientID, "LWA client id")
	}
	if err := checkID(k.ClientID, c.ClientID, vault.ValidateClientID); err != nil {
		return err
	}
	if c.ClientSecret.IsZero() {
		return missing(k.ClientSecret, "LWA client secret")
	}
	if err := vault.ValidateClientSecret(c.ClientSecret.Reveal()); err != nil {
		return invalidValue(k.ClientSecret, err)
	}
	if needRefreshToken {
		if c.RefreshToken.IsZero() {
			return missing(k.RefreshToken, "refresh token")
		}
		if err := vault.ValidateRefreshToken(c.RefreshToken.Reveal()); err != nil {
			return invalidValue(k.RefreshToken, err)
		}
	}
	switch hasKey, hasSecret := c.AWSAccessKeyID != "", !c.AWSSecretKey.IsZero(); {
	case hasKey && !hasSecret:
		return &Error{Key: k.AWSSecretKey, Err: ErrMissing, msg: fmt.Sprintf("has %s but no %s: give both AWS keys or neither", k.AWSAccessKeyID, k.AWSSecretKey)}
	case hasSecret && !hasKey:
		return &Error{Key: k.AWSAccessKeyID, Err: ErrMissing, msg: fmt.Sprintf("has %s but no %s: give both AWS keys or neither", k.AWSSecretKey, k.AWSAccessKeyID)}
	case hasKey:
		if err := checkID(k.AWSAccessKeyID, c.AWSAccessKeyID, vault.ValidateAccessKeyID); err != nil {
			return err
		}
		if err := vault.ValidateAWSSecretKey(c.AWSSecretKey.Reveal()); err != nil {
			return invalidValue(k.AWSSecretKey, err)
		}
	}
	if c.RoleARN != "" {
		return checkID(k.RoleARN, c.RoleARN, vault.ValidateRoleARN)
	}
	return nil
}

func missing(key, what string) error {
	msg := "has no " + what
	if key != "" {
		msg += " (" + key + ")"
	}
	return &Error{Key: key, Err: ErrMissing, msg: msg}
}

func invalidValue(key string, err error) error {
	return &Error{Key: key, Err: ErrInvalid, Cause: err, msg: fmt.Sprintf("has an invalid %s: %v", key, err)}
}

// checkID validates an identifier (not a secret, so the vault's message
// quotes it), unless the value looks like a secret put in its place.
func checkID(key, value string, validate func(string) error) error {
	err := validate(value)
	if err == nil {
		return nil
	}
	if looksSecret(value) {
		return &Error{Key: key, Err: ErrInvalid, Cause: vault.ErrInvalid,
			msg: fmt.Sprintf("has what looks like a secret in %s, which holds an identifier: the values are swapped or misplaced", key)}
	}
	return invalidValue(key, err)
}

func looksSecret(s string) bool {
	for _, p := range []string{"amzn1.oa2-cs.", "Atzr|", "Atza|", "Atz.sprdt|"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return vault.ValidateAWSSecretKey(s) == nil
}

// Target is where imported credentials go in the vault.
type Target struct {
	App   string // the app's name in the vault
	AppID string // its application id, amzn1.sp.solution.… (no library stores it)
	// Region is the app's default region and the seller's.
	Region string
	// Seller, when set, is the selling partner id that gets the refresh
	// token; empty imports the app alone.
	Seller string
	// Marketplaces are the seller's marketplace ids, in Region.
	Marketplaces []string
}

// Snapshot checks c (Check, the refresh token required when t.Seller is
// set) and returns what vault.Import stores for t: one app, and with
// t.Seller the seller holding the refresh token for it. The vault checks
// the names and ids of t again when it imports.
func (c Credentials) Snapshot(src Source, t Target) (vault.Snapshot, error) {
	if err := c.Check(src, t.Seller != ""); err != nil {
		return vault.Snapshot{}, err
	}
	app := vault.App{Name: t.App, AppID: t.AppID, ClientID: c.ClientID, Region: t.Region, RoleARN: c.RoleARN,
		ClientSecrets: []vault.Secret{{Value: c.ClientSecret}}}
	if c.AWSAccessKeyID != "" {
		app.AWSAccessKeyID, app.AWSSecretKey = c.AWSAccessKeyID, vault.Secret{Value: c.AWSSecretKey}
	}
	snap := vault.Snapshot{Apps: []vault.App{app}}
	if t.Seller != "" {
		snap.Sellers = []vault.Seller{{ID: t.Seller, Region: t.Region, Marketplaces: t.Marketplaces,
			Authorizations: []vault.Authorization{{AppName: t.App, RefreshToken: vault.Secret{Value: c.RefreshToken}}}}}
	}
	return snap, nil
}

// Errors of FromVault.
var (
	// ErrNoSecret: the app has no current client secret to export.
	ErrNoSecret = errors.New("credfile: the app has no client secret")
	// ErrNotAuthorized: the seller has not authorized the app.
	ErrNotAuthorized = errors.New("credfile: the seller has not authorized the app")
)

// FromVault returns what an export of app writes: its LWA client id and
// current client secret and, with seller (nil for none), that seller's
// refresh token for app. The AWS keys and role stay in the vault: an
// export carries what the LWA tokens need and nothing more.
func FromVault(app vault.App, seller *vault.Seller) (Credentials, error) {
	cur, ok := app.CurrentSecret()
	if !ok {
		return Credentials{}, &kindError{ErrNoSecret, fmt.Sprintf("app %s has no client secret to export", app.Name)}
	}
	c := Credentials{ClientID: app.ClientID, ClientSecret: cur.Value}
	if seller != nil {
		auth, ok := seller.Authorization(app.Name)
		if !ok {
			return Credentials{}, &kindError{ErrNotAuthorized, fmt.Sprintf("seller %s has not authorized app %s", seller.ID, app.Name)}
		}
		c.RefreshToken = auth.RefreshToken.Value
	}
	return c, nil
}

// kindError is an error of a kind (a sentinel) with its own message.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// Format is how Encode writes credentials.
type Format string

// The formats.
const (
	// Env: KEY=value lines with both python-amazon-sp-api's and the Node
	// library's names; also a valid ~/.amzspapi/credentials. Read it back
	// as PythonEnv or NodeFile.
	Env Format = "env"
	// YAML: python-amazon-sp-api's credentials.yml with one account. Read
	// it back as PythonYAML.
	YAML Format = "yaml"
	// JSON: the AWS Secrets Manager secret python-amazon-sp-api reads
	// ($SP_API_AWS_SECRET_ID), e.g. for `aws secretsmanager create-secret
	// --secret-string file://creds.json`. Read it back as PythonJSON.
	JSON Format = "json"
)

// Formats lists every format.
func Formats() []Format { return []Format{Env, YAML, JSON} }

// ParseFormat returns the format named s.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("%q is not a format: use env, yaml or json", s)
}

// EncodeOptions adjust Encode.
type EncodeOptions struct {
	// Header is a comment for the top of the file (Env and YAML; JSON has
	// no comments). It must not hold a secret.
	Header string
	// Account names the credentials.yml account (default "default").
	Account string
}

// Encode renders c in format f. Empty fields are left out. The result
// holds secrets in the clear: write it with Create or WriteFile.
func Encode(f Format, c Credentials, o EncodeOptions) ([]byte, error) {
	switch f {
	case Env:
		return encodeEnv(c, o.Header)
	case YAML:
		return encodeYAML(c, o.Account, o.Header)
	case JSON:
		return encodeJSON(c)
	}
	return nil, fmt.Errorf("credfile: unknown format %q", f)
}
