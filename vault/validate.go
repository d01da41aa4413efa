package vault

import (
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/spgate/spgate/marketplace"
)

// Regions of the Selling Partner API.
const (
	RegionNA = marketplace.NA // North America (and Brazil), sellingpartnerapi-na, us-east-1
	RegionEU = marketplace.EU // Europe, Middle East, India, South Africa; eu-west-1
	RegionFE = marketplace.FE // Far East: Japan, Australia, Singapore; us-west-2
)

// Regions lists the valid region codes.
func Regions() []string { return marketplace.Regions() }

// Marketplace is one Amazon marketplace.
type Marketplace = marketplace.Marketplace

// Marketplaces returns every known marketplace (a copy).
func Marketplaces() []Marketplace { return marketplace.All() }

// LookupMarketplace finds a marketplace by id or by country code (case-insensitive; "UK" for GB).
func LookupMarketplace(idOrCountry string) (Marketplace, bool) {
	return marketplace.Lookup(idOrCountry)
}

// RegionOfMarketplace returns the region ("na", "eu", "fe") of a marketplace id.
func RegionOfMarketplace(id string) (string, error) {
	if m, ok := marketplace.ByID(id); ok {
		return m.Region, nil
	}
	return "", invalid("unknown marketplace id %q: expected one of Amazon's marketplace ids, e.g. ATVPDKIKX0DER (US) or A1PA6795UKMFR9 (DE)", clip(id))
}

// ValidateRegion checks a region code.
func ValidateRegion(region string) error {
	switch region {
	case RegionNA, RegionEU, RegionFE:
		return nil
	}
	return invalid("unknown region %q: expected na, eu or fe", clip(region))
}

// ValidateMarketplace checks that id is a known marketplace in region.
func ValidateMarketplace(region, id string) error {
	if err := ValidateRegion(region); err != nil {
		return err
	}
	r, err := RegionOfMarketplace(id)
	if err != nil {
		return err
	}
	if r != region {
		m, _ := LookupMarketplace(id)
		return invalid("marketplace %s (%s) is in region %s, not %s: a seller's marketplaces must all be in its region; add the seller once per region", id, m.Country, r, region)
	}
	return nil
}

var (
	reAppID        = regexp.MustCompile(`^amzn1\.sp\.solution\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	reClientID     = regexp.MustCompile(`^amzn1\.application-oa2-client\.[0-9a-f]{32}$`)
	reClientSecret = regexp.MustCompile(`^amzn1\.oa2-cs\.v1\.[0-9a-f]{64}$`)
	reSellerID     = regexp.MustCompile(`^A[0-9A-Z]{9,19}$`)
	reRoleARN      = regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	reAccessKeyID  = regexp.MustCompile(`^(AKIA|ASIA)[0-9A-Z]{16}$`)
	reName         = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// clip shortens a non-secret value for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// ValidateAppID checks an application id: amzn1.sp.solution.<uuid>.
func ValidateAppID(s string) error {
	if reAppID.MatchString(s) {
		return nil
	}
	return invalid("app id %q is not valid: expected amzn1.sp.solution.<uuid> (lower-case hex, e.g. amzn1.sp.solution.1a2b3c4d-…), copied from Develop Apps in Seller Central", clip(s))
}

// ValidateClientID checks an LWA client id: amzn1.application-oa2-client.<32 hex>.
func ValidateClientID(s string) error {
	if reClientID.MatchString(s) {
		return nil
	}
	return invalid("LWA client id %q is not valid: expected amzn1.application-oa2-client. followed by 32 lower-case hex digits (Develop Apps → View → LWA credentials)", clip(s))
}

// ValidateClientSecret checks an LWA client secret's format:
// amzn1.oa2-cs.v1.<64 hex>. The message never contains the value.
func ValidateClientSecret(s string) error {
	if reClientSecret.MatchString(s) {
		return nil
	}
	what := "has the wrong format"
	switch {
	case s == "":
		what = "is empty"
	case strings.HasPrefix(s, "amzn1.application-oa2-client."):
		what = "looks like a client id, not a client secret"
	case strings.TrimSpace(s) != s:
		what = "has leading or trailing whitespace"
	case strings.HasPrefix(s, "amzn1.oa2-cs.v1."):
		what = "has the right prefix but not 64 lower-case hex digits after it (truncated copy?)"
	}
	return invalid("LWA client secret %s (%d characters): expected amzn1.oa2-cs.v1. followed by 64 lower-case hex digits", what, len(s))
}

// ValidateRefreshToken checks an LWA refresh token: it starts with "Atzr|".
// The message never contains the value.
func ValidateRefreshToken(s string) error {
	what := ""
	switch {
	case s == "":
		what = "is empty"
	case strings.TrimSpace(s) != s:
		what = "has leading or trailing whitespace"
	case strings.HasPrefix(s, "Atza|"):
		what = "is an access token (Atza|…), which lives one hour; paste the refresh token (Atzr|…) instead"
	case strings.HasPrefix(s, "Atz.sprdt|"):
		what = "is a restricted data token, not a refresh token"
	case !strings.HasPrefix(s, "Atzr|"):
		what = "does not start with Atzr|"
	case len(s) < 40:
		what = "is too short (truncated copy?)"
	case strings.ContainsAny(s, " \t\r\n\""):
		what = "contains whitespace or quotes"
	}
	if what == "" {
		return nil
	}
	return invalid("refresh token %s (%d characters): expected Atzr|… as shown once by Authorize in Develop Apps or returned by the OAuth code exchange", what, len(s))
}

// ValidateSellerID checks a selling partner id (merchant token): "A"
// followed by upper-case letters and digits, typically 13–14 characters in
// all (e.g. A2VYDBAL8BMVQK). It accepts 10–20 to stay lenient.
func ValidateSellerID(s string) error {
	if isSellerID(s) {
		return nil
	}
	return invalid("selling partner id %q is not valid: expected A followed by 12–14 upper-case letters and digits, e.g. A2VYDBAL8BMVQK (Seller Central → Settings → Account Info → Merchant Token)", clip(s))
}

// ValidateRoleARN checks an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>).
func ValidateRoleARN(s string) error {
	if reRoleARN.MatchString(s) {
		return nil
	}
	return invalid("role ARN %q is not valid: expected arn:aws:iam::<12-digit account>:role/<name>", clip(s))
}

// ValidateAccessKeyID checks an AWS access key id (AKIA… or ASIA…, 20 characters).
func ValidateAccessKeyID(s string) error {
	if reAccessKeyID.MatchString(s) {
		return nil
	}
	return invalid("AWS access key id %q is not valid: expected 20 upper-case characters starting with AKIA", clip(s))
}

// ValidateAWSSecretKey checks an AWS secret access key (40 characters of
// base64 alphabet). The message never contains the value.
func ValidateAWSSecretKey(s string) error {
	if len(s) == 40 && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == "" {
		return nil
	}
	return invalid("AWS secret access key has the wrong format (%d characters): expected 40 characters of letters, digits, + and /", len(s))
}

// ValidateName checks a local handle (app, seller or client name): 1–64
// letters, digits, '.', '_' or '-', starting with a letter or digit. A
// seller name (kind "seller") must not have the shape of a selling partner
// id either (see ValidateSellerName).
func ValidateName(kind, s string) error {
	if !reName.MatchString(s) {
		return invalid("%s name %q is not valid: use 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit", kind, clip(s))
	}
	if kind == "seller" {
		return ValidateSellerName(s)
	}
	return nil
}

// ValidateSellerName checks a seller's local name: a valid name (see
// ValidateName) that does not look like a selling partner id (A followed
// by 9–19 upper-case letters and digits), so a name can never pass for
// another seller's id where sellers are given by id or name.
func ValidateSellerName(s string) error {
	if !reName.MatchString(s) {
		return ValidateName("seller", s)
	}
	if reSellerID.MatchString(s) {
		return invalid("seller name %q has the shape of a selling partner id (A and 9–19 upper-case letters or digits), so it could be taken for another seller's id: choose a name with a lower-case letter or a '-', e.g. shop-eu", s)
	}
	return nil
}

// ValidateQueueURL checks an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>).
func ValidateQueueURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || strings.Count(strings.Trim(u.Path, "/"), "/") != 1 {
		return invalid("SQS queue URL %q is not valid: expected https://sqs.<region>.amazonaws.com/<account id>/<queue name>", clip(s))
	}
	return nil
}

// ValidateRedirectURI checks an OAuth redirect URI (absolute https, or http on loopback).
func ValidateRedirectURI(s string) error {
	u, err := url.Parse(s)
	if err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname())) && u.Fragment == "" {
		return nil
	}
	return invalid("redirect URI %q is not valid: expected an absolute https:// URL (http:// only for localhost) without a #fragment, the same as registered for the app", clip(s))
}

func isLoopback(h string) bool { return h == "localhost" || h == "127.0.0.1" || h == "::1" }

// Restricted roles an app can hold (the ones that unlock PII).
var knownRoles = []string{"Direct-to-Consumer Shipping", "Tax Invoicing", "Tax Remittance"}

// KnownRestrictedRoles lists the restricted role names spgate knows.
func KnownRestrictedRoles() []string { return append([]string(nil), knownRoles...) }

func normStrings(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// isSellerID is reSellerID without the regexp machinery: it runs on every
// gateway request (Client.AllowsSeller).
func isSellerID(s string) bool {
	if len(s) < 10 || len(s) > 20 || s[0] != 'A' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
