// Package demo builds what spgate demo, spgate emulate and spgate bench
// run against: the offline Amazon (amazontest) on loopback and a vault of
// its own holding the emulator's demo app and its sellers, plus the
// emulator's notification queue on a local SQS.
//
// It sits on the client side of the line amazontest keeps: amazontest
// never imports the vault or spapi, so the vault-side half of a demo lives
// here. It is internal because its shapes follow the commands that use it.
package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/secret"
	"github.com/spgate/spgate/spapi"
	"github.com/spgate/spgate/vault"
)

// AppName is the name the demo app is stored under in the vault.
const AppName = "demo"

// Options say what Start builds.
type Options struct {
	// Amazon configures the emulator.
	Amazon amazontest.Config
	// Listen says where and how the emulator listens (default: three free
	// loopback ports, plain HTTP).
	Listen amazontest.StartOptions
	// Dir is where the vault (vault.db) is created. Empty: a temporary
	// directory that Close removes.
	Dir string
	// Actor is the name the vault's audit records carry.
	Actor string
	// Fixture picks the app and sellers put in the vault; nil takes the
	// emulator's own demo (Server.Demo).
	Fixture func(*amazontest.Server) (amazontest.Demo, error)
}

// Env is a running offline Amazon and a vault holding its demo app and
// sellers.
type Env struct {
	// Amazon is the emulator, listening.
	Amazon *amazontest.Server
	// Endpoints address the emulator's regions and its LWA.
	Endpoints spapi.Endpoints
	// Fixture is the app and sellers stored in the vault.
	Fixture amazontest.Demo
	// Vault is open; Close closes it.
	Vault *vault.Vault
	// Key is the vault's random master key.
	Key vault.Key
	// App is the demo app as the vault stores it.
	App vault.App
	// Dir holds the vault; VaultPath is its file.
	Dir, VaultPath string

	cleanup []func()
}

// Start starts the offline Amazon and creates the vault. On error nothing
// is left running; on success the caller calls Close.
func Start(ctx context.Context, o Options) (_ *Env, err error) {
	e := &Env{Dir: o.Dir}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if e.Amazon, e.Endpoints, _, err = StartAmazon(ctx, o.Amazon, o.Listen, ""); err != nil {
		return nil, err
	}
	e.cleanup = append(e.cleanup, e.Amazon.Close)
	if e.Dir == "" {
		if e.Dir, err = os.MkdirTemp("", "spgate-"+o.Actor+"-"); err != nil {
			return nil, fmt.Errorf("make a temporary directory: %w", err)
		}
		dir := e.Dir
		e.cleanup = append(e.cleanup, func() { os.RemoveAll(dir) })
	} else if err := os.MkdirAll(e.Dir, 0o700); err != nil {
		return nil, err
	}
	e.Fixture = e.Amazon.Demo()
	if o.Fixture != nil {
		if e.Fixture, err = o.Fixture(e.Amazon); err != nil {
			return nil, err
		}
	}
	e.VaultPath = filepath.Join(e.Dir, "vault.db")
	if e.Vault, e.Key, e.App, err = NewVault(ctx, e.VaultPath, e.Fixture, o.Actor); err != nil {
		return nil, err
	}
	v := e.Vault
	e.cleanup = append(e.cleanup, func() { v.Close() })
	return e, nil
}

// Close closes the vault, stops the emulator and removes a temporary
// directory, in the reverse order Start made them.
func (e *Env) Close() {
	for i := len(e.cleanup) - 1; i >= 0; i-- {
		e.cleanup[i]()
	}
	e.cleanup = nil
}

// SaveKey writes the vault's master key, encoded, to path (mode 0600).
func (e *Env) SaveKey(path string) error {
	enc, err := e.Key.Encode()
	if err == nil {
		err = os.WriteFile(path, []byte(enc+"\n"), 0o600)
	}
	if err != nil {
		return fmt.Errorf("write the demo vault's key: %w", err)
	}
	return nil
}

// Steps of StartAmazon, as its StartError names them.
const (
	StepConfigure = "configure" // the emulator refused its configuration (a bad registry file)
	StepQueue     = "queue"     // the demo app's notification queue could not be made
	StepListen    = "listen"    // the emulator could not listen where it was told
)

// StartError is StartAmazon's error: the step that failed, and why.
type StartError struct {
	Step string
	Err  error
}

// Error implements the error interface.
func (e *StartError) Error() string { return "start the offline Amazon: " + e.Err.Error() }

// Unwrap returns why the step failed.
func (e *StartError) Unwrap() error { return e.Err }

// StartAmazon builds the emulator from cfg and starts it as o says. With
// queue and cfg.SQSEndpoint set, the emulator's demo app first gets its
// notification queue of that name there (NotificationQueue), and its
// rotation notifications go to it. It returns the emulator, the endpoints
// that address it and the queue's URL; the caller closes the emulator.
func StartAmazon(ctx context.Context, cfg amazontest.Config, o amazontest.StartOptions, queue string) (*amazontest.Server, spapi.Endpoints, string, error) {
	srv, err := amazontest.New(cfg)
	if err != nil {
		return nil, spapi.Endpoints{}, "", &StartError{Step: StepConfigure, Err: err}
	}
	queueURL := ""
	if queue != "" && cfg.SQSEndpoint != "" {
		if queueURL, err = NotificationQueue(ctx, cfg, queue); err == nil {
			err = srv.SetNotificationQueue(srv.Demo().AppID, queueURL)
		}
		if err != nil {
			return nil, spapi.Endpoints{}, "", &StartError{Step: StepQueue, Err: err}
		}
	}
	if err := srv.Start(o); err != nil {
		return nil, spapi.Endpoints{}, "", &StartError{Step: StepListen, Err: err}
	}
	urls := map[spapi.Region]string{}
	for _, r := range []amazontest.Region{amazontest.RegionNA, amazontest.RegionEU, amazontest.RegionFE} {
		urls[spapi.Region(r)] = srv.RegionURL(r)
	}
	ep, err := spapi.Custom(srv.URL, urls, "")
	if err != nil {
		srv.Close()
		return nil, spapi.Endpoints{}, "", &StartError{Step: StepListen, Err: err}
	}
	return srv, ep, queueURL, nil
}

// NewVault creates a vault at path with a random key and stores the
// fixture's app (shipping and tax roles) as AppName and every seller's
// authorization of it. It returns the open vault, its key and the app as
// stored.
func NewVault(ctx context.Context, path string, d amazontest.Demo, actor string) (*vault.Vault, vault.Key, vault.App, error) {
	key, err := vault.NewRandomKey()
	if err != nil {
		return nil, key, vault.App{}, err
	}
	v, err := vault.Open(ctx, path, key, vault.Options{Create: true, Actor: actor})
	if err != nil {
		return nil, key, vault.App{}, fmt.Errorf("create the vault in %s: %w", filepath.Dir(path), err)
	}
	app, err := storeFixture(ctx, v, d)
	if err != nil {
		v.Close()
		return nil, key, vault.App{}, err
	}
	return v, key, app, nil
}

func storeFixture(ctx context.Context, v *vault.Vault, d amazontest.Demo) (vault.App, error) {
	app := vault.App{Name: AppName, AppID: d.AppID, ClientID: d.ClientID,
		Roles:         []string{amazontest.RoleShipping, amazontest.RoleTaxInvoicing},
		ClientSecrets: []vault.Secret{{Value: secret.New(d.ClientSecret)}}}
	if err := v.AddApp(ctx, app); err != nil {
		return vault.App{}, fmt.Errorf("store the demo app: %w", err)
	}
	for i, s := range d.Sellers {
		err := v.AddSeller(ctx, vault.Seller{ID: s.ID, Name: fmt.Sprintf("demo-%s-%d", s.Region, i+1), Region: string(s.Region), Marketplaces: s.Marketplaces,
			Authorizations: []vault.Authorization{{AppName: app.Name, RefreshToken: vault.Secret{Value: secret.New(s.RefreshToken)}}}})
		if err != nil {
			return vault.App{}, fmt.Errorf("store demo seller %s: %w", s.ID, err)
		}
	}
	return v.GetApp(ctx, app.Name)
}

// NewFixture adds an app and n sellers in NA that authorized it to the
// emulator, named after who ("Bench Seller 1"…), and returns them as a
// fixture for Options.Fixture or NewVault.
func NewFixture(srv *amazontest.Server, who string, n int) (amazontest.Demo, error) {
	app, err := srv.AddApp(amazontest.App{})
	if err != nil {
		return amazontest.Demo{}, fmt.Errorf("add the %s app to the offline Amazon: %w", who, err)
	}
	d := amazontest.Demo{AppID: app.ID, ClientID: app.ClientID, ClientSecret: app.ClientSecret}
	for i := range n {
		sl, err := srv.AddSeller(amazontest.Seller{Name: fmt.Sprintf("%s Seller %d", who, i+1), Region: amazontest.RegionNA})
		if err != nil {
			return d, fmt.Errorf("add a seller to the offline Amazon: %w", err)
		}
		tok, err := srv.Authorize(sl.ID, app.ID)
		if err != nil {
			return d, fmt.Errorf("authorize the %s app: %w", who, err)
		}
		d.Sellers = append(d.Sellers, amazontest.DemoSeller{ID: sl.ID, Region: sl.Region, Marketplaces: sl.Marketplaces, RefreshToken: tok})
	}
	if len(d.Sellers) > 0 {
		s := d.Sellers[0]
		d.SellerID, d.RefreshToken, d.Region, d.Marketplaces = s.ID, s.RefreshToken, s.Region, s.Marketplaces
	}
	return d, nil
}
