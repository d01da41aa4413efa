// Package doctorcmd is spgate doctor: every layer of an app's setup
// checked (package doctor), each failure with the step that fixes it.
package doctorcmd

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
)

// doctorOptions are the flags of spgate doctor and what it takes from its
// surroundings.
type doctorOptions struct {
	Seller string
	*cmdutil.Factory
}

// NewCmd returns spgate doctor.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	o := &doctorOptions{Factory: f}
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
			return runDoctor(cmd.Context(), o)
		},
	}
	cmdutil.AddClientFlags(cmd)
	cmd.Flags().StringVar(&o.Seller, cmdutil.FlagSeller, "", "check only this seller (id or name); default every seller that authorized the app")
	return cmd
}

func runDoctor(ctx context.Context, o *doctorOptions) error {
	v, app, ep, err := o.OpenApp(ctx)
	if err != nil {
		return err
	}
	defer v.Close()
	checks, err := o.DoctorChecks(ctx, v, app, ep, o.Seller)
	if err != nil {
		return err
	}
	if err := printChecks(o.IO.Out, checks, o.JSON); err != nil {
		return err
	}
	if doctor.Worst(checks) == doctor.Fail {
		return cmdutil.Failed(errors.New("doctor found failures; fix them in the order shown"))
	}
	return nil
}

// printChecks writes the checks as a table, or as JSON.
func printChecks(w io.Writer, checks []doctor.Check, asJSON bool) error {
	if asJSON {
		return output.JSON(w, map[string]any{"status": doctor.Worst(checks), "checks": checks})
	}
	return doctor.WriteText(w, checks)
}
