package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// Write appends e as one line and syncs it to disk.
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
	// The line must survive a crash before the answer it vouches for is
	// released.
	if err := a.f.Sync(); err != nil {
		return fmt.Errorf("audit log: sync: %w", err)
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

// entry is c's audit line.
func (c *call) entry() AuditEntry {
	e := AuditEntry{
		Time: time.Now().UTC(), RequestID: c.id, Client: c.client, Seller: c.seller,
		Operation: c.opName(), Method: c.method, Path: clip(c.path, 300), Status: c.status,
		PII: c.piiCall, DataElements: c.pii, AmazonRequestID: c.amazonID,
	}
	if c.denied() {
		e.Decision, e.Reason = "denied", c.code
	} else {
		e.Decision = "allowed"
	}
	return e
}

// record writes a personal-data access to the audit log (synced) and to
// the vault before the answer is released; an error means it must not be.
func (g *Gateway) record(ctx context.Context, c *call) error {
	e := c.entry()
	if g.cfg.Audit != nil {
		if err := g.cfg.Audit.Write(e); err != nil {
			return err
		}
	}
	if g.cfg.Access != nil {
		err := g.cfg.Access.RecordAccess(context.WithoutCancel(ctx), vault.AccessEvent{
			Time: e.Time, Client: e.Client, Seller: e.Seller, Operation: e.Operation,
			PII: e.PII, Status: e.Status, RequestID: e.RequestID,
		})
		if err != nil {
			return fmt.Errorf("recording the access in the vault: %w", err)
		}
	}
	return nil
}
