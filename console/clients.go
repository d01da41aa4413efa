package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spgate/spgate/operations"
	"github.com/spgate/spgate/vault"
)

type clientRow struct {
	vault.Client
	SellerNames []string
	LastUse     time.Time
}

type clientsData struct {
	Clients    []clientRow
	Sellers    []vault.Seller
	GatewayURL string
	HasStats   bool
	Error      string
	Form       clientForm
}

type clientForm struct {
	Name, Operations string
	Sellers          []string
	PII              bool
}

// keyData is the page that shows a new key, once.
type keyData struct {
	Name       string
	Key        string
	Created    bool // false: a new key for an existing client
	GatewayURL string
	Seller     string
}

func (c *Console) clientsData(ctx context.Context) (clientsData, error) {
	d := clientsData{GatewayURL: c.cfg.GatewayURL, HasStats: c.cfg.Stats != nil, Form: clientForm{Operations: "orders/v0"}}
	sellers, err := c.cfg.Vault.ListSellers(ctx)
	if err != nil {
		return d, err
	}
	names := map[string]string{}
	for _, s := range sellers {
		if _, ok := s.Authorization(c.cfg.App); ok {
			d.Sellers = append(d.Sellers, s)
		}
		if s.Name != "" {
			names[s.ID] = s.Name + " (" + s.ID + ")"
		}
	}
	list, err := c.cfg.Vault.ListClients(ctx)
	if err != nil {
		return d, err
	}
	// The vault's access log holds the PII calls of every process; the
	// gateway's own figures hold every call since it started.
	since := c.clk.Now().Add(-30 * 24 * time.Hour)
	for _, cl := range list {
		row := clientRow{Client: cl, LastUse: c.cfg.Stats.ClientLastUse(cl.Name)}
		if ev, err := c.cfg.Vault.AccessLog(ctx, vault.AccessFilter{Client: cl.Name, Since: since, Limit: 1}); err == nil && len(ev) > 0 && ev[0].Time.After(row.LastUse) {
			row.LastUse = ev[0].Time
		}
		for _, id := range cl.Sellers {
			if n, ok := names[id]; ok {
				id = n
			} else if id == "*" {
				id = "every seller"
			}
			row.SellerNames = append(row.SellerNames, id)
		}
		d.Clients = append(d.Clients, row)
	}
	// Active clients first, then revoked ones; by name within each.
	slices.SortStableFunc(d.Clients, func(a, b clientRow) int {
		if a.Revoked() != b.Revoked() {
			if a.Revoked() {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return d, nil
}

func (c *Console) handleClients(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := c.clientsData(r.Context())
	if err != nil {
		c.render(w, r, http.StatusInternalServerError, "message", s, messageData{Title: "Gateway clients", Text: scrub(err.Error())})
		return
	}
	c.render(w, r, http.StatusOK, "clients", s, d)
}

// handleClientCreate creates a client and answers with its key: the only
// time it is ever shown.
func (c *Console) handleClientCreate(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	_ = r.ParseForm()
	f := clientForm{Name: strings.TrimSpace(r.PostFormValue("name")), Operations: strings.TrimSpace(r.PostFormValue("operations")),
		Sellers: r.PostForm["sellers"], PII: r.PostFormValue("pii") == "on"}
	var ops []string
	for _, op := range strings.FieldsFunc(f.Operations, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' }) {
		ops = append(ops, op)
	}
	problem := ""
	switch {
	case vault.ValidateName("client", f.Name) != nil:
		problem = "Give the client a name: letters, digits, '.', '_' or '-' (e.g. business-central)."
	case len(f.Sellers) == 0:
		problem = "Choose the sellers the client may act for (or every seller)."
	case len(ops) == 0:
		problem = "Give the operations the client may call: getOrders, orders/v0, orders, or * for all."
	}
	for _, op := range ops {
		if err := operations.CheckScope(op); err != nil && problem == "" {
			problem = err.Error()
		}
	}
	if slices.Contains(f.Sellers, "*") {
		f.Sellers = []string{"*"}
	}
	if problem == "" {
		key, err := c.cfg.Vault.CreateClient(actorCtx(ctx), vault.Client{Name: f.Name, Sellers: f.Sellers, Operations: ops, PII: f.PII})
		switch {
		case errors.Is(err, vault.ErrExists):
			problem = fmt.Sprintf("A client named %s exists already: choose another name, or give it a new key below.", f.Name)
		case err != nil:
			problem = scrub(err.Error())
		default:
			c.audit(ctx, "client-create", "client "+f.Name, true, fmt.Sprintf("sellers %s, operations %s, pii %t", strings.Join(f.Sellers, ","), strings.Join(ops, ","), f.PII))
			kd := keyData{Name: f.Name, Key: key.Reveal(), Created: true, GatewayURL: c.cfg.GatewayURL}
			if len(f.Sellers) > 0 && f.Sellers[0] != "*" {
				kd.Seller = f.Sellers[0]
			}
			c.render(w, r, http.StatusOK, "key", s, kd)
			return
		}
	}
	c.audit(ctx, "client-create", "client "+f.Name, false, problem)
	d, err := c.clientsData(ctx)
	if err != nil {
		c.render(w, r, http.StatusInternalServerError, "message", s, messageData{Title: "Gateway clients", Text: scrub(err.Error())})
		return
	}
	d.Error, d.Form = problem, f
	c.render(w, r, http.StatusBadRequest, "clients", s, d)
}

func (c *Console) handleClientRevoke(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PostFormValue("name")
	err := c.cfg.Vault.RevokeClient(actorCtx(r.Context()), name)
	c.audit(r.Context(), "client-revoke", "client "+name, err == nil, errText(err))
	if err != nil {
		c.render(w, r, http.StatusBadRequest, "message", s, messageData{Title: "Revoke", Text: scrub(err.Error()), Link: "/clients", Label: "Back to Gateway clients"})
		return
	}
	http.Redirect(w, r, "/clients", http.StatusSeeOther)
}

// handleClientRekey gives a client a new key (the old one stops working)
// and shows it once.
func (c *Console) handleClientRekey(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PostFormValue("name")
	key, err := c.cfg.Vault.RotateClientKey(actorCtx(r.Context()), name)
	c.audit(r.Context(), "client-new-key", "client "+name, err == nil, errText(err))
	if err != nil {
		c.render(w, r, http.StatusBadRequest, "message", s, messageData{Title: "New key", Text: scrub(err.Error()), Link: "/clients", Label: "Back to Gateway clients"})
		return
	}
	c.render(w, r, http.StatusOK, "key", s, keyData{Name: name, Key: key.Reveal(), GatewayURL: c.cfg.GatewayURL})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
