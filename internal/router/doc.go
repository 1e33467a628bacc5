// Package router compiles a config's routes once into an immutable matcher and matches
// requests against it without allocating.
//
// # Place in a request's path
//
// The gateway normalises the escaped path with NormalizePath (a path it rejects is a
// 400, before any routing or policy), then calls NeedsBody (buffering the body only when
// a candidate route matches on it), then Match. A 404 or 405 Result becomes a problem
// response; otherwise Result.Route selects the route's prebuilt policy chain, and the
// proxy asks Rewrite for the upstream path. Explain serves the admin "explain" feature.
//
// The package does not read bodies, write responses, or know about net/http beyond the
// Header interface (which http.Header satisfies).
//
// # Main types and concurrency
//
// Compile turns []*config.Route into a *Router: an immutable value, safe for concurrent
// use by any number of goroutines with no locking; a reload compiles a new one. Request
// is the read-only view Match needs; Result is owned by the caller and may be reused
// (keep one per goroutine or per connection).
//
// # Structure
//
// Routes are grouped by host: exact names in a map, "*.suffix" wildcards in a map keyed
// by suffix (probed once per dot of the request host, leftmost first, so the longest
// suffix wins), and the any-host group. For every exact name and wildcard, Compile
// lists the groups that apply (itself, the wildcards matching it longest first, the
// any-host group), so Match does one host lookup and searches at most those groups.
// Each group holds a segment trie for Match.Path patterns and a list of path_regex
// routes. The trie is searched depth-first, literal child before param child before
// tail, with backtracking; candidate routes in a node are kept in tie-break order, and
// the first candidate whose method and conditions hold wins.
//
// # Priority ("most specific wins")
//
// Among routes whose every condition holds, the winner is the least under this total
// order, key by key:
//
//  1. Host: an exact name, then wildcards by longer suffix, then any host. A route
//     listing several hosts ranks by the best one matching the request.
//  2. Path: patterns compare segment by segment; at the first difference a literal
//     beats {param}, which beats the * tail, and a pattern ending (exact match) beats a
//     tail matching nothing. So "/a/b" > "/a/{x}" > "/a/*", "/a/b/*" > "/a/{x}/c", and
//     "/api" > "/api/*" for the path "/api". Every Match.Path pattern beats every
//     path_regex route.
//  3. Conditions: more first, counting the methods list as one and each header, query
//     and body condition as one.
//  4. Config order: the earlier route.
//
// Two routes tie on 1-3 only when they have the same host rank, the same pattern shape
// and the same number of conditions, so 4 makes the order total.
//
// # Match kinds
//
// Hosts compare case-insensitively without port (Match defends against a caller that
// forgets). "*.example.com" matches one or more labels before ".example.com", not
// "example.com" itself; "*" or no hosts means any host. Paths: "/health" is exact (and
// "/health/" is a different path); "{id}" matches one non-empty segment; a final "*"
// matches the prefix itself, with or without a trailing slash, and anything below it
// ("/api/*" matches "/api", "/api/" and "/api/x/y"; Tail is "", "", "x/y"); "" means
// "/*". path_regex, header and query regexes are RE2 and must match the whole value
// (they are anchored at compile time). Methods are case-sensitive; a route allowing
// GET also allows HEAD; a CORS preflight (OPTIONS with Origin and
// Access-Control-Request-Method) also matches routes allowing the requested method, so
// the route's cors policy can answer it. Headers and query parameters match when any
// value matches (exact, regex), or by presence (present: true/false). Query strings are
// scanned in place; values compare in decoded form. Body conditions read one field of
// a JSON body by "$.a.b"; see body.go for how values compare.
//
// # 404 and 405
//
// 404: no route matches listener, host and path, or some do and accept the method but
// fail a header, query or body condition. 405: some route matches listener, host and
// path, and none of them accepts the method; Allow lists the union of their methods.
//
// # Why hand-written
//
// The router runs on every request and must not allocate; its priority rules, 405
// logic, per-host grouping and explain output are the product's own contract. General
// routers (httprouter, chi, gorilla/mux) each fix a different priority, reject
// overlapping patterns we accept, or allocate for params, and none explains a miss.
// NormalizePath is hand-written for the same reason and because its exact behaviour is
// a security boundary that must be written down here, not inherited (path.Clean clamps
// ".." at the root, decodes nothing and drops trailing slashes).
package router
