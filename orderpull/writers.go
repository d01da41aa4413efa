package orderpull

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Page is one page of a pull, as a Writer receives it.
type Page struct {
	// API is the Orders API version the orders come from (V0 or V2026).
	API string
	// Number counts the pages of the job's current run, from 1, earlier
	// processes included.
	Number int64
	// Orders are the page's orders, without those the run already wrote
	// (Amazon may repeat one after a pagination token expired). It may be
	// empty.
	Orders []Order
	// PII says the orders carry the personal data Options.PII asked for.
	PII bool
}

// A Writer takes a pull's orders a page at a time. Run saves the job's
// checkpoint after WritePage returns, so a page is delivered at least once:
// a process that stops between the two gives the page again on the next
// run. A ResumableWriter (File) makes that exactly once.
type Writer interface {
	// WritePage writes one page; an error stops the pull before the page
	// is checkpointed.
	WritePage(ctx context.Context, p *Page) error
}

// WriterFunc is a function as a Writer.
type WriterFunc func(ctx context.Context, p *Page) error

// WritePage calls f.
func (f WriterFunc) WritePage(ctx context.Context, p *Page) error { return f(ctx, p) }

// Position is where a resumable output stood at a checkpoint.
type Position struct {
	// Offset is how many bytes of the output are complete.
	Offset int64
	// RunOffset is where the job's current run began; the orders written
	// after it are not written again by the rest of the run.
	RunOffset int64
}

// A ResumableWriter is a Writer whose output the checkpoint can point into,
// so a run that stopped mid-page continues without losing or repeating an
// order.
type ResumableWriter interface {
	Writer
	// Resume is called once, before the first page, with the position
	// saved in the job's checkpoint, or nil when the job has none (its
	// first run). It drops whatever the output holds past at.Offset and
	// returns the ids of the orders between at.RunOffset and at.Offset.
	// With at nil it refuses output that already holds data
	// (ErrOutputExists): no checkpoint belongs to it.
	Resume(at *Position) (written []string, err error)
	// Offset is how many bytes of output are complete (durably written)
	// after the last WritePage.
	Offset() int64
}

// ErrOutputExists is returned by a ResumableWriter asked to start a job
// over output that no checkpoint belongs to.
var ErrOutputExists = errors.New("already holds orders and no checkpoint belongs to it: write to another file, remove it, or start the job again with Options.Restart")

// NewJSONL returns a Writer of one JSON object per line (JSON Lines) to w:
// each order as its API version spells it.
func NewJSONL(w io.Writer) Writer { return &stream{w: w} }

// NewCSV returns a Writer of CSV to w: a header, then one row per order
// (for V0 the order's main fields, address and buyer; for V2026 its id,
// times and JSON).
func NewCSV(w io.Writer) Writer { return &stream{w: w, csv: true} }

// stream writes a page at a time to an io.Writer.
type stream struct {
	w       io.Writer
	csv     bool
	started bool
}

// WritePage encodes the page and writes it to the io.Writer in one Write.
func (s *stream) WritePage(_ context.Context, p *Page) error {
	var b bytes.Buffer
	if err := encode(&b, p, s.csv, s.csv && !s.started); err != nil {
		return err
	}
	s.started = true
	if b.Len() == 0 {
		return nil
	}
	_, err := s.w.Write(b.Bytes())
	return err
}

// encode appends a page as JSON Lines or CSV, the CSV with its header
// first when header is set.
func encode(b *bytes.Buffer, p *Page, asCSV, header bool) error {
	if !asCSV {
		for _, o := range p.Orders {
			b.Write(o.JSON)
			b.WriteByte('\n')
		}
		return nil
	}
	v, err := lookupVersion(p.API)
	if err != nil {
		return err
	}
	w := csv.NewWriter(b)
	if header {
		_ = w.Write(v.csvHeader) // a bytes.Buffer does not fail
	}
	for _, o := range p.Orders {
		_ = w.Write(v.csvRow(o))
	}
	w.Flush()
	return nil
}

// File is a JSONL or CSV file that a pull resumes: each page is written
// and synced to disk before the checkpoint that counts it, and Resume cuts
// the file back to its checkpoint, so a pull killed at any moment loses and
// repeats no order. A name ending in .csv (any case) makes CSV, anything
// else JSON Lines. The file is created with mode 0600: it may hold
// personal data.
type File struct {
	path   string
	csv    bool
	f      *os.File
	offset int64
}

// NewFile returns the File at path; Run opens it.
func NewFile(path string) *File {
	return &File{path: path, csv: strings.EqualFold(filepath.Ext(path), ".csv")}
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Offset is how many bytes of the file are complete.
func (f *File) Offset() int64 { return f.offset }

// Resume opens the file and cuts it back to at (see ResumableWriter).
func (f *File) Resume(at *Position) ([]string, error) {
	if f.f != nil {
		return nil, fmt.Errorf("%s is already open: a File serves one Run", f.path)
	}
	if at == nil {
		if st, err := os.Stat(f.path); err == nil && st.Size() > 0 {
			return nil, fmt.Errorf("%s %w", f.path, ErrOutputExists)
		}
		at = &Position{}
	}
	fh, err := os.OpenFile(f.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.path, err)
	}
	ids, err := f.cut(fh, at)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.f, f.offset = fh, at.Offset
	return ids, nil
}

// cut drops what fh holds after the checkpoint and reads the ids written
// by the current run.
func (f *File) cut(fh *os.File, at *Position) ([]string, error) {
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() < at.Offset {
		return nil, &ResumeError{Problem: fmt.Sprintf("%s is shorter (%d bytes) than its checkpoint (%d bytes): it was changed by something else", f.path, st.Size(), at.Offset)}
	}
	if err := fh.Truncate(at.Offset); err != nil {
		return nil, fmt.Errorf("truncate %s to its checkpoint: %w", f.path, err)
	}
	if _, err := fh.Seek(at.Offset, io.SeekStart); err != nil {
		return nil, err
	}
	if at.Offset <= at.RunOffset {
		return nil, nil
	}
	ids, err := readIDs(io.NewSectionReader(fh, at.RunOffset, at.Offset-at.RunOffset), f.csv)
	if err != nil {
		return nil, &ResumeError{Problem: fmt.Sprintf("%s cannot be read back to resume: %v", f.path, err)}
	}
	return ids, nil
}

// WritePage appends the page and syncs the file to disk; a new CSV file
// gets its header with its first page.
func (f *File) WritePage(_ context.Context, p *Page) error {
	if f.f == nil {
		return fmt.Errorf("%s is not open: Run resumes a File before it writes", f.path)
	}
	var b bytes.Buffer
	if err := encode(&b, p, f.csv, f.csv && f.offset == 0); err != nil {
		return err
	}
	if b.Len() == 0 {
		return nil
	}
	if _, err := f.f.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if err := f.f.Sync(); err != nil {
		return fmt.Errorf("sync %s to disk: %w", f.path, err)
	}
	f.offset += int64(b.Len())
	return nil
}

// Close closes the file.
func (f *File) Close() error {
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	return err
}

// readIDs returns the order ids in JSON Lines or CSV (whose header rows
// it skips).
func readIDs(r io.Reader, asCSV bool) ([]string, error) {
	var ids []string
	if asCSV {
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		for {
			row, err := cr.Read()
			if err == io.EOF {
				return ids, nil
			}
			if err != nil {
				return nil, fmt.Errorf("a CSV row is damaged (%v)", err)
			}
			if len(row) > 0 && !isHeader(row[0]) {
				ids = append(ids, row[0])
			}
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var id struct {
			V0    string `json:"AmazonOrderId"`
			V2026 string `json:"orderId"`
		}
		if err := json.Unmarshal(sc.Bytes(), &id); err != nil {
			return nil, fmt.Errorf("a line is not JSON (%v)", err)
		}
		ids = append(ids, id.V0+id.V2026)
	}
	return ids, sc.Err()
}

func isHeader(first string) bool {
	for _, v := range versions {
		if first == v.csvHeader[0] {
			return true
		}
	}
	return false
}
