package credfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File is a credentials file on its way to disk. Create reserves it,
// Commit writes it whole, Abort drops it: until Commit nothing is at the
// path, and a failed Commit leaves nothing there either. The data goes
// first to a temporary file of mode 0600 beside the path, which is then
// linked (or, to replace, renamed) into place.
type File struct {
	path    string
	replace bool
	tmp     *os.File
	done    bool
}

// Create prepares writing path. Without replace, a path that exists is an
// error matching fs.ErrExist, now or at Commit; with replace, an existing
// file is replaced at once at Commit (a symbolic link there is replaced
// itself, not followed). Create fails, too, when the directory cannot take
// the file: nothing has been written then.
func Create(path string, replace bool) (*File, error) {
	if fi, err := os.Lstat(path); err == nil {
		if !replace {
			return nil, fmt.Errorf("%s: %w", path, fs.ErrExist)
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("%s is a directory", path)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("restrict %s to mode 0600: %w", path, err)
	}
	return &File{path: path, replace: replace, tmp: tmp}, nil
}

// Commit writes data and puts the file at its path, with mode 0600.
func (f *File) Commit(data []byte) error {
	if f.done {
		return errors.New("credfile: the file was already committed or aborted")
	}
	f.done = true
	name := f.tmp.Name()
	defer os.Remove(name) // gone once linked or renamed; here for failures
	_, err := f.tmp.Write(data)
	if err == nil {
		err = f.tmp.Sync()
	}
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if f.replace {
		if err := os.Rename(name, f.path); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	} else if err := os.Link(name, f.path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", f.path, fs.ErrExist)
		}
		// No hard links here (some network and FAT file systems): create
		// the path exclusively and remove it again on any failure.
		if err := writeExclusive(f.path, data); err != nil {
			return err
		}
	}
	syncDir(filepath.Dir(f.path))
	return nil
}

// Abort drops the file; after Commit it does nothing.
func (f *File) Abort() {
	if f == nil || f.done {
		return
	}
	f.done = true
	f.tmp.Close()
	os.Remove(f.tmp.Name())
}

// WriteFile writes data to path with mode 0600, whole or not at all (see
// Create).
func WriteFile(path string, data []byte, replace bool) error {
	f, err := Create(path, replace)
	if err != nil {
		return err
	}
	defer f.Abort()
	return f.Commit(data)
}

// WriteRecorded writes data to path as WriteFile does, but only once
// record has succeeded: the file is reserved first, so that a path that
// cannot take it is refused before anything is recorded, and a failed
// record leaves nothing at path. It is how secrets leave spgate: their
// release is recorded (audited) before they are written anywhere.
func WriteRecorded(path string, replace bool, data []byte, record func() error) error {
	f, err := Create(path, replace)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := record(); err != nil {
		return err
	}
	return f.Commit(data)
}

func writeExclusive(path string, data []byte) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", path, fs.ErrExist)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	_, err = out.Write(data)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// syncDir makes the new directory entry durable, where the system allows.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
