package credfile

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

const yamlShape = "expected version: '1.0' and an account mapping such as default: {lwa_app_id: …, lwa_client_secret: …, refresh_token: …}"

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseYAML reads account's credentials from a credentials.yml. It walks
// the document's nodes, so that each problem has its line, and keeps the
// parser's own messages out: they can quote the text at fault.
func parseYAML(data []byte, account string) (Credentials, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		e := syntaxErr(0, "", "is not valid YAML; %s", yamlShape)
		if line > 0 {
			e = syntaxErr(0, "", "is not valid YAML (line %d); %s", line, yamlShape)
			e.Line = line
		}
		return Credentials{}, e
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return Credentials{}, syntaxErr(0, "", "is empty; %s", yamlShape)
	}
	top := resolve(doc.Content[0])
	if top.Kind != yaml.MappingNode {
		return Credentials{}, syntaxErr(top.Line, "", ": the document is not a mapping of accounts; %s", yamlShape)
	}
	acct, err := findAccount(top, account)
	if err != nil {
		return Credentials{}, err
	}
	return accountCredentials(acct, account)
}

// resolve follows an alias (*name) to its anchor.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// findAccount returns the mapping of account in top.
func findAccount(top *yaml.Node, account string) (*yaml.Node, error) {
	var found *yaml.Node
	seen := map[string]int{}
	var names []string
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], resolve(top.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, syntaxErr(k.Line, "", ": a key of the document is not a name")
		}
		if m, dup := seen[k.Value]; dup {
			return nil, syntaxErr(k.Line, k.Value, ": %s appears twice (first on line %d); keep one", k.Value, m)
		}
		seen[k.Value] = k.Line
		if v.Kind == yaml.MappingNode {
			names = append(names, k.Value)
		}
		if k.Value == account {
			if v.Kind != yaml.MappingNode {
				return nil, syntaxErr(k.Line, k.Value, ": account %s is not a mapping; %s", k.Value, yamlShape)
			}
			found = v
		}
	}
	if found == nil {
		sort.Strings(names)
		list := strings.Join(names, ", ")
		if list == "" {
			list = "none"
		}
		return nil, &Error{Key: account, Err: ErrNoAccount, msg: fmt.Sprintf("has no account %q (accounts: %s)", account, list)}
	}
	return found, nil
}

// accountCredentials reads one account's mapping. Unknown keys are
// ignored, as python-amazon-sp-api does; a known one must be a string
// (or empty) and appear once.
func accountCredentials(acct *yaml.Node, account string) (Credentials, error) {
	known := map[string]bool{}
	for _, k := range pythonYAMLKeys.names() {
		known[k] = true
	}
	vals := map[string]string{}
	seen := map[string]int{}
	for i := 0; i+1 < len(acct.Content); i += 2 {
		k, v := acct.Content[i], resolve(acct.Content[i+1])
		if k.Kind != yaml.ScalarNode || !known[k.Value] {
			continue
		}
		if m, dup := seen[k.Value]; dup {
			return Credentials{}, syntaxErr(k.Line, k.Value, ": %s appears twice in account %s (first on line %d); keep one", k.Value, account, m)
		}
		seen[k.Value] = k.Line
		switch {
		case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		case v.Kind == yaml.ScalarNode:
			vals[k.Value] = v.Value
		default:
			return Credentials{}, syntaxErr(k.Line, k.Value, ": %s is not a string", k.Value)
		}
	}
	return fromVars(pythonYAMLKeys, func(k string) string { return vals[k] }), nil
}

// encodeYAML writes a credentials.yml with one account, keys in
// python-amazon-sp-api's documented order.
func encodeYAML(c Credentials, account, header string) ([]byte, error) {
	if account == "" {
		account = "default"
	}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	acct := &yaml.Node{Kind: yaml.MappingNode}
	for i, v := range c.values() {
		if v != "" {
			acct.Content = append(acct.Content, str(pythonYAMLKeys.names()[i]), str(v))
		}
	}
	version := str("1.0")
	version.Style = yaml.DoubleQuotedStyle
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("version"), version, str(account), acct}}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("credfile: encoding credentials.yml: %w", err)
	}
	var b strings.Builder
	writeComment(&b, header)
	b.Write(out)
	return []byte(b.String()), nil
}
