package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Envelope layout of every encrypted value: format byte, 12-byte nonce,
// AES-256-GCM ciphertext with its 16-byte tag.
const (
	sealFormat   = 0x01
	nonceSize    = 12
	overhead     = 1 + nonceSize + 16
	kdfIterDef   = 600_000 // PBKDF2-HMAC-SHA256, OWASP 2023 guidance
	kcvLabel     = "spgate/vault/key-check/v1"
	dekAADPrefix = "spgate/vault/dek/v1|"
)

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts plaintext with a fresh random nonce, binding aad.
func seal(aead cipher.AEAD, plaintext []byte, aad string) ([]byte, error) {
	out := make([]byte, 1+nonceSize, overhead+len(plaintext))
	out[0] = sealFormat
	if _, err := rand.Read(out[1 : 1+nonceSize]); err != nil {
		return nil, fmt.Errorf("generate nonce: %w", err)
	}
	return aead.Seal(out, out[1:1+nonceSize], plaintext, []byte(aad)), nil
}

var errOpen = errors.New("authentication failed")

// open decrypts an envelope written by seal with the same aad.
func open(aead cipher.AEAD, env []byte, aad string) ([]byte, error) {
	if len(env) < overhead || env[0] != sealFormat {
		return nil, errOpen
	}
	pt, err := aead.Open(nil, env[1:1+nonceSize], env[1+nonceSize:], []byte(aad))
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}

// kek returns the key-encryption key: the raw key itself, or the passphrase
// stretched with PBKDF2-HMAC-SHA256 over the vault's salt.
func (k Key) kek(salt []byte, iter int) ([]byte, error) {
	if k.raw != nil {
		return k.raw, nil
	}
	if k.passphrase == nil {
		return nil, newErr(ErrNoKey, "no vault key given; set %s or create a key file", EnvMasterKey)
	}
	if iter <= 0 || len(salt) < 16 {
		return nil, newErr(ErrCorrupt, "vault key-derivation parameters are missing or invalid")
	}
	return pbkdf2.Key(sha256.New, string(k.passphrase), salt, iter, KeySize)
}

// keyCheck is the key check value stored in the vault: an HMAC of a fixed
// label under the KEK. It reveals nothing about the key and lets a wrong key
// be refused before anything is decrypted or written.
func keyCheck(kek []byte) []byte {
	m := hmac.New(sha256.New, kek)
	m.Write([]byte(kcvLabel))
	return m.Sum(nil)
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("read random bytes: %w", err)
	}
	return b, nil
}

func clear0(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
