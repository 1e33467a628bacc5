// Package host checks the syntax of an HTTP request's host: the Host field and the
// absolute-form authority of HTTP/1.1 (RFC 9112 section 3.2), and HTTP/2's
// :authority (RFC 9113 section 8.3.1). Both servers apply the same rule, so a name the
// HTTP/1.1 engine refuses cannot reach routing over HTTP/2.
//
// It does not normalise (lower-casing and port stripping belong to the caller that
// routes) and it does not resolve anything. Stateless; safe for concurrent use.
package host
