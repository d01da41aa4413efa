// Package rawconn wraps a TCP connection so that its reads and writes are
// system calls the Go runtime does not account for as such.
//
// The gateway's calls each read and write two sockets and wait on the
// network in between. A Go program whose processors are all idle parks its
// sysmon thread, and the next system call made through package syscall
// wakes it again (a futex wake on the calling goroutine's path, and a
// thread that then polls every 20 µs). On a small machine that was a fifth
// of spgate serve's CPU and about 30 µs of what it added to each call.
// Reads and writes on a non-blocking socket never block, so nothing is
// lost by making them raw: the runtime's poller still waits for
// readiness, deadlines and Close work as for any net.Conn, and each system
// call is bounded to maxIO bytes so a processor is never held for long.
//
// Only Linux is wrapped; elsewhere, and for anything but a *net.TCPConn,
// Wrap returns the connection unchanged.
package rawconn

// maxIO bounds the bytes one read or write system call moves, so the
// processor it runs on (which the runtime cannot hand to another thread
// meanwhile) is held for microseconds, not for a large copy.
const maxIO = 64 << 10
