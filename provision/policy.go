package provision

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
)

// AmazonNotificationsPrincipal is the AWS account Amazon's SP-API
// notification service writes to SQS queues from (Amazon's "Set up credential
// rotation notifications" guide: principal 437568002678, actions SendMessage
// and GetQueueAttributes).
const AmazonNotificationsPrincipal = "arn:aws:iam::437568002678:root"

// ExecuteAPIResource is the resource the SP-API policy allows.
const ExecuteAPIResource = "arn:aws:execute-api:*:*:*"

// ExecuteAPIPolicy is the managed policy from Amazon's setup guide, exactly.
const ExecuteAPIPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:*"}]}`

// TrustPolicy returns the role's trust policy admitting only userARN.
func TrustPolicy(userARN string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + userARN + `"},"Action":"sts:AssumeRole"}]}`
}

// AssumeRolePolicy returns the user's inline policy allowing sts:AssumeRole
// on exactly roleARN.
func AssumeRolePolicy(roleARN string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"` + roleARN + `"}]}`
}

// QueuePolicy returns the SQS queue policy that lets Amazon's notification
// service deliver to queueARN.
func QueuePolicy(queueARN string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"AllowSellingPartnerAPINotifications","Effect":"Allow","Principal":{"AWS":"` + AmazonNotificationsPrincipal + `"},"Action":["sqs:SendMessage","sqs:GetQueueAttributes"],"Resource":"` + queueARN + `"}]}`
}

// QueueReadPolicy returns the user's inline policy for reading the
// notification queue (the rotation reader uses the user's own keys).
func QueueReadPolicy(queueARN string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:ChangeMessageVisibility","sqs:GetQueueAttributes","sqs:GetQueueUrl"],"Resource":"` + queueARN + `"}]}`
}

// Policy is a parsed IAM policy document, normalised: single values become
// one-element lists, lists are sorted.
type Policy struct {
	Version   string
	Statement []Statement
}

// Statement is one policy statement.
type Statement struct {
	Sid       string
	Effect    string // "Allow" or "Deny"
	Principal map[string][]string
	Action    []string
	NotAction []string
	Resource  []string
	// NotResource is kept for readers that honour it (the SCP check);
	// Allows ignores it.
	NotResource []string `json:",omitempty"`
	Condition   json.RawMessage
}

// ParsePolicy parses and checks the shape of an IAM policy document (as
// JSON, or URL-encoded JSON as IAM's Get* calls return it).
func ParsePolicy(doc string) (*Policy, error) {
	const example = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:*"}]}`
	doc = strings.TrimSpace(doc)
	if strings.HasPrefix(doc, "%7B") || strings.HasPrefix(doc, "%7b") {
		if d, err := url.PathUnescape(doc); err == nil {
			doc = d
		}
	}
	if doc == "" {
		return nil, fmt.Errorf("policy document is empty: expected JSON like %s", example)
	}
	var raw struct {
		Version   string          `json:"Version"`
		Id        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("policy document is not valid policy JSON (%v): expected an object with Version and Statement, like %s", err, example)
	}
	if dec.More() {
		return nil, fmt.Errorf("policy document has data after the JSON object: remove it")
	}
	if raw.Version != "2012-10-17" && raw.Version != "2008-10-17" {
		return nil, fmt.Errorf("policy Version is %q: use \"2012-10-17\"", raw.Version)
	}
	var stmts []json.RawMessage
	switch {
	case len(raw.Statement) == 0 || string(raw.Statement) == "null":
		return nil, fmt.Errorf("policy has no Statement: add at least one, like %s", example)
	case raw.Statement[0] == '[':
		if err := json.Unmarshal(raw.Statement, &stmts); err != nil {
			return nil, fmt.Errorf("policy Statement is not a list of objects: %v", err)
		}
	default:
		stmts = []json.RawMessage{raw.Statement}
	}
	if len(stmts) == 0 {
		return nil, fmt.Errorf("policy Statement list is empty: add at least one statement")
	}
	p := &Policy{Version: raw.Version}
	for i, s := range stmts {
		st, err := parseStatement(s)
		if err != nil {
			return nil, fmt.Errorf("policy statement %d: %w", i+1, err)
		}
		p.Statement = append(p.Statement, st)
	}
	return p, nil
}

func parseStatement(b json.RawMessage) (Statement, error) {
	var raw struct {
		Sid          string          `json:"Sid"`
		Effect       string          `json:"Effect"`
		Principal    json.RawMessage `json:"Principal"`
		NotPrincipal json.RawMessage `json:"NotPrincipal"`
		Action       json.RawMessage `json:"Action"`
		NotAction    json.RawMessage `json:"NotAction"`
		Resource     json.RawMessage `json:"Resource"`
		NotResource  json.RawMessage `json:"NotResource"`
		Condition    json.RawMessage `json:"Condition"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Statement{}, fmt.Errorf("not a valid statement object (%v): allowed keys are Sid, Effect, Principal, Action, NotAction, Resource, NotResource, Condition", err)
	}
	if raw.Effect != "Allow" && raw.Effect != "Deny" {
		return Statement{}, fmt.Errorf("Effect is %q: use \"Allow\" or \"Deny\"", raw.Effect)
	}
	st := Statement{Sid: raw.Sid, Effect: raw.Effect, Condition: raw.Condition}
	var err error
	if st.Action, err = stringList(raw.Action, "Action"); err != nil {
		return Statement{}, err
	}
	if st.NotAction, err = stringList(raw.NotAction, "NotAction"); err != nil {
		return Statement{}, err
	}
	if len(st.Action) == 0 && len(st.NotAction) == 0 {
		return Statement{}, fmt.Errorf("no Action: name the action, e.g. \"Action\":\"sts:AssumeRole\"")
	}
	for _, a := range append(slices.Clone(st.Action), st.NotAction...) {
		if a != "*" && !strings.Contains(a, ":") {
			return Statement{}, fmt.Errorf("action %q is not service:Action (e.g. execute-api:Invoke)", a)
		}
	}
	if st.Resource, err = stringList(raw.Resource, "Resource"); err != nil {
		return Statement{}, err
	}
	if st.NotResource, err = stringList(raw.NotResource, "NotResource"); err != nil {
		return Statement{}, err
	}
	if len(raw.Principal) > 0 {
		st.Principal, err = principalMap(raw.Principal)
		if err != nil {
			return Statement{}, err
		}
	}
	return st, nil
}

func stringList(b json.RawMessage, field string) ([]string, error) {
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return nil, fmt.Errorf("%s must be a string or a list of strings, got %s", field, b)
	}
	sort.Strings(many)
	return many, nil
}

func principalMap(b json.RawMessage) (map[string][]string, error) {
	var star string
	if err := json.Unmarshal(b, &star); err == nil {
		if star != "*" {
			return nil, fmt.Errorf("Principal %q must be \"*\" or an object like {\"AWS\":\"arn:aws:iam::123456789012:user/Name\"}", star)
		}
		return map[string][]string{"AWS": {"*"}}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("Principal must be an object like {\"AWS\":\"arn:aws:iam::123456789012:user/Name\"}, got %s", b)
	}
	out := map[string][]string{}
	for k, v := range m {
		l, err := stringList(v, "Principal."+k)
		if err != nil {
			return nil, err
		}
		out[k] = l
	}
	return out, nil
}

// Equal reports whether two policies mean the same (after normalisation;
// statement order and Sids matter not).
func (p *Policy) Equal(o *Policy) bool {
	if p == nil || o == nil {
		return p == o
	}
	key := func(pp *Policy) []string {
		var ks []string
		for _, s := range pp.Statement {
			s.Sid = ""
			b, _ := json.Marshal(s)
			ks = append(ks, string(b))
		}
		sort.Strings(ks)
		return ks
	}
	return slices.Equal(key(p), key(o))
}

// Allows reports whether some Allow statement grants action on resource (by
// IAM wildcard matching; Conditions are ignored), and whether a Deny
// statement blocks it.
func (p *Policy) Allows(action, resource string) bool {
	allowed := false
	for _, s := range p.Statement {
		if !s.matchesAction(action) || !anyGlob(s.Resource, resource) {
			continue
		}
		if s.Effect == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

func (s Statement) matchesAction(action string) bool {
	if len(s.NotAction) > 0 {
		return !anyGlob(s.NotAction, action)
	}
	return anyGlob(s.Action, action)
}

// globMatch matches IAM wildcards (* and ?) case-sensitively.
func globMatch(pattern, s string) bool {
	// path.Match treats '/' specially and supports [...]; IAM does neither,
	// so escape those before matching.
	r := strings.NewReplacer("/", "\x00", "[", "\\[", "\\", "\\\\")
	ok, err := path.Match(r.Replace(pattern), strings.ReplaceAll(s, "/", "\x00"))
	return err == nil && ok
}

// anyGlob reports whether one of patterns matches s. Actions (service:Name)
// match case-insensitively as in IAM, ARNs case-sensitively.
func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if globMatch(p, s) || (strings.Contains(s, ":") && !strings.HasPrefix(s, "arn:") && globMatch(strings.ToLower(p), strings.ToLower(s))) {
			return true
		}
	}
	return false
}

// TrustedAWSPrincipals lists the AWS principals an Allow sts:AssumeRole
// statement admits.
func (p *Policy) TrustedAWSPrincipals() []string {
	var out []string
	for _, s := range p.Statement {
		if s.Effect == "Allow" && s.matchesAction("sts:AssumeRole") {
			out = append(out, s.Principal["AWS"]...)
			for k, v := range s.Principal {
				if k != "AWS" {
					for _, x := range v {
						out = append(out, k+":"+x)
					}
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// compact renders a JSON document on one line, for comparing and showing.
func compact(doc string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(doc)); err != nil {
		return doc
	}
	return b.String()
}
