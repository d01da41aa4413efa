package vault

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
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
	// Sellers the client may act for (ids or names); "*" means all.
	// Empty means none.
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

// AllowsSeller reports whether the client may act for seller.
func (c Client) AllowsSeller(seller string) bool {
	return slices.Contains(c.Sellers, "*") || slices.Contains(c.Sellers, seller)
}

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

const clientCols = `name, sellers, operations, pii, created_at, revoked_at`

func scanClient(sc rowScanner) (Client, error) {
	var c Client
	var sellers, ops, created string
	var revoked sql.NullString
	if err := sc.Scan(&c.Name, &sellers, &ops, &c.PII, &created, &revoked); err != nil {
		return c, err
	}
	_ = json.Unmarshal([]byte(sellers), &c.Sellers)
	_ = json.Unmarshal([]byte(ops), &c.Operations)
	c.CreatedAt, c.RevokedAt = parseTime(created), parseNullTime(revoked)
	return c, nil
}

func (t *tx) getClient(name string) (Client, error) {
	c, err := scanClient(t.queryRow(`SELECT `+clientCols+` FROM clients WHERE name=?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return c, newErr(ErrNotFound, "no gateway client %q; see spgate client list", clip(name))
	}
	return c, err
}

// CreateClient registers a gateway client and returns its new key (256
// random bits, shown once; only its SHA-256 is stored).
func (v *Vault) CreateClient(ctx context.Context, c Client) (secret.String, error) {
	if err := ValidateName("client", c.Name); err != nil {
		return secret.String{}, err
	}
	c.Sellers, c.Operations = normStrings(c.Sellers), normStrings(c.Operations)
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
		if _, err := t.exec(`INSERT INTO clients(name, key_hash, sellers, operations, pii, created_at) VALUES (?,?,?,?,?,?)`,
			c.Name, h, jsonList(c.Sellers), jsonList(c.Operations), c.PII, fmtTime(t.now)); err != nil {
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
// for an unknown key and ErrRevoked (with the client) for a revoked one.
func (v *Vault) AuthenticateClient(ctx context.Context, key secret.String) (Client, error) {
	k := key.Reveal()
	if !strings.HasPrefix(k, ClientKeyPrefix) {
		return Client{}, newErr(ErrNotFound, "unknown gateway client key (it should start with %s)", ClientKeyPrefix)
	}
	var c Client
	err := v.read(ctx, "authenticate client", func(t *tx) (err error) {
		c, err = scanClient(t.queryRow(`SELECT `+clientCols+` FROM clients WHERE key_hash=?`, hashKey(k)))
		if errors.Is(err, sql.ErrNoRows) {
			return newErr(ErrNotFound, "unknown gateway client key")
		}
		return err
	})
	if err == nil && c.Revoked() {
		return c, newErr(ErrRevoked, "gateway client %s was revoked on %s; create a new client", c.Name, c.RevokedAt.Format(time.RFC3339))
	}
	return c, err
}

// GetClient returns a gateway client by name.
func (v *Vault) GetClient(ctx context.Context, name string) (Client, error) {
	var c Client
	err := v.read(ctx, "read client", func(t *tx) (err error) {
		c, err = t.getClient(name)
		return err
	})
	return c, err
}

// ListClients returns every gateway client, revoked ones included, by name.
func (v *Vault) ListClients(ctx context.Context) ([]Client, error) {
	var out []Client
	err := v.read(ctx, "list clients", func(t *tx) error {
		rows, err := t.query(`SELECT ` + clientCols + ` FROM clients ORDER BY name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanClient(rows)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// UpdateClientScopes lets fn change the client's sellers, operations and PII flag.
func (v *Vault) UpdateClientScopes(ctx context.Context, name string, fn func(*Client) error) error {
	return v.write(ctx, "update client", func(t *tx) error {
		c, err := t.getClient(name)
		if err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return err
		}
		c.Sellers, c.Operations = normStrings(c.Sellers), normStrings(c.Operations)
		if _, err := t.exec(`UPDATE clients SET sellers=?, operations=?, pii=? WHERE name=?`, jsonList(c.Sellers), jsonList(c.Operations), c.PII, name); err != nil {
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
		if _, err := t.getClient(name); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE clients SET key_hash=?, revoked_at=NULL WHERE name=?`, h, name); err != nil {
			return err
		}
		return t.audit("client:"+name, "key", ActionRotated, "")
	})
	if err != nil {
		return secret.String{}, err
	}
	return key, nil
}

// RevokeClient revokes the client's key (the record stays for the audit trail).
func (v *Vault) RevokeClient(ctx context.Context, name string) error {
	return v.write(ctx, "revoke client", func(t *tx) error {
		if _, err := t.getClient(name); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE clients SET revoked_at=? WHERE name=? AND revoked_at IS NULL`, fmtTime(t.now), name); err != nil {
			return err
		}
		return t.audit("client:"+name, "key", ActionRevoked, "")
	})
}

// RemoveClient deletes the client record.
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
