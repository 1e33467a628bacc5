// Package gateway turns a validated config.Config into a running gateway and keeps it
// running across reloads.
//
// # Shape
//
// Everything a request needs is one immutable Snapshot, published through an
// atomic.Pointer: per http listener a compiled router and the route table it indexes
// (each route with its prebuilt policy chain and its proxy terminal), the upstream
// runtimes (balancer Set, connection pool, health checker, outlier detector, retry
// budget, breaker) and the L4 routing tables. A request loads the pointer once and uses
// only that snapshot, so a swap never changes a request half-way.
//
// # Lifecycle
//
//	New(cfg)      build the first snapshot, bind every listener (nothing served yet)
//	Start()       serve on every listener
//	Reload(cfg)   build → bind new listeners → swap → retire the old (any error keeps the old)
//	Shutdown(ctx) stop accepting, finish in-flight until ctx, then close
//
// Reload is parse → validate (the caller, through config.Load) → build → swap → drain.
// Build reuses, by identity, the state that must outlive a reload:
//
//   - an upstream whose config is unchanged (config.Same) is handed over whole: same
//     balancer Set (health and ejection state, slow start), same connection pool, same
//     health checker goroutines, same retry budget and breaker;
//   - a changed upstream gets a new runtime, but each target keeps its balancer.State
//     (in-flight counts, EWMA, health flags) when its URL is unchanged, and the
//     connection pool is kept when the timeouts are unchanged;
//   - a listener whose config is unchanged keeps its socket and its http.Server; one
//     whose settings changed keeps its socket too (see socket.go): new connections go to
//     a new server while the old server drains its connections. WebSockets and other
//     hijacked or streaming connections are never cut by a reload: the old snapshot
//     stays reachable from the requests that hold it until they finish.
//
// Runtimes no longer referenced by the new snapshot are retired after the swap: their
// health checkers stop and their idle upstream connections close; in-flight work on
// them finishes.
//
// # Engines
//
// A plain-HTTP listener (engine: fast, the default) hands every connection to the
// dedicated HTTP/1.1 engine (internal/h1); fast.go adapts the request path above to it
// (the engine parses and forwards, fastHandler decides). Whatever the engine does not
// do (h2c, upgrades, body matching, and routes whose features only the net/http proxy
// has: TLS/h2c upstreams, sticky cookies, breakers, request and per-try timeouts) goes
// to the listener's net/http server through Fallback, so behaviour never depends on the
// engine. HTTP/2 requests that net/http serves on such a listener still reach HTTP/1.1
// upstreams through the engine's connection pool (h2forward.go, h1.Server.Exchange)
// when their route is one the engine could serve and they are not gRPC; the rest use
// the net/http proxy. TLS listeners and engine: standard use net/http only. Either way the hardening
// checks (hardening.go, framing.go) hold: the engine's parser is as strict, and the
// net/http server sits behind the raw framing check and admit.
//
// # Concurrency
//
// Reload and Shutdown are serialised by a mutex; the request path takes no lock. A
// Gateway is safe for concurrent use.
//
// # Not here
//
// Parsing and validation (internal/config), matching (internal/router), picking
// (internal/balancer), forwarding (internal/proxy, internal/l4), signal handling and
// file watching policy (cmd/gantry; Watch here only polls a file).
package gateway
