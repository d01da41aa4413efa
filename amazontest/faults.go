package amazontest

import (
	"fmt"
	"net/http"

	"time"

	"github.com/spgate/spgate/clock"
)

// Faults are failures injected on demand. Shares are spread evenly and
// deterministically (a share of 0.25 hits exactly every fourth request), so
// tests can count on them. Faults apply to SP-API paths; LWAOutage to the
// token endpoint.
type Faults struct {
	// Latency delays every SP-API answer (on the injected clock).
	Latency time.Duration
	// InternalFailureShare of SP-API requests answer 500 InternalFailure.
	InternalFailureShare float64
	// ServiceUnavailableShare of SP-API requests answer 503 ServiceUnavailable.
	ServiceUnavailableShare float64
	// DropShare of SP-API requests get their connection closed without an
	// answer.
	DropShare float64
	// LWAOutage makes the token endpoint answer 503.
	LWAOutage bool
	// DateSkew shifts the Date response header (clock-skew fault).
	DateSkew time.Duration
}

func (f Faults) validate() error {
	for name, p := range map[string]float64{"InternalFailureShare": f.InternalFailureShare, "ServiceUnavailableShare": f.ServiceUnavailableShare, "DropShare": f.DropShare} {
		if p < 0 || p > 1 {
			return fmt.Errorf("amazontest: fault %s is %g; use a share between 0 and 1", name, p)
		}
	}
	if f.Latency < 0 {
		return fmt.Errorf("amazontest: fault Latency is %s; use a positive duration", f.Latency)
	}
	return nil
}

// SetFaults replaces the injected faults; the zero Faults clears them.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	return nil
}

// Faults returns the injected faults.
func (s *Server) Faults() Faults {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.faults
}

// injectFaults applies the faults to one SP-API request and reports whether
// it answered (or dropped) it.
func (s *Server) injectFaults(w http.ResponseWriter, r *http.Request) bool {
	s.mu.RLock()
	f := s.faults
	s.mu.RUnlock()
	if f == (Faults{}) || f.Latency == 0 && f.InternalFailureShare == 0 && f.ServiceUnavailableShare == 0 && f.DropShare == 0 {
		return false
	}
	if f.Latency > 0 {
		if err := clock.Sleep(r.Context(), s.clk, f.Latency); err != nil {
			return true // the client went away
		}
	}
	n := s.faultN.Add(1)
	switch {
	case everyNth(n, f.DropShare):
		s.counters.fault("dropped")
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream, net/http's documented way
	case everyNth(n, f.InternalFailureShare):
		s.counters.fault("internalFailure")
		writeError(w, http.StatusInternalServerError, "InternalFailure", msgInternal, "")
		return true
	case everyNth(n, f.ServiceUnavailableShare):
		s.counters.fault("serviceUnavailable")
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", msgUnavailable, "")
		return true
	}
	return false
}
