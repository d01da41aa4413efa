package credfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

const jsonShape = `expected one object such as {"LWA_APP_ID": "…", "LWA_CLIENT_SECRET": "…", "SP_API_REFRESH_TOKEN": "…"}`

// parseJSON reads the Secrets Manager secret python-amazon-sp-api uses: one
// object whose keys are the PythonEnv names. It walks the tokens, so that
// a key set twice is caught and each problem has its line; the decoder's
// own messages stay out, as they can quote the text at fault.
func parseJSON(data []byte) (Credentials, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(data))
	lineAt := func(off int64) int { return bytes.Count(data[:min(int(off), len(data))], []byte("\n")) + 1 }
	bad := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &Error{Line: lineAt(se.Offset), Err: ErrSyntax, msg: fmt.Sprintf("is not valid JSON (line %d); %s", lineAt(se.Offset), jsonShape)}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return syntaxErr(0, "", "is not valid JSON (it ends early); %s", jsonShape)
		}
		return syntaxErr(0, "", "is not valid JSON; %s", jsonShape)
	}
	if t, err := dec.Token(); err != nil {
		return Credentials{}, bad(err)
	} else if d, ok := t.(json.Delim); !ok || d != '{' {
		return Credentials{}, syntaxErr(0, "", "is not a JSON object; %s", jsonShape)
	}
	known := map[string]bool{}
	for _, k := range pythonEnvKeys.names() {
		known[k] = true
	}
	vals := map[string]string{}
	seen := map[string]int{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return Credentials{}, bad(err)
		}
		key, _ := t.(string)
		line := lineAt(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Credentials{}, bad(err)
		}
		if !known[key] {
			continue
		}
		if m, dup := seen[key]; dup {
			return Credentials{}, syntaxErr(line, key, ": %s appears twice (first on line %d); keep one", key, m)
		}
		seen[key] = line
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Credentials{}, syntaxErr(line, key, ": %s is not a string", key)
		}
		if s != nil {
			vals[key] = *s
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return Credentials{}, bad(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Credentials{}, syntaxErr(0, "", "has more after its JSON object; %s", jsonShape)
	}
	return fromVars(pythonEnvKeys, func(k string) string { return vals[k] }), nil
}

// encodeJSON writes the object python-amazon-sp-api reads from Secrets
// Manager, keys in its documented order.
func encodeJSON(c Credentials) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{")
	n := 0
	for i, v := range c.values() {
		if v == "" {
			continue
		}
		if n > 0 {
			b.WriteString(",")
		}
		n++
		k, _ := json.Marshal(pythonEnvKeys.names()[i])
		val, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("credfile: encoding %s", pythonEnvKeys.names()[i])
		}
		b.WriteString("\n  " + string(k) + ": " + string(val))
	}
	b.WriteString("\n}\n")
	return b.Bytes(), nil
}
