package cli

import (
	"context"
	"errors"
	"os"
	"os/user"
	"strconv"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/vault"
)

// cliClient names the operating-system user running this command, for the
// Client field of access events: "cli:<user>". Gateway key names cannot
// hold a ':', so an auditor tells CLI reads from gateway calls at a glance.
// The name comes from the process's user id, not from $USER.
func cliClient() string {
	if u, err := user.Current(); err == nil {
		if u.Username != "" {
			return "cli:" + u.Username
		}
		return "cli:uid " + u.Uid
	}
	if uid := os.Getuid(); uid >= 0 {
		return "cli:uid " + strconv.Itoa(uid)
	}
	return "cli:unknown"
}

// recordRelease writes e, with Client set to the CLI user, to the vault's
// access log before a command writes personal data or a secret anywhere
// (appvault.RecordRelease). When the record cannot be written the command
// must write nothing; the error says so.
func recordRelease(ctx context.Context, v *vault.Vault, e vault.AccessEvent, what string) error {
	e.Client = cliClient()
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
