package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/consent"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// Environment variables that point spgate at other endpoints than Amazon's
// and AWS's.
const (
	// EnvEndpoint points every SP-API and LWA call at another base URL
	// (the offline Amazon, a proxy): either one URL, or per region
	// "na=URL,eu=URL,fe=URL" (a bare URL among them serves the other
	// regions).
	EnvEndpoint = "SPGATE_ENDPOINT"
	// EnvConsentURL overrides the Seller Central consent page (e.g. the
	// offline Amazon's http://127.0.0.1:PORT/apps/authorize/consent).
	EnvConsentURL = "SPGATE_CONSENT_URL"
	// EnvAWSEndpoint overrides the AWS base URL for IAM, STS and SQS (a
	// moto_server in tests and demos).
	EnvAWSEndpoint = "SPGATE_AWS_ENDPOINT"
	// EnvSQSEndpoint points SQS calls at another endpoint (moto,
	// LocalStack).
	EnvSQSEndpoint = "SPGATE_SQS_ENDPOINT"
)

// Names of the flags several verbs share.
const (
	FlagVault    = "vault"     // the root's: the vault file or DSN
	FlagJSON     = "json"      // the root's: print JSON
	FlagLogLevel = "log-level" // the root's: the log level on stderr
	FlagApp      = "app"       // the app whose credentials to use
	FlagEndpoint = "endpoint"  // a base URL instead of Amazon's
	FlagSandbox  = "sandbox"   // Amazon's static sandbox
	FlagSeller   = "seller"    // the seller to act for
)

// AddClientFlags adds the flags every verb that calls Amazon shares:
// --app, --endpoint and --sandbox, which Factory.OpenApp reads.
func AddClientFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String(FlagApp, "", "app (name, app id or client id) whose credentials to use; default: the only app in the vault")
	f.String(FlagEndpoint, "", "send calls to this base URL instead of Amazon (e.g. the URL spgate emulate prints), or na=URL,eu=URL,fe=URL; default $"+EnvEndpoint)
	f.Bool(FlagSandbox, false, "use Amazon's static sandbox (answers only the models' canned arguments)")
}

// EndpointsFor picks production, the sandbox, or a custom base URL from
// cmd's --endpoint / $SPGATE_ENDPOINT and --sandbox (a verb without these
// flags gets $SPGATE_ENDPOINT, else production).
func EndpointsFor(cmd *cobra.Command) (spapi.Endpoints, error) {
	ep, _ := cmd.Flags().GetString(FlagEndpoint) // "" for a verb without the flag
	if ep == "" {
		ep = os.Getenv(EnvEndpoint)
	}
	sandbox, _ := cmd.Flags().GetBool(FlagSandbox)
	switch {
	case ep != "" && sandbox:
		return spapi.Endpoints{}, UsageErr("--sandbox and --endpoint (or $%s) exclude each other", EnvEndpoint)
	case sandbox:
		return spapi.Sandbox(), nil
	case ep == "":
		return spapi.Production(), nil
	}
	return ParseEndpoint(ep)
}

// ParseEndpoint reads "URL" or "na=URL,eu=URL[,URL]"
// (spapi.ParseEndpoints); a malformed one is bad input.
func ParseEndpoint(s string) (spapi.Endpoints, error) {
	ep, err := spapi.ParseEndpoints(s)
	if err != nil {
		return spapi.Endpoints{}, UsageErr("%v", err)
	}
	return ep, nil
}

// ResolveSeller finds the seller ref (an id or a name) names in v.
func ResolveSeller(ctx context.Context, v *vault.Vault, ref string) (vault.Seller, error) {
	if ref == "" {
		return vault.Seller{}, UsageErr("--seller is required (a selling partner id or the seller's name in the vault)")
	}
	s, err := v.GetSeller(ctx, ref)
	if errors.Is(err, vault.ErrNotFound) {
		return vault.Seller{}, problem.New(problem.NotFound, fmt.Errorf("no seller %q in the vault", ref), "add it with `spgate seller add`, or see `spgate seller list`")
	}
	return s, StoreErr(err)
}

// Signer returns the spapi.Config.Sign hook for app (appvault.Signer),
// its STS calls going to $SPGATE_AWS_ENDPOINT when set; nil for an app
// that does not sign. A signing app without a usable role or key is a
// configuration error.
func Signer(app vault.App) (func(spapi.Region, http.RoundTripper) http.RoundTripper, error) {
	sign, err := appvault.Signer(app, strings.TrimSpace(os.Getenv(EnvAWSEndpoint)))
	if err != nil {
		return nil, ConfigErr(err)
	}
	return sign, nil
}

// ResolveSQSEndpoint is where SQS calls go: flag, else
// $SPGATE_SQS_ENDPOINT, else $SPGATE_AWS_ENDPOINT (the one endpoint for
// IAM, STS and SQS that setup and doctor use), else AWS ("").
func ResolveSQSEndpoint(flag string) string {
	for _, v := range []string{flag, os.Getenv(EnvSQSEndpoint), os.Getenv(EnvAWSEndpoint)} {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// ConsentPage returns the Seller Central consent page for region
// ($SPGATE_CONSENT_URL wins).
func ConsentPage(region string) string {
	if u := os.Getenv(EnvConsentURL); u != "" {
		return u
	}
	return consent.PageURL(region)
}
