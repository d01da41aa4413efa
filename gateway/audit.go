package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/spgate/spgate/vault"
)

// AuditEntry is one line of the audit log: a call that could return
// personal data, or a refused call. It never holds personal data, a query
// string, a client key or a token.
type AuditEntry struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"requestId"`
	Client    string    `json:"client,omitempty"` // empty when the key was unknown
	Seller    string    `json:"seller,omitempty"`
	Operation string    `json:"operation"`
	Method    string    `json:"method"`
	// Path is the request path without its query string.
	Path         string   `json:"path"`
	Status       int      `json:"status"`
	PII          bool     `json:"pii"`
	DataElements []string `json:"dataElements,omitempty"`
	// Decision is "allowed" or "denied"; Reason is the error code of a denial.
	Decision        string `json:"decision"`
	Reason          string `json:"reason,omitempty"`
	AmazonRequestID string `json:"amznRequestId,omitempty"`
}

// AuditLog appends JSON lines to a file and rotates it by size: path →
// path.1 → … → path.<Keep>, the oldest dropped. Files are created 0600.
type AuditLog struct {
	path    string
	maxSize int64
	keep    int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenAuditLog opens (appending) or creates the audit log at path, rotated
// once it exceeds maxSize bytes (default 10 MiB), keeping keep old files
// (default 5).
func OpenAuditLog(path string, maxSize int64, keep int) (*AuditLog, error) {
	if maxSize <= 0 {
		maxSize = 10 << 20
	}
	if keep <= 0 {
		keep = 5
	}
	a := &AuditLog{path: path, maxSize: maxSize, keep: keep}
	if err := a.open(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *AuditLog) open() error {
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open the audit log: %w (choose a writable path with --audit-log)", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open the audit log: %w", err)
	}
	a.f, a.size = f, st.Size()
	return nil
}

// Write appends e as one line.
func (a *AuditLog) Write(e AuditEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit log: encoding: %w", err)
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return errors.New("audit log is closed")
	}
	if a.size > 0 && a.size+int64(len(b)) > a.maxSize {
		if err := a.rotate(); err != nil {
			return err
		}
	}
	n, err := a.f.Write(b)
	a.size += int64(n)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

func (a *AuditLog) rotate() error {
	if err := a.f.Close(); err != nil {
		return fmt.Errorf("audit log: closing for rotation: %w", err)
	}
	a.f = nil
	_ = os.Remove(fmt.Sprintf("%s.%d", a.path, a.keep))
	for i := a.keep - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", a.path, i), fmt.Sprintf("%s.%d", a.path, i+1))
	}
	if err := os.Rename(a.path, a.path+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("audit log: rotating: %w", err)
	}
	return a.open()
}

// Close flushes and closes the file.
func (a *AuditLog) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}

// accessQueue hands PII access events to the vault in the background, so a
// request never waits for a vault write. When the vault falls behind,
// events are dropped (the JSONL audit log still has them) and counted.
type accessQueue struct {
	rec  AccessRecorder
	log  *slog.Logger
	m    *Metrics
	ch   chan AuditEntry
	done chan struct{}

	mu     sync.RWMutex
	closed bool
}

func newAccessQueue(rec AccessRecorder, log *slog.Logger, m *Metrics) *accessQueue {
	q := &accessQueue{rec: rec, log: log, m: m, ch: make(chan AuditEntry, 4096), done: make(chan struct{})}
	go q.run()
	return q
}

func (q *accessQueue) push(e AuditEntry) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return
	}
	select {
	case q.ch <- e:
	default:
		if q.m != nil {
			q.m.accessDropped.Inc()
		}
	}
}

func (q *accessQueue) run() {
	defer close(q.done)
	for e := range q.ch {
		err := q.rec.RecordAccess(context.Background(), vault.AccessEvent{
			Time: e.Time, Client: e.Client, Seller: e.Seller, Operation: e.Operation,
			PII: e.PII, Status: e.Status, RequestID: e.RequestID,
		})
		if err != nil {
			q.log.Warn("recording a PII access in the vault failed (the audit log has it)", "request_id", e.RequestID, "error", err.Error())
		}
	}
}

func (q *accessQueue) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	<-q.done
}
