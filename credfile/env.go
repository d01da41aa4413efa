package credfile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// parseEnv reads KEY=value lines: '#' comments, blank lines and [section]
// lines are skipped; "export " may lead; a value may be quoted as a shell
// would ('…', "…", concatenations such as 'a'\”b'), and an unquoted one
// ends at " #". A key of k set twice is an error, since either value
// could be the one meant.
func parseEnv(data []byte, k Keys) (map[string]string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	watched := map[string]bool{}
	for _, name := range k.names() {
		if name != "" {
			watched[name] = true
		}
	}
	first := map[string]int{}
	vars := map[string]string{}
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			line = strings.TrimSpace(rest)
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, syntaxErr(n, "", " is not KEY=value")
		}
		name = strings.TrimSpace(name)
		if !isVarName(name) {
			return nil, syntaxErr(n, "", " is not KEY=value: the name before = is not a variable name (letters, digits, '_', '.', '-')")
		}
		v, err := envValue(strings.TrimSpace(value))
		if err != nil {
			return nil, syntaxErr(n, name, ": %s %v", name, err)
		}
		if watched[name] {
			if m, dup := first[name]; dup {
				return nil, syntaxErr(n, name, ": %s is set again (first on line %d); keep one", name, m)
			}
			first[name] = n
		}
		vars[name] = v
	}
	return vars, nil
}

func isVarName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

var (
	errUnclosed   = errors.New("has a quote that is not closed (a value must fit on its line)")
	errAfterQuote = errors.New("has text after its closing quote")
)

// envValue unquotes one value (see parseEnv).
func envValue(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if v[0] != '\'' && v[0] != '"' {
		for i := 1; i < len(v); i++ {
			if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
				return strings.TrimSpace(v[:i]), nil
			}
		}
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == '\'':
			j := strings.IndexByte(v[i+1:], '\'')
			if j < 0 {
				return "", errUnclosed
			}
			b.WriteString(v[i+1 : i+1+j])
			i += j + 2
		case c == '"':
			n, err := doubleQuoted(&b, v[i+1:])
			if err != nil {
				return "", err
			}
			i += n + 1
		case c == '\\' && i+1 < len(v):
			b.WriteByte(v[i+1])
			i += 2
		case c == ' ' || c == '\t':
			if rest := strings.TrimSpace(v[i:]); rest != "" && rest[0] != '#' {
				return "", errAfterQuote
			}
			return b.String(), nil
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// doubleQuoted copies the inside of a "…" string that starts at s to b,
// undoing \" \\ \$ and \`, and returns how many bytes it used (with the
// closing quote).
func doubleQuoted(b *strings.Builder, s string) (int, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
			b.WriteByte(s[i+1])
			i++
		default:
			b.WriteByte(c)
		}
	}
	return 0, errUnclosed
}

// encodeEnv writes both libraries' keys, python-amazon-sp-api's first; the
// result is also a valid ~/.amzspapi/credentials.
func encodeEnv(c Credentials, header string) ([]byte, error) {
	var b strings.Builder
	writeComment(&b, header)
	for _, part := range []struct {
		title string
		keys  Keys
	}{{"python-amazon-sp-api", pythonEnvKeys}, {"amazon-sp-api (Node)", nodeKeys}} {
		b.WriteString("# " + part.title + "\n")
		for i, v := range c.values() {
			key := part.keys.names()[i]
			if key == "" || v == "" {
				continue
			}
			if strings.ContainsAny(v, "\n\r\x00") {
				return nil, &Error{Key: key, Err: ErrInvalid, msg: fmt.Sprintf("has a line break in %s, which a KEY=value line cannot carry", key)}
			}
			b.WriteString(key + "=" + quoteEnv(v) + "\n")
		}
	}
	return []byte(b.String()), nil
}

// values returns c's raw values in Keys order. Only encoders call it.
func (c Credentials) values() []string {
	return []string{c.ClientID, c.ClientSecret.Reveal(), c.RefreshToken.Reveal(), c.AWSAccessKeyID, c.AWSSecretKey.Reveal(), c.RoleARN}
}

// quoteEnv single-quotes a value a shell would split or expand ('|' in
// refresh tokens, '/' and '+' are safe).
func quoteEnv(s string) string {
	if strings.ContainsAny(s, "|&;<>()$`\\\"' \t*?[#~=%!{}") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

// writeComment writes header as '#' lines.
func writeComment(b *strings.Builder, header string) {
	if header == "" {
		return
	}
	for _, l := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		b.WriteString(strings.TrimRight("# "+strings.TrimRight(l, "\r"), " ") + "\n")
	}
}
