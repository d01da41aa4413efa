package cli

import (
	"context"
	"errors"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/vault"
)

// recordRelease writes e, with Client set to the command line's user
// (appvault.CommandLineReader), to the vault's access log before a command
// writes personal data or a secret anywhere (appvault.RecordRelease). When
// the record cannot be written the command must write nothing; the error
// says so.
func recordRelease(ctx context.Context, v *vault.Vault, e vault.AccessEvent, what string) error {
	e.Client = appvault.CommandLineReader()
	return releaseErr(appvault.RecordRelease(ctx, v, e, what))
}

// releaseErr gives a failed access record the vault error's exit code: 3
// when the vault is locked or damaged, else 1.
func releaseErr(err error) error {
	if err == nil {
		return nil
	}
	code := ExitFailure
	var ee *ExitError
	if errors.As(storeErr(err), &ee) && ee.Code == ExitConfig {
		code = ExitConfig
	}
	return &ExitError{Code: code, Err: err}
}
