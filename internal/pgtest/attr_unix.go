//go:build unix && !linux

package pgtest

import "syscall"

// serverAttr runs postgres as cred, in a process group of its own (only
// Linux can stop it when the test process dies first).
func serverAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true}
}
