//go:build unix

package rotation

import (
	"errors"
	"syscall"
)

// processAlive reports whether pid is a running process on this host
// (EPERM: it exists but belongs to someone else).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
