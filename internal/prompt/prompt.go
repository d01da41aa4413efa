// Package prompt reads what a command needs from the person or script
// running it: a secret, from a file, standard input, the environment or a
// hidden prompt on the terminal, and a yes/no confirmation. A secret is
// never taken from a command-line argument, which would end up in shell
// history and the process list.
package prompt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/spgate/spgate/secret"
)

// maxSecretInput bounds what ReadSecret reads from a file or stdin.
const maxSecretInput = 64 << 10

// InputError is input the person or script got wrong or did not give: no
// secret anywhere, an empty or unreadable file, a question asked without a
// terminal to answer it. A command exits for it as for bad input.
type InputError struct{ Err error }

// Error returns the cause's message.
func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(format string, a ...any) error { return &InputError{Err: fmt.Errorf(format, a...)} }

// Source says where a secret may come from, in this order: the file File
// when FileGiven ("-" is standard input), the environment variable Env
// (when not empty), a hidden prompt when standard input is a terminal.
type Source struct {
	What      string // names the secret in messages, e.g. "client secret"
	FileFlag  string // the flag that names the file, e.g. "client-secret-file"
	File      string
	FileGiven bool
	Env       string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// ReadSecret reads the secret src describes, with surrounding white space
// removed; in is standard input and errw where the prompt goes. Nothing
// given, or an empty secret, is an *InputError naming the ways to give it.
func ReadSecret(in io.Reader, errw io.Writer, src Source) (secret.String, error) {
	how := src.howToGive()
	if src.FileGiven {
		raw, err := readFile(in, src.File)
		if err != nil {
			return secret.String{}, inputErr("read the %s from --%s %s: %w", src.What, src.FileFlag, src.File, err)
		}
		if raw == "" {
			return secret.String{}, inputErr("the %s in --%s %s is empty; %s", src.What, src.FileFlag, src.File, how)
		}
		return secret.New(raw), nil
	}
	getenv := src.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if src.Env != "" {
		if v := strings.TrimSpace(getenv(src.Env)); v != "" {
			return secret.New(v), nil
		}
	}
	f, ok := terminal(in)
	if !ok {
		return secret.String{}, inputErr("no %s given; %s", src.What, how)
	}
	fmt.Fprintf(errw, "%s (input is hidden): ", capitalize(src.What))
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(errw)
	if err != nil {
		return secret.String{}, fmt.Errorf("read the %s from the terminal: %w", src.What, err)
	}
	raw := strings.TrimSpace(string(b))
	if raw == "" {
		return secret.String{}, inputErr("no %s entered; %s", src.What, how)
	}
	return secret.New(raw), nil
}

// readFile reads a secret from path ("-" is in).
func readFile(in io.Reader, path string) (string, error) {
	r := in
	if path != "-" {
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

func (src Source) howToGive() string {
	var ways []string
	if src.FileFlag != "" {
		ways = append(ways, fmt.Sprintf("--%s FILE (- for stdin)", src.FileFlag))
	}
	if src.Env != "" {
		ways = append(ways, "$"+src.Env)
	}
	ways = append(ways, "an interactive terminal to be prompted")
	return fmt.Sprintf("give the %s with %s (never as an argument)", src.What, strings.Join(ways, ", or "))
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// terminal returns in as a file when it is a terminal.
func terminal(in io.Reader) (*os.File, bool) {
	f, ok := in.(*os.File)
	return f, ok && term.IsTerminal(int(f.Fd()))
}

// Confirm asks question on errw and reads the answer from in: true for y
// or yes. Without a terminal it refuses with an *InputError, so that a
// script never hangs on a question; scripts confirm with a flag instead.
func Confirm(in io.Reader, errw io.Writer, question string) (bool, error) {
	if _, ok := terminal(in); !ok {
		return false, inputErr("%s: refusing without confirmation; pass --yes to confirm in scripts", question)
	}
	fmt.Fprintf(errw, "%s [y/N] ", question)
	line, _ := bufio.NewReader(in).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}
