package l4

import "errors"

var (
	// ErrServerClosed is returned by Serve after Shutdown.
	ErrServerClosed = errors.New("l4: server closed")
	// ErrNoRoute means the table has no route for a connection (no default, no SNI match).
	ErrNoRoute = errors.New("no route")
	// ErrIdle ends a session that saw no traffic in either direction for the idle timeout.
	ErrIdle = errors.New("session idle")

	// errNotTLS means the first bytes are not a TLS handshake record; the connection
	// takes the default route.
	errNotTLS = errors.New("not a tls handshake")
	// errBadHello means a TLS ClientHello could not be parsed within bounds.
	errBadHello = errors.New("malformed tls client hello")
)
