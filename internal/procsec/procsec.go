// Package procsec hardens an spgate process that holds the vault key or
// Amazon credentials: it keeps the process's memory out of core dumps and
// away from other processes of the same user (NoDump), and gives child
// processes, such as the browser `spgate seller authorize` opens, only the
// environment they need (Environ).
package procsec

import "errors"

// ErrUnsupported is returned by Dumpable where the OS has no such flag.
var ErrUnsupported = errors.ErrUnsupported

// NoDump marks the process non-dumpable: on Linux, prctl(PR_SET_DUMPABLE, 0)
// means no core dump is written, /proc/<pid>/mem, environ and maps are
// owned by root, and processes of the same user cannot ptrace it, so the
// vault key and decrypted secrets in memory cannot be read through them.
// The flag is not inherited across exec. Elsewhere NoDump does nothing and
// returns nil.
func NoDump() error { return noDump() }

// Dumpable reports the process's dumpable flag (Linux); elsewhere it
// returns ErrUnsupported.
func Dumpable() (bool, error) { return dumpable() }
