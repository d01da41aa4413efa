package vaultcmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/vault"
)

// TestRunVaultCopyRefusesBadTargets: a missing, non-PostgreSQL or
// self-naming --to is bad input, refused before the vault is opened.
func TestRunVaultCopyRefusesBadTargets(t *testing.T) {
	const dsn = "postgres://spgate:hunter2@db.internal:5432/spgate"
	tests := []struct {
		name, to, vault, want string
	}{
		{"no --to", "", "/tmp/vault.db", "--to is required"},
		{"a file", "/tmp/other.db", "/tmp/vault.db", "is not a PostgreSQL DSN"},
		{"the vault itself", dsn, dsn, "names the vault itself"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &cmdutil.Factory{OpenVault: func(context.Context, bool) (*vault.Vault, error) {
				t.Error("the vault was opened for a bad --to")
				return nil, errors.New("not for a bad --to")
			}}
			err := runVaultCopy(context.Background(), &vaultCopyOptions{Factory: f, Paths: vault.Paths{Vault: tc.vault}, To: tc.to})
			if _, code := problem.Of(err); code != problem.ExitUsage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (exit %d), want exit %d with %q", err, code, problem.ExitUsage, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Error("the DSN's password is in the error")
			}
		})
	}
}
