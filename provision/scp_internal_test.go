package provision

import (
	"strings"
	"testing"
)

// scpFindings decides what a statement denies; these cases pin the matching
// rules without a server (and, unlike moto, for a member account).
func TestSCPFindings(t *testing.T) {
	const role = "arn:aws:iam::111122223333:role/SellingPartnerAPIRole"
	needs := []scpNeed{
		{"sts:AssumeRole", role},
		{"execute-api:Invoke", ExecuteAPIResource},
		{"sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:111122223333:spgate-notifications"},
		{"iam:CreateRole", role},
	}
	doc := func(stmts string) string { return `{"Version":"2012-10-17","Statement":[` + stmts + `]}` }
	cases := []struct {
		name       string
		doc        string
		management bool
		want       Severity // "" for no finding
		denies     []string
		spares     []string
	}{
		{name: "allow only", doc: doc(`{"Effect":"Allow","Action":"*","Resource":"*"}`)},
		{name: "deny everything", doc: doc(`{"Effect":"Deny","Action":"*","Resource":"*"}`), want: Broken,
			denies: []string{"sts:AssumeRole", "execute-api:Invoke", "sqs:ReceiveMessage", "iam:CreateRole"}},
		{name: "prefix wildcard", doc: doc(`{"Effect":"Deny","Action":"sts:Assume*","Resource":"*"}`), want: Broken,
			denies: []string{"sts:AssumeRole"}, spares: []string{"execute-api:Invoke"}},
		{name: "action case-insensitive", doc: doc(`{"Effect":"Deny","Action":"STS:assumerole","Resource":"*"}`), want: Broken, denies: []string{"sts:AssumeRole"}},
		{name: "NotAction spares the named", doc: doc(`{"Effect":"Deny","NotAction":["sts:*","iam:*"],"Resource":"*"}`), want: Broken,
			denies: []string{"execute-api:Invoke", "sqs:ReceiveMessage"}, spares: []string{"sts:AssumeRole", "iam:CreateRole"}},
		{name: "NotAction covering all needs", doc: doc(`{"Effect":"Deny","NotAction":["sts:*","iam:*","execute-api:*","sqs:*"],"Resource":"*"}`)},
		{name: "other role", doc: doc(`{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/Other"}`)},
		{name: "role by wildcard", doc: doc(`{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/SellingPartner*"}`), want: Broken, denies: []string{"sts:AssumeRole"}},
		{name: "one execute-api region overlaps every region", doc: doc(`{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:eu-west-1:*:*"}`), want: Broken, denies: []string{"execute-api:Invoke"}},
		{name: "NotResource excludes the role", doc: doc(`{"Effect":"Deny","Action":"sts:AssumeRole","NotResource":"arn:aws:iam::*:role/SellingPartner*"}`)},
		{name: "NotResource elsewhere", doc: doc(`{"Effect":"Deny","Action":"sts:AssumeRole","NotResource":"arn:aws:iam::*:role/Other"}`), want: Broken, denies: []string{"sts:AssumeRole"}},
		{name: "conditional", doc: doc(`{"Effect":"Deny","Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`), want: Warning,
			denies: []string{"may deny (conditional)", "sqs:ReceiveMessage"}},
		{name: "management account", doc: doc(`{"Effect":"Deny","Action":"*","Resource":"*"}`), management: true, want: Warning, denies: []string{"management account"}},
		{name: "unreadable", doc: `{"Statement":"nope"}`, want: Warning, denies: []string{"could not be read"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := scpFindings([]scpSource{{ID: "p-test", Name: "TestSCP", Target: "ou-test", Content: tc.doc}}, needs, tc.management)
			if tc.want == "" {
				if len(fs) != 0 {
					t.Fatalf("findings = %+v, want none", fs)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("findings = %+v, want one", fs)
			}
			f := fs[0]
			if f.Name != SCPDenies || f.Severity != tc.want || f.Resource != "p-test" || !strings.Contains(f.Problem, "TestSCP") {
				t.Errorf("finding = %+v, want %s %s on p-test naming TestSCP", f, SCPDenies, tc.want)
			}
			for _, w := range tc.denies {
				if !strings.Contains(f.Problem, w) {
					t.Errorf("problem lacks %q: %s", w, f.Problem)
				}
			}
			for _, w := range tc.spares {
				if strings.Contains(f.Problem, "denies "+w) || strings.Contains(f.Problem, ", "+w) {
					t.Errorf("problem names %q: %s", w, f.Problem)
				}
			}
		})
	}
}
