package credfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spgate/spgate/credfile"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "cfg"))
	env := filepath.Join(dir, "x.env")
	if err := os.WriteFile(env, []byte("LWA_APP_ID="+clientID+"\nLWA_CLIENT_SECRET="+clientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) string {
		return map[string]string{"SELLING_PARTNER_APP_CLIENT_ID": clientID}[k]
	}
	tests := []struct {
		name       string
		src        credfile.Source
		file       string
		where      string
		err        error
		wantClient bool
	}{
		{"env source from the environment", credfile.NodeEnv, "", "the environment", nil, true},
		{"env source from a file", credfile.PythonEnv, env, env, nil, true},
		{"json needs a file", credfile.PythonJSON, "", "", credfile.ErrNoFile, false},
		{"yaml default file missing", credfile.PythonYAML, "", filepath.Join(dir, "cfg", "python-sp-api", "credentials.yml") + " (account default)", fs.ErrNotExist, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, where, err := credfile.Load(tc.src, tc.file, "default", lookup)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if where != tc.where || (c.ClientID == clientID) != tc.wantClient {
				t.Errorf("where %q, client id %q", where, c.ClientID)
			}
			if err != nil && strings.Contains(err.Error(), clientSecret) {
				t.Error("a secret in the error")
			}
		})
	}
}

// TestWriteRecorded: the file is written only after the record, and a
// refused path or a failed record leaves nothing behind and (for the path)
// records nothing.
func TestWriteRecorded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "creds.env")
	records := 0
	record := func(fail bool) func() error {
		return func() error {
			if _, err := os.Stat(path); err == nil {
				t.Error("the file was in place before the record")
			}
			records++
			if fail {
				return errors.New("audit log unavailable")
			}
			return nil
		}
	}
	if err := credfile.WriteRecorded(path, false, []byte("x"), record(true)); err == nil || records != 1 {
		t.Fatalf("failed record: %v, %d records", err, records)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed record left a file: %v", err)
	}
	if err := credfile.WriteRecorded(path, false, []byte("x"), record(false)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("written file: %v %v", fi, err)
	}
	if err := credfile.WriteRecorded(path, false, []byte("y"), record(false)); !errors.Is(err, fs.ErrExist) || records != 2 {
		t.Errorf("existing file: %v, %d records", err, records)
	}
	if err := credfile.WriteRecorded(filepath.Join(dir, "none", "x"), false, []byte("y"), record(false)); err == nil || records != 2 {
		t.Errorf("missing directory: %v, %d records", err, records)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}
