package cli

import (
	"log/slog"

	"github.com/spgate/spgate/internal/procsec"
)

// noDump marks a long-running command that holds the vault key
// non-dumpable (procsec.NoDump) before it opens the vault: the Factory's
// NoDump. A failure (a seccomp filter that forbids prctl) is logged on
// log, not fatal: the command still works, only without that protection.
func noDump(log *slog.Logger) {
	if err := procsec.NoDump(); err != nil {
		log.Warn("could not mark the process non-dumpable: a core dump or a debugger running as the same user could read the vault key from memory", "error", err.Error())
	}
}
