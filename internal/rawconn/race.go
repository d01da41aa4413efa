//go:build race && linux

package rawconn

import (
	"runtime"
	"syscall"
	"unsafe"
)

// Under the race detector, data passing through a socket orders a write
// before the read that receives it: package syscall records that on a
// variable of its own when it reads or writes. The raw calls record it on
// the same variable through an empty read or write made with package
// syscall, so a test whose goroutines synchronize over a socket sees the
// same order with wrapped connections as without.

func writeStart(fd uintptr) { _, _ = syscall.Write(int(fd), nil) }

func writeDone(b []byte) {
	if len(b) > 0 {
		runtime.RaceReadRange(unsafe.Pointer(&b[0]), len(b))
	}
}

func readDone(fd uintptr, b []byte) {
	if len(b) > 0 {
		runtime.RaceWriteRange(unsafe.Pointer(&b[0]), len(b))
	}
	_, _ = syscall.Read(int(fd), nil)
}
