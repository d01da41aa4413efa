package benchmark

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// rawRequest is a GET of path on host with the given header pairs, as
// bytes ready to write on a keep-alive connection.
func rawRequest(host, path string, header ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: spgate-bench\r\n", path, host)
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", header[i], header[i+1])
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// loadConn is one keep-alive HTTP/1.1 connection of the load generator:
// it writes prepared requests and reads just enough of each response
// (status, length, body) to know it is complete, so the generator costs
// little next to the servers it measures, as wrk does.
type loadConn struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
}

func (l *loadConn) close() {
	if l.c != nil {
		l.c.Close()
		l.c = nil
	}
}

// do sends req and reads its response; any status but 200 is an error.
// A broken connection is closed and redialled on the next call.
func (l *loadConn) do(req []byte) error {
	if l.c == nil {
		c, err := net.DialTimeout("tcp", l.addr, 5*time.Second)
		if err != nil {
			return err
		}
		l.c = c
		if l.br == nil {
			l.br = bufio.NewReaderSize(c, 16<<10)
		} else {
			l.br.Reset(c)
		}
	}
	_ = l.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := l.c.Write(req); err != nil {
		l.close()
		return err
	}
	status, err := readResponse(l.br)
	if err != nil {
		l.close()
		return err
	}
	if status != 200 {
		return fmt.Errorf("%s answered %d", l.addr, status)
	}
	return nil
}

// readResponse reads one HTTP/1.1 response from br, its body included
// (Content-Length or chunked), and returns its status.
func readResponse(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("not an HTTP/1.x status line: %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("status line %q: %w", line, err)
	}
	length, chunked := int64(-1), false
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil {
				return 0, fmt.Errorf("content-length %q", value)
			}
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		}
	}
	switch {
	case chunked:
		for {
			l, err := br.ReadSlice('\n')
			if err != nil {
				return 0, err
			}
			l, _, _ = bytes.Cut(bytes.TrimSpace(l), []byte(";"))
			n, err := strconv.ParseInt(string(l), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("chunk size %q", l)
			}
			if n == 0 {
				for { // trailers, then the empty line
					t, err := br.ReadSlice('\n')
					if err != nil {
						return 0, err
					}
					if len(bytes.TrimSpace(t)) == 0 {
						return status, nil
					}
				}
			}
			if _, err := br.Discard(int(n) + 2); err != nil {
				return 0, err
			}
		}
	case length > 0:
		if _, err := br.Discard(int(length)); err != nil {
			return 0, err
		}
	case length < 0 && status != 204 && status != 304:
		return 0, errors.New("response without a length on a keep-alive connection")
	}
	return status, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// sequential times n calls on one connection, the sellers in turn. A
// failed call is counted, not timed; a path that fails every call is an
// error.
func sequential(ctx context.Context, p *path, n int) ([]time.Duration, int64, error) {
	c := &loadConn{addr: p.addr}
	defer c.close()
	out := make([]time.Duration, 0, n)
	var errs int64
	var last error
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		t0 := time.Now()
		if err := c.do(p.reqs[i%len(p.reqs)]); err != nil {
			errs++
			last = err
			continue
		}
		out = append(out, time.Since(t0))
	}
	if len(out) == 0 {
		return nil, errs, fmt.Errorf("no call succeeded: %w", last)
	}
	return out, errs, nil
}

// throughput runs conns connections against p for d, each calling in a
// loop, connection i always for seller i mod sellers.
func throughput(ctx context.Context, p *path, conns int, d time.Duration) (ok, errs int64, elapsed time.Duration, err error) {
	var okN, errN atomic.Int64
	var stop atomic.Bool
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	t0 := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for i := range conns {
		req := p.reqs[i%len(p.reqs)]
		wg.Go(func() {
			c := &loadConn{addr: p.addr}
			defer c.close()
			for !stop.Load() && ctx.Err() == nil {
				if err := c.do(req); err != nil {
					errN.Add(1)
					once.Do(func() { first = err })
					continue
				}
				okN.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed = time.Since(t0)
	if err := ctx.Err(); err != nil {
		return 0, 0, 0, err
	}
	if okN.Load() == 0 {
		return 0, 0, 0, fmt.Errorf("no call succeeded under load: %w", first)
	}
	return okN.Load(), errN.Load(), elapsed, nil
}
