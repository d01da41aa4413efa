package vault

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables the vault reads.
const (
	// EnvMasterKey holds the master key: 32 bytes as 64 hex digits or
	// base64 (standard or URL alphabet, padded or not), or a passphrase of at
	// least MinPassphraseLen characters, which is stretched with
	// PBKDF2-HMAC-SHA256 and a per-vault salt.
	EnvMasterKey = "SPGATE_MASTER_KEY"
	// EnvVault overrides the vault file path.
	EnvVault = "SPGATE_VAULT"
)

// KeySize is the length of a raw master key in bytes.
const KeySize = 32

// MinPassphraseLen is the shortest passphrase accepted in SPGATE_MASTER_KEY.
const MinPassphraseLen = 16

// Paths are the default file locations.
type Paths struct {
	// Vault is the SQLite vault file: $SPGATE_VAULT, else
	// $XDG_DATA_HOME/spgate/vault.db (XDG_DATA_HOME defaults to ~/.local/share).
	Vault string
	// KeyFile is the master key file: $XDG_CONFIG_HOME/spgate/master.key
	// (XDG_CONFIG_HOME defaults to ~/.config). The key lives apart from the
	// data so that a copy of the data directory is not a copy of the key.
	KeyFile string
}

// DefaultPaths returns the vault and key file paths from the environment.
func DefaultPaths() (Paths, error) {
	return defaultPaths(os.Getenv)
}

func defaultPaths(getenv func(string) string) (Paths, error) {
	home := getenv("HOME")
	base := func(env, fallback string) (string, error) {
		if d := getenv(env); d != "" && filepath.IsAbs(d) {
			return d, nil
		}
		if home == "" {
			return "", fmt.Errorf("cannot find a place for spgate's files: neither $%s nor $HOME is set; set %s and %s", env, EnvVault, EnvMasterKey)
		}
		return filepath.Join(home, fallback), nil
	}
	cfg, err := base("XDG_CONFIG_HOME", ".config")
	if err != nil {
		return Paths{}, err
	}
	p := Paths{KeyFile: filepath.Join(cfg, "spgate", "master.key")}
	if v := getenv(EnvVault); v != "" {
		p.Vault = v
		return p, nil
	}
	data, err := base("XDG_DATA_HOME", filepath.Join(".local", "share"))
	if err != nil {
		return Paths{}, err
	}
	p.Vault = filepath.Join(data, "spgate", "vault.db")
	return p, nil
}

// Key is a master key: either 32 raw bytes used directly as the
// key-encryption key, or a passphrase from which the key-encryption key is
// derived with the vault's salt. The zero Key is invalid. Key never prints
// its material.
type Key struct {
	raw        []byte
	passphrase []byte
	source     string
}

// Source says where the key came from ("SPGATE_MASTER_KEY", a file path,
// "generated"), for messages.
func (k Key) Source() string { return k.source }

// IsPassphrase reports whether the key is a passphrase (stretched with PBKDF2).
func (k Key) IsPassphrase() bool { return k.passphrase != nil }

// IsZero reports whether k holds no key.
func (k Key) IsZero() bool { return k.raw == nil && k.passphrase == nil }

// String never shows the key material.
func (k Key) String() string {
	switch {
	case k.IsZero():
		return "vault.Key(none)"
	case k.IsPassphrase():
		return "vault.Key(passphrase from " + k.source + ")"
	default:
		return "vault.Key(32 bytes from " + k.source + ")"
	}
}

// GoString never shows the key material.
func (k Key) GoString() string { return k.String() }

// Encode returns the raw key as standard base64 (the key file format), for
// `spgate key export`-style commands. It fails for passphrase keys.
func (k Key) Encode() (string, error) {
	if k.raw == nil {
		return "", errors.New("only a raw 32-byte key can be encoded; this key is a passphrase")
	}
	return base64.StdEncoding.EncodeToString(k.raw), nil
}

// NewRandomKey returns a fresh random 32-byte key.
func NewRandomKey() (Key, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return Key{}, fmt.Errorf("generate vault key: %w", err)
	}
	return Key{raw: b, source: "generated"}, nil
}

// ParseKey interprets s as SPGATE_MASTER_KEY does: 64 hex digits or base64 of
// 32 bytes is a raw key; anything else of at least MinPassphraseLen
// characters is a passphrase. source names the origin in messages. The value
// is never echoed in errors.
func ParseKey(s, source string) (Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Key{}, newErr(ErrNoKey, "%s is empty", source)
	}
	if b, ok := decodeRawKey(s); ok {
		return Key{raw: b, source: source}, nil
	}
	if len([]rune(s)) < MinPassphraseLen {
		return Key{}, invalid("%s is neither a 32-byte key (64 hex digits, or 44 base64 characters) nor a passphrase of at least %d characters; generate a key with: openssl rand -base64 32", source, MinPassphraseLen)
	}
	return Key{passphrase: []byte(s), source: source}, nil
}

func decodeRawKey(s string) ([]byte, bool) {
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, true
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, true
		}
	}
	return nil, false
}

// KeyFromEnv returns the key in SPGATE_MASTER_KEY; ok is false when the
// variable is unset or empty.
func KeyFromEnv() (k Key, ok bool, err error) {
	v := os.Getenv(EnvMasterKey)
	if strings.TrimSpace(v) == "" {
		return Key{}, false, nil
	}
	k, err = ParseKey(v, EnvMasterKey)
	return k, err == nil, err
}

// ReadKeyFile reads a key file written by CreateKeyFile (base64 or hex of 32
// bytes). It refuses a file that group or others can read or write, with the
// chmod that fixes it.
func ReadKeyFile(path string) (Key, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Key{}, wrapErr(ErrNoKey, err, "no vault key: %s is not set and there is no key file at %s", EnvMasterKey, path)
	}
	if err != nil {
		return Key{}, fmt.Errorf("read vault key file: %w", err)
	}
	if fi.IsDir() {
		return Key{}, invalid("vault key file %s is a directory; remove it or set %s", path, EnvMasterKey)
	}
	if err := checkMode(fi, path, 0o077, ErrKeyFilePermissions, "vault key file", "chmod 600 "+path); err != nil {
		return Key{}, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("read vault key file: %w", err)
	}
	raw, ok := decodeRawKey(strings.TrimSpace(string(b)))
	if !ok {
		return Key{}, invalid("vault key file %s does not hold a 32-byte key in base64 or hex; restore it from your backup (or remove it only if the vault is empty)", path)
	}
	return Key{raw: raw, source: path}, nil
}

// checkMode refuses a file whose permission bits include any of deny, with
// an error of kind that names the file (what, path), its mode and fix, the
// command that repairs it.
func checkMode(fi fs.FileInfo, path string, deny fs.FileMode, kind error, what, fix string) error {
	perm := fi.Mode().Perm()
	if perm&deny == 0 {
		return nil
	}
	who := "group or others can access it"
	if deny&0o044 == 0 {
		who = "group or others can write to it"
	}
	return newErr(kind, "%s %s has mode %04o: %s; fix with: %s", what, path, perm, who, fix)
}

// checkVaultModes refuses a vault whose directory, file or journal files
// (-wal, -shm, -journal) group or others can write: whoever can write them
// can change what the vault grants, or put a journal in place that SQLite
// would replay. Files that do not exist yet are skipped; SQLite creates
// the journal files with the vault file's mode.
func checkVaultModes(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case err == nil:
		if err := checkMode(fi, dir, 0o022, ErrVaultPermissions, "vault directory", "chmod go-w "+dir); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("check the vault directory %s: %w", dir, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check the vault file %s: %w", p, err)
		}
		if fi.IsDir() {
			continue // checkFile names a directory in the vault's place
		}
		if err := checkMode(fi, p, 0o022, ErrVaultPermissions, "vault file", "chmod go-w "+p); err != nil {
			return err
		}
	}
	return nil
}

// CreateKeyFile writes a new random key to path (mode 0600, parent
// directories 0700). It fails with ErrExists if the file already exists, so
// an existing key is never overwritten.
func CreateKeyFile(path string) (Key, error) {
	k, err := NewRandomKey()
	if err != nil {
		return Key{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Key{}, fmt.Errorf("create directory for the vault key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return Key{}, newErr(ErrExists, "vault key file %s already exists; it was not overwritten", path)
	}
	if err != nil {
		return Key{}, fmt.Errorf("create vault key file: %w", err)
	}
	enc, _ := k.Encode()
	_, werr := f.WriteString(enc + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path)
		return Key{}, fmt.Errorf("write vault key file %s: %w", path, err)
	}
	k.source = path
	return k, nil
}

// LoadKey finds the master key: SPGATE_MASTER_KEY if set, else the key file
// at p.KeyFile. With create, a missing key file is created with a new random
// key (use it when creating a vault, never when opening an existing one: a new
// key cannot open an old vault).
func LoadKey(p Paths, create bool) (Key, error) {
	if k, ok, err := KeyFromEnv(); err != nil || ok {
		return k, err
	}
	k, err := ReadKeyFile(p.KeyFile)
	if errors.Is(err, ErrNoKey) && create {
		return CreateKeyFile(p.KeyFile)
	}
	return k, err
}
