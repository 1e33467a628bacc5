// Package h1 is Gantry's dedicated HTTP/1.1 reverse-proxy engine: the hot path for
// the common case (plain HTTP/1.x request in, HTTP/1.1 keep-alive upstream out).
//
// It exists because net/http's server plus httputil.ReverseProxy spends most of a
// proxied request's CPU on allocation (maps for headers, a *http.Request and
// *http.Response per exchange, a goroutine per upstream connection and channel
// hand-offs between them). This engine parses into byte-slice views over pooled
// buffers, keeps no maps per request, runs the whole exchange on the client
// connection's goroutine and reaches zero allocations per request in steady state.
// It borrows techniques from fasthttp (views into the read buffer, reused per-conn
// state, lazily refreshed deadlines) but not its code or its API, and it is stricter.
//
// # Shape
//
//	srv := h1.NewServer(h1.Options{Handler: h, Fallback: toNetHTTP})
//	go srv.Serve(ln)       // or srv.ServeConn(c) for one connection
//	...
//	srv.Shutdown(ctx)      // stop accepting, close idle conns, drain, then close
//
// Per request the engine parses the head strictly, then calls Handler.Route once
// (no I/O, must not block). Route fills a Decision:
//
//   - Forward: the engine picks a target with Decision.Picker, takes a keep-alive
//     connection from its per-target pool (or dials), writes the rewritten request
//     head and streams the body, reads the response head strictly and streams the
//     response back, retrying per Decision.Retry where that is safe;
//   - Answer: the engine writes Decision.Status/Body (the gateway renders
//     problem+json; Options.Problem does the same for the engine's own errors);
//   - Fallback: the connection, with the bytes already read replayed first, goes to
//     Options.Fallback (net/http), which serves it from then on.
//
// Server.Exchange runs one upstream exchange through the same pool for a request that
// arrived elsewhere (an HTTP/2 stream served by net/http): an *http.Request in, an
// http.ResponseWriter out, the same Decision fields, retries and header rules. Both use
// one forwarder (forward.go: the try loop, upstream connections, response heads, the
// body relay from the upstream read buffer); a small interface, downstream, is what
// differs: reading the client's request and writing the response to it (conn in
// forward_conn.go, Exchange in exchange.go).
//
// Handler.Done runs once per answered request with a Result (status, bytes, target,
// tries, upstream latency, failure reason) for metrics and the access log.
//
// # What it handles and what falls back
//
// Handled: HTTP/1.0 and HTTP/1.1 requests in origin-form and absolute-form, bodies
// framed by Content-Length or chunked, Expect: 100-continue (answered by the engine
// right before it reads the body), pipelining (answered in order), keep-alive both
// sides, upstream responses framed by Content-Length, chunked (trailers forwarded to
// HTTP/1.1 clients) or connection close (re-chunked for HTTP/1.1 clients), 1xx
// interim responses (100 dropped, others forwarded to HTTP/1.1 clients).
//
// Handed to Options.Fallback: the h2c prior-knowledge preface ("PRI * HTTP/2.0"),
// requests with Upgrade (WebSocket, h2c upgrade), CONNECT, asterisk-form (OPTIONS *),
// and whatever the Handler marks Fallback. Without a Fallback, Upgrade is ignored (RFC
// 9110 section 7.8 lets a server do so) and the rest is answered 501.
//
// # Strictness
//
// The parser rejects rather than guesses (see docs/h1-engine.md for the table): lines
// must end in CRLF (a bare LF or CR is a 400), no obs-fold, no whitespace before the
// colon, no CTL bytes in names or values, exactly one Host for HTTP/1.1, Content-Length
// is 1*DIGIT and appears once, Transfer-Encoding is exactly "chunked" and never beside
// Content-Length or in HTTP/1.0. Every framing error closes the connection after the
// 400, so nothing after an ambiguous message is ever read as a request. Upstream
// responses are held to the same grammar (a violation is a 502).
//
// # Bounds
//
// Head bytes (MaxHeaderBytes → 431), header count (MaxHeaderCount → 431), request
// target (MaxURILength → 414), chunk-size lines and extensions, trailer size, time to
// send a head (ReadHeaderTimeout), keep-alive idleness (IdleTimeout), stalls inside an
// exchange (StallTimeout, applied to every read and write on both sides), requests
// per connection, idle upstream connections per target and their age.
//
// # Concurrency
//
// One goroutine per client connection runs that connection's requests one after the
// other, including the upstream exchange; no goroutine is started per request. On
// Linux a keep-alive connection that is idle after its first request goes to the
// readiness loop instead (loop_linux.go): internal/netpoll callbacks, on one poller
// goroutine per CPU, run its common exchanges (whole head, no body, an idle pooled
// upstream connection, a Content-Length response that fits the buffer) without a
// goroutine of its own, and hand anything else to a new goroutine running the code
// above at a request boundary, after Route, after the request head went upstream, or
// before Done; the connection returns to the loop at its next idle moment. Without the
// loop (GANTRY_H1_LOOP=off), a keep-alive connection that stays idle with nothing
// buffered for about a second is parked instead: its goroutine ends, its working state
// returns to a pool, and the socket waits in internal/netpoll; readiness starts a new
// goroutine. Either way only connections accepted by Serve whose net.Conn implements
// syscall.Conn (so never TLS) leave their goroutine, other platforms have neither, and
// a per-Server sweeper goroutine enforces IdleTimeout for those that did (park.go). The
// upstream pool is shared by all connections of a Server (a mutex per Server, held
// only for slice pushes and pops) and one janitor goroutine closes expired idle
// upstream connections. A Server is safe for concurrent use; Request, Decision and
// Result belong to one connection and are reused for its next request, so the Handler
// must not retain them (or strings obtained from a Request) after Done returns.
//
// # Place in a request's path
//
// The gateway's socket dispatcher hands accepted connections to Serve through a
// net.Listener. The engine replaces steps 1 and 7-8 of the request path in STYLE.md
// (accept and limits; rewrite, round trip, stream back); the gateway's Handler does
// steps 2-6 (snapshot, request ID, routing, policy chain, choosing the Picker) inside
// Route, and step 8's accounting inside Done.
//
// # Not here
//
// TLS (the gateway may pass a *tls.Conn after its handshake), HTTP/2, upgrades and
// WebSocket (net/http through Fallback), routing, policies and problem vocabulary
// (callers), balancing (internal/balancer), health checking.
package h1
