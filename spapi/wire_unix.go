//go:build unix

package spapi

import (
	"errors"
	"net"
	"syscall"
)

// alive reports whether an idle connection is still open: nothing to read
// on it (EAGAIN), not end of file. A server that closed it while it was
// idle (or sent anything unasked) has it discarded before a request is
// written on it; connections without a file descriptor count as alive.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK)
		return true // done: never wait for the connection to become readable
	})
	return err == nil && open
}
