package testenv

import (
	"bytes"
	"sync"
)

// Buffer collects what goroutines or a child process write (a logger's
// output, a server's stderr) and is safe to read while they still write.
type Buffer struct {
	// Max, when positive, bounds what is kept: bytes past it are dropped
	// (and reported written), so a chatty process cannot grow it without
	// bound.
	Max int

	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Max > 0 {
		s.b.Write(p[:min(len(p), max(0, s.Max-s.b.Len()))])
		return len(p), nil
	}
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
