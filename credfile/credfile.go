// Package credfile reads and writes the credential files of the other
// Selling Partner API client libraries, so that credentials move between
// them and the vault without being retyped:
//
//   - python-amazon-sp-api: its environment variables or a .env file
//     ([PythonEnv]), its credentials.yml ([PythonYAML]), and the JSON secret
//     it reads from AWS Secrets Manager ([PythonJSON]);
//   - the Node amazon-sp-api library: its environment ([NodeEnv]) and
//     ~/.amzspapi/credentials ([NodeFile]).
//
// Reading: [ReadFile], [Parse] or [FromEnviron] give [Credentials];
// [Credentials.Check] says what is missing or malformed, and
// [Credentials.Snapshot] turns them into what vault.Import stores.
// Writing: [FromVault] takes an app's credentials out of the vault,
// [Encode] renders them as [Env], [YAML] or [JSON], and [Create] /
// [File.Commit] (or [WriteFile]) put them in a new file of mode 0600 whole
// or not at all.
//
// Errors name the line and the key at fault (*[Error]) and never contain a
// value read from a file: a secret in the wrong place stays out of
// terminals and logs.
package credfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spgate/spgate/secret"
)

// Credentials are what a credential file holds for one app (and, with a
// refresh token, one seller).
type Credentials struct {
	ClientID     string        // LWA client id, amzn1.application-oa2-client.…
	ClientSecret secret.String // LWA client secret, amzn1.oa2-cs.v1.…
	RefreshToken secret.String // a seller's refresh token, Atzr|…, if the file has one
	// AWSAccessKeyID and AWSSecretKey are the IAM user keys older apps
	// sign with; RoleARN the role they assume.
	AWSAccessKeyID string
	AWSSecretKey   secret.String
	RoleARN        string
}

// Source is one shape another library keeps credentials in.
type Source string

// The sources.
const (
	// PythonEnv: python-amazon-sp-api's environment variables (LWA_APP_ID,
	// LWA_CLIENT_SECRET, SP_API_REFRESH_TOKEN, …), or KEY=value lines.
	PythonEnv Source = "python-env"
	// PythonYAML: python-amazon-sp-api's credentials.yml (version: '1.0',
	// one mapping per account with lwa_app_id, lwa_client_secret, …).
	PythonYAML Source = "python-yaml"
	// PythonJSON: the AWS Secrets Manager secret python-amazon-sp-api reads
	// when $SP_API_AWS_SECRET_ID names it, a JSON object with the
	// PythonEnv keys.
	PythonJSON Source = "python-json"
	// NodeEnv: the Node amazon-sp-api environment
	// (SELLING_PARTNER_APP_CLIENT_ID, …), or KEY=value lines. The Node
	// library takes the refresh token in code, so there is none here.
	NodeEnv Source = "node-env"
	// NodeFile: the Node library's ~/.amzspapi/credentials (KEY=value
	// lines with the NodeEnv keys).
	NodeFile Source = "node-file"
)

// Sources lists every source, in the order help texts name them.
func Sources() []Source { return []Source{PythonEnv, PythonYAML, PythonJSON, NodeEnv, NodeFile} }

// ParseSource returns the source named s.
func ParseSource(s string) (Source, error) {
	for _, src := range Sources() {
		if string(src) == s {
			return src, nil
		}
	}
	return "", fmt.Errorf("%q is not a source: use %s", s, sourceList())
}

func sourceList() string {
	var names []string
	for _, s := range Sources() {
		names = append(names, string(s))
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Keys are the names a source gives the fields of Credentials; an empty
// name means the source has no such field.
type Keys struct {
	ClientID, ClientSecret, RefreshToken, AWSAccessKeyID, AWSSecretKey, RoleARN string
}

var (
	pythonEnvKeys  = Keys{"LWA_APP_ID", "LWA_CLIENT_SECRET", "SP_API_REFRESH_TOKEN", "SP_API_ACCESS_KEY", "SP_API_SECRET_KEY", "SP_API_ROLE_ARN"}
	pythonYAMLKeys = Keys{"lwa_app_id", "lwa_client_secret", "refresh_token", "aws_access_key", "aws_secret_key", "role_arn"}
	nodeKeys       = Keys{"SELLING_PARTNER_APP_CLIENT_ID", "SELLING_PARTNER_APP_CLIENT_SECRET", "", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SELLING_PARTNER_ROLE"}
)

// Keys returns the names s gives each field.
func (s Source) Keys() Keys {
	switch s {
	case PythonEnv, PythonJSON:
		return pythonEnvKeys
	case PythonYAML:
		return pythonYAMLKeys
	}
	return nodeKeys
}

// names lists the keys in Credentials' field order, with their fields.
func (k Keys) names() []string {
	return []string{k.ClientID, k.ClientSecret, k.RefreshToken, k.AWSAccessKeyID, k.AWSSecretKey, k.RoleARN}
}

// IsEnv reports whether s can be read from environment variables
// (FromEnviron).
func (s Source) IsEnv() bool { return s == PythonEnv || s == NodeEnv }

// DefaultPath returns the file the other library reads for s: for
// PythonYAML $XDG_CONFIG_HOME/python-sp-api/credentials.yml (~/.config by
// default), for NodeFile ~/.amzspapi/credentials. Other sources have no
// default file ("").
func (s Source) DefaultPath() (string, error) {
	switch s {
	case PythonYAML:
		cfg := os.Getenv("XDG_CONFIG_HOME")
		if cfg == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("the default credentials.yml: %w", err)
			}
			cfg = filepath.Join(home, ".config")
		}
		return filepath.Join(cfg, "python-sp-api", "credentials.yml"), nil
	case NodeFile:
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("the default ~/.amzspapi/credentials: %w", err)
		}
		return filepath.Join(home, ".amzspapi", "credentials"), nil
	}
	return "", nil
}

// MaxFileSize bounds what ReadFile and Parse accept: credential files are
// a few hundred bytes.
const MaxFileSize = 1 << 20

// Parse reads the credentials of source s from a file's contents. account
// picks the account of a credentials.yml ("" means "default"); the other
// sources have one set of credentials and ignore it.
func Parse(s Source, data []byte, account string) (Credentials, error) {
	if len(data) > MaxFileSize {
		return Credentials{}, &Error{Err: ErrSyntax, msg: fmt.Sprintf("is larger than %d KiB: not a credentials file", MaxFileSize>>10)}
	}
	switch s {
	case PythonEnv, NodeEnv, NodeFile:
		vars, err := parseEnv(data, s.Keys())
		if err != nil {
			return Credentials{}, err
		}
		return fromVars(s.Keys(), func(k string) string { return vars[k] }), nil
	case PythonYAML:
		if account == "" {
			account = "default"
		}
		return parseYAML(data, account)
	case PythonJSON:
		return parseJSON(data)
	}
	return Credentials{}, fmt.Errorf("credfile: unknown source %q", s)
}

// ReadFile reads and parses path as source s (see Parse). Errors start
// with the path.
func ReadFile(s Source, path, account string) (Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return Credentials{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return Credentials{}, fmt.Errorf("read %s: %w", path, err)
	}
	c, err := Parse(s, data, account)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s %w", path, err)
	}
	return c, nil
}

// FromEnviron reads an environment source (PythonEnv or NodeEnv) through
// lookup, such as os.Getenv.
func FromEnviron(s Source, lookup func(string) string) (Credentials, error) {
	if !s.IsEnv() {
		return Credentials{}, fmt.Errorf("credfile: %s is a file, not environment variables", s)
	}
	return fromVars(s.Keys(), lookup), nil
}

func fromVars(k Keys, get func(string) string) Credentials {
	val := func(key string) string {
		if key == "" {
			return ""
		}
		return strings.TrimSpace(get(key))
	}
	return Credentials{ClientID: val(k.ClientID), ClientSecret: secretOf(val(k.ClientSecret)), RefreshToken: secretOf(val(k.RefreshToken)),
		AWSAccessKeyID: val(k.AWSAccessKeyID), AWSSecretKey: secretOf(val(k.AWSSecretKey)), RoleARN: val(k.RoleARN)}
}

func secretOf(s string) secret.String {
	if s == "" {
		return secret.String{}
	}
	return secret.New(s)
}

// The kinds of *Error, for errors.Is.
var (
	// ErrSyntax: the file is not in its format.
	ErrSyntax = errors.New("credfile: malformed file")
	// ErrMissing: a value the use needs is not there.
	ErrMissing = errors.New("credfile: a value is missing")
	// ErrInvalid: a value does not have its expected shape.
	ErrInvalid = errors.New("credfile: a value is malformed")
	// ErrNoAccount: credentials.yml has no account of that name.
	ErrNoAccount = errors.New("credfile: no such account")
)

// Error is a credential file or value that cannot be used. Its message
// reads after the file's name ("creds.yml line 4: lwa_client_secret is not
// a string") and never contains a value from the file.
type Error struct {
	Line int    // 1-based line at fault; 0 when the problem is not on one line
	Key  string // the key at fault as the source spells it; "" when none
	Err  error  // ErrSyntax, ErrMissing, ErrInvalid or ErrNoAccount
	// Cause is the underlying error, e.g. the vault's validation (which
	// never quotes a secret either); nil when none.
	Cause error
	msg   string
}

// Error returns the message.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

func syntaxErr(line int, key, format string, a ...any) *Error {
	msg := fmt.Sprintf(format, a...)
	if line > 0 {
		msg = fmt.Sprintf("line %d%s", line, msg)
	}
	return &Error{Line: line, Key: key, Err: ErrSyntax, msg: msg}
}
