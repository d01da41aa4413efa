package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newDoctorCmd) }

// doctorOptions are the flags of spgate doctor.
type doctorOptions struct {
	Seller string
	App    string
}

func newDoctorCmd(streams IO) *cobra.Command {
	o := doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check every layer of the setup and name the step that fixes each failure",
		Long: `doctor checks the app and its sellers layer by layer: the formats of ids and
marketplaces, the client secret's age, LWA's refresh-token grant for each
seller, a cheap SP-API call (getMarketplaceParticipations), a Restricted Data
Token for each restricted role the app claims, and the AWS chain when one is
configured. Each failure names the setup step to redo and how.

It exits 0 when nothing failed (warnings allowed) and 1 otherwise.`,
		Example: `  spgate doctor
  spgate doctor --seller A2VYDBAL8BMVQK --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDoctor(cmd, streams, o)
		},
	}
	addClientFlags(cmd)
	cmd.Flags().StringVar(&o.Seller, flagSeller, "", "check only this seller (id or name); default every seller that authorized the app")
	return cmd
}

func runDoctor(cmd *cobra.Command, streams IO, o doctorOptions) error {
	ctx := cmd.Context()
	v, app, ep, err := openVaultApp(ctx, cmd)
	if err != nil {
		return err
	}
	defer v.Close()
	checks, err := doctorChecks(ctx, cmd, v, app, ep, o.Seller)
	if err != nil {
		return err
	}
	if err := printChecks(streams.Out, checks, jsonOut(cmd)); err != nil {
		return err
	}
	if doctor.Worst(checks) == doctor.Fail {
		return &ExitError{Code: ExitFailure, Err: errors.New("doctor found failures; fix them in the order shown")}
	}
	return nil
}

// doctorChecks runs every check for app: the SP-API layers (doctor.Run),
// then the AWS chain.
func doctorChecks(ctx context.Context, cmd *cobra.Command, v *vault.Vault, app vault.App, ep spapi.Endpoints, sellerRef string) ([]doctor.Check, error) {
	var sellers []vault.Seller
	if sellerRef != "" {
		s, err := resolveSeller(ctx, v, sellerRef)
		if err != nil {
			return nil, err
		}
		sellers = append(sellers, s)
	} else {
		list, err := v.ListSellers(ctx)
		if err != nil {
			return nil, storeErr(err)
		}
		for _, s := range list {
			if _, ok := s.Authorization(app.Name); !ok {
				continue
			}
			full, err := v.GetSeller(ctx, s.ID)
			if err != nil {
				return nil, storeErr(err)
			}
			sellers = append(sellers, full)
		}
	}
	c, err := clientForApp(ctx, cmd, v, app, ep)
	if err != nil {
		return nil, err
	}
	checks := doctor.Run(ctx, doctor.Input{App: app, Sellers: sellers, Client: c,
		Credentials: vaultCredentials{v: v, app: app.Name}, Endpoints: ep})
	checks = append(checks, doctorSecrets(ctx, v, app, ep)...)
	checks = append(checks, doctorAWS(ctx, v, app)...)
	checks = append(checks, doctor.Database(ctx, v)...) // a vault in PostgreSQL
	checks = append(checks, doctor.Replicas(ctx, v, buildVersion())...)
	return checks, nil
}

var statusMark = map[doctor.Status]string{doctor.OK: "✓", doctor.Skip: "-", doctor.Warn: "!", doctor.Fail: "✗"}

// printChecks writes the checks as a table, or as JSON.
func printChecks(w io.Writer, checks []doctor.Check, asJSON bool) error {
	if asJSON {
		return printJSON(w, map[string]any{"status": doctor.Worst(checks), "checks": checks})
	}
	for _, c := range checks {
		if _, err := fmt.Fprintf(w, "%s %-7s %-20s %s\n", statusMark[c.Status], c.Layer, c.Name, c.Detail); err != nil {
			return err
		}
		if c.Status == doctor.Fail || c.Status == doctor.Warn {
			if c.Step != "" {
				fmt.Fprintf(w, "    step: %s\n", c.Step)
			}
			if c.Fix != "" {
				fmt.Fprintf(w, "    fix:  %s\n", c.Fix)
			}
		}
	}
	n := map[doctor.Status]int{}
	for _, c := range checks {
		n[c.Status]++
	}
	_, err := fmt.Fprintf(w, "\n%d ok, %d warnings, %d failed, %d skipped\n", n[doctor.OK], n[doctor.Warn], n[doctor.Fail], n[doctor.Skip])
	return err
}
