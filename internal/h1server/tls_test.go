package h1server_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/internal/h1server"
	"github.com/spgate/spgate/internal/testenv"
)

// TestTLS: on a tls.NewListener, requests are served with r.TLS set, and
// a client whose handshake fails loses only its own connection: Serve
// goes on with the next.
func TestTLS(t *testing.T) {
	t.Parallel()
	const host = "h1server.test"
	// The emulator's throw-away CA and a certificate it signed for host.
	b, err := amazontest.NewTLSBundle(time.Now(), host)
	if err != nil {
		t.Fatal(err)
	}
	pool := b.ClientPool()
	ln := tls.NewListener(listen(t), &tls.Config{Certificates: []tls.Certificate{b.Certificate}, NextProtos: []string{"http/1.1"}})
	srv := &h1server.Server{ReadHeaderTimeout: testenv.Patience, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			io.WriteString(w, "no TLS")
			return
		}
		fmt.Fprintf(w, "TLS to %s, complete %v, %s", r.TLS.ServerName, r.TLS.HandshakeComplete, r.TLS.NegotiatedProtocol)
	})}
	start(t, srv, ln)
	addr := ln.Addr().String()
	good := &tls.Config{RootCAs: pool, ServerName: host, NextProtos: []string{"http/1.1"}}
	// Each of these fails its handshake; the server must end the
	// connection and keep serving.
	failures := []struct {
		name string
		try  func(c net.Conn) error
	}{
		{name: "plain HTTP", try: func(c net.Conn) error {
			_, err := io.WriteString(c, get("/"))
			return err
		}},
		{name: "client that does not trust the certificate", try: func(c net.Conn) error {
			return tls.Client(c, &tls.Config{ServerName: host}).Handshake()
		}},
		{name: "client expecting another name", try: func(c net.Conn) error {
			return tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "other.test"}).Handshake()
		}},
		{name: "garbage", try: func(c net.Conn) error {
			_, err := c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5})
			return err
		}},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			c := dial(t, addr)
			_ = f.try(c)
			ended(t, c, c)
			// The next client is served.
			tc := tls.Client(dial(t, addr), good)
			io.WriteString(tc, get("/"))
			resp, body, err := readAnswer(bufio.NewReader(tc), http.MethodGet)
			if err != nil {
				t.Fatalf("a good client after a failed handshake: %v", err)
			}
			if want := "TLS to " + host + ", complete true, http/1.1"; resp.StatusCode != 200 || body != want {
				t.Errorf("answer %d %q, want 200 %q", resp.StatusCode, body, want)
			}
		})
	}
}
