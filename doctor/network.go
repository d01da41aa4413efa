package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
)

// StepNetwork is the step of a finding where an endpoint could not be
// reached at all: no answer came, so nothing is known about the credentials.
const StepNetwork = "network"

// LayerNetwork is the layer of the "cannot reach …" findings.
const LayerNetwork = "network"

// unreachable tells whether err is a failure to reach an endpoint at all —
// DNS, a refused, reset or unroutable connection, TLS, a timeout, a
// connection closed before any answer — rather than an answer. why says
// which, in a few words; endpoint is the scheme and host the request went
// to when err names it.
func unreachable(err error) (why, endpoint string, ok bool) {
	if err == nil || errors.Is(err, context.Canceled) {
		return "", "", false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			endpoint = u.Scheme + "://" + u.Host
		}
	}
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var badCert x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var notTLS tls.RecordHeaderError
	var alert tls.AlertError
	var ne net.Error
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("DNS knows no host %s", dnsErr.Name), endpoint, true
		}
		return fmt.Sprintf("DNS lookup of %s failed (%s)", dnsErr.Name, dnsErr.Err), endpoint, true
	case errors.As(err, &unknownCA), errors.As(err, &badHost), errors.As(err, &badCert), errors.As(err, &verify):
		return "TLS: the server's certificate is not trusted (" + lastPart(err) + "); a proxy that intercepts TLS needs its CA in SSL_CERT_FILE", endpoint, true
	case errors.As(err, &notTLS):
		return "TLS: the server does not speak TLS on this port", endpoint, true
	case errors.As(err, &alert):
		return "TLS handshake refused (" + alert.Error() + ")", endpoint, true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timed out without an answer", endpoint, true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (nothing listens there)", endpoint, true
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset before an answer", endpoint, true
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to the host", endpoint, true
	case errors.As(err, &opErr):
		return "connection failed (" + opErr.Err.Error() + ")", endpoint, true
	case ue != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return "the connection closed before an answer", endpoint, true
	}
	return "", "", false
}

func lastPart(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// cannotReach is the finding for an endpoint that gave no answer: what
// (LWA, SP-API in region eu) at endpoint, and why.
func cannotReach(name, what, endpoint, why, subject string) Check {
	d := fmt.Sprintf("cannot reach %s at %s: %s", what, endpoint, why)
	if subject != "" {
		d = subject + ": " + d
	}
	return Check{Layer: LayerNetwork, Name: name, Status: Fail, Step: StepNetwork, Detail: d,
		Fix: fmt.Sprintf("nothing is known yet about the credentials: check DNS, the proxy and the firewall for %s from this machine, or the endpoint spgate was given (--endpoint, SPGATE_ENDPOINT, SPGATE_LWA_URL); then run `spgate doctor` again", hostOf(endpoint))}
}

func hostOf(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		return u.Host
	}
	return endpoint
}
