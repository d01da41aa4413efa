package rawconn_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/spgate/spgate/internal/rawconn"
)

// tcpPair returns both ends of a loopback TCP connection, each passed
// through wrap.
func tcpPair(t testing.TB, wrap func(net.Conn) net.Conn) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	client, server = wrap(c), wrap(s)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func plain(c net.Conn) net.Conn { return c }

// TestConformsToNetConn runs x/net's conformance suite for net.Conn
// (basic I/O, ping-pong, racing reads and writes, past, present and future
// deadlines, Close unblocking I/O, concurrent methods) on wrapped ends.
func TestConformsToNetConn(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("connections are wrapped on Linux only")
	}
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		ln, err := nettest.NewLocalListener("tcp")
		if err != nil {
			return nil, nil, nil, err
		}
		done := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			done <- c
		}()
		d, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
		if err != nil {
			ln.Close()
			return nil, nil, nil, err
		}
		a := <-done
		ln.Close()
		if a == nil {
			d.Close()
			return nil, nil, nil, errors.New("accept failed")
		}
		c1, c2 = rawconn.Wrap(d), rawconn.Wrap(a)
		if c1 == d {
			t.Fatalf("Wrap(%T) returned it unwrapped", d)
		}
		return c1, c2, func() { c1.Close(); c2.Close() }, nil
	})
}

// TestWrapLeavesOtherConnsAlone: only TCP connections are wrapped.
func TestWrapLeavesOtherConnsAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := rawconn.Wrap(a); got != a {
		t.Fatalf("Wrap(net.Pipe end) = %T, want it unchanged", got)
	}
}

// TestLargeTransfers moves more than the sockets buffer and more than one
// system call's bound in a single Write, and reads it back byte for byte.
func TestLargeTransfers(t *testing.T) {
	c, s := tcpPair(t, rawconn.Wrap)
	want := make([]byte, 9<<20+123)
	_, _ = rand.Read(want)
	errc := make(chan error, 1)
	go func() {
		n, err := c.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		errc <- err
		c.(interface{ CloseWrite() error }).CloseWrite()
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("writing: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want the %d written", len(got), len(want))
	}
}

// TestErrorsMatchTCPConn: the errors a caller sees are those of a
// *net.TCPConn in the same situation, text and type.
func TestErrorsMatchTCPConn(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("connections are wrapped on Linux only")
	}
	cases := []struct {
		name string
		// provoke does something to the pair and returns the error seen.
		provoke func(c, s net.Conn) error
		check   func(t *testing.T, err error)
	}{
		{"read past the deadline", func(c, _ net.Conn) error {
			_ = c.SetReadDeadline(time.Now().Add(-time.Second))
			_, err := c.Read(make([]byte, 8))
			return err
		}, func(t *testing.T, err error) {
			var ne net.Error
			if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("err = %v, want a timeout", err)
			}
		}},
		{"write past the deadline", func(c, _ net.Conn) error {
			_ = c.SetWriteDeadline(time.Now().Add(-time.Second))
			_, err := c.Write([]byte("x"))
			return err
		}, func(t *testing.T, err error) {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("err = %v, want a timeout", err)
			}
		}},
		{"read after Close", func(c, _ net.Conn) error {
			c.Close()
			_, err := c.Read(make([]byte, 8))
			return err
		}, func(t *testing.T, err error) {
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("err = %v, want net.ErrClosed", err)
			}
		}},
		{"write after Close", func(c, _ net.Conn) error {
			c.Close()
			_, err := c.Write([]byte("x"))
			return err
		}, func(t *testing.T, err error) {
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("err = %v, want net.ErrClosed", err)
			}
		}},
		{"read at the peer's end", func(c, s net.Conn) error {
			s.Close()
			_, err := c.Read(make([]byte, 8))
			return err
		}, func(t *testing.T, err error) {
			if err != io.EOF {
				t.Errorf("err = %v, want io.EOF itself", err)
			}
		}},
		{"read after the peer reset", func(c, s net.Conn) error {
			_ = s.(interface{ SetLinger(int) error }).SetLinger(0)
			s.Close() // with linger 0: RST
			_, err := c.Read(make([]byte, 8))
			return err
		}, func(t *testing.T, err error) {
			var se *os.SyscallError
			if !errors.As(err, &se) || !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("err = %v, want a read syscall error ECONNRESET", err)
			}
		}},
		{"empty read", func(c, _ net.Conn) error {
			n, err := c.Read(nil)
			if n != 0 {
				return errors.New("read bytes into an empty buffer")
			}
			return err
		}, func(t *testing.T, err error) {
			if err != nil {
				t.Errorf("err = %v, want nil", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.provoke(tcpPair(t, plain))
			got := tc.provoke(tcpPair(t, rawconn.Wrap))
			tc.check(t, got)
			if (got == nil) != (want == nil) || got != nil && errText(got) != errText(want) {
				t.Errorf("wrapped: %v\n*net.TCPConn: %v", got, want)
			}
			if _, ok := want.(*net.OpError); ok {
				if _, ok := got.(*net.OpError); !ok {
					t.Errorf("wrapped error is %T, want *net.OpError as *net.TCPConn's", got)
				}
			}
		})
	}
}

// errText is an error's text without the addresses, which differ from
// one connection to the next.
func errText(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op + " " + oe.Net + ": " + oe.Err.Error()
	}
	return err.Error()
}
