package vault

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spgate/spgate/secret"
)

// ClientKeyPrefix starts every gateway client key, so keys are recognisable
// in config files and secret scanners.
const ClientKeyPrefix = "spg_"

// Client is a gateway client: a system (Business Central, a script) that
// calls the gateway with a key.
type Client struct {
	Name string
	// Sellers the client may act for: selling partner ids, or "*" for all.
	// Empty means none. CreateClient and UpdateClientScopes also accept a
	// seller's name in the vault and store its id, so renaming a seller, or
	// naming another seller alike, never changes what a client may reach.
	Sellers []string
	// Operations the client may call (operation ids such as
	// "orders/v0/getOrders" as the gateway names them); "*" means all.
	// Empty means none.
	Operations []string
	PII        bool // may receive personal data (restricted operations, RDTs)
	CreatedAt  time.Time
	RevokedAt  time.Time // zero while active
}

// Revoked reports whether the client's key was revoked.
func (c Client) Revoked() bool { return !c.RevokedAt.IsZero() }

// AllowsSeller reports whether the client may act for the seller with
// selling partner id sellerID. It matches ids only: resolve a seller's name
// to its id first (a name never matches, even one stored in Sellers).
func (c Client) AllowsSeller(sellerID string) bool {
	if !isSellerID(sellerID) {
		return false
	}
	return slices.Contains(c.Sellers, "*") || slices.Contains(c.Sellers, sellerID)
}

// AllowsEverySeller reports whether the client's seller scope is "*".
func (c Client) AllowsEverySeller() bool { return slices.Contains(c.Sellers, "*") }

// AllowsOperation reports whether the client may call operation.
func (c Client) AllowsOperation(op string) bool {
	return slices.Contains(c.Operations, "*") || slices.Contains(c.Operations, op)
}

func hashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

func newClientKey() (secret.String, []byte, error) {
	b, err := randomBytes(32)
	if err != nil {
		return secret.String{}, nil, err
	}
	k := ClientKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret.New(k), hashKey(k), nil
}

func (r clientRow) client() Client {
	c := Client{Name: r.name, PII: r.pii != 0, CreatedAt: parseTime(r.created), RevokedAt: parseNullTime(r.revoked)}
	_ = json.Unmarshal([]byte(r.sellers), &c.Sellers)
	_ = json.Unmarshal([]byte(r.operations), &c.Operations)
	return c
}

// clientRow reads the client's row without checking it.
func (t *tx) clientRow(name string) (clientRow, error) {
	r, err := scanClientRow(t.queryRow(`SELECT `+clientRowCols+` FROM clients WHERE name=?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return r, newErr(ErrNotFound, "no gateway client %q; see spgate client list", clip(name))
	}
	return r, err
}

// getClient reads the client's row and checks its integrity.
func (t *tx) getClient(name string) (clientRow, error) {
	r, err := t.clientRow(name)
	if err != nil {
		return r, err
	}
	return r, t.v.checkClient(r)
}

// setScopes stores c's scopes in r, seller names resolved to ids.
func (t *tx) setScopes(r *clientRow, c Client) error {
	sellers, _, err := t.resolveSellerScopes(c.Sellers, false)
	if err != nil {
		return fmt.Errorf("client %s: %w", c.Name, err)
	}
	r.sellers, r.operations, r.pii = jsonList(sellers), jsonList(normStrings(c.Operations)), 0
	if c.PII {
		r.pii = 1
	}
	return nil
}

// CreateClient registers a gateway client and returns its new key (256
// random bits, shown once; only its SHA-256 is stored). Sellers given by
// name are stored as their ids; a name no seller has is ErrInvalid.
func (v *Vault) CreateClient(ctx context.Context, c Client) (secret.String, error) {
	if err := ValidateName("client", c.Name); err != nil {
		return secret.String{}, err
	}
	key, h, err := newClientKey()
	if err != nil {
		return secret.String{}, err
	}
	err = v.write(ctx, "create client "+c.Name, func(t *tx) error {
		var n int
		if err := t.queryRow(`SELECT count(*) FROM clients WHERE name=?`, c.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return newErr(ErrExists, "a gateway client named %q already exists; pick another name or rotate its key", c.Name)
		}
		r := clientRow{name: c.Name, keyHash: h, created: fmtTime(t.now)}
		if err := t.setScopes(&r, c); err != nil {
			return err
		}
		if err := t.saveClient(r, true); err != nil {
			return err
		}
		return t.audit("client:"+c.Name, "key", ActionAdded, "")
	})
	if err != nil {
		return secret.String{}, err
	}
	return key, nil
}

// AuthenticateClient finds the client holding key. It returns ErrNotFound
// for an unknown key, ErrRevoked (with the client) for a revoked one, and
// an *IntegrityError (ErrIntegrity) when the client's record was changed
// without the vault key.
func (v *Vault) AuthenticateClient(ctx context.Context, key secret.String) (Client, error) {
	k := key.Reveal()
	if !strings.HasPrefix(k, ClientKeyPrefix) {
		return Client{}, newErr(ErrNotFound, "unknown gateway client key (it should start with %s)", ClientKeyPrefix)
	}
	var c Client
	err := v.read(ctx, "authenticate client", func(t *tx) error {
		r, err := scanClientRow(t.queryRow(`SELECT `+clientRowCols+` FROM clients WHERE key_hash=?`, hashKey(k)))
		if errors.Is(err, sql.ErrNoRows) {
			return newErr(ErrNotFound, "unknown gateway client key")
		}
		if err != nil {
			return err
		}
		if err := v.checkClient(r); err != nil {
			return err
		}
		c = r.client()
		return nil
	})
	if err == nil && c.Revoked() {
		return c, newErr(ErrRevoked, "gateway client %s was revoked on %s; create a new client", c.Name, c.RevokedAt.Format(time.RFC3339))
	}
	return c, err
}

// GetClient returns a gateway client by name, or an *IntegrityError when
// its record was changed without the vault key.
func (v *Vault) GetClient(ctx context.Context, name string) (Client, error) {
	var c Client
	err := v.read(ctx, "read client", func(t *tx) error {
		r, err := t.getClient(name)
		c = r.client()
		return err
	})
	if err != nil {
		return Client{}, err
	}
	return c, nil
}

// ListClients returns every gateway client, revoked ones included, by name.
// One record that fails its integrity check fails the list with an
// *IntegrityError naming it.
func (v *Vault) ListClients(ctx context.Context) ([]Client, error) {
	var out []Client
	err := v.read(ctx, "list clients", func(t *tx) error {
		rows, err := queryAll(t, scanClientRow, `SELECT `+clientRowCols+` FROM clients ORDER BY name`)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := v.checkClient(r); err != nil {
				return err
			}
			out = append(out, r.client())
		}
		return nil
	})
	return out, err
}

// UpdateClientScopes lets fn change the client's sellers, operations and PII
// flag. Sellers given by name are stored as their ids.
func (v *Vault) UpdateClientScopes(ctx context.Context, name string, fn func(*Client) error) error {
	return v.write(ctx, "update client", func(t *tx) error {
		r, err := t.getClient(name)
		if err != nil {
			return err
		}
		c := r.client()
		if err := fn(&c); err != nil {
			return err
		}
		c.Name = r.name
		if err := t.setScopes(&r, c); err != nil {
			return err
		}
		if err := t.saveClient(r, false); err != nil {
			return err
		}
		return t.audit("client:"+name, "scopes", ActionChanged, "")
	})
}

// RotateClientKey gives the client a new key; the old one stops working.
// A revoked client is reactivated.
func (v *Vault) RotateClientKey(ctx context.Context, name string) (secret.String, error) {
	key, h, err := newClientKey()
	if err != nil {
		return secret.String{}, err
	}
	err = v.write(ctx, "rotate client key", func(t *tx) error {
		r, err := t.getClient(name)
		if err != nil {
			return err
		}
		r.keyHash, r.revoked = h, sql.NullString{}
		if err := t.saveClient(r, false); err != nil {
			return err
		}
		return t.audit("client:"+name, "key", ActionRotated, "")
	})
	if err != nil {
		return secret.String{}, err
	}
	return key, nil
}

// RevokeClient revokes the client's key (the record stays for the audit
// trail). A record that fails its integrity check is deleted instead: it
// grants nothing and proves nothing, and its name can then be added again.
func (v *Vault) RevokeClient(ctx context.Context, name string) error {
	return v.write(ctx, "revoke client", func(t *tx) error {
		r, err := t.clientRow(name)
		if err != nil {
			return err
		}
		if v.checkClient(r) != nil {
			if _, err := t.exec(`DELETE FROM clients WHERE name=?`, name); err != nil {
				return err
			}
			return t.audit("client:"+name, "key", ActionRemoved, "revoked: its record failed the integrity check and was deleted")
		}
		if !r.revoked.Valid {
			r.revoked = sql.NullString{String: fmtTime(t.now), Valid: true}
			if err := t.saveClient(r, false); err != nil {
				return err
			}
		}
		return t.audit("client:"+name, "key", ActionRevoked, "")
	})
}

// RemoveClient deletes the client record, whether or not it passes its
// integrity check.
func (v *Vault) RemoveClient(ctx context.Context, name string) error {
	return v.write(ctx, "remove client", func(t *tx) error {
		res, err := t.exec(`DELETE FROM clients WHERE name=?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return newErr(ErrNotFound, "no gateway client %q", clip(name))
		}
		return t.audit("client:"+name, "key", ActionRemoved, "")
	})
}
