// Package cmdtest is what the tests of spgate's verbs (internal/cmd/...)
// share: a cmdutil.Factory over a vault in a temporary directory, with
// the streams in buffers and a fake clock, so that a test runs a verb's
// run function without cobra.
package cmdtest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/prompt"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

// Env is a Factory for one test: Out and Err hold what the verb printed,
// Yes answers its questions and Secrets gives its secrets (by
// prompt.Source.What); Clock starts at 2026-03-01 12:00 UTC.
type Env struct {
	*cmdutil.Factory
	Out, Err bytes.Buffer
	Clock    *clock.Fake
	Path     string // the vault's file
	Key      vault.Key
	Yes      bool
	Secrets  map[string]string
}

// New returns an Env whose vault does not exist yet: a verb that creates
// it (cmdutil.Factory.WithNewVault) or Vault does.
func New(t testing.TB) *Env {
	t.Helper()
	key, err := vault.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Clock: clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), Path: filepath.Join(t.TempDir(), "vault.db"), Key: key, Secrets: map[string]string{}}
	e.Factory = &cmdutil.Factory{IO: cmdutil.IOStreams{In: bytes.NewReader(nil), Out: &e.Out, Err: &e.Err},
		Log: slog.New(slog.DiscardHandler), Clock: e.Clock, Version: "test",
		OpenVault: func(ctx context.Context, create bool) (*vault.Vault, error) {
			return vault.Open(ctx, e.Path, e.Key, vault.Options{Create: create})
		},
		VaultPaths: func() (vault.Paths, error) { return vault.Paths{Vault: e.Path}, nil },
		ReadSecret: func(src prompt.Source) (secret.String, error) {
			if s, ok := e.Secrets[src.What]; ok {
				return secret.New(s), nil
			}
			return secret.String{}, errors.New("the test gives no " + src.What)
		},
		Confirm: func(string) (bool, error) { return e.Yes, nil },
		NoDump:  func() {},
	}
	return e
}

// Vault opens the Env's vault, creating it when missing; the caller
// closes it.
func (e *Env) Vault(t testing.TB) *vault.Vault {
	t.Helper()
	v, err := e.OpenVault(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
