package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
)

// classify maps a try's error to a failKind. Order matters: the client leaving and
// the request deadline explain any error they cause, so they are checked first.
func classify(err error, tryTimedOut bool, reqCtx, clientCtx context.Context) failKind {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return failBodyTooLarge
	}
	switch {
	case clientCtx.Err() != nil:
		return failClientGone
	case reqCtx.Err() != nil:
		return failRequestTimeout
	case tryTimedOut:
		return failTimeout
	case isConnectError(err):
		return failConnect
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return failReset
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return failTimeout
	}
	return failBadResponse
}

func isConnectError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	// A TLS handshake that fails means the target could not be connected to securely.
	var (
		alert tls.AlertError
		rec   tls.RecordHeaderError
		cv    *tls.CertificateVerificationError
		ua    x509.UnknownAuthorityError
		hn    x509.HostnameError
	)
	return errors.As(err, &alert) || errors.As(err, &rec) || errors.As(err, &cv) ||
		errors.As(err, &ua) || errors.As(err, &hn)
}

func parseAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}
