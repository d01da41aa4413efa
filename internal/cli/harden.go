package cli

import (
	"github.com/spf13/cobra"

	"github.com/spgate/spgate/internal/procsec"
)

// noDump marks a long-running command that holds the vault key non-dumpable
// (procsec.NoDump) before it opens the vault. A failure (a seccomp filter
// that forbids prctl) is logged, not fatal: the command still works, only
// without that protection.
func noDump(cmd *cobra.Command) {
	if err := procsec.NoDump(); err != nil {
		logger(cmd).Warn("could not mark the process non-dumpable: a core dump or a debugger running as the same user could read the vault key from memory", "error", err.Error())
	}
}
