package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/spgate/spgate/secret"
)

// maxSecretInput bounds what readSecret reads from a file or stdin.
const maxSecretInput = 64 << 10

// readSecret reads a secret (what names it in messages, e.g. "client
// secret") from, in order:
//
//  1. the file named by the flag flagFile (e.g. "client-secret-file"), when
//     that flag is set on cmd; "-" reads standard input;
//  2. the environment variable envName (when envName is not empty);
//  3. an interactive prompt without echo, when standard input is a terminal.
//
// A secret is never taken from a command-line argument (it would end up in
// shell history and the process list). Surrounding white space and a
// trailing newline are removed. An empty result is a usage error (exit 2)
// naming the three ways to give the secret.
func readSecret(cmd *cobra.Command, what, flagFile, envName string) (secret.String, error) {
	how := howToGive(what, flagFile, envName)
	if flagFile != "" {
		if f := cmd.Flags().Lookup(flagFile); f != nil && f.Changed {
			path := f.Value.String()
			raw, err := readSecretFile(cmd, path)
			if err != nil {
				return secret.String{}, &ExitError{Code: ExitUsage, Err: fmt.Errorf("read the %s from --%s %s: %w", what, flagFile, path, err)}
			}
			if raw == "" {
				return secret.String{}, usageErr("the %s in --%s %s is empty; %s", what, flagFile, path, how)
			}
			return secret.New(raw), nil
		}
	}
	if envName != "" {
		if v := strings.TrimSpace(os.Getenv(envName)); v != "" {
			return secret.New(v), nil
		}
	}
	if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s (input is hidden): ", capitalize(what))
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return secret.String{}, fmt.Errorf("read the %s from the terminal: %w", what, err)
		}
		raw := strings.TrimSpace(string(b))
		if raw == "" {
			return secret.String{}, usageErr("no %s entered; %s", what, how)
		}
		return secret.New(raw), nil
	}
	return secret.String{}, usageErr("no %s given; %s", what, how)
}

// readSecretFile reads a secret from path ("-" is stdin).
func readSecretFile(cmd *cobra.Command, path string) (string, error) {
	var r io.Reader
	if path == "-" {
		r = cmd.InOrStdin()
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(r), maxSecretInput+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSecretInput {
		return "", errors.New("file is larger than 64 KiB; it should hold only the secret")
	}
	return strings.TrimSpace(string(b)), nil
}

func howToGive(what, flagFile, envName string) string {
	var ways []string
	if flagFile != "" {
		ways = append(ways, fmt.Sprintf("--%s FILE (- for stdin)", flagFile))
	}
	if envName != "" {
		ways = append(ways, "$"+envName)
	}
	ways = append(ways, "an interactive terminal to be prompted")
	return fmt.Sprintf("give the %s with %s (never as an argument)", what, strings.Join(ways, ", or "))
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// readCheckedSecret reads a secret as readSecret does and checks its format
// with check (a vault.Validate… function); a bad format is invalid input
// (exit 2).
func readCheckedSecret(cmd *cobra.Command, what, flagFile, envName string, check func(string) error) (secret.String, error) {
	s, err := readSecret(cmd, what, flagFile, envName)
	if err != nil {
		return secret.String{}, err
	}
	if err := check(s.Reveal()); err != nil {
		return secret.String{}, invalidInput(err)
	}
	return s, nil
}

// confirm asks a yes/no question on stderr and reads the answer from stdin.
// Without a terminal and without --yes it refuses (exit 2), so scripts
// never hang.
func confirm(cmd *cobra.Command, question string) (bool, error) {
	in := cmd.InOrStdin()
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, usageErr("%s: refusing without confirmation; pass --yes to confirm in scripts", question)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s [y/N] ", question)
	line, _ := bufio.NewReader(in).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

// removeConfirmed is the end of the remove verbs: unless yes, it asks
// question (declining exits 1 with "not removed"), then calls remove with
// name and reports "removed KIND NAME" (or {"removed": NAME} with --json).
func removeConfirmed(cmd *cobra.Command, streams IO, yes bool, question, kind, name string, remove func(context.Context, string) error) error {
	if !yes {
		ok, err := confirm(cmd, question)
		if err != nil {
			return err
		}
		if !ok {
			return &ExitError{Code: ExitFailure, Err: errors.New("not removed")}
		}
	}
	if err := remove(cmd.Context(), name); err != nil {
		return storeErr(err)
	}
	if jsonOut(cmd) {
		return printJSON(streams.Out, map[string]any{"removed": name})
	}
	fmt.Fprintf(streams.Out, "removed %s %s\n", kind, name)
	return nil
}
