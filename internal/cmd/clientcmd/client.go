// Package clientcmd is spgate client: the gateway's client keys, who may
// call spgate serve for which sellers and operations.
package clientcmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/appvault"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/vault"
)

// NewCmd returns spgate client and its verbs.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Manage the gateway's client keys (Business Central, scripts)",
		Long: `client manages who may call the gateway (spgate serve): each client has a
key, the sellers it may act for, the operations it may call, and whether it
may receive personal data (PII).

Keys are shown once, when created; the vault keeps only their SHA-256. A
running gateway trusts a key it checked for up to 30 s, so a revocation takes
effect within 30 s (restart the gateway for an immediate effect).`,
		Example: `  spgate client add business-central --seller A2VYDBAL8BMVQK --operation orders/v0,getMarketplaceParticipations --pii
  spgate client add reporting --seller '*' --operation getOrders
  spgate client list
  spgate client rotate-key reporting
  spgate client revoke reporting`,
	}
	cmd.AddCommand(newClientAddCmd(f), newClientListCmd(f), newClientRotateKeyCmd(f), newClientRevokeCmd(f))
	return cmd
}

// clientAddOptions are the flags of spgate client add.
type clientAddOptions struct {
	*cmdutil.Factory
	Name                string
	Sellers, Operations []string
	PII                 bool
}

func newClientAddCmd(f *cmdutil.Factory) *cobra.Command {
	o := &clientAddOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a gateway client and print its key once",
		Long: `add creates a gateway client and prints its key (spg_…) once: store it in
the caller's secret store (Business Central: an isolated storage or Azure
Key Vault), it cannot be shown again.

--seller takes selling partner ids or the sellers' names in the vault, or *
for every seller. --operation takes operation ids (getOrders), api/version
(orders/v0), api/version/id (orders/v0/getOrders), an api (orders), or * for
all. --pii lets the client ask for personal data (X-Spgate-PII) and call
operations that always return it (getOrderAddress…).`,
		Example: `  spgate client add business-central --seller A2VYDBAL8BMVQK --operation orders/v0 --pii`,
		Args:    cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return runClientAdd(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&o.Sellers, "seller", nil, "sellers the client may act for: ids or names, comma-separated, or * (required)")
	fl.StringSliceVar(&o.Operations, "operation", nil, "operations the client may call: getOrders, orders/v0, orders, … or * (required)")
	fl.BoolVar(&o.PII, "pii", false, "allow personal data (Restricted Data Tokens, getOrderAddress…)")
	return cmd
}

func runClientAdd(ctx context.Context, o *clientAddOptions) error {
	if len(o.Sellers) == 0 {
		return cmdutil.UsageErr("--seller is required: selling partner ids or names, or * for all sellers")
	}
	if len(o.Operations) == 0 {
		return cmdutil.UsageErr("--operation is required: operation ids such as getOrders, api/version such as orders/v0, or *")
	}
	for _, op := range o.Operations {
		if err := operations.CheckScope(strings.TrimSpace(op)); err != nil {
			return cmdutil.UsageErr("--operation %v", err)
		}
	}
	return o.WithVault(ctx, func(v *vault.Vault) error {
		key, err := appvault.CreateClient(ctx, v, vault.Client{Name: o.Name, Sellers: o.Sellers, Operations: o.Operations, PII: o.PII})
		switch {
		case errors.Is(err, vault.ErrNotFound):
			return problem.New(problem.NotFound, err, "add it with `spgate seller add` first, or see `spgate seller list`")
		case errors.Is(err, vault.ErrExists):
			return problem.New(problem.Exists, fmt.Errorf("a gateway client named %q already exists", o.Name),
				fmt.Sprintf("pick another name, or give it a new key with `spgate client rotate-key %s`", o.Name))
		case err != nil:
			return cmdutil.StoreErr(err)
		}
		if o.JSON {
			return output.JSON(o.IO.Out, struct {
				Name       string   `json:"name"`
				Key        string   `json:"key"`
				Sellers    []string `json:"sellers"`
				Operations []string `json:"operations"`
				PII        bool     `json:"pii"`
			}{o.Name, key.Reveal(), o.Sellers, o.Operations, o.PII})
		}
		fmt.Fprintf(o.IO.Out, "%s\n", key.Reveal())
		fmt.Fprintf(o.IO.Err, "spgate: created gateway client %s; the key above is shown only now — store it in the caller's secret store\n", o.Name)
		return nil
	})
}

func newClientListCmd(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.ListCmd(&cobra.Command{
		Use:   "list",
		Short: "List gateway clients and their scopes (never their keys)",
	}, f, cmdutil.List[appvault.ClientView]{
		Rows: func(ctx context.Context, v *vault.Vault, _ time.Time) ([]appvault.ClientView, error) {
			cs, err := v.ListClients(ctx)
			return cmdutil.Views(cs, err, appvault.NewClientView)
		},
		Empty:  "spgate: no gateway clients; create one with `spgate client add`",
		Header: "NAME\tSELLERS\tOPERATIONS\tPII\tSTATUS",
		Line: func(c appvault.ClientView) string {
			status := "active since " + c.CreatedAt.Format(time.DateOnly)
			if c.RevokedAt != nil {
				status = "revoked " + c.RevokedAt.Format(time.DateOnly)
			}
			pii := "no"
			if c.PII {
				pii = "yes"
			}
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", c.Name, strings.Join(c.Sellers, ","), strings.Join(c.Operations, ","), pii, status)
		},
	})
}

// keyOptions name the client of spgate client rotate-key and revoke.
type keyOptions struct {
	*cmdutil.Factory
	Name string
}

func newClientRotateKeyCmd(f *cmdutil.Factory) *cobra.Command {
	o := &keyOptions{Factory: f}
	return &cobra.Command{
		Use:   "rotate-key NAME",
		Short: "Give a gateway client a new key and print it once; the old key stops working",
		Long: `rotate-key replaces the client's key, keeping its sellers, operations and
PII permission, and prints the new key (spg_…) once. The old key stops
working; a running gateway that checked it in the last 30 s may still accept
it until its key cache expires. A revoked client is active again with the
new key.`,
		Example: `  spgate client rotate-key business-central`,
		Args:    cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return runClientRotateKey(cmd.Context(), o)
		},
	}
}

func runClientRotateKey(ctx context.Context, o *keyOptions) error {
	return o.WithVault(ctx, func(v *vault.Vault) error {
		key, err := v.RotateClientKey(ctx, o.Name)
		if err != nil {
			return cmdutil.NotFound(err, "gateway client", o.Name, "spgate client list")
		}
		if o.JSON {
			return output.JSON(o.IO.Out, struct {
				Name string `json:"name"`
				Key  string `json:"key"`
			}{o.Name, key.Reveal()})
		}
		fmt.Fprintf(o.IO.Out, "%s\n", key.Reveal())
		fmt.Fprintf(o.IO.Err, "spgate: gave gateway client %s a new key; the key above is shown only now — store it in the caller's secret store (the old key stops working within 30 s)\n", o.Name)
		return nil
	})
}

func newClientRevokeCmd(f *cmdutil.Factory) *cobra.Command {
	o := &keyOptions{Factory: f}
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a gateway client's key",
		Long: `revoke stops the client's key from working; the record stays for the audit
trail. A running gateway notices within 30 s (its key cache); restart it for
an immediate effect.`,
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return runClientRevoke(cmd.Context(), o)
		},
	}
}

func runClientRevoke(ctx context.Context, o *keyOptions) error {
	return o.WithVault(ctx, func(v *vault.Vault) error {
		if err := v.RevokeClient(ctx, o.Name); err != nil {
			return cmdutil.NotFound(err, "gateway client", o.Name, "spgate client list")
		}
		fmt.Fprintf(o.IO.Err, "spgate: revoked gateway client %s (running gateways stop accepting it within 30 s)\n", o.Name)
		return nil
	})
}
