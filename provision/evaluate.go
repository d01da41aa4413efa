package provision

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Decision is the outcome of evaluating policies for one request, as IAM
// decides it: an explicit Deny wins over any Allow, and without an Allow the
// request is denied implicitly. Unverifiable means a statement that may
// decide depends on a Condition this evaluator cannot settle.
type Decision string

// Decisions.
const (
	Allowed      Decision = "allowed"
	ImplicitDeny Decision = "not allowed"
	ExplicitDeny Decision = "denied"
	Unverifiable Decision = "cannot verify"
)

// Request is one call to evaluate.
type Request struct {
	Action   string
	Resource string
	// Principal is the caller's ARN and Account its account: resource-based
	// policies (trust, queue) must name one of them (or "*").
	Principal string
	Account   string
	// Context holds the condition keys known for the call (lower-case
	// names). A key present with no values is known to be absent (such as
	// aws:MultiFactorAuthPresent for long-term access keys).
	Context map[string][]string
}

// NamedPolicy is a policy document with a name for messages; ResourceBased
// marks a policy attached to the resource (a trust or queue policy), whose
// statements apply only to the principals they name.
type NamedPolicy struct {
	Name          string
	Doc           *Policy
	ResourceBased bool
}

// Verdict is the decision and the statement that made it.
type Verdict struct {
	Decision Decision
	// By names the deciding policy and statement ("policy X, statement
	// Sid"); Why says what about it (e.g. the unsettled Condition).
	By, Why string
}

// String implements fmt.Stringer.
func (v Verdict) String() string {
	s := string(v.Decision)
	if v.By != "" {
		s += " by " + v.By
	}
	if v.Why != "" {
		s += " (" + v.Why + ")"
	}
	return s
}

// Evaluate decides req over pols the way IAM combines them within one
// account: any explicit Deny that applies denies; a Deny that may apply
// (unsettled Condition) makes the answer unverifiable; otherwise any Allow
// allows, an Allow that may apply is unverifiable, and nothing is an
// implicit deny. Permission boundaries, session policies and service
// control policies are not part of it.
func Evaluate(req Request, pols []NamedPolicy) Verdict {
	var denyMaybe, allow, allowMaybe *Verdict
	for _, p := range pols {
		if p.Doc == nil {
			continue
		}
		for i, st := range p.Doc.Statement {
			if !st.matchesAction(req.Action) || !st.matchesResource(req.Resource) {
				continue
			}
			if p.ResourceBased && !st.matchesPrincipal(req) {
				continue
			}
			by := p.Name + ", statement " + statementName(st, i)
			cond, why := st.conditionHolds(req.Context)
			switch {
			case st.Effect == "Deny" && cond == condTrue:
				return Verdict{Decision: ExplicitDeny, By: by}
			case st.Effect == "Deny" && cond == condUnknown && denyMaybe == nil:
				denyMaybe = &Verdict{Decision: Unverifiable, By: by, Why: "a Deny with " + why}
			case st.Effect == "Allow" && cond == condTrue && allow == nil:
				allow = &Verdict{Decision: Allowed, By: by}
			case st.Effect == "Allow" && cond == condUnknown && allowMaybe == nil:
				allowMaybe = &Verdict{Decision: Unverifiable, By: by, Why: "an Allow with " + why}
			case st.Effect == "Allow" && cond == condFalse && allowMaybe == nil && allow == nil:
				// Remembered only to explain an implicit deny.
				allowMaybe = &Verdict{Decision: ImplicitDeny, By: by, Why: "its " + why}
			}
		}
	}
	switch {
	case denyMaybe != nil:
		return *denyMaybe
	case allow != nil:
		return *allow
	case allowMaybe != nil:
		return *allowMaybe
	}
	return Verdict{Decision: ImplicitDeny}
}

func statementName(st Statement, i int) string {
	if st.Sid != "" {
		return st.Sid
	}
	return fmt.Sprintf("#%d", i+1)
}

// matchesResource: a statement without Resource or NotResource (trust and
// queue policies may omit it) applies to the resource it is attached to.
func (s Statement) matchesResource(res string) bool {
	switch {
	case len(s.Resource) > 0:
		return anyGlob(s.Resource, res)
	case len(s.NotResource) > 0:
		return !anyGlob(s.NotResource, res)
	}
	return true
}

func (s Statement) matchesPrincipal(req Request) bool {
	for _, p := range s.Principal["AWS"] {
		if p == "*" || p == req.Principal || (req.Account != "" && (p == req.Account || p == "arn:aws:iam::"+req.Account+":root")) {
			return true
		}
	}
	return false
}

type condResult int

const (
	condTrue condResult = iota
	condFalse
	condUnknown
)

// conditionHolds evaluates the statement's Condition block against ctx. It
// knows the string, ARN, Bool and Null operators (with IfExists); any other
// operator, a set operator (ForAnyValue:, ForAllValues:) or a key ctx does
// not know makes the answer unknown. why names what decided.
func (s Statement) conditionHolds(ctx map[string][]string) (condResult, string) {
	if len(s.Condition) == 0 || string(s.Condition) == "null" {
		return condTrue, ""
	}
	var block map[string]map[string]json.RawMessage
	if err := json.Unmarshal(s.Condition, &block); err != nil {
		return condUnknown, "a Condition that cannot be read"
	}
	ops := make([]string, 0, len(block))
	for op := range block {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	result, why := condTrue, ""
	for _, op := range ops {
		keys := make([]string, 0, len(block[op]))
		for k := range block[op] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, key := range keys {
			want, err := stringList(block[op][key], "Condition")
			if err != nil {
				var bools []bool
				var one bool
				switch {
				case json.Unmarshal(block[op][key], &one) == nil:
					want = []string{fmt.Sprint(one)}
				case json.Unmarshal(block[op][key], &bools) == nil:
					for _, b := range bools {
						want = append(want, fmt.Sprint(b))
					}
				default:
					return condUnknown, fmt.Sprintf("Condition %s on %s that cannot be read", op, key)
				}
			}
			r := evalCondition(op, strings.ToLower(key), want, ctx)
			desc := fmt.Sprintf("Condition %s %s %v", op, key, want)
			switch r {
			case condFalse:
				return condFalse, desc + " does not hold"
			case condUnknown:
				if result == condTrue {
					result, why = condUnknown, desc+" that spgate cannot evaluate"
				}
			}
		}
	}
	return result, why
}

func evalCondition(op, key string, want []string, ctx map[string][]string) condResult {
	if strings.HasPrefix(op, "ForAnyValue:") || strings.HasPrefix(op, "ForAllValues:") {
		return condUnknown
	}
	ifExists := strings.HasSuffix(op, "IfExists")
	op = strings.TrimSuffix(op, "IfExists")
	have, known := ctx[key]
	if op == "Null" {
		if !known || len(want) != 1 {
			return condUnknown
		}
		absent := len(have) == 0
		return boolResult(absent == (strings.ToLower(want[0]) == "true"))
	}
	if !known {
		return condUnknown
	}
	if len(have) == 0 {
		if ifExists {
			return condTrue
		}
		// A known-absent key matches no value; negated operators hold.
		return boolResult(strings.Contains(op, "Not"))
	}
	var match func(pattern, v string) bool
	negate := false
	switch op {
	case "StringEquals", "ArnEquals":
		match = func(p, v string) bool { return p == v }
	case "StringNotEquals", "ArnNotEquals":
		match, negate = func(p, v string) bool { return p == v }, true
	case "StringEqualsIgnoreCase":
		match = strings.EqualFold
	case "StringNotEqualsIgnoreCase":
		match, negate = strings.EqualFold, true
	case "StringLike", "ArnLike":
		match = globMatch
	case "StringNotLike", "ArnNotLike":
		match, negate = globMatch, true
	case "Bool":
		match = func(p, v string) bool { return strings.EqualFold(p, v) }
	default:
		return condUnknown
	}
	any := false
	for _, v := range have {
		if slices.ContainsFunc(want, func(p string) bool { return match(p, v) }) {
			any = true
		}
	}
	return boolResult(any != negate)
}

func boolResult(b bool) condResult {
	if b {
		return condTrue
	}
	return condFalse
}

// userContext is what IAM knows of a call made with an IAM user's
// long-term access key over HTTPS.
func userContext(userARN, account, userName string) map[string][]string {
	return map[string][]string{
		"aws:securetransport":              {"true"},
		"aws:principalarn":                 {userARN},
		"aws:principalaccount":             {account},
		"aws:principaltype":                {"User"},
		"aws:username":                     {userName},
		"aws:multifactorauthpresent":       nil,
		"aws:multifactorauthage":           nil,
		"aws:tokenissuetime":               nil,
		"aws:principalservicename":         nil,
		"aws:viaawsservice":                {"false"},
		"aws:principalisawsservice":        {"false"},
		"aws:calledvia":                    nil,
		"aws:sourceidentity":               nil,
		"aws:federatedprovider":            nil,
		"aws:ec2instancesourcevpc":         nil,
		"aws:ec2instancesourceprivateipv4": nil,
	}
}

// roleContext is what IAM knows of a call made in a session of roleARN.
func roleContext(roleARN, account string) map[string][]string {
	return map[string][]string{
		"aws:securetransport":       {"true"},
		"aws:principalarn":          {roleARN},
		"aws:principalaccount":      {account},
		"aws:principaltype":         {"AssumedRole"},
		"aws:principalisawsservice": {"false"},
	}
}

// amazonContext is what is known of Amazon's notification service sending
// to the queue: its account, nothing else (SourceArn, SourceAccount and the
// like are Amazon's to set).
func amazonContext() map[string][]string {
	return map[string][]string{
		"aws:principalaccount": {"437568002678"},
		"aws:principalarn":     {AmazonNotificationsPrincipal},
	}
}
