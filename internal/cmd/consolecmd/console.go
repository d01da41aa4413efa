// Package consolecmd is spgate console: what works on the admin web
// console that spgate serve --console serves (console link).
package consolecmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/spgate/spgate/console"
	"github.com/spgate/spgate/gatewayserver"
	"github.com/spgate/spgate/internal/cmdutil"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/problem"
	"github.com/spgate/spgate/vault"
)

// linkOptions are the flags of spgate console link.
type linkOptions struct {
	*cmdutil.Factory
	URL string
}

// NewCmd returns spgate console and its verb link.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "console",
		Short: "The admin web console of spgate serve --console",
		Args:  cobra.NoArgs,
	}
	o := &linkOptions{Factory: f}
	link := &cobra.Command{
		Use:   "link",
		Short: "Print a new one-time sign-in link for the admin console",
		Long: `link prints a link that signs a browser in to the admin console served by
spgate serve --console ADDR on the same vault. It works once, within 15
minutes; the console need not be restarted. The link is kept in the vault
only as a hash.`,
		Example: `  spgate console link
  spgate console link --url https://gateway.example.com:8088`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLink(cmd.Context(), o) },
	}
	link.Flags().StringVar(&o.URL, "url", "", "the console's base URL (default: the address the running console recorded in the vault)")
	cmd.AddCommand(link)
	return cmd
}

func runLink(ctx context.Context, o *linkOptions) error {
	return o.WithVault(ctx, func(v *vault.Vault) error {
		link, err := gatewayserver.LoginLink(ctx, v, o.URL)
		switch {
		case errors.Is(err, gatewayserver.ErrNoConsole):
			return problem.New(problem.NotFound, err, "start one with spgate serve --console 127.0.0.1:8088, or give its address with --url")
		case err != nil:
			return cmdutil.StoreErr(err)
		}
		if o.JSON {
			return output.JSON(o.IO.Out, map[string]any{"url": link, "expiresInSeconds": int(console.LoginTokenTTL / time.Second)})
		}
		fmt.Fprintln(o.IO.Out, link)
		fmt.Fprintf(o.IO.Err, "spgate: open it once, within %d minutes, in the browser that should be signed in\n", int(console.LoginTokenTTL/time.Minute))
		return nil
	})
}
