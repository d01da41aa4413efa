package provision

import (
	"fmt"
	"strings"
)

// ARN is a parsed Amazon Resource Name:
// arn:<partition>:<service>:<region>:<account>:<resource>.
type ARN struct {
	Partition string
	Service   string
	Region    string
	AccountID string
	// Resource is everything after the account, e.g. "role/SellingPartnerAPIRole".
	Resource string
}

// String reassembles the ARN.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.AccountID + ":" + a.Resource
}

// ParseARN splits an ARN into its parts. It checks the general shape only;
// use ValidateRoleARN, ValidatePolicyARN or ValidateUserARN for IAM ARNs.
func ParseARN(s string) (ARN, error) {
	const format = "arn:<partition>:<service>:<region>:<account>:<resource>, e.g. arn:aws:iam::123456789012:role/SellingPartnerAPIRole"
	if s == "" {
		return ARN{}, fmt.Errorf("ARN is empty: expected %s", format)
	}
	if strings.TrimSpace(s) != s {
		return ARN{}, fmt.Errorf("ARN %q has leading or trailing spaces: remove them", s)
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ARN{}, fmt.Errorf("%q is not an ARN: expected %s", s, format)
	}
	a := ARN{Partition: parts[1], Service: parts[2], Region: parts[3], AccountID: parts[4], Resource: parts[5]}
	switch a.Partition {
	case "aws", "aws-cn", "aws-us-gov":
	default:
		return ARN{}, fmt.Errorf("ARN %q has partition %q: expected aws (or aws-cn, aws-us-gov)", s, a.Partition)
	}
	if a.Service == "" {
		return ARN{}, fmt.Errorf("ARN %q has no service: expected %s", s, format)
	}
	if a.Resource == "" {
		return ARN{}, fmt.Errorf("ARN %q has no resource part: expected %s", s, format)
	}
	return a, nil
}

// ValidateAccountID checks an AWS account id: exactly 12 digits.
func ValidateAccountID(s string) error {
	if len(s) != 12 || strings.Trim(s, "0123456789") != "" {
		return fmt.Errorf("account id %q is invalid: an AWS account id is exactly 12 digits, e.g. 123456789012 (no dashes or spaces)", s)
	}
	return nil
}

// NameKind says which IAM (or SQS) name rules apply.
type NameKind int

// The kinds of names provision creates.
const (
	UserName NameKind = iota
	RoleName
	PolicyName
	QueueName
)

// String implements fmt.Stringer.
func (k NameKind) String() string {
	switch k {
	case UserName:
		return "IAM user name"
	case RoleName:
		return "IAM role name"
	case PolicyName:
		return "IAM policy name"
	case QueueName:
		return "SQS queue name"
	}
	return "name"
}

func (k NameKind) maxLen() int {
	switch k {
	case PolicyName:
		return 128
	case QueueName:
		return 80
	}
	return 64
}

// ValidateName checks a name against IAM's rules: 1 to 64 characters for
// users and roles, 128 for policies, from letters, digits and _+=,.@-
// (SQS queue names: 1 to 80 letters, digits, - and _).
func ValidateName(kind NameKind, s string) error {
	allowed := "letters, digits and _+=,.@-"
	ok := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+=,.@-", r)
	}
	if kind == QueueName {
		allowed = "letters, digits, - and _"
		ok = func(r rune) bool {
			return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
		}
	}
	if s == "" {
		return fmt.Errorf("%s is empty: use 1 to %d characters (%s)", kind, kind.maxLen(), allowed)
	}
	if n := len([]rune(s)); n > kind.maxLen() {
		return fmt.Errorf("%s %q is %d characters long: at most %d are allowed", kind, s, n, kind.maxLen())
	}
	for i, r := range s {
		if !ok(r) {
			return fmt.Errorf("%s %q has the character %q at position %d: only %s are allowed", kind, s, r, i+1, allowed)
		}
	}
	return nil
}

// ValidateRoleARN checks arn:aws:iam::<12 digits>:role/<name> (a path such
// as role/service/<name> is allowed) and returns the role name.
func ValidateRoleARN(s string) (name string, err error) {
	return validateIAMARN(s, "role", RoleName)
}

// ValidatePolicyARN checks arn:aws:iam::<12 digits>:policy/<name> and
// returns the policy name.
func ValidatePolicyARN(s string) (name string, err error) {
	return validateIAMARN(s, "policy", PolicyName)
}

// ValidateUserARN checks arn:aws:iam::<12 digits>:user/<name> and returns
// the user name.
func ValidateUserARN(s string) (name string, err error) {
	return validateIAMARN(s, "user", UserName)
}

func validateIAMARN(s, typ string, kind NameKind) (string, error) {
	format := "arn:aws:iam::<12-digit account id>:" + typ + "/<name>, e.g. arn:aws:iam::123456789012:" + typ + "/SellingPartnerAPI" + strings.ToUpper(typ[:1]) + typ[1:]
	a, err := ParseARN(s)
	if err != nil {
		return "", fmt.Errorf("IAM %s ARN: %w (an IAM %s ARN looks like %s)", typ, err, typ, format)
	}
	if a.Service != "iam" {
		return "", fmt.Errorf("%q is a %s ARN, not an IAM %s ARN: expected %s", s, a.Service, typ, format)
	}
	if a.Region != "" {
		return "", fmt.Errorf("IAM %s ARN %q has a region %q: IAM ARNs have none (note the double colon), expected %s", typ, s, a.Region, format)
	}
	if err := ValidateAccountID(a.AccountID); err != nil {
		return "", fmt.Errorf("IAM %s ARN %q: %w", typ, s, err)
	}
	rest, ok := strings.CutPrefix(a.Resource, typ+"/")
	if !ok {
		return "", fmt.Errorf("IAM ARN %q names %q, not a %s: expected %s", s, a.Resource, typ, format)
	}
	name := rest[strings.LastIndex(rest, "/")+1:]
	if err := ValidateName(kind, name); err != nil {
		return "", fmt.Errorf("IAM %s ARN %q: %w", typ, s, err)
	}
	return name, nil
}

func iamARN(partition, account, typ, name string) string {
	return "arn:" + partition + ":iam::" + account + ":" + typ + "/" + name
}
