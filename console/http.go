package console

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

// contentSecurityPolicy allows the console's own script and stylesheet
// only: no inline script, no inline style, no frames, no other origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// setPageHeaders sets the headers every console answer carries, the
// callback listener's included.
func setPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer browsers send
	// "Origin: null" with the console's own form posts.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// guard sets the security headers on every answer and refuses a Host
// that is not the console's own (DNS rebinding) when it serves plain HTTP.
func (c *Console) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		setPageHeaders(h)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if c.cfg.TLS {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !c.cfg.TLS && !c.hosts[strings.ToLower(r.Host)] {
			http.Error(w, "this console answers only at "+c.origin, http.StatusMisdirectedRequest)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		next.ServeHTTP(w, r)
	})
}

func (c *Console) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /login", c.handleLogin)
	m.HandleFunc("GET /oauth/callback", c.handleCallback)
	m.HandleFunc("GET /{$}", c.page(func(w http.ResponseWriter, r *http.Request, s *session) {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
	}))
	m.HandleFunc("GET /setup", c.page(c.handleSetup))
	m.HandleFunc("POST /setup/check", c.action(c.handleSetupCheck))
	m.HandleFunc("POST /setup/aws", c.action(c.handleSetupAWS))
	m.HandleFunc("GET /sellers", c.page(c.handleSellers))
	m.HandleFunc("POST /sellers/authorize", c.action(c.handleAuthorize))
	m.HandleFunc("POST /sellers/authorize/paste", c.action(c.handleAuthorizePaste))
	m.HandleFunc("GET /secret", c.page(c.handleSecret))
	m.HandleFunc("POST /secret/rotate", c.action(c.handleRotate))
	m.HandleFunc("GET /clients", c.page(c.handleClients))
	m.HandleFunc("POST /clients", c.action(c.handleClientCreate))
	m.HandleFunc("POST /clients/revoke", c.action(c.handleClientRevoke))
	m.HandleFunc("POST /clients/rekey", c.action(c.handleClientRekey))
	m.HandleFunc("GET /activity", c.page(c.handleActivity))
	m.HandleFunc("GET /jobs/{id}", c.page(c.handleJob))
	m.HandleFunc("POST /logout", c.action(c.handleLogout))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusNotFound, "message", nil, messageData{Title: "Not found", Text: "There is no such page in the console."})
	})
	c.mux = m
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session)

// page serves a GET that needs a session.
func (c *Console) page(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.sess.get(r, c.cookie)
		if s == nil {
			c.render(w, r, http.StatusUnauthorized, "signin", nil, nil)
			return
		}
		h(w, r, s)
	}
}

// action serves a POST that needs a session, a same-origin request and the
// session's CSRF token.
func (c *Console) action(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.sess.get(r, c.cookie)
		if s == nil {
			c.render(w, r, http.StatusUnauthorized, "signin", nil, nil)
			return
		}
		if !c.sameOrigin(r) {
			c.audit(r.Context(), "refused", r.URL.Path, false, "a request from another origin")
			c.render(w, r, http.StatusForbidden, "message", s, messageData{Title: "Refused", Text: "This request came from another site; nothing was changed."})
			return
		}
		tok := r.PostFormValue("csrf")
		if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.csrf)) != 1 {
			c.audit(r.Context(), "refused", r.URL.Path, false, "missing or wrong CSRF token")
			c.render(w, r, http.StatusForbidden, "message", s, messageData{Title: "Refused", Text: "The form's security token is missing or stale (a form from an earlier sign-in?); nothing was changed. Reload the page and try again."})
			return
		}
		h(w, r, s)
	}
}

// sameOrigin reads what the browser says about where a request comes
// from; a browser that says nothing is left to the CSRF token.
func (c *Console) sameOrigin(r *http.Request) bool {
	// An opaque origin ("null": a sandboxed frame, a data: URL) is another.
	if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, c.originOf(r)) {
		return false
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

// originOf is the origin the browser used: the console's scheme and the
// Host it asked for (any of the loopback names, or a TLS host name).
func (c *Console) originOf(r *http.Request) string {
	if c.cfg.TLS {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string
	CSRF    string
	App     string
	Signed  bool
	Now     time.Time
	Data    any
	Flash   string
	Refresh bool // re-load the page every few seconds (no-script progress)
}

type messageData struct {
	Title, Text string
	Link, Label string
}

var pageTitles = map[string]string{
	"setup": "Setup", "sellers": "Sellers", "secret": "App secret", "clients": "Gateway clients",
	"activity": "Activity", "key": "Gateway clients", "signin": "Sign in", "message": "spgate console",
	"consent": "Sellers", "callback": "Sellers",
}

// render executes a page template into a buffer, so a template error
// never sends half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, s *session, data any) {
	c.renderView(w, r, status, name, s, view{Data: data})
}

func (c *Console) renderView(w http.ResponseWriter, r *http.Request, status int, name string, s *session, v view) {
	t := c.pages[name]
	v.App = c.cfg.App
	v.Nav = name
	if v.Title == "" {
		v.Title = pageTitles[name]
	}
	v.Now = c.clk.Now()
	if s != nil {
		v.Signed, v.CSRF = true, s.csrf
	}
	if md, ok := v.Data.(messageData); ok && md.Title != "" {
		v.Title = md.Title
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("console: rendering a page failed", "page", name, "error", err.Error())
		http.Error(w, "the console could not render this page; see the log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// background is a context for work that outlives the request (a
// rotation, the AWS setup): it keeps the request's values (the vault
// actor) but not its cancellation.
func background(r *http.Request) context.Context {
	return actorCtx(context.WithoutCancel(r.Context()))
}
