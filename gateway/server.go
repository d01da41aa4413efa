package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ServeOptions configure Serve.
type ServeOptions struct {
	// TLSCert and TLSKey are PEM files; both empty means plain HTTP (fine
	// on loopback, the default address).
	TLSCert, TLSKey string
	// DrainTimeout bounds how long calls in flight may take to finish after
	// ctx ends (default 60 s); the rest are cut off.
	DrainTimeout time.Duration
	Logger       *slog.Logger
}

// Serve serves g on ln until ctx ends, then stops accepting connections
// and waits (up to DrainTimeout) for the calls in flight to finish. Those
// calls keep their own contexts: ending ctx does not cancel them. Serve
// returns nil after a clean shutdown.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, o ServeOptions) error {
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 60 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests must outlive ctx so that shutdown drains them.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return errors.New("gateway: give both --tls-cert and --tls-key, or neither")
	}
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return fmt.Errorf("gateway: loading the TLS certificate and key: %w (both PEM files; the key unencrypted)", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing calls in flight", "drain_timeout", o.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), o.DrainTimeout)
	defer cancel()
	err := srv.Shutdown(dctx)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("gateway: calls still running after the %v drain timeout were cut off: %w", o.DrainTimeout, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: serving: %w", err)
	}
	log.Info("shut down cleanly")
	return nil
}
