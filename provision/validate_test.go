package provision

import (
	"strings"
	"testing"
)

func TestValidateRoleARN(t *testing.T) {
	for _, tc := range []struct {
		in, name, errHas string
	}{
		{in: "arn:aws:iam::123456789012:role/SellingPartnerAPIRole", name: "SellingPartnerAPIRole"},
		{in: "arn:aws:iam::123456789012:role/service/Path@x", name: "Path@x"},
		{in: "", errHas: "empty"},
		{in: " arn:aws:iam::123456789012:role/R", errHas: "spaces"},
		{in: "arn:aws:iam:123456789012:role/R", errHas: "not an ARN"},
		{in: "arn:aws:iam:us-east-1:123456789012:role/R", errHas: "double colon"},
		{in: "arn:aws:iam::12345678901:role/R", errHas: "exactly 12 digits"},
		{in: "arn:aws:iam::1234-5678-9012:role/R", errHas: "exactly 12 digits"},
		{in: "arn:aws:iam::123456789012:user/R", errHas: "not a role"},
		{in: "arn:aws:sts::123456789012:role/R", errHas: "not an IAM role"},
		{in: "arn:aws:iam::123456789012:role/Bad Name", errHas: "position 4"},
		{in: "arn:azure:iam::123456789012:role/R", errHas: "partition"},
		{in: "amzn1.sp.solution.1234", errHas: "not an ARN"},
	} {
		name, err := ValidateRoleARN(tc.in)
		if tc.errHas == "" {
			if err != nil || name != tc.name {
				t.Errorf("ValidateRoleARN(%q) = %q, %v; want %q", tc.in, name, err, tc.name)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.errHas) {
			t.Errorf("ValidateRoleARN(%q) err = %v, want it to mention %q", tc.in, err, tc.errHas)
		}
		if err != nil && !strings.Contains(err.Error(), "arn:aws:iam::") && tc.errHas != "position 4" && tc.errHas != "exactly 12 digits" {
			t.Errorf("error does not show the right format: %v", err)
		}
	}
	if _, err := ValidatePolicyARN("arn:aws:iam::123456789012:policy/SellingPartnerAPIPolicy"); err != nil {
		t.Error(err)
	}
	if _, err := ValidatePolicyARN("arn:aws:iam::123456789012:role/X"); err == nil {
		t.Error("a role ARN passed as a policy ARN")
	}
	if _, err := ValidateUserARN("arn:aws:iam::123456789012:user/SellingPartnerAPIUser"); err != nil {
		t.Error(err)
	}
}

func TestValidateAccountID(t *testing.T) {
	for in, ok := range map[string]bool{"123456789012": true, "000000000000": true, "12345678901": false, "1234567890123": false, "12345678901a": false, "": false, "1234 5678 90": false} {
		if err := ValidateAccountID(in); (err == nil) != ok {
			t.Errorf("ValidateAccountID(%q) = %v", in, err)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		kind NameKind
		in   string
		ok   bool
	}{
		{UserName, "SellingPartnerAPIUser", true},
		{UserName, "a+b=c,d.e@f-g_h", true},
		{UserName, strings.Repeat("u", 64), true},
		{UserName, strings.Repeat("u", 65), false},
		{RoleName, strings.Repeat("r", 65), false},
		{PolicyName, strings.Repeat("p", 128), true},
		{PolicyName, strings.Repeat("p", 129), false},
		{UserName, "", false},
		{UserName, "with space", false},
		{UserName, "slash/", false},
		{UserName, "ümlaut", false},
		{RoleName, "semi;colon", false},
		{QueueName, "spgate-notifications_1", true},
		{QueueName, "dot.not", false},
	} {
		err := ValidateName(tc.kind, tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%v, %q) = %v, want ok=%v", tc.kind, tc.in, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tc.kind.String()) {
			t.Errorf("error does not say which name: %v", err)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	good := []string{
		ExecuteAPIPolicy,
		TrustPolicy("arn:aws:iam::123456789012:user/U"),
		AssumeRolePolicy("arn:aws:iam::123456789012:role/R"),
		QueuePolicy("arn:aws:sqs:us-east-1:123456789012:q"),
		// URL-encoded, as IAM's Get* calls return documents.
		"%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22execute-api%3AInvoke%22%2C%22Resource%22%3A%22arn%3Aaws%3Aexecute-api%3A%2A%3A%2A%3A%2A%22%7D%5D%7D",
		// A single statement object instead of a list.
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["execute-api:Invoke"],"Resource":["arn:aws:execute-api:*:*:*"]}}`,
	}
	for _, doc := range good {
		if _, err := ParsePolicy(doc); err != nil {
			t.Errorf("ParsePolicy(%s): %v", doc, err)
		}
	}
	bad := map[string]string{
		``:                         "empty",
		`not json`:                 "not valid policy JSON",
		`{"Version":"2012-10-17"}`: "no Statement",
		`{"Version":"2019-01-01","Statement":[]}`:                                                           "Version",
		`{"Version":"2012-10-17","Statement":[]}`:                                                           "empty",
		`{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"a:b","Resource":"*"}]}`:           `"Allow" or "Deny"`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`:                          "no Action",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"Invoke","Resource":"*"}]}`:        "service:Action",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":5,"Resource":"*"}]}`:               "string or a list",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Actions":"a:b","Resource":"*"}]}`:          "allowed keys",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"a:b","Principal":"me"}]}`:         "Principal",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*"}]} trailing`:  "after the JSON",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*"}],"Extra":1}`: "not valid policy JSON",
	}
	for doc, want := range bad {
		_, err := ParsePolicy(doc)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePolicy(%s) err = %v, want it to mention %q", doc, err, want)
		}
	}
}

func TestPolicyAllowsAndEqual(t *testing.T) {
	p, _ := ParsePolicy(ExecuteAPIPolicy)
	for _, tc := range []struct {
		action, resource string
		want             bool
	}{
		{"execute-api:Invoke", ExecuteAPIResource, true},
		{"EXECUTE-API:invoke", ExecuteAPIResource, true},
		{"execute-api:Invoke", "arn:aws:execute-api:eu-west-1:123:abc/GET/x", true},
		{"execute-api:ManageConnections", ExecuteAPIResource, false},
		{"sts:AssumeRole", ExecuteAPIResource, false},
	} {
		if got := p.Allows(tc.action, tc.resource); got != tc.want {
			t.Errorf("Allows(%s, %s) = %v", tc.action, tc.resource, got)
		}
	}
	narrow, _ := ParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:*:*"}]}`)
	if narrow.Allows("execute-api:Invoke", ExecuteAPIResource) {
		t.Error("a one-region policy covers every region")
	}
	deny, _ := ParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"execute-api:*","Resource":"*"}]}`)
	if deny.Allows("execute-api:Invoke", ExecuteAPIResource) {
		t.Error("explicit deny ignored")
	}
	same, _ := ParsePolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Allow","Action":["execute-api:Invoke"],"Resource":"arn:aws:execute-api:*:*:*"}]}`)
	if !p.Equal(same) || p.Equal(narrow) {
		t.Error("Equal does not compare by meaning")
	}
}
