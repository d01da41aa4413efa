package vault

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the vault returns for one of these conditions
// matches the sentinel with errors.Is, and its message says what happened and
// how to fix it. None of them ever carries a secret value.
var (
	// ErrWrongKey: the master key does not match the vault's key check value.
	ErrWrongKey = errors.New("wrong vault key")
	// ErrTampered: a record or the wrapped data key failed AES-GCM
	// authentication.
	ErrTampered = errors.New("vault record failed authentication")
	// ErrCorrupt: the file is not an SQLite database, is truncated, or is an
	// SQLite database that is not an spgate vault (for PostgreSQL: the
	// schema holds other tables).
	ErrCorrupt = errors.New("vault file is corrupt")
	// ErrLocked: another process held the write lock past the busy timeout.
	ErrLocked = errors.New("vault is locked")
	// ErrNotFound: the app, seller, client, checkpoint or state key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: an app, seller or client with that name or id already exists.
	ErrExists = errors.New("already exists")
	// ErrNoVault: there is no vault file at the path and Options.Create is false.
	ErrNoVault = errors.New("no vault")
	// ErrNoKey: neither SPGATE_MASTER_KEY nor a key file is available.
	ErrNoKey = errors.New("no vault key")
	// ErrKeyFilePermissions: the key file is readable or writable by group or others.
	ErrKeyFilePermissions = errors.New("key file permissions too open")
	// ErrTooNew: the vault was written by a newer spgate (higher schema version).
	ErrTooNew = errors.New("vault schema too new")
	// ErrInvalid: a value failed validation (bad id format, unknown marketplace…).
	ErrInvalid = errors.New("invalid value")
	// ErrRevoked: a gateway client key was revoked.
	ErrRevoked = errors.New("client revoked")
	// ErrIntegrity: a record that grants access (a gateway client, or a
	// secret's status, version or dates) fails its integrity check: it was
	// written without the vault key. The error is an *IntegrityError naming
	// the record; it also matches ErrTampered.
	ErrIntegrity = errors.New("vault record fails the integrity check")
	// ErrVaultPermissions: the vault file, its directory or one of its
	// journal files is writable by group or others.
	ErrVaultPermissions = errors.New("vault file permissions too open")
	// ErrUnavailable: the vault's PostgreSQL server cannot be reached or
	// does not accept connections now.
	ErrUnavailable = errors.New("vault database unavailable")
)

// Error is the concrete error type behind the sentinels: Error() is the full
// human message, errors.Is matches the sentinel, and errors.Unwrap reaches the
// underlying cause (an SQLite or I/O error) when there is one.
type Error struct {
	Kind  error  // one of the Err* sentinels
	Msg   string // the message, with the fix
	Cause error  // optional underlying error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Msg + ": " + e.Cause.Error()
	}
	return e.Msg
}

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

func newErr(kind error, format string, a ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, a...)}
}

func wrapErr(kind error, cause error, format string, a ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, a...), Cause: cause}
}

func invalid(format string, a ...any) error { return newErr(ErrInvalid, format, a...) }

// IntegrityError reports a record that grants access whose integrity check
// failed, typically because vault.db was edited without spgate (and without
// the vault key). It matches ErrIntegrity and ErrTampered with errors.Is.
// The record grants nothing until it is replaced.
type IntegrityError struct {
	// Table is the vault table holding the record: "clients" or "secrets".
	Table string
	// Key identifies the row in Table: the client name, or the secret's
	// ref and version ("app|<app id>|client_secret|v2").
	Key string
	// Record names the record for people, e.g. `client "erp"` or
	// `client secret v2 of app "main"`.
	Record string
	// Fix says how to replace the record.
	Fix string
}

// Error implements the error interface.
func (e *IntegrityError) Error() string {
	return e.Record + ": its record fails the integrity check (was vault.db edited without spgate?); " + e.Fix
}

// Unwrap returns ErrIntegrity and ErrTampered.
func (e *IntegrityError) Unwrap() []error { return []error{ErrIntegrity, ErrTampered} }
