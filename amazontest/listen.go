package amazontest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StartOptions say where and how Start serves the emulator.
type StartOptions struct {
	// Addr is the NA region's (and LWA's) listen address; EU and FE listen
	// on the next two ports. Port 0 picks three free ports. Empty means
	// 127.0.0.1:0.
	Addr string
	// TLS serves HTTPS with the bundle's certificate. Nil serves plain
	// HTTP, unless Config.TLS asks for a throw-away bundle.
	TLS *TLSBundle
	// Wrap, when set, wraps each region's handler, e.g. to rewrite a
	// header for a benchmark.
	Wrap func(http.Handler) http.Handler
}

// ErrStartAddr is wrapped by Start's error for an Addr that is not
// host:port with a port of at most 65533 (EU and FE take the next two).
var ErrStartAddr = errors.New("the listen address must be host:port with a port up to 65533 (EU and FE take the next two)")

// regions are the selling regions Start serves, NA first.
var regions = []Region{RegionNA, RegionEU, RegionFE}

// Start serves an emulator built with New on one listener per selling
// region, as NewServer does, where o says, and sets URL and RegionURL.
// Stop it with Close or Shutdown; ServeErr reports a listener that failed.
func (s *Server) Start(o StartOptions) error {
	lns, err := listenRegions(o.Addr)
	if err != nil {
		return err
	}
	if o.TLS == nil && s.cfg.TLS {
		// Certificates are checked against the wall clock, whatever clock
		// the emulator runs on.
		if o.TLS, err = NewTLSBundle(time.Now()); err != nil {
			closeAll(lns)
			return err
		}
	}
	s.tls = o.TLS
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
	}
	s.serveErr = make(chan error, len(regions))
	for i, reg := range regions {
		h := s.HandlerFor(reg)
		if o.Wrap != nil {
			h = o.Wrap(h)
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		if s.tls != nil {
			hs.TLSConfig = s.tls.ServerConfig() // each server adds its own ALPN protocols
		}
		s.servers = append(s.servers, hs)
		s.regionURL[reg] = scheme + "://" + lns[i].Addr().String()
		go s.serveOn(hs, lns[i])
	}
	s.URL = s.regionURL[RegionNA]
	return nil
}

// serveOn serves hs on ln and reports how it stopped, unless by Close or
// Shutdown.
func (s *Server) serveOn(hs *http.Server, ln net.Listener) {
	var err error
	if hs.TLSConfig != nil {
		err = hs.ServeTLS(ln, "", "")
	} else {
		err = hs.Serve(ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		s.serveErr <- err
	}
}

// ServeErr receives the error of a listener Start served that stopped
// other than by Close or Shutdown (nil channel before Start).
func (s *Server) ServeErr() <-chan error { return s.serveErr }

// Endpoints returns the started regions' URLs in the form spgate's
// SPGATE_ENDPOINT and --endpoint take: "na=URL,eu=URL,fe=URL".
func (s *Server) Endpoints() string {
	var ep []string
	for _, r := range regions {
		ep = append(ep, string(r)+"="+s.regionURL[r])
	}
	return strings.Join(ep, ",")
}

// listenRegions opens one listener per region: addr's port and the next
// two, or three free ports for port 0.
func listenRegions(addr string) ([]net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", addr, ErrStartAddr)
	}
	first, err := strconv.Atoi(portStr)
	if err != nil || first < 0 || first > 65533 {
		return nil, fmt.Errorf("%q: %w", addr, ErrStartAddr)
	}
	var lns []net.Listener
	for i, r := range regions {
		port := 0
		if first != 0 {
			port = first + i
		}
		a := net.JoinHostPort(host, strconv.Itoa(port))
		ln, err := net.Listen("tcp", a)
		if err != nil {
			closeAll(lns)
			return nil, fmt.Errorf("listen on %s for %s: %w", a, strings.ToUpper(string(r)), err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}
