package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newDoctorCmd) }

// doctorOptions are the flags of spgate doctor and what it takes from its
// surroundings.
type doctorOptions struct {
	Seller string
	cmdEnv
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
			o.cmdEnv = newEnv(cmd, streams)
			return runDoctor(cmd.Context(), &o)
		},
	}
	addClientFlags(cmd)
	cmd.Flags().StringVar(&o.Seller, flagSeller, "", "check only this seller (id or name); default every seller that authorized the app")
	return cmd
}

func runDoctor(ctx context.Context, o *doctorOptions) error {
	v, app, ep, err := o.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer v.Close()
	checks, err := o.doctorChecks(ctx, v, app, ep, o.Seller)
	if err != nil {
		return err
	}
	if err := printChecks(o.IO.Out, checks, o.JSON); err != nil {
		return err
	}
	if doctor.Worst(checks) == doctor.Fail {
		return &ExitError{Code: ExitFailure, Err: errors.New("doctor found failures; fix them in the order shown")}
	}
	return nil
}

// doctorChecks runs every check of app (doctor.App) with the client every
// verb builds: for the seller sellerRef names, or every seller that
// authorized the app.
func (e cmdEnv) doctorChecks(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints, sellerRef string) ([]doctor.Check, error) {
	in := doctor.AppInput{Vault: v, App: app, Endpoints: ep, AWSEndpoint: strings.TrimSpace(os.Getenv(EnvAWSEndpoint)),
		Version: buildVersion()}
	if sellerRef != "" {
		s, err := resolveSeller(ctx, v, sellerRef)
		if err != nil {
			return nil, err
		}
		in.Sellers = []vault.Seller{s}
	}
	c, err := e.NewClient(ctx, v, app, ep)
	if err != nil {
		return nil, err
	}
	in.Client = c
	checks, err := doctor.App(ctx, in)
	return checks, storeErr(err)
}

// printChecks writes the checks as a table, or as JSON.
func printChecks(w io.Writer, checks []doctor.Check, asJSON bool) error {
	if asJSON {
		return printJSON(w, map[string]any{"status": doctor.Worst(checks), "checks": checks})
	}
	return doctor.WriteText(w, checks)
}
