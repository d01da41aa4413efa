package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newCallCmd) }

// callOptions are the flags and arguments of spgate call.
type callOptions struct {
	Seller string
	API    string
	PII    []string
	Body   string
	Region string
}

func newCallCmd(streams IO) *cobra.Command {
	o := callOptions{}
	cmd := &cobra.Command{
		Use:   "call <operationId | METHOD PATH> [key=value…]",
		Short: "Call any Selling Partner API operation and print Amazon's JSON answer",
		Long: `call is the raw escape hatch: it calls one SP-API operation through the same
chain as everything else (LWA token or RDT, rate limiter, retries) and prints
Amazon's answer as indented JSON.

Name the operation by its operationId (getOrders, getMarketplaceParticipations)
or by METHOD and PATH. key=value arguments fill the path's placeholders first,
the rest become query parameters (repeat a key for several values). When an
operationId exists in several APIs, call picks the one a seller's app calls
(vendor APIs are for Vendor Central accounts) in its newest version, says on
stderr which it chose, and asks for --api (orders/v0) when that leaves more
than one.

On an error answer it prints Amazon's code and message with a likely cause
and the setup step that fixes it, and exits 1.`,
		Example: `  spgate call getMarketplaceParticipations --seller A2VYDBAL8BMVQK
  spgate call getOrders --api orders/v0 MarketplaceIds=ATVPDKIKX0DER CreatedAfter=2025-01-01T00:00:00Z --seller main
  spgate call getOrderAddress orderId=123-1234567-1234567 --seller main
  spgate call GET /orders/v0/orders/123-1234567-1234567 --pii shippingAddress --seller main
  spgate call POST /tokens/2021-03-01/restrictedDataToken --body req.json --seller main`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCall(cmd, streams, o, args)
		},
	}
	addClientFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Seller, flagSeller, "", "seller (id or name) to act for; not needed for grantless operations")
	f.StringVar(&o.API, "api", "", "API and version when the operationId is ambiguous, e.g. orders/v0 or orders/2026-01-01")
	f.StringSliceVar(&o.PII, "pii", nil, "data elements for a Restricted Data Token: shippingAddress, buyerInfo, buyerTaxInformation")
	f.StringVar(&o.Body, "body", "", "JSON request body from FILE, or - for stdin")
	f.StringVar(&o.Region, "region", "", "region for grantless operations (na, eu, fe; default na)")
	return cmd
}

// resolveCall turns the arguments into an operation, its path parameters and
// query; it needs no network and no vault. note, when not empty, says which
// of several APIs an operationId was resolved to without --api.
func resolveCall(args []string, api string) (*operations.Operation, map[string]string, url.Values, string, error) {
	var op *operations.Operation
	note := ""
	params := map[string]string{}
	query := url.Values{}
	rest := args[1:]
	if len(args) >= 2 && isHTTPMethod(args[0]) && strings.HasPrefix(args[1], "/") {
		method := strings.ToUpper(args[0])
		u, err := url.Parse(args[1])
		if err != nil {
			return nil, nil, nil, "", usageErr("path %q is not a URL path: %v", args[1], err)
		}
		o, p, ok := operations.Lookup(method, u.Path)
		if !ok {
			return nil, nil, nil, "", usageErr("%s %s is no SP-API operation: check the path against the API's reference (e.g. GET /orders/v0/orders)", method, u.Path)
		}
		op, params = o, p
		for k, vs := range u.Query() {
			query[k] = append(query[k], vs...)
		}
		rest = args[2:]
	} else {
		id := args[0]
		if strings.HasPrefix(id, "/") {
			return nil, nil, nil, "", usageErr("a path needs its method first: spgate call GET %s", id)
		}
		found := operations.Find(id)
		if api != "" {
			var keep []*operations.Operation
			for _, o := range found {
				if o.API+"/"+o.Version == api || o.Version == api {
					keep = append(keep, o)
				}
			}
			if len(keep) == 0 && len(found) > 0 {
				return nil, nil, nil, "", usageErr("%s is not in %s; it is in: %s", id, api, choices(found))
			}
			found = keep
		}
		switch len(found) {
		case 0:
			return nil, nil, nil, "", usageErr("no SP-API operation is called %q (operationIds are case-sensitive, e.g. getOrders)", id)
		case 1:
			op = found[0]
		default:
			if op = preferredOperation(found); op == nil {
				return nil, nil, nil, "", usageErr("%s exists in several APIs; choose one with --api: %s", id, choices(found))
			}
			note = fmt.Sprintf("%s is in several APIs; calling %s/%s (%s %s), %s; choose another with --api: %s",
				id, op.API, op.Version, op.Method, op.Path, whyPreferred(op, found), choices(others(found, op)))
		}
	}
	placeholders := pathParams(op.Path)
	for _, kv := range rest {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, nil, "", usageErr("argument %q is not key=value", kv)
		}
		if _, isPath := placeholders[k]; isPath {
			if _, set := params[k]; !set || params[k] == "" {
				params[k] = v
				continue
			}
		}
		query.Add(k, v)
	}
	for p := range placeholders {
		if params[p] == "" {
			return nil, nil, nil, "", usageErr("%s needs the path parameter %s: add %s=…", op.ID, p, p)
		}
	}
	return op, params, query, note, nil
}

// preferredOperation picks, among the APIs an operationId exists in, the
// one a seller's app calls, or nil when that is still a matter of choice:
//   - vendor APIs (vendor-…) are for Vendor Central accounts, and the vault
//     holds Seller Central selling partners, so they drop out when another
//     API remains;
//   - of several versions of one API, the newest: Amazon deprecates the
//     older one (Orders v0 is marked deprecated in its model; Listings Items
//     2020-09-01 and Catalog Items 2020-12-01 were retired).
//
// getOrders resolves to orders/v0, putListingsItem to listings-items
// 2021-08-01; getOrder stays ambiguous (Orders or Fulfillment Outbound).
func preferredOperation(found []*operations.Operation) *operations.Operation {
	var keep []*operations.Operation
	for _, o := range found {
		if !isVendorAPI(o.API) {
			keep = append(keep, o)
		}
	}
	if len(keep) == 0 {
		keep = found
	}
	newest := map[string]*operations.Operation{}
	var apis []string
	for _, o := range keep {
		cur, ok := newest[o.API]
		if !ok {
			apis = append(apis, o.API)
		}
		if !ok || versionNewer(o.Version, cur.Version) {
			newest[o.API] = o
		}
	}
	if len(apis) != 1 {
		return nil
	}
	op := newest[apis[0]]
	for _, o := range keep {
		if o != op && o.API == op.API && o.Version == op.Version {
			return nil // the same id twice in one version: only the path tells
		}
	}
	return op
}

// whyPreferred says in a few words why preferredOperation chose op.
func whyPreferred(op *operations.Operation, found []*operations.Operation) string {
	var why []string
	for _, o := range found {
		if isVendorAPI(o.API) && !isVendorAPI(op.API) {
			why = append(why, "the only one for seller accounts (vendor APIs are for Vendor Central)")
			break
		}
	}
	for _, o := range found {
		if o.API == op.API && o != op {
			why = append(why, "its newest version")
			break
		}
	}
	return strings.Join(why, " and ")
}

func others(found []*operations.Operation, op *operations.Operation) []*operations.Operation {
	var out []*operations.Operation
	for _, o := range found {
		if o != op {
			out = append(out, o)
		}
	}
	return out
}

func isVendorAPI(api string) bool { return strings.HasPrefix(api, "vendor-") }

// versionNewer reports whether API version a is newer than b: dated
// versions (2021-08-01) by date, v-numbers (v0, v1) by number, and any
// dated version newer than a v-number.
func versionNewer(a, b string) bool {
	va, aIsV := strings.CutPrefix(a, "v")
	vb, bIsV := strings.CutPrefix(b, "v")
	switch {
	case aIsV && bIsV:
		na, ea := strconv.Atoi(va)
		nb, eb := strconv.Atoi(vb)
		if ea == nil && eb == nil {
			return na > nb
		}
		return a > b
	case aIsV != bIsV:
		return bIsV // a is dated, b is a v-number
	}
	return a > b
}

func choices(ops []*operations.Operation) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = fmt.Sprintf("--api %s/%s (%s %s)", o.API, o.Version, o.Method, o.Path)
	}
	return strings.Join(s, ", ")
}

func pathParams(tmpl string) map[string]struct{} {
	out := map[string]struct{}{}
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			return out
		}
		out[tmpl[i+1:i+j]] = struct{}{}
		tmpl = tmpl[i+j+1:]
	}
}

func isHTTPMethod(s string) bool {
	switch strings.ToUpper(s) {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead:
		return true
	}
	return false
}

func runCall(cmd *cobra.Command, streams IO, o callOptions, args []string) error {
	ctx := cmd.Context()
	op, params, query, note, err := resolveCall(args, o.API)
	if err != nil {
		return err
	}
	if note != "" {
		printNote(cmd, streams.Err, note)
	}
	if !op.Grantless && o.Seller == "" {
		return usageErr("%s acts for a seller: add --seller ID (or the seller's name in the vault)", op.ID)
	}
	var body any
	if o.Body != "" {
		var raw []byte
		if o.Body == "-" {
			raw, err = io.ReadAll(streams.In)
		} else {
			raw, err = os.ReadFile(o.Body)
		}
		if err != nil {
			return usageErr("read the request body: %v", err)
		}
		if !json.Valid(raw) {
			return usageErr("the request body in %s is not valid JSON", o.Body)
		}
		body = json.RawMessage(raw)
	}
	v, err := openVault(cmd, false)
	if err != nil {
		return err
	}
	defer v.Close()
	sellerID := ""
	if o.Seller != "" {
		s, err := resolveSeller(ctx, v, o.Seller)
		if err != nil {
			return err
		}
		sellerID = s.ID
	}
	c, err := newClient(ctx, cmd, v)
	if err != nil {
		return err
	}
	call := spapi.Call{Operation: op, PathParams: params, Query: query, Body: body, DataElements: o.PII}
	if op.Grantless {
		if o.Region != "" {
			r, err := spapi.ParseRegion(o.Region)
			if err != nil {
				return usageErr("--region: %v", err)
			}
			call.Region = r
		}
	} else {
		call.Seller = sellerID
	}
	resp, err := c.Do(ctx, call)
	if err != nil {
		return callError(err)
	}
	// Personal data is printed only after its access is recorded, decided
	// on the operation, data elements and decoded query that were sent.
	if op.ReturnsPersonalData(o.PII, query) {
		if err := recordRelease(ctx, v, vault.AccessEvent{Seller: sellerID, Operation: op.ID, PII: true,
			Status: resp.Status, RequestID: resp.Header.Get("x-amzn-RequestId")}, "this "+op.ID+" call (it returns personal data)"); err != nil {
			return err
		}
	}
	if len(resp.Body) == 0 {
		if jsonOut(cmd) {
			return printJSON(streams.Out, map[string]int{"status": resp.Status})
		}
		fmt.Fprintf(streams.Err, "%s answered %d with no body\n", op.ID, resp.Status)
		return nil
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, resp.Body, "", "  "); err != nil {
		_, err = streams.Out.Write(resp.Body)
		return err
	}
	buf.WriteByte('\n')
	_, err = buf.WriteTo(streams.Out)
	return err
}

// callError explains an error answer: Amazon's words, the likely cause, and
// the setup step that fixes it.
func callError(err error) error {
	var ae *spapi.APIError
	if !errors.As(err, &ae) {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s answered %d", ae.Operation, ae.Status)
	if ae.Code != "" {
		fmt.Fprintf(&b, " %s", ae.Code)
	}
	if ae.Message != "" {
		fmt.Fprintf(&b, ": %s", ae.Message)
	}
	if ae.Details != "" {
		fmt.Fprintf(&b, " (%s)", ae.Details)
	}
	if ae.Body != "" {
		fmt.Fprintf(&b, "\n  body: %s", ae.Body)
	}
	if d := ae.Diagnose(); d.Cause != "" {
		fmt.Fprintf(&b, "\n  likely cause: %s\n  fix: %s", d.Cause, d.Fix)
		if d.Step != "" {
			fmt.Fprintf(&b, "\n  setup step: %s", d.Step)
		}
	}
	if ae.RequestID != "" {
		fmt.Fprintf(&b, "\n  request id: %s", ae.RequestID)
	}
	return &ExitError{Code: ExitFailure, Err: errors.New(b.String())}
}
