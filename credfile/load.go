package credfile

import (
	"errors"
	"fmt"
)

// ErrNoFile is Load's answer for a source read from a file when no file
// was given and the source has no default file.
var ErrNoFile = errors.New("credfile: the source reads a file, and none was given")

// Load reads the credentials of source s from file; without a file, an
// environment source from the environment (lookup, such as os.Getenv),
// another source from its default file (DefaultPath). where says where
// they came from, for messages, never with a value: "the environment",
// the file, or for PythonYAML the file and the account.
func Load(s Source, file, account string, lookup func(string) string) (c Credentials, where string, err error) {
	if file == "" && s.IsEnv() {
		c, err := FromEnviron(s, lookup)
		return c, "the environment", err
	}
	if file == "" {
		if file, err = s.DefaultPath(); err != nil || file == "" {
			return Credentials{}, "", fmt.Errorf("%w: %s", ErrNoFile, s)
		}
	}
	where = file
	if s == PythonYAML {
		where = fmt.Sprintf("%s (account %s)", file, account)
	}
	c, err = ReadFile(s, file, account)
	return c, where, err
}
