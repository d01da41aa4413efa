package cli

import (
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newCompletionCmd) }

func newCompletionCmd(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `completion prints spgate's completion script for a shell. Load it in the
current shell or install it where your shell looks for completions.`,
		Example: `  source <(spgate completion bash)
  spgate completion zsh > "${fpath[1]}/_spgate"
  spgate completion fish > ~/.config/fish/completions/spgate.fish
  spgate completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("completion takes one shell: bash, zsh, fish or powershell")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(streams.Out, true)
			case "zsh":
				return root.GenZshCompletion(streams.Out)
			case "fish":
				return root.GenFishCompletion(streams.Out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(streams.Out)
			}
			return usageErr("unknown shell %q: use bash, zsh, fish or powershell", args[0])
		},
	}
}
