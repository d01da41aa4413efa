package vault

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenAt: the first open with Create makes the vault and its key file;
// later opens use that key; a missing vault, a missing key and a wrong key
// are explained with their fix.
func TestOpenAt(t *testing.T) {
	ctx := context.Background()
	t.Setenv(EnvMasterKey, "")
	dir := t.TempDir()
	p := Paths{Vault: filepath.Join(dir, "data", "vault.db"), KeyFile: filepath.Join(dir, "cfg", "master.key")}
	opts := Options{kdfIter: testKDFIters}

	_, _, err := OpenAt(ctx, p, opts)
	if !errors.Is(err, ErrNoVault) || !strings.Contains(err.Error(), "run `spgate app add` to create one") {
		t.Fatalf("missing vault: %v", err)
	}
	opts.Create = true
	v, info, err := OpenAt(ctx, p, opts)
	if err != nil || !info.Created || !info.KeyCreated || info.KeySource != p.KeyFile {
		t.Fatalf("first open: %+v %v", info, err)
	}
	v.Close()
	v, info, err = OpenAt(ctx, p, opts)
	if err != nil || info.Created || info.KeyCreated {
		t.Fatalf("second open: %+v %v", info, err)
	}
	v.Close()

	if err := os.Rename(p.KeyFile, p.KeyFile+".bak"); err != nil {
		t.Fatal(err)
	}
	_, _, err = OpenAt(ctx, p, opts)
	if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "restore the key file "+p.KeyFile) {
		t.Errorf("no key for an existing vault: %v", err)
	}
	if _, err := os.Stat(p.KeyFile); err == nil {
		t.Error("an existing vault was given a new key")
	}
	t.Setenv(EnvMasterKey, strings.Repeat("ab", 32))
	_, info, err = OpenAt(ctx, p, opts)
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "use the original key") || info.KeySource != EnvMasterKey {
		t.Errorf("wrong key: %+v %v", info, err)
	}
}

func TestExplainRedactsTheDSN(t *testing.T) {
	p := Paths{Vault: "postgres://spgate:s3cret@db:5432/spgate", KeyFile: "/k"}
	for _, err := range []error{newErr(ErrLocked, "locked"), errors.New("something else")} {
		if got := Explain(p, err).Error(); strings.Contains(got, "s3cret") || !errors.Is(Explain(p, err), err) {
			t.Errorf("Explain(%v) = %q", err, got)
		}
	}
}
