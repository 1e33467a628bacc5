// Package proxy forwards HTTP requests to an upstream: the terminal of a route.
//
// What it does: for one request, pick a target (Picker), rewrite the request once
// (hop-by-hop headers and every header named in Connection removed, then
// X-Forwarded-For/-Proto/-Host, Forwarded, Via and X-Request-Id set, Host and path as
// the route says), round-trip it over net/http's Transport with a per-try deadline,
// retry on another target when the RetryPolicy, the body and the Budget allow, and
// stream the answer back: headers, body (flushed at once for SSE, gRPC and responses
// without a length), trailers. Upgrade requests (WebSocket) are relayed over the
// hijacked client connection with half-close. Failures become internal/problem answers
// (502 connect failed or bad response, 503 no target or circuit open, 504 timeout);
// Go errors and addresses only reach the log.
//
// What it does not do: TCP/UDP forwarding (internal/l4), matching routes, running
// policies, choosing trusted proxies or request IDs (the gateway passes them in the
// Exchange), active health checks, metrics and access logs (the gateway reads the
// Exchange after Serve).
//
// Main types: Handler (New, Serve), Options, Exchange, RetryPolicy, Budget, Breaker,
// NewTransport. Options and Exchange are the engine contract: a later dedicated
// HTTP/1.1 engine takes the same Options and fills the same Exchange.
//
// Why not httputil.ReverseProxy: retries across targets, per-try timeouts, retry
// budgets and the error mapping need control over each round trip, and its Rewrite
// hook allocates a cloned request and header per request. Its handling of hop-by-hop
// headers, trailers, upgrades and aborts was studied; the code here is our own.
//
// Concurrency: a Handler is immutable and serves any number of requests at once.
// Serve runs on the caller's goroutine and starts none of its own, except one for the
// client→target direction of an upgraded connection. Budget, Breaker and the Transport
// are shared per upstream, safe for concurrent use, and kept across reloads by the
// gateway together with the targets' balancer.State.
//
// Place in a request's path: step 7 and 8 of STYLE.md — after routing and policies,
// the route's terminal calls Serve; the gateway then logs and counts from the Exchange.
package proxy
