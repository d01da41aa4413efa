package vault

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/spgate/spgate/secret"
)

// BenchmarkOpenReadSecret is what a CLI command pays: open the vault, check
// the key, decrypt one client secret, close.
func BenchmarkOpenReadSecret(b *testing.B) {
	ctx := context.Background()
	f := newVault(b)
	f.seed(b)
	f.v.Close()
	opts := testOpts(f.clk)
	opts.Create = false
	b.ResetTimer()
	for b.Loop() {
		v, err := Open(ctx, f.path, f.key, opts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.LWACredentials(ctx, "main"); err != nil {
			b.Fatal(err)
		}
		v.Close()
	}
}

// BenchmarkReadSecret is the gateway's hot path on an open vault.
func BenchmarkReadSecret(b *testing.B) {
	ctx := context.Background()
	f := newVault(b)
	f.seed(b)
	for b.Loop() {
		if _, err := f.v.RefreshToken(ctx, seller1, "main"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteSecret replaces a refresh token: one write transaction with
// encryption and an audit row.
func BenchmarkWriteSecret(b *testing.B) {
	ctx := context.Background()
	f := newVault(b)
	f.seed(b)
	tok := secret.New(token2)
	for b.Loop() {
		if err := f.v.SetRefreshToken(ctx, seller1, "main", tok, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenPassphrase shows the cost of PBKDF2 at the production
// iteration count.
func BenchmarkOpenPassphrase(b *testing.B) {
	ctx := context.Background()
	k, _ := ParseKey("a long and winding passphrase", EnvMasterKey)
	path := filepath.Join(b.TempDir(), "v.db")
	v, err := Open(ctx, path, k, Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	v.Close()
	for b.Loop() {
		v, err := Open(ctx, path, k, Options{})
		if err != nil {
			b.Fatal(err)
		}
		v.Close()
	}
}
