package amazontest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// TLSBundle is a throw-away certificate authority and a server certificate
// it signed for Amazon's host names, so an unmodified client that trusts
// the CA (SSL_CERT_FILE, curl --cacert) and resolves the names to the
// emulator talks to it as if it were Amazon.
type TLSBundle struct {
	// CAPEM is the CA certificate, PEM-encoded; write it to a file and trust it.
	CAPEM []byte
	// Certificate is the server's certificate chain and key.
	Certificate tls.Certificate
	// Hosts are the DNS names in the server certificate.
	Hosts []string
}

// NewTLSBundle makes an ECDSA P-256 CA and a server certificate valid from
// now for 30 days, for AmazonHosts, sellercentral.amazon.com, localhost,
// 127.0.0.1, ::1 and extraHosts.
func NewTLSBundle(now time.Time, extraHosts ...string) (*TLSBundle, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("amazontest: generate CA key: %w", err)
	}
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
		return n
	}
	notBefore, notAfter := now.Add(-time.Hour), now.Add(30*24*time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "spgate emulator CA (testing only)", Organization: []string{"spgate amazontest"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("amazontest: create CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("amazontest: parse CA certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("amazontest: generate server key: %w", err)
	}
	hosts := append(AmazonHosts(), "sellercentral.amazon.com", "localhost")
	var ips []net.IP
	for _, h := range extraHosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else if h != "" {
			hosts = append(hosts, h)
		}
	}
	ips = append(ips, net.IPv4(127, 0, 0, 1), net.IPv6loopback)
	leafTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "api.amazon.com"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     hosts,
		IPAddresses:  ips,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("amazontest: create server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, fmt.Errorf("amazontest: parse server certificate: %w", err)
	}
	return &TLSBundle{
		CAPEM:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		Certificate: tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key, Leaf: leaf},
		Hosts:       hosts,
	}, nil
}

// ServerConfig returns a tls.Config serving the bundle's certificate.
func (b *TLSBundle) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{b.Certificate}, MinVersion: tls.VersionTLS12}
}

// ClientPool returns a cert pool trusting the bundle's CA.
func (b *TLSBundle) ClientPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(b.CAPEM)
	return p
}
