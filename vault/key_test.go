package vault

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	tests := []struct {
		name       string
		in         string
		wantRaw    bool
		wantPass   bool
		wantErr    error
		mustNotSay string
	}{
		{"hex", hex.EncodeToString(raw), true, false, nil, ""},
		{"hex upper", strings.ToUpper(hex.EncodeToString(raw)), true, false, nil, ""},
		{"base64 std", base64.StdEncoding.EncodeToString(raw), true, false, nil, ""},
		{"base64 url raw", base64.RawURLEncoding.EncodeToString(raw), true, false, nil, ""},
		{"base64 with newline", base64.StdEncoding.EncodeToString(raw) + "\n", true, false, nil, ""},
		{"passphrase", "correct horse battery staple", false, true, nil, ""},
		{"short passphrase", "hunter2hunter2", false, false, ErrInvalid, "hunter2"},
		{"base64 of 16 bytes is taken as a passphrase", base64.StdEncoding.EncodeToString(raw[:16]), false, true, nil, ""},
		{"empty", "  ", false, false, ErrNoKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey(tt.in, EnvMasterKey)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				if tt.mustNotSay != "" && strings.Contains(err.Error(), tt.mustNotSay) {
					t.Errorf("error echoes the key: %q", err)
				}
				return
			}
			must(t, err)
			if (k.raw != nil) != tt.wantRaw || k.IsPassphrase() != tt.wantPass {
				t.Errorf("raw=%v passphrase=%v", k.raw != nil, k.IsPassphrase())
			}
			if tt.wantRaw && string(k.raw) != string(raw) {
				t.Error("decoded key differs")
			}
			if s := k.String(); strings.Contains(s, strings.TrimSpace(tt.in)) {
				t.Errorf("String() shows the key: %q", s)
			}
		})
	}
}

func TestDefaultPaths(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		vault     string
		keyFile   string
		wantError bool
	}{
		{"home only", map[string]string{"HOME": "/h"}, "/h/.local/share/spgate/vault.db", "/h/.config/spgate/master.key", false},
		{"xdg", map[string]string{"HOME": "/h", "XDG_DATA_HOME": "/d", "XDG_CONFIG_HOME": "/c"}, "/d/spgate/vault.db", "/c/spgate/master.key", false},
		{"relative xdg ignored", map[string]string{"HOME": "/h", "XDG_DATA_HOME": "rel"}, "/h/.local/share/spgate/vault.db", "/h/.config/spgate/master.key", false},
		{"SPGATE_VAULT wins", map[string]string{"HOME": "/h", "XDG_DATA_HOME": "/d", EnvVault: "/tmp/v.db"}, "/tmp/v.db", "/h/.config/spgate/master.key", false},
		{"nothing set", map[string]string{}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := defaultPaths(func(k string) string { return tt.env[k] })
			if tt.wantError {
				if err == nil {
					t.Fatal("want error")
				}
				return
			}
			must(t, err)
			if p.Vault != tt.vault || p.KeyFile != tt.keyFile {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cfg", "spgate", "master.key")

	if _, err := ReadKeyFile(path); !errors.Is(err, ErrNoKey) {
		t.Fatalf("missing file: got %v", err)
	}
	k, err := CreateKeyFile(path)
	must(t, err)
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o", fi.Mode().Perm())
	}
	if _, err := CreateKeyFile(path); !errors.Is(err, ErrExists) {
		t.Errorf("second create: got %v, want ErrExists", err)
	}
	k2, err := ReadKeyFile(path)
	must(t, err)
	if string(k2.raw) != string(k.raw) || k2.Source() != path {
		t.Error("read key differs")
	}

	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		must(t, os.Chmod(path, mode))
		_, err := ReadKeyFile(path)
		if !errors.Is(err, ErrKeyFilePermissions) {
			t.Fatalf("mode %04o: got %v", mode, err)
		}
		if !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("no fix in %q", err)
		}
		enc, _ := k.Encode()
		if strings.Contains(err.Error(), enc) {
			t.Error("error contains the key")
		}
	}
	must(t, os.Chmod(path, 0o400))
	if _, err := ReadKeyFile(path); err != nil {
		t.Errorf("0400 should be accepted: %v", err)
	}

	bad := filepath.Join(dir, "bad.key")
	must(t, os.WriteFile(bad, []byte("not a key at all\n"), 0o600))
	if _, err := ReadKeyFile(bad); !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "not a key at all") {
		t.Errorf("bad content: %v", err)
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	p := Paths{Vault: filepath.Join(dir, "v.db"), KeyFile: filepath.Join(dir, "master.key")}
	t.Setenv(EnvMasterKey, "")
	if _, err := LoadKey(p, false); !errors.Is(err, ErrNoKey) {
		t.Fatalf("no key: %v", err)
	}
	k, err := LoadKey(p, true)
	must(t, err)
	if k.Source() != p.KeyFile {
		t.Errorf("source %q", k.Source())
	}
	again, err := LoadKey(p, true)
	must(t, err)
	if string(again.raw) != string(k.raw) {
		t.Error("second LoadKey made a new key")
	}
	env, _ := NewRandomKey()
	enc, _ := env.Encode()
	t.Setenv(EnvMasterKey, enc)
	fromEnv, err := LoadKey(p, true)
	must(t, err)
	if string(fromEnv.raw) != string(env.raw) || fromEnv.Source() != EnvMasterKey {
		t.Error("environment key should win over the key file")
	}
}

func TestPassphraseAndChangeKey(t *testing.T) {
	ctx := context.Background()
	pass, err := ParseKey("a long and winding passphrase", EnvMasterKey)
	must(t, err)
	path := emptyVaultPath(t)
	v, err := Open(ctx, path, pass, testOpts(nil))
	must(t, err)
	must(t, v.AddApp(ctx, sampleApp("main", appID1, clientID1, secret1)))
	v.Close()

	other, _ := ParseKey("a long and winding passphrasE", EnvMasterKey)
	if _, err := Open(ctx, path, other, testOpts(nil)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("other passphrase: %v", err)
	}
	v, err = Open(ctx, path, pass, testOpts(nil))
	must(t, err)
	newKey := rawKey(t)
	must(t, v.ChangeKey(ctx, newKey))
	v.Close()

	if _, err := Open(ctx, path, pass, testOpts(nil)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old key after ChangeKey: %v", err)
	}
	v, err = Open(ctx, path, newKey, testOpts(nil))
	must(t, err)
	defer v.Close()
	c, err := v.LWACredentials(ctx, "main")
	must(t, err)
	if c.ClientSecret.Reveal() != secret1 {
		t.Error("secret unreadable after ChangeKey")
	}
	ev, err := v.AuditLog(ctx, AuditFilter{Subject: "vault"})
	must(t, err)
	if len(ev) != 1 || ev[0].Action != ActionRotated {
		t.Errorf("audit %+v", ev)
	}
}
