package lwa

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeLWA is a small LWA token endpoint speaking Amazon's wire format
// (reference §2): form-encoded POST, client id and secret in the body, JSON
// answers, 401 invalid_client and 400 for the other error codes.
type fakeLWA struct {
	srv *httptest.Server

	mu        sync.Mutex
	secrets   map[string]map[string]bool // client id → accepted secrets
	refresh   map[string]bool            // valid refresh tokens
	codes     map[string]string          // unused code → redirect uri
	expiresIn int
	issued    []string // access tokens issued, in order
	forms     []map[string][]string
	gate      chan struct{} // when set, answers wait for it to close

	// respond, when set, answers instead of the normal logic (faults).
	respond func(w http.ResponseWriter, r *http.Request) bool

	requests atomic.Int64
	byGrant  sync.Map // grant → *atomic.Int64
}

const (
	testClientID = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
	testSecret   = "amzn1.oa2-cs.v1.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testSecret2  = "amzn1.oa2-cs.v1.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	testRefresh  = "Atzr|IwEBIREFRESHTOKENrefreshTOKENrefreshTOKENrefresh"
	testCode     = "ANdNAVhyhqirUelHGEHA"
	testRedirect = "https://app.example.com/callback"
)

func newFakeLWA(t *testing.T) *fakeLWA {
	t.Helper()
	f := &fakeLWA{
		secrets:   map[string]map[string]bool{testClientID: {testSecret: true}},
		refresh:   map[string]bool{testRefresh: true},
		codes:     map[string]string{testCode: testRedirect},
		expiresIn: 3600,
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLWA) url() string { return f.srv.URL + "/auth/o2/token" }

func (f *fakeLWA) count(grant string) int64 {
	v, ok := f.byGrant.Load(grant)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

func (f *fakeLWA) setSecrets(secrets ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]bool{}
	for _, s := range secrets {
		m[s] = true
	}
	f.secrets[testClientID] = m
}

func (f *fakeLWA) lastIssued() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.issued) == 0 {
		return ""
	}
	return f.issued[len(f.issued)-1]
}

func writeLWAError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"error_description": desc, "error": code})
	w.Write(b)
}

func (f *fakeLWA) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/auth/o2/token" {
		http.NotFound(w, r)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		writeLWAError(w, 400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil || len(r.URL.RawQuery) > 0 {
		writeLWAError(w, 400, "invalid_request", "Malformed request")
		return
	}
	grant := r.PostForm.Get("grant_type")
	v, _ := f.byGrant.LoadOrStore(grant, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)

	f.mu.Lock()
	f.forms = append(f.forms, r.PostForm)
	gate, respond := f.gate, f.respond
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if respond != nil && respond(w, r) {
		return
	}
	if r.Header.Get("Authorization") != "" {
		writeLWAError(w, 400, "invalid_request", "client credentials belong in the body")
		return
	}
	id, sec := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if id == "" || sec == "" {
		writeLWAError(w, 400, "invalid_request", "The request is missing a required parameter : client_id")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.secrets[id][sec] {
		writeLWAError(w, 401, "invalid_client", "Client authentication failed")
		return
	}
	refresh := ""
	switch grant {
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if rt == "" {
			writeLWAError(w, 400, "invalid_request", "The request is missing a required parameter : refresh_token")
			return
		}
		if !f.refresh[rt] {
			writeLWAError(w, 400, "invalid_grant", "The request has an invalid grant parameter : refresh_token")
			return
		}
		refresh = rt
	case "client_credentials":
		switch r.PostForm.Get("scope") {
		case "sellingpartnerapi::notifications", "sellingpartnerapi::client_credential:rotation", "sellingpartnerapi::migration":
		default:
			writeLWAError(w, 400, "invalid_scope", "An unknown scope was requested")
			return
		}
	case "authorization_code":
		code := r.PostForm.Get("code")
		redirect, ok := f.codes[code]
		if !ok {
			writeLWAError(w, 400, "invalid_grant", "The request has an invalid grant parameter : code")
			return
		}
		if r.PostForm.Get("redirect_uri") != redirect {
			writeLWAError(w, 400, "invalid_request", "The redirect_uri does not match")
			return
		}
		delete(f.codes, code)
		refresh = fmt.Sprintf("Atzr|IwEBINEWREFRESH%04d", len(f.issued))
	default:
		writeLWAError(w, 400, "unsupported_grant_type", "Invalid grant_type")
		return
	}
	tok := fmt.Sprintf("Atza|IwEBIACCESSTOKEN%06d", len(f.issued))
	f.issued = append(f.issued, tok)
	body := map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": f.expiresIn}
	if refresh != "" {
		body["refresh_token"] = refresh
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	json.NewEncoder(w).Encode(body)
}
