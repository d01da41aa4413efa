package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// Opened says what OpenAt found and made.
type Opened struct {
	Created    bool   // the vault did not exist and was created
	KeyCreated bool   // a new master key was written to the key file
	KeySource  string // where the key came from (Key.Source)
}

// OpenAt opens the vault at p.Vault with the master key LoadKey finds for
// p. With o.Create a missing vault is created and, when no key exists yet
// (no $SPGATE_MASTER_KEY and no key file), a new random key is written to
// p.KeyFile (mode 0600); the caller should tell its user to back that key
// up. An existing vault is never given a new key, and a vault in
// PostgreSQL is taken to exist (Open says if it does not), so no key is
// ever made up for it: its replicas share one.
//
// Its errors say what is wrong and how to fix it (Explain) and match the
// sentinels (ErrNoVault, ErrNoKey, ErrWrongKey…).
func OpenAt(ctx context.Context, p Paths, o Options) (*Vault, Opened, error) {
	exists := true
	if _, err := os.Stat(p.Vault); errors.Is(err, os.ErrNotExist) && !IsPostgresDSN(p.Vault) {
		exists = false
	}
	if !exists && !o.Create {
		return nil, Opened{}, newErr(ErrNoVault, "no vault at %s: run `spgate app add` to create one (or point --vault / $%s at an existing vault)", p.Vault, EnvVault)
	}
	createKey := o.Create && !exists
	_, keyFileErr := os.Stat(p.KeyFile)
	key, err := LoadKey(p, createKey)
	if err != nil {
		return nil, Opened{}, Explain(p, err)
	}
	info := Opened{Created: !exists, KeySource: key.Source(),
		KeyCreated: createKey && errors.Is(keyFileErr, os.ErrNotExist) && key.Source() != EnvMasterKey}
	v, err := Open(ctx, p.Vault, key, o)
	if err != nil {
		return nil, info, Explain(p, err)
	}
	return v, info, nil
}

// Explain puts an error from Open or LoadKey for the vault and key at p
// into words a person can act on: what is wrong and how to fix it. The
// result still matches what err matches; a DSN's password never shows.
func Explain(p Paths, err error) error {
	where := RedactDSN(p.Vault)
	var msg string
	switch {
	case errors.Is(err, ErrNoVault):
		msg = fmt.Sprintf("no vault at %s: run `spgate app add` to create one", where)
	case errors.Is(err, ErrNoKey):
		msg = fmt.Sprintf("no vault key: set $%s or restore the key file %s (the key the vault at %s was created with)", EnvMasterKey, p.KeyFile, where)
	case errors.Is(err, ErrWrongKey):
		msg = fmt.Sprintf("wrong vault key for %s: the key in $%s or %s is not the one this vault was created with; use the original key", where, EnvMasterKey, p.KeyFile)
	case errors.Is(err, ErrKeyFilePermissions):
		msg = fmt.Sprintf("key file permissions too open: run `chmod 600 %s`", p.KeyFile)
	case errors.Is(err, ErrTampered):
		msg = fmt.Sprintf("vault %s failed authentication (tampered or damaged): restore it from a backup", where)
	case errors.Is(err, ErrCorrupt):
		msg = fmt.Sprintf("vault file %s is corrupt (not an spgate vault or truncated): restore it from a backup, or point --vault elsewhere", where)
	case errors.Is(err, ErrLocked):
		msg = fmt.Sprintf("vault %s is locked by another spgate process: wait for it to finish and retry", where)
	case errors.Is(err, ErrTooNew):
		msg = fmt.Sprintf("vault %s was written by a newer spgate: upgrade spgate", where)
	default:
		return fmt.Errorf("open the vault %s: %w", where, err)
	}
	return fmt.Errorf("%s\n  (%w)", msg, err)
}
