package amazontest

import (
	"encoding/json"
	"net"
	"net/http"
	"time"
)

// Admin endpoints: loopback test tooling, not part of Amazon. They answer
// only requests from a loopback address (403 otherwise), take and return
// JSON, and never show client secrets or tokens except /_admin/demo, which
// returns the demo fixture's credentials (emulator fixtures, not real ones).
//
//	GET    /_admin/counters                     Counters
//	GET    /_admin/faults                       the injected faults (faultsJSON)
//	POST   /_admin/faults                       replace them: {"latencyMs":250,"internalFailureShare":0.1,
//	                                            "serviceUnavailableShare":0,"dropShare":0,"lwaOutage":false,"dateSkewSeconds":-300}
//	DELETE /_admin/faults                       clear them
//	GET    /_admin/registry                     apps, sellers, authorizations (no secrets)
//	GET    /_admin/demo                         the demo fixture, with its credentials
//	POST   /_admin/revoke                       {"sellerId":"…","appId":"…"} or {"refreshToken":"Atzr|…"}
//	POST   /_admin/expire-secret                {"appId":"…"}
//	POST   /_admin/notifications/secret-expiry  {"appId":"…","expiry":"RFC 3339","reason":"…"}
//
// Errors are {"error":"…"} with 400, 403, 404 or 405.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if !fromLoopback(r) {
		adminError(w, http.StatusForbidden, "admin endpoints answer loopback clients only")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	switch r.URL.Path {
	case "/_admin/counters":
		if method(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, s.Counters())
		}
	case "/_admin/faults":
		s.adminFaults(w, r)
	case "/_admin/registry":
		if method(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, s.dumpRegistry())
		}
	case "/_admin/demo":
		if method(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, s.Demo())
		}
	case "/_admin/revoke":
		if method(w, r, http.MethodPost) {
			s.adminRevoke(w, r)
		}
	case "/_admin/expire-secret":
		if method(w, r, http.MethodPost) {
			s.adminExpireSecret(w, r)
		}
	case "/_admin/notifications/secret-expiry":
		if method(w, r, http.MethodPost) {
			s.adminSecretExpiry(w, r)
		}
	default:
		adminError(w, http.StatusNotFound, "unknown admin endpoint; see the amazontest package documentation (admin.go)")
	}
}

// adminFaults shows, replaces (POST or PUT) or clears the injected faults.
func (s *Server) adminFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, toFaultsJSON(s.Faults()))
	case http.MethodDelete:
		_ = s.SetFaults(Faults{})
		writeJSON(w, http.StatusOK, toFaultsJSON(Faults{}))
	case http.MethodPost, http.MethodPut:
		var fj faultsJSON
		if !decodeAdmin(w, r, &fj) {
			return
		}
		f := fj.faults()
		if err := s.SetFaults(f); err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, toFaultsJSON(f))
	default:
		w.Header().Set("Allow", "GET, POST, PUT, DELETE")
		adminError(w, http.StatusMethodNotAllowed, "use GET, POST or DELETE")
	}
}

// adminRevoke revokes one refresh token, or a seller's authorization of an
// app.
func (s *Server) adminRevoke(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SellerID     string `json:"sellerId"`
		AppID        string `json:"appId"`
		RefreshToken string `json:"refreshToken"`
	}
	if !decodeAdmin(w, r, &in) {
		return
	}
	var ok bool
	switch {
	case in.RefreshToken != "":
		ok = s.RevokeRefreshToken(in.RefreshToken)
	case in.SellerID != "" && in.AppID != "":
		ok = s.Revoke(in.SellerID, in.AppID)
	default:
		adminError(w, http.StatusBadRequest, `give {"sellerId","appId"} or {"refreshToken"}`)
		return
	}
	if !ok {
		adminError(w, http.StatusNotFound, "no such authorization")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"revoked": true})
}

func (s *Server) adminExpireSecret(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AppID string `json:"appId"`
	}
	if !decodeAdmin(w, r, &in) {
		return
	}
	if err := s.ExpireClientSecret(in.AppID); err != nil {
		adminError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"expired": true})
}

// adminSecretExpiry publishes an APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY
// notification; by default the secret expires in a week, as for a
// periodic rotation.
func (s *Server) adminSecretExpiry(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AppID  string    `json:"appId"`
		Expiry time.Time `json:"expiry"`
		Reason string    `json:"reason"`
	}
	if !decodeAdmin(w, r, &in) {
		return
	}
	if in.Expiry.IsZero() {
		in.Expiry = s.now().Add(7 * 24 * time.Hour)
	}
	if in.Reason == "" {
		in.Reason = "PERIODIC_ROTATION"
	}
	if err := s.EmitSecretExpiry(r.Context(), in.AppID, in.Expiry, in.Reason); err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"published": true})
}

// faultsJSON is the admin endpoint's view of Faults.
type faultsJSON struct {
	LatencyMs               int64   `json:"latencyMs"`
	InternalFailureShare    float64 `json:"internalFailureShare"`
	ServiceUnavailableShare float64 `json:"serviceUnavailableShare"`
	DropShare               float64 `json:"dropShare"`
	LWAOutage               bool    `json:"lwaOutage"`
	DateSkewSeconds         int64   `json:"dateSkewSeconds"`
}

func (f faultsJSON) faults() Faults {
	return Faults{
		Latency: time.Duration(f.LatencyMs) * time.Millisecond, InternalFailureShare: f.InternalFailureShare,
		ServiceUnavailableShare: f.ServiceUnavailableShare, DropShare: f.DropShare, LWAOutage: f.LWAOutage,
		DateSkew: time.Duration(f.DateSkewSeconds) * time.Second,
	}
}

func toFaultsJSON(f Faults) faultsJSON {
	return faultsJSON{
		LatencyMs: f.Latency.Milliseconds(), InternalFailureShare: f.InternalFailureShare,
		ServiceUnavailableShare: f.ServiceUnavailableShare, DropShare: f.DropShare, LWAOutage: f.LWAOutage,
		DateSkewSeconds: int64(f.DateSkew / time.Second),
	}
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func method(w http.ResponseWriter, r *http.Request, m string) bool {
	if r.Method == m {
		return true
	}
	w.Header().Set("Allow", m)
	adminError(w, http.StatusMethodNotAllowed, "use "+m)
	return false
}

func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminError(w, http.StatusBadRequest, "request body is not the expected JSON: "+err.Error())
		return false
	}
	return true
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
