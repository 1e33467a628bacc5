// Package testbackend starts real loopback backends for tests across the project.
//
// Every backend listens on 127.0.0.1 port 0 and is closed through t.Cleanup, so a test
// only asks for one and points a gateway, a proxy or a health checker at its address.
// Nothing here is a mock: requests cross a real TCP connection.
//
// HTTP backends (http.go):
//
//   - StartHTTP: HTTP/1.1 (httptest-based).
//   - StartH2C: HTTP/2 with prior knowledge over cleartext (h2c targets), plus HTTP/1.1.
//   - StartTLS: HTTPS with HTTP/2 negotiated by ALPN; ClientTLS returns a config that trusts it.
//
// Each HTTP backend answers:
//
//   - any path: an Echo JSON document (backend name, method, path, raw path and query,
//     host, headers, SHA-256 and length of the request body, read incrementally so large
//     uploads are not buffered). Query parameters shape the answer: status=503,
//     delay=200ms (honours request cancellation), size=N (send N pattern bytes instead
//     of the JSON, streamed, with the digest in the X-Body-Sha256 trailer).
//   - /sse: n=3 server-sent events, each flushed; hold=1 keeps the stream open
//     afterwards until the client leaves or the backend closes.
//   - /ws: a WebSocket echo (github.com/coder/websocket).
//   - /trailers: a chunked body with a declared trailer (X-Declared) and an undeclared
//     one (X-Undeclared, via http.TrailerPrefix).
//   - /hang: blocks until the request context ends, then reports the request on
//     Canceled(); it proves that a client's disconnect reached the backend.
//
// RefusedAddr (refused.go) gives an address that refuses connections and stays bound for
// the test, for dead-target cases (a port freed by closing a listener can be handed to
// a parallel test and start answering).
//
// Requests counts answered requests. Close stops the backend and Restart brings it back
// on the same port, for kill-and-restart tests of health checking and retries.
//
// Other helpers add TCP and UDP backends (tcp.go, udp.go) beside these, and a throwaway
// certificate authority (pki.go: NewCA, CA.Issue, Cert.WriteFiles) for tests that need
// their own X.509 certificates: server or client leaves with chosen names, serials and
// validity, as tls.Certificate values or PEM files.
//
// Concurrency: all methods are safe for concurrent use; handlers run on net/http's
// goroutines.
package testbackend
