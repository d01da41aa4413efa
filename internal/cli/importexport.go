package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/vault"
)

func init() { commands = append(commands, newImportCmd, newExportCmd) }

// Import sources: the credential shapes of the two popular client libraries.
const (
	fromPythonEnv  = "python-env"  // python-amazon-sp-api: LWA_APP_ID, LWA_CLIENT_SECRET, SP_API_REFRESH_TOKEN
	fromPythonYAML = "python-yaml" // python-amazon-sp-api: credentials.yml
	fromNodeEnv    = "node-env"    // amazon-sp-api (Node): SELLING_PARTNER_APP_CLIENT_ID/_SECRET
	fromNodeFile   = "node-file"   // amazon-sp-api (Node): ~/.amzspapi/credentials
)

// importedCreds is what a source yields.
type importedCreds struct {
	ClientID     string
	ClientSecret secret.String
	RefreshToken secret.String
	AWSAccessKey string
	AWSSecretKey secret.String
	RoleARN      string
}

type importOptions struct {
	From, File, Account        string
	App, AppID, Seller, Region string
	Marketplaces               []string
}

func newImportCmd(streams IO) *cobra.Command {
	o := importOptions{}
	cmd := &cobra.Command{
		Use:   "import --from SOURCE --app NAME --app-id ID",
		Short: "Import credentials from python-amazon-sp-api or the Node amazon-sp-api library",
		Long: `import reads the credentials another SP-API client library uses and stores
them in the vault as a new app (and, with --seller, a seller holding the
refresh token). Sources:

  python-env   python-amazon-sp-api's environment: LWA_APP_ID (the LWA client
               id), LWA_CLIENT_SECRET, SP_API_REFRESH_TOKEN; with --file, the
               same KEY=value lines from a .env file
  python-yaml  python-amazon-sp-api's credentials.yml (version: '1.0', one
               mapping per account with lwa_app_id, lwa_client_secret,
               refresh_token); --file defaults to
               ~/.config/python-sp-api/credentials.yml, --account to default
  node-env     the Node amazon-sp-api environment:
               SELLING_PARTNER_APP_CLIENT_ID, SELLING_PARTNER_APP_CLIENT_SECRET
               (its refresh token is passed in code: give it via --seller and
               $SPGATE_REFRESH_TOKEN)
  node-file    the Node library's ~/.amzspapi/credentials (KEY=value lines)

Neither library stores the application id (amzn1.sp.solution.…), which the
vault needs: pass it with --app-id. Every value is validated before anything
is written; either everything is imported or nothing.`,
		Example: `  spgate import --from python-env --app main --app-id amzn1.sp.solution.… \
    --seller A2VYDBAL8BMVQK --region na --marketplace ATVPDKIKX0DER
  spgate import --from python-yaml --account default --app main --app-id amzn1.sp.solution.…
  spgate import --from node-file --file ~/.amzspapi/credentials --app main --app-id amzn1.sp.solution.…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runImport(cmd, streams, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.From, "from", "", "source: python-env, python-yaml, node-env or node-file (required)")
	f.StringVar(&o.File, "file", "", "file to read (python-yaml, node-file, or a .env file for the env sources)")
	f.StringVar(&o.Account, "account", "default", "python-yaml: the account mapping to read")
	f.StringVar(&o.App, "app", "", "name for the app in the vault (required)")
	f.StringVar(&o.AppID, "app-id", "", "the app's application id, amzn1.sp.solution.<uuid> (required)")
	f.StringVar(&o.Seller, "seller", "", "store the refresh token for this selling partner id")
	f.StringVar(&o.Region, "region", "", "with --seller: the seller's region (na, eu, fe)")
	f.StringSliceVar(&o.Marketplaces, "marketplace", nil, "with --seller: marketplace ids or country codes in --region")
	return cmd
}

func runImport(cmd *cobra.Command, streams IO, o importOptions) error {
	switch o.From {
	case fromPythonEnv, fromPythonYAML, fromNodeEnv, fromNodeFile:
	case "":
		return usageErr("--from is required: python-env, python-yaml, node-env or node-file")
	default:
		return usageErr("--from %q is not a source: use python-env, python-yaml, node-env or node-file", o.From)
	}
	if o.App == "" {
		return usageErr("--app is required: the name the app gets in the vault")
	}
	if err := vault.ValidateName("app", o.App); err != nil {
		return invalidInput(err)
	}
	if o.AppID == "" {
		return usageErr("--app-id is required: neither library stores the application id (amzn1.sp.solution.<uuid>, from Develop Apps)")
	}
	if err := vault.ValidateAppID(o.AppID); err != nil {
		return invalidInput(fmt.Errorf("--app-id: %w", err))
	}
	var mps []string
	if o.Seller != "" {
		if err := validateSellerInput(o.Seller, o.Region); err != nil {
			return err
		}
		var err error
		if mps, err = parseMarketplaces(o.Region, o.Marketplaces); err != nil {
			return err
		}
	} else if o.Region != "" || len(o.Marketplaces) > 0 {
		return usageErr("--region and --marketplace describe a seller: pass --seller SELLER_ID too")
	}
	c, src, err := readImport(o)
	if err != nil {
		return err
	}
	if o.From == fromNodeEnv && c.RefreshToken.IsZero() {
		if v := strings.TrimSpace(os.Getenv(envRefreshToken)); v != "" {
			c.RefreshToken = secret.New(v)
		}
	}
	if c.ClientID == "" {
		return usageErr("%s has no LWA client id (%s)", src, clientIDKey(o.From))
	}
	if err := vault.ValidateClientID(c.ClientID); err != nil {
		return invalidInput(fmt.Errorf("%s: %w", src, err))
	}
	if c.ClientSecret.IsZero() {
		return usageErr("%s has no LWA client secret (%s)", src, clientSecretKey(o.From))
	}
	if err := vault.ValidateClientSecret(c.ClientSecret.Reveal()); err != nil {
		return invalidInput(fmt.Errorf("%s: %w", src, err))
	}
	app := vault.App{Name: o.App, AppID: o.AppID, ClientID: c.ClientID, Region: o.Region, RoleARN: c.RoleARN,
		ClientSecrets: []vault.Secret{{Value: c.ClientSecret}}}
	if c.AWSAccessKey != "" && !c.AWSSecretKey.IsZero() {
		if err := vault.ValidateAccessKeyID(c.AWSAccessKey); err != nil {
			return invalidInput(fmt.Errorf("%s: %w", src, err))
		}
		if err := vault.ValidateAWSSecretKey(c.AWSSecretKey.Reveal()); err != nil {
			return invalidInput(fmt.Errorf("%s: %w", src, err))
		}
		app.AWSAccessKeyID, app.AWSSecretKey = c.AWSAccessKey, vault.Secret{Value: c.AWSSecretKey}
	}
	snap := vault.Snapshot{Apps: []vault.App{app}}
	if o.Seller != "" {
		if c.RefreshToken.IsZero() {
			return usageErr("--seller needs a refresh token, but %s has none (%s)", src, refreshTokenKey(o.From))
		}
		if err := vault.ValidateRefreshToken(c.RefreshToken.Reveal()); err != nil {
			return invalidInput(fmt.Errorf("%s: %w", src, err))
		}
		snap.Sellers = []vault.Seller{{ID: o.Seller, Region: o.Region, Marketplaces: mps,
			Authorizations: []vault.Authorization{{AppName: o.App, RefreshToken: vault.Secret{Value: c.RefreshToken}}}}}
	} else if !c.RefreshToken.IsZero() {
		fmt.Fprintf(streams.Err, "spgate: note: %s also holds a refresh token; it was not imported (pass --seller, --region and --marketplace to store it)\n", src)
	}
	v, err := openVault(cmd, true)
	if err != nil {
		return err
	}
	defer v.Close()
	if err := v.Import(cmd.Context(), snap); err != nil {
		if errors.Is(err, vault.ErrExists) {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("nothing imported: %w (choose another --app name, or remove the existing entry first)", err)}
		}
		return storeErr(err)
	}
	logger(cmd).Info("imported", "from", o.From, "app", o.App, "seller", o.Seller)
	if jsonOut(cmd) {
		return printJSON(streams.Out, map[string]any{"from": o.From, "app": o.App, "clientId": c.ClientID, "seller": o.Seller})
	}
	msg := fmt.Sprintf("imported app %s (client id %s) from %s", o.App, c.ClientID, src)
	if o.Seller != "" {
		msg += fmt.Sprintf(", with seller %s", o.Seller)
	}
	fmt.Fprintln(streams.Out, msg)
	return nil
}

func clientIDKey(from string) string {
	switch from {
	case fromPythonEnv:
		return "LWA_APP_ID"
	case fromPythonYAML:
		return "lwa_app_id"
	}
	return "SELLING_PARTNER_APP_CLIENT_ID"
}

func clientSecretKey(from string) string {
	switch from {
	case fromPythonEnv:
		return "LWA_CLIENT_SECRET"
	case fromPythonYAML:
		return "lwa_client_secret"
	}
	return "SELLING_PARTNER_APP_CLIENT_SECRET"
}

func refreshTokenKey(from string) string {
	switch from {
	case fromPythonEnv:
		return "SP_API_REFRESH_TOKEN"
	case fromPythonYAML:
		return "refresh_token"
	}
	return "$" + envRefreshToken
}

// readImport reads the credentials of source o.From; src describes where
// they came from, for messages (never a value).
func readImport(o importOptions) (importedCreds, string, error) {
	home, _ := os.UserHomeDir()
	switch o.From {
	case fromPythonEnv, fromNodeEnv:
		get := os.Getenv
		src := "the environment"
		if o.File != "" {
			kv, err := readKVFile(o.File)
			if err != nil {
				return importedCreds{}, "", err
			}
			get = func(k string) string { return kv[k] }
			src = o.File
		}
		if o.From == fromPythonEnv {
			return importedCreds{ClientID: get("LWA_APP_ID"), ClientSecret: secretOf(get("LWA_CLIENT_SECRET")),
				RefreshToken: secretOf(get("SP_API_REFRESH_TOKEN")), AWSAccessKey: get("SP_API_ACCESS_KEY"),
				AWSSecretKey: secretOf(get("SP_API_SECRET_KEY")), RoleARN: get("SP_API_ROLE_ARN")}, src, nil
		}
		return nodeCreds(get), src, nil
	case fromNodeFile:
		path := o.File
		if path == "" {
			path = filepath.Join(home, ".amzspapi", "credentials")
		}
		kv, err := readKVFile(path)
		if err != nil {
			return importedCreds{}, "", err
		}
		return nodeCreds(func(k string) string { return kv[k] }), path, nil
	case fromPythonYAML:
		path := o.File
		if path == "" {
			cfg := os.Getenv("XDG_CONFIG_HOME")
			if cfg == "" {
				cfg = filepath.Join(home, ".config")
			}
			path = filepath.Join(cfg, "python-sp-api", "credentials.yml")
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return importedCreds{}, "", usageErr("read %s: %v (pass --file with the path of credentials.yml)", path, err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return importedCreds{}, "", usageErr("%s is not valid YAML (%v); expected version: '1.0' and an account mapping such as default: {lwa_app_id: …, lwa_client_secret: …, refresh_token: …}", path, yamlErrLine(err))
		}
		acct, ok := doc[o.Account].(map[string]any)
		if !ok {
			var names []string
			for k, v := range doc {
				if _, ok := v.(map[string]any); ok {
					names = append(names, k)
				}
			}
			sort.Strings(names)
			return importedCreds{}, "", usageErr("%s has no account %q (accounts: %s); pick one with --account", path, o.Account, dash(strings.Join(names, ", ")))
		}
		str := func(k string) string { s, _ := acct[k].(string); return strings.TrimSpace(s) }
		return importedCreds{ClientID: str("lwa_app_id"), ClientSecret: secretOf(str("lwa_client_secret")),
			RefreshToken: secretOf(str("refresh_token")), AWSAccessKey: str("aws_access_key"),
			AWSSecretKey: secretOf(str("aws_secret_key")), RoleARN: str("role_arn")}, fmt.Sprintf("%s (account %s)", path, o.Account), nil
	}
	return importedCreds{}, "", usageErr("unknown source %q", o.From)
}

// yamlErrLine keeps the YAML parser's position but not the offending text,
// which could be a secret.
func yamlErrLine(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		end := strings.IndexAny(msg[i:], ":")
		if end > 0 {
			return msg[i : i+end]
		}
	}
	return "syntax error"
}

func nodeCreds(get func(string) string) importedCreds {
	return importedCreds{ClientID: get("SELLING_PARTNER_APP_CLIENT_ID"), ClientSecret: secretOf(get("SELLING_PARTNER_APP_CLIENT_SECRET")),
		AWSAccessKey: get("AWS_ACCESS_KEY_ID"), AWSSecretKey: secretOf(get("AWS_SECRET_ACCESS_KEY")), RoleARN: get("AWS_SELLING_PARTNER_ROLE")}
}

func secretOf(s string) secret.String {
	s = strings.TrimSpace(s)
	if s == "" {
		return secret.String{}
	}
	return secret.New(s)
}

// readKVFile parses KEY=value lines (optionally "export KEY=value", values
// optionally quoted; '#' comments and blank lines ignored).
func readKVFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErr("read %s: %v (pass --file with the right path)", path, err)
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, usageErr("%s line %d is not KEY=value", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		kv[strings.TrimSpace(k)] = v
	}
	if err := sc.Err(); err != nil {
		return nil, usageErr("read %s: %v", path, err)
	}
	return kv, nil
}

type exportOptions struct {
	Format, App, Seller, Out string
	Force                    bool
}

func newExportCmd(streams IO) *cobra.Command {
	o := exportOptions{}
	cmd := &cobra.Command{
		Use:   "export --format env|yaml --app NAME --out FILE",
		Short: "Write an app's credentials for python-amazon-sp-api or the Node amazon-sp-api library",
		Long: `export writes one app's credentials (and, with --seller, that seller's
refresh token for the app) in the shapes other SP-API libraries read:

  env   KEY=value lines: python-amazon-sp-api's LWA_APP_ID, LWA_CLIENT_SECRET,
        SP_API_REFRESH_TOKEN and the Node library's
        SELLING_PARTNER_APP_CLIENT_ID, SELLING_PARTNER_APP_CLIENT_SECRET
        (also a valid ~/.amzspapi/credentials file)
  yaml  python-amazon-sp-api's credentials.yml (version: '1.0', account
        default)

The output holds secrets in the clear. It is written only to a new file
created with mode 0600 (--out FILE; --force replaces an existing one) or,
when you ask for it explicitly with --out -, to stdout.`,
		Example: `  spgate export --format yaml --app main --seller A2VYDBAL8BMVQK --out ~/.config/python-sp-api/credentials.yml
  spgate export --format env --app main --out .env
  spgate export --format env --app main --out - | grep CLIENT_ID`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runExport(cmd, streams, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Format, "format", "", "env or yaml (required)")
	f.StringVar(&o.App, "app", "", "app to export (required)")
	f.StringVar(&o.Seller, "seller", "", "also export this seller's refresh token for the app")
	f.StringVar(&o.Out, "out", "", "file to create (mode 0600), or - for stdout (required)")
	f.BoolVar(&o.Force, "force", false, "replace an existing --out file")
	return cmd
}

func runExport(cmd *cobra.Command, streams IO, o exportOptions) error {
	if o.Format != "env" && o.Format != "yaml" {
		return usageErr("--format must be env or yaml (got %q)", o.Format)
	}
	if o.App == "" {
		return usageErr("--app is required: the app to export (see `spgate app list`)")
	}
	if o.Out == "" {
		return usageErr("--out is required: the output holds secrets, so name a file (created 0600) or pass --out - to print them on stdout")
	}
	v, err := openVault(cmd, false)
	if err != nil {
		return err
	}
	defer v.Close()
	ctx := cmd.Context()
	a, err := v.GetApp(ctx, o.App)
	if err != nil {
		return notFound(err, "app", o.App, "spgate app list")
	}
	cur, ok := a.CurrentSecret()
	if !ok {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("app %s has no client secret to export: run `spgate app set-secret %s`", a.Name, a.Name)}
	}
	var rt secret.String
	sellerID := ""
	if o.Seller != "" {
		s, err := v.GetSeller(ctx, o.Seller)
		if err != nil {
			return notFound(err, "seller", o.Seller, "spgate seller list")
		}
		auth, ok := s.Authorization(a.Name)
		if !ok {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("seller %s has not authorized app %s: add its refresh token with `spgate seller add %s --app %s …`", s.ID, a.Name, s.ID, a.Name)}
		}
		rt, sellerID = auth.RefreshToken.Value, s.ID
	}
	var body string
	switch o.Format {
	case "env":
		body = exportEnv(a, cur.Value, rt)
	case "yaml":
		body, err = exportYAML(a, cur.Value, rt)
		if err != nil {
			return err
		}
	}
	if o.Out != "-" && !o.Force {
		// Checked again by O_EXCL below; here so a refused export is not recorded.
		if _, err := os.Lstat(o.Out); err == nil {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s already exists: choose another --out or pass --force to replace it", o.Out)}
		}
	}
	// The secrets leave the vault in the clear: record who took them first.
	if err := recordRelease(ctx, v, vault.AccessEvent{Seller: sellerID, Operation: "export"}, "the export of app "+a.Name+"'s credentials"); err != nil {
		return err
	}
	if o.Out == "-" {
		fmt.Fprintln(streams.Err, "spgate: warning: printing secrets on stdout as asked (--out -); do not paste them into tickets or chats")
		_, err := io.WriteString(streams.Out, body)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if o.Force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(o.Out, flags, 0o600)
	if errors.Is(err, os.ErrExist) {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s already exists: choose another --out or pass --force to replace it", o.Out)}
	}
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("create %s: %w", o.Out, err)}
	}
	if err := f.Chmod(0o600); err != nil { // --force on a file that was more open
		f.Close()
		return fmt.Errorf("restrict %s to mode 0600: %w", o.Out, err)
	}
	if _, err := io.WriteString(f, body); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", o.Out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", o.Out, err)
	}
	fmt.Fprintf(streams.Err, "spgate: warning: %s holds secrets in the clear (mode 0600); delete it when it is no longer needed\n", o.Out)
	if jsonOut(cmd) {
		return printJSON(streams.Out, map[string]any{"format": o.Format, "app": a.Name, "seller": o.Seller, "out": o.Out})
	}
	fmt.Fprintf(streams.Out, "exported app %s to %s\n", a.Name, o.Out)
	return nil
}

func exportEnv(a vault.App, cs, rt secret.String) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# spgate export of app %s (application id %s)\n", a.Name, a.AppID)
	b.WriteString("# python-amazon-sp-api\n")
	fmt.Fprintf(&b, "LWA_APP_ID=%s\n", a.ClientID)
	fmt.Fprintf(&b, "LWA_CLIENT_SECRET=%s\n", cs.Reveal())
	if !rt.IsZero() {
		fmt.Fprintf(&b, "SP_API_REFRESH_TOKEN=%s\n", quoteEnv(rt.Reveal()))
	}
	b.WriteString("# amazon-sp-api (Node)\n")
	fmt.Fprintf(&b, "SELLING_PARTNER_APP_CLIENT_ID=%s\n", a.ClientID)
	fmt.Fprintf(&b, "SELLING_PARTNER_APP_CLIENT_SECRET=%s\n", cs.Reveal())
	return b.String()
}

// quoteEnv single-quotes values a shell would split ('|' in refresh tokens).
func quoteEnv(s string) string {
	if strings.ContainsAny(s, "|&;<>()$`\\\" \t*?[#~=%") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

func exportYAML(a vault.App, cs, rt secret.String) (string, error) {
	acct := map[string]string{"lwa_app_id": a.ClientID, "lwa_client_secret": cs.Reveal()}
	if !rt.IsZero() {
		acct["refresh_token"] = rt.Reveal()
	}
	doc := struct {
		Version string            `yaml:"version"`
		Default map[string]string `yaml:"default"`
	}{"1.0", acct}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encode credentials.yml: %w", err)
	}
	return "# spgate export of app " + a.Name + " for python-amazon-sp-api\n" + string(out), nil
}
