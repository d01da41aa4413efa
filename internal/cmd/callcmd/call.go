// Package callcmd is spgate call: any Selling Partner API operation,
// called through the same chain as everything else, its answer printed.
package callcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// callOptions are the flags and arguments of spgate call and what it takes
// from its surroundings.
type callOptions struct {
	Seller string
	API    string
	PII    []string
	Body   string
	Region string
	Args   []string

	*cmdutil.Factory
}

// NewCmd returns spgate call.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	o := &callOptions{Factory: f}
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
			o.Args = args
			return runCall(cmd.Context(), o)
		},
	}
	cmdutil.AddClientFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.Seller, cmdutil.FlagSeller, "", "seller (id or name) to act for; not needed for grantless operations")
	fl.StringVar(&o.API, "api", "", "API and version when the operationId is ambiguous, e.g. orders/v0 or orders/2026-01-01")
	fl.StringSliceVar(&o.PII, "pii", nil, "data elements for a Restricted Data Token: shippingAddress, buyerInfo, buyerTaxInformation")
	fl.StringVar(&o.Body, "body", "", "JSON request body from FILE, or - for stdin")
	fl.StringVar(&o.Region, "region", "", "region for grantless operations (na, eu, fe; default na)")
	return cmd
}

func runCall(ctx context.Context, o *callOptions) error {
	call, note, err := spapi.ParseCall(o.Args, o.API)
	if err != nil {
		return cmdutil.UsageErr("%v", err)
	}
	op := call.Operation
	if note != "" {
		o.Note(note)
	}
	if !op.Grantless && o.Seller == "" {
		return cmdutil.UsageErr("%s acts for a seller: add --seller ID (or the seller's name in the vault)", op.ID)
	}
	if call.Body, err = readCallBody(o.Body, o.IO.In); err != nil {
		return err
	}
	call.DataElements = o.PII
	v, app, ep, err := o.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer v.Close()
	if err := o.address(ctx, v, &call); err != nil {
		return err
	}
	c, err := o.NewClient(ctx, v, app, ep)
	if err != nil {
		return err
	}
	// Personal data and Amazon credentials are printed only after their
	// release is recorded.
	resp, err := appvault.Call(ctx, v, c, call, appvault.CommandLineReader())
	var re *appvault.ReleaseError
	switch {
	case errors.As(err, &re):
		return cmdutil.ReleaseErr(err)
	case err != nil:
		return cmdutil.CallError(err)
	}
	return o.printAnswer(op.ID, resp)
}

// readCallBody reads --body: a JSON file, or - for in; nil when not given.
func readCallBody(name string, in io.Reader) (any, error) {
	if name == "" {
		return nil, nil
	}
	var raw []byte
	var err error
	if name == "-" {
		raw, err = io.ReadAll(in)
	} else {
		raw, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, cmdutil.UsageErr("read the request body: %v", err)
	}
	if !json.Valid(raw) {
		return nil, cmdutil.UsageErr("the request body in %s is not valid JSON", name)
	}
	return json.RawMessage(raw), nil
}

// address sets whom call acts for: the seller (resolved in the vault) of a
// seller's operation, the region of a grantless one.
func (o *callOptions) address(ctx context.Context, v *vault.Vault, call *spapi.Call) error {
	sellerID := ""
	if o.Seller != "" {
		s, err := cmdutil.ResolveSeller(ctx, v, o.Seller)
		if err != nil {
			return err
		}
		sellerID = s.ID
	}
	if !call.Operation.Grantless {
		call.Seller = sellerID
		return nil
	}
	if o.Region != "" {
		r, err := spapi.ParseRegion(o.Region)
		if err != nil {
			return cmdutil.UsageErr("--region: %v", err)
		}
		call.Region = r
	}
	return nil
}

// printAnswer prints Amazon's answer as indented JSON (as it came when
// it is not JSON), or its status when it has no body.
func (o *callOptions) printAnswer(opID string, resp *spapi.Response) error {
	if len(resp.Body) == 0 {
		if o.JSON {
			return output.JSON(o.IO.Out, map[string]int{"status": resp.Status})
		}
		fmt.Fprintf(o.IO.Err, "%s answered %d with no body\n", opID, resp.Status)
		return nil
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, resp.Body, "", "  "); err != nil {
		_, err = o.IO.Out.Write(resp.Body)
		return err
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(o.IO.Out)
	return err
}
