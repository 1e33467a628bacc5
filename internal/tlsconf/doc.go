// Package tlsconf builds the *tls.Config of a TLS-terminating listener from its config
// section, and keeps it current when certificate files change.
//
// Certificates are chosen by SNI: exact names first, then a wildcard certificate for
// the name's parent ("*.example.com" serves "a.example.com", never "a.b.example.com"
// nor "example.com", RFC 6125 section 6.4.3), else the first configured certificate.
// Defaults are modern: TLS 1.2 minimum ("1.3" configurable), TLS 1.2 cipher suites
// limited to ECDHE key exchange with AEAD ciphers, ALPN offering h2 then http/1.1.
// With a client CA bundle the listener asks for client certificates and verifies the
// ones given (tls.VerifyClientCertIfGiven): requiring one is a route decision (the
// mtls auth method), not a listener one.
//
// Hot reload: the *tls.Config returned by TLSConfig never changes; its
// GetConfigForClient hands each handshake the current generation, which Reload
// replaces atomically. A reload that fails (unreadable file, key not matching its
// certificate, expired PEM garbage) keeps the running generation and returns the
// error. Changed is a cheap stat of every file (mtime and size) that the gateway can
// call on its file-watch tick; ReloadIfChanged combines both.
//
// It also renders the Strict-Transport-Security value (HSTS, RFC 6797) and provides
// the handler for a plain-HTTP listener that redirects to HTTPS. It does not listen:
// the gateway owns sockets. A Config is safe for concurrent use.
package tlsconf
