//go:build unix

package gateway_test

import (
	"net"
	"syscall"
	"testing"
)

// pending reports whether c has bytes waiting to be read, without
// waiting for any (a read deadline in the past fails before it looks).
func pending(t *testing.T, c net.Conn) bool {
	t.Helper()
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("%T has no file descriptor", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var b [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		n, _, _ = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
