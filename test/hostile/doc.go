// Package hostile drives the built gantry binary with a raw-TCP client that writes
// exact bytes no well-behaved HTTP client would send: request smuggling (CL.TE, TE.CL,
// Transfer-Encoding obfuscations, duplicate and malformed Content-Length), header
// injection and malformed field syntax, oversized request lines and headers, path
// normalisation bypasses against an auth-protected route, hop-by-hop and consumer
// header spoofing, upgrade tricks, slowloris and idle connections, and body limits.
//
// Each case asserts both what the client gets (status, and whether the connection is
// closed) and what the real recording backends behind the gateway saw, parsed and as
// raw bytes on the wire; every error body is checked for leaked internal addresses and
// Go error text. The suite imports nothing internal, so it guards any HTTP/1.1 engine
// the gateway runs (net/http today, internal/h1 once it takes connections).
//
// It does not test TLS listeners (the framing check there belongs to internal/h1) nor
// HTTP/2.
package hostile
