package vault

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Records that grant access — gateway clients (key hash, scopes, PII flag,
// revocation) and the metadata of secrets (status, version, dates) — are
// plaintext columns, so each row carries an HMAC-SHA256 over all of its
// columns under a subkey of the data key. Whoever can write vault.db but
// lacks the master key cannot add, widen, un-revoke or re-date such a row
// without the read that relies on it refusing the row.
//
// The secret values themselves stay authenticated by AES-GCM (their
// associated data binds ref and version), so the secrets' MAC leaves out
// the ciphertext.
const (
	// rowMACLabel is the HKDF info for the row MAC key and the first field
	// of every row MAC.
	rowMACLabel = "spgate/vault/row-mac/v1"
	// integrityVersion is the schema version from which every client and
	// secret row carries a MAC.
	integrityVersion = 3
	// dekAADPrefixV2 wraps the data key of vaults at integrityVersion or
	// later. Without the master key nobody can produce either wrap, and
	// Open refuses a wrap that does not match the schema version, so a
	// protected vault cannot be passed off as an older one whose rows the
	// migration would sign (short of restoring the key records of an old
	// copy of the same vault: a rollback).
	dekAADPrefixV2 = "spgate/vault/dek/v2|"
)

// dekAADPrefixFor returns the associated-data prefix of the wrapped data
// key for a vault at schema version ver.
func dekAADPrefixFor(ver int) string {
	if ver >= integrityVersion {
		return dekAADPrefixV2
	}
	return dekAADPrefix
}

// deriveMACKey derives the row MAC key from the data key.
func deriveMACKey(dek []byte) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, dek, nil, rowMACLabel, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("derive the vault's record integrity key: %w", err)
	}
	return k, nil
}

// rowMAC accumulates a row's columns unambiguously: every value is length
// prefixed and NULL differs from "".
type rowMAC struct{ h hash.Hash }

func newRowMAC(key []byte, table string) rowMAC {
	m := rowMAC{hmac.New(sha256.New, key)}
	m.str(rowMACLabel)
	m.str(table)
	return m
}

func (m rowMAC) bytes(b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	m.h.Write(n[:])
	m.h.Write(b)
}

func (m rowMAC) str(s string) { m.bytes([]byte(s)) }
func (m rowMAC) num(n int64)  { m.str(strconv.FormatInt(n, 10)) }
func (m rowMAC) sum() []byte  { return m.h.Sum(nil) }

func (m rowMAC) nullStr(s sql.NullString) {
	if !s.Valid {
		m.h.Write([]byte{0})
		return
	}
	m.h.Write([]byte{1})
	m.str(s.String)
}

// validMAC reports whether got is the expected MAC.
func validMAC(got, want []byte) bool {
	return len(got) == sha256.Size && hmac.Equal(got, want)
}

// safeArg reports whether s can be pasted into a suggested command as is:
// names come from the database, which the attacker may have written.
func safeArg(s string) bool { return reName.MatchString(s) }

// show returns s for a message: as is when it is a plain name or id,
// else quoted with its control characters escaped.
func show(s string) string {
	if safeArg(s) || reAppID.MatchString(s) {
		return s
	}
	return strconv.Quote(clip(s))
}

// clientRow is a clients row as stored.
type clientRow struct {
	name                string
	keyHash             []byte
	sellers, operations string // JSON lists
	pii                 int64
	created             string
	revoked             sql.NullString
	mac                 []byte
}

const clientRowCols = `name, key_hash, sellers, operations, pii, created_at, revoked_at, mac`

func scanClientRow(sc rowScanner) (clientRow, error) {
	var r clientRow
	err := sc.Scan(&r.name, &r.keyHash, &r.sellers, &r.operations, &r.pii, &r.created, &r.revoked, &r.mac)
	return r, err
}

func (v *Vault) clientMAC(r clientRow) []byte {
	m := newRowMAC(v.macKey, "clients")
	m.str(r.name)
	m.bytes(r.keyHash)
	m.str(r.sellers)
	m.str(r.operations)
	m.num(r.pii)
	m.str(r.created)
	m.nullStr(r.revoked)
	return m.sum()
}

// checkClient refuses a client row whose MAC does not match.
func (v *Vault) checkClient(r clientRow) error {
	if validMAC(r.mac, v.clientMAC(r)) {
		return nil
	}
	fix := "restore vault.db from a backup"
	if safeArg(r.name) {
		fix = fmt.Sprintf("revoke it with `spgate client revoke %s` (this deletes the damaged record), then add it again with `spgate client add %s`", r.name, r.name)
	}
	return &IntegrityError{Table: "clients", Key: r.name, Record: fmt.Sprintf("client %q", clip(r.name)), Fix: fix}
}

// saveClient writes r with a fresh MAC: a new row with insert, else the
// row named r.name.
func (t *tx) saveClient(r clientRow, insert bool) error {
	r.mac = t.v.clientMAC(r)
	q := `UPDATE clients SET key_hash=?, sellers=?, operations=?, pii=?, created_at=?, revoked_at=?, mac=? WHERE name=?`
	if insert {
		q = `INSERT INTO clients(key_hash, sellers, operations, pii, created_at, revoked_at, mac, name) VALUES (?,?,?,?,?,?,?,?)`
	}
	_, err := t.exec(q, r.keyHash, r.sellers, r.operations, r.pii, r.created, r.revoked, r.mac, r.name)
	return err
}

// secretRow is a secrets row as stored.
type secretRow struct {
	ref               string
	version           int
	status            string
	created           string
	expires, verified sql.NullString
	ct, mac           []byte
}

const secretRowCols = `ref, version, status, created_at, expires_at, verified_at, ct, mac`

func scanSecretRow(sc rowScanner) (secretRow, error) {
	var r secretRow
	err := sc.Scan(&r.ref, &r.version, &r.status, &r.created, &r.expires, &r.verified, &r.ct, &r.mac)
	return r, err
}

func (r secretRow) meta() Secret {
	return Secret{Version: r.version, Status: r.status, CreatedAt: parseTime(r.created),
		ExpiresAt: parseNullTime(r.expires), VerifiedAt: parseNullTime(r.verified)}
}

func (v *Vault) secretMAC(r secretRow) []byte {
	m := newRowMAC(v.macKey, "secrets")
	m.str(r.ref)
	m.num(int64(r.version))
	m.str(r.status)
	m.str(r.created)
	m.nullStr(r.expires)
	m.nullStr(r.verified)
	return m.sum()
}

// checkSecret refuses a secret row whose MAC does not match, naming the
// secret and its owner.
func (t *tx) checkSecret(r secretRow) error {
	if validMAC(r.mac, t.v.secretMAC(r)) {
		return nil
	}
	e := &IntegrityError{Table: "secrets", Key: secretAAD(r.ref, r.version),
		Record: fmt.Sprintf("secret %s version %d", show(r.ref), r.version), Fix: "restore vault.db from a backup"}
	appName := func(appID string) string {
		var n string
		if err := t.queryRow(`SELECT name FROM apps WHERE app_id=?`, appID).Scan(&n); err != nil {
			return ""
		}
		return n
	}
	p := strings.Split(r.ref, "|")
	switch {
	case len(p) == 3 && p[0] == "app" && (p[2] == "client_secret" || p[2] == "aws_secret_key"):
		what := "client secret v" + strconv.Itoa(r.version)
		if p[2] == "aws_secret_key" {
			what = "AWS secret key"
		}
		name := appName(p[1])
		if name == "" {
			e.Record = fmt.Sprintf("%s of app %s", what, show(p[1]))
			break
		}
		e.Record = fmt.Sprintf("%s of app %q", what, clip(name))
		if safeArg(name) {
			e.Fix = fmt.Sprintf("restore vault.db from a backup, or remove the app with `spgate app remove %s` and add it again", name)
		}
	case len(p) == 5 && p[0] == "seller" && p[2] == "app" && p[4] == "refresh_token":
		name := appName(p[3])
		app := show(p[3])
		if name != "" {
			app = strconv.Quote(clip(name))
		}
		e.Record = fmt.Sprintf("refresh token of seller %s for app %s", show(p[1]), app)
		if safeArg(p[1]) {
			e.Fix = fmt.Sprintf("restore vault.db from a backup, or remove the seller with `spgate seller remove %s` and add it again with its refresh token (`spgate seller add %s`)", p[1], p[1])
		}
	}
	return e
}

// saveSecret rewrites the metadata of an existing secret version with a
// fresh MAC. The ciphertext does not change.
func (t *tx) saveSecret(r secretRow) error {
	r.mac = t.v.secretMAC(r)
	res, err := t.exec(`UPDATE secrets SET status=?, created_at=?, expires_at=?, verified_at=?, mac=? WHERE ref=? AND version=?`,
		r.status, r.created, r.expires, r.verified, r.mac, r.ref, r.version)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return newErr(ErrNotFound, "no secret version %d", r.version)
	}
	return nil
}

// secretRows returns every version of ref, current first then newest
// first, after checking each row's MAC: one bad version refuses them all.
func (t *tx) secretRows(ref string) ([]secretRow, error) {
	rows, err := queryAll(t, scanSecretRow, `SELECT `+secretRowCols+` FROM secrets WHERE ref=? ORDER BY status='current' DESC, version DESC`, ref)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if err := t.checkSecret(r); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// resolveSellerScopes turns a client's seller scopes into selling partner
// ids: "*" and ids stay, a seller's name becomes its id. A name no seller
// has is refused, or with lenient dropped and reported in notes.
func (t *tx) resolveSellerScopes(in []string, lenient bool) (out, notes []string, err error) {
	for _, s := range normStrings(in) {
		if s == "*" || ValidateSellerID(s) == nil {
			out = append(out, s)
			continue
		}
		var id string
		err := t.queryRow(`SELECT id FROM sellers WHERE name=?`, s).Scan(&id)
		switch {
		case err == nil:
			out = append(out, id)
			notes = append(notes, fmt.Sprintf("seller name %s stored as its id %s", s, id))
		case !errors.Is(err, sql.ErrNoRows):
			return nil, nil, err
		case lenient:
			notes = append(notes, fmt.Sprintf("seller name %s matches no seller and was dropped", s))
		default:
			return nil, nil, invalid("no seller named %q in the vault: give a selling partner id (e.g. A2VYDBAL8BMVQK), a stored seller's name, or *; see spgate seller list", clip(s))
		}
	}
	return normStrings(out), notes, nil
}

// authenticateRows is the keyed half of the integrity migration, run in
// the same transaction as the schema change: it resolves client seller
// scopes stored as names to ids, signs every client and secret row, and
// re-wraps the data key under dekAADPrefixV2. kek is nil for a new vault
// (no key exists yet, and no rows to sign).
func authenticateRows(ctx context.Context, c *sql.Conn, v *Vault, kek []byte) error {
	if kek == nil {
		var n int
		if err := c.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM meta) + (SELECT count(*) FROM clients) + (SELECT count(*) FROM secrets)`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errors.New("internal error: signing the records of an existing vault needs its key")
		}
		return nil
	}
	t := &tx{ctx: ctx, c: c, v: v, now: v.clk.Now().UTC(), actor: v.actor}
	clients, err := queryAll(t, scanClientRow, `SELECT `+clientRowCols+` FROM clients ORDER BY name`)
	if err != nil {
		return fmt.Errorf("read clients: %w", err)
	}
	for _, r := range clients {
		// As before the migration, an unreadable list means no sellers.
		var sellers []string
		_ = json.Unmarshal([]byte(r.sellers), &sellers)
		ids, notes, err := t.resolveSellerScopes(sellers, true)
		if err != nil {
			return fmt.Errorf("client %q: resolve its sellers: %w", r.name, err)
		}
		r.sellers = jsonList(ids)
		if err := t.saveClient(r, false); err != nil {
			return fmt.Errorf("client %q: %w", r.name, err)
		}
		if len(notes) > 0 {
			if err := t.audit("client:"+r.name, "scopes", ActionChanged, strings.Join(notes, "; ")); err != nil {
				return err
			}
		}
	}
	secrets, err := queryAll(t, scanSecretRow, `SELECT `+secretRowCols+` FROM secrets`)
	if err != nil {
		return fmt.Errorf("read secrets: %w", err)
	}
	for _, r := range secrets {
		if err := t.saveSecret(r); err != nil {
			return fmt.Errorf("secret %s v%d: %w", r.ref, r.version, err)
		}
	}
	var id, wrapped []byte
	if err := t.queryRow(`SELECT value FROM meta WHERE key='vault_id'`).Scan(&id); err != nil {
		return fmt.Errorf("read vault id: %w", err)
	}
	if err := t.queryRow(`SELECT value FROM meta WHERE key='dek'`).Scan(&wrapped); err != nil {
		return fmt.Errorf("read data key: %w", err)
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return err
	}
	// The data key must still be the one unwrapped at unlock under the
	// old prefix; anything else means the record changed underneath.
	dek, err := open(aead, wrapped, dekAADPrefix+string(id))
	if err != nil || !hmac.Equal(dek, v.dek) {
		return newErr(ErrTampered, "vault record dek failed authentication: the vault was tampered with or the key is wrong")
	}
	clear0(dek)
	rewrapped, err := seal(aead, v.dek, dekAADPrefixV2+string(id))
	if err != nil {
		return err
	}
	if _, err := t.exec(`UPDATE meta SET value=? WHERE key='dek'`, rewrapped); err != nil {
		return err
	}
	return t.audit("vault", "integrity", ActionChanged, fmt.Sprintf("%d gateway clients and %d secrets now carry an integrity check", len(clients), len(secrets)))
}
