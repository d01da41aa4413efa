package cmdutil

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spgate/spgate/clock"
	"github.com/spgate/spgate/doctor"
	"github.com/spgate/spgate/internal/output"
	"github.com/spgate/spgate/internal/prompt"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// IOStreams are the streams a command reads and writes, so that tests can
// inject them.
type IOStreams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Factory is what a verb takes from its surroundings besides its own flags
// and arguments (cli/cli's cmdutil.Factory). The command line builds one
// for its root and completes it for the command cobra runs before that
// command's RunE (the root's --json, --log-level and --vault, the verb's
// --app, --endpoint and --sandbox); a verb's Options embed it, and a test
// fills one in and calls the verb's run function without cobra.
type Factory struct {
	IO IOStreams
	// JSON is --json: print JSON on stdout (and log JSON lines on stderr).
	JSON bool
	// Log logs on stderr at Level, --log-level (default warn).
	Log   *slog.Logger
	Level slog.Level
	// Clock dates what a verb stores and bounds its waits.
	Clock clock.Clock
	// Version is spgate's version, for the User-Agent and the doctor.
	Version string
	// VaultFlag is --vault as given ("" without it), for a command line
	// run on the same vault (Main).
	VaultFlag string

	// OpenVault opens the vault --vault names (vault.OpenAt); with create
	// a missing vault (and master key) is created. The caller closes it.
	OpenVault func(ctx context.Context, create bool) (*vault.Vault, error)
	// VaultPaths are the vault's and the key file's locations.
	VaultPaths func() (vault.Paths, error)
	// OpenApp opens the vault and resolves the app --app names (default:
	// the only app) and the endpoints --endpoint and --sandbox select. On
	// success the caller closes the vault.
	OpenApp func(ctx context.Context) (*vault.Vault, vault.App, spapi.Endpoints, error)
	// NewClient builds app's SP-API client the way every verb does
	// (appvault.NewClient).
	NewClient func(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints) (*spapi.Client, error)
	// ReadSecret reads a secret from the file its flag names, the
	// environment or a hidden prompt (prompt.ReadSecret).
	ReadSecret func(prompt.Source) (secret.String, error)
	// Confirm asks a yes/no question; without a terminal it refuses.
	Confirm func(question string) (bool, error)
	// NoDump marks the process non-dumpable before a long-running verb
	// reads the vault key (procsec.NoDump).
	NoDump func()
	// Main runs another spgate command line in this process and returns
	// its exit code: demo --console serves with it, the console runs
	// setup aws with it.
	Main func(ctx context.Context, args []string, in io.Reader, out, errw io.Writer) int
}

// UserAgent is the User-Agent of spgate's SP-API calls.
func (f *Factory) UserAgent() string { return "spgate/" + f.Version + " (Language=Go)" }

// WithVault opens the vault, runs fn with it and closes it again.
func (f *Factory) WithVault(ctx context.Context, fn func(v *vault.Vault) error) error {
	return f.withVault(ctx, false, fn)
}

// WithNewVault is WithVault creating the vault (and a master key) when
// there is none yet.
func (f *Factory) WithNewVault(ctx context.Context, fn func(v *vault.Vault) error) error {
	return f.withVault(ctx, true, fn)
}

func (f *Factory) withVault(ctx context.Context, create bool, fn func(v *vault.Vault) error) error {
	v, err := f.OpenVault(ctx, create)
	if err != nil {
		return err
	}
	defer v.Close()
	return fn(v)
}

// Answer prints the verb's answer: j as JSON under --json, else the line
// format makes of a.
func (f *Factory) Answer(j any, format string, a ...any) error {
	if f.JSON {
		return output.JSON(f.IO.Out, j)
	}
	_, err := fmt.Fprintf(f.IO.Out, format+"\n", a...)
	return err
}

// Note tells the user about a choice spgate made for them, on stderr
// (output.Note).
func (f *Factory) Note(note string) { output.Note(f.IO.Err, f.JSON, note) }

// Warn prints warning about what (e.g. "app main") on stderr; nothing for
// an empty warning.
func (f *Factory) Warn(what, warning string) {
	if warning != "" {
		fmt.Fprintf(f.IO.Err, "warning: %s: %s\n", what, warning)
	}
}

// PrintUpdate logs and prints what an update verb changed of kind name;
// under --json with view, the record as the update left it.
func (f *Factory) PrintUpdate(kind, name string, changes []vault.FieldChange, view any) error {
	if len(changes) > 0 {
		f.Log.Info(kind+" updated", kind, name, "fields", len(changes))
	}
	if f.JSON {
		if changes == nil {
			changes = []vault.FieldChange{}
		}
		return output.JSON(f.IO.Out, map[string]any{kind: view, "changed": len(changes) > 0, "changes": changes})
	}
	if len(changes) == 0 {
		_, err := fmt.Fprintf(f.IO.Out, "%s %s: nothing changed\n", kind, name)
		return err
	}
	fmt.Fprintf(f.IO.Out, "updated %s %s:\n", kind, name)
	for _, c := range changes {
		fmt.Fprintf(f.IO.Out, "  %s\n", c)
	}
	return nil
}

// CheckedSecret reads the secret src describes and checks its format with
// check (a vault.Validate… function); a bad format is invalid input.
func (f *Factory) CheckedSecret(src prompt.Source, check func(string) error) (secret.String, error) {
	s, err := f.ReadSecret(src)
	if err != nil {
		return secret.String{}, err
	}
	if err := check(s.Reveal()); err != nil {
		return secret.String{}, InvalidInput(err)
	}
	return s, nil
}

// DoctorChecks runs every check of app (doctor.App) with the client every
// verb builds: for the seller sellerRef names, or every seller that
// authorized the app. spgate doctor prints them, the demo tours them and
// the console shows them.
func (f *Factory) DoctorChecks(ctx context.Context, v *vault.Vault, app vault.App, ep spapi.Endpoints, sellerRef string) ([]doctor.Check, error) {
	in := doctor.AppInput{Vault: v, App: app, Endpoints: ep, AWSEndpoint: strings.TrimSpace(os.Getenv(EnvAWSEndpoint)),
		Version: f.Version}
	if sellerRef != "" {
		s, err := ResolveSeller(ctx, v, sellerRef)
		if err != nil {
			return nil, err
		}
		in.Sellers = []vault.Seller{s}
	}
	c, err := f.NewClient(ctx, v, app, ep)
	if err != nil {
		return nil, err
	}
	in.Client = c
	checks, err := doctor.App(ctx, in)
	return checks, StoreErr(err)
}
