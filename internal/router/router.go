package router

// CONTRACT STUB — the router helper replaces the bodies; signatures are what the gateway uses.

import "github.com/gantrygw/gantry/internal/config"

// Header is the request-header lookup the router needs; http.Header satisfies it.
type Header interface {
	Get(key string) string
	Values(key string) []string
}

// Request is what the router matches on. Host is lower case without port; Path is
// already normalised (see NormalizePath).
type Request struct {
	Method   string
	Host     string
	Path     string
	RawQuery string
	Header   Header
	// Body is the buffered request body, only when NeedsBody said so.
	Body []byte
}

// MaxParams is the most {name} segments one route's path may hold.
const MaxParams = 8

// Params are the values of a matched route's {name} segments and its * tail; the values
// are substrings of Request.Path (no copies).
type Params struct {
	N      int
	Names  [MaxParams]string
	Values [MaxParams]string
	// Tail is what * matched ("" when the pattern has none).
	Tail string
}

// Get returns the value of param name, or "".
func (p *Params) Get(name string) string {
	for i := 0; i < p.N; i++ {
		if p.Names[i] == name {
			return p.Values[i]
		}
	}
	return ""
}

// Result is the outcome of Match. The caller owns it and may reuse it.
type Result struct {
	// Route is the index of the matched route in the slice given to Compile, -1 for none.
	Route int
	// Status is 0 on a match, 404 when no route matched the host and path, 405 when some
	// matched the path but not the method.
	Status int
	// Allow lists the methods the path does allow, for a 405's Allow header.
	Allow  string
	Params Params
}

// Router is an immutable compiled route table; safe for concurrent use.
type Router struct {
	routes []*config.Route
}

// Compile builds a Router from validated routes.
func Compile(routes []*config.Route) (*Router, error) {
	return &Router{routes: routes}, nil
}

// NeedsBody reports whether any route that could match req's host and path matches on
// the body, and the most body bytes to buffer for it.
func (r *Router) NeedsBody(req *Request) (bool, int64) { return false, 0 }

// Match finds the route for req and fills res. It does not allocate.
func (r *Router) Match(req *Request, res *Result) {
	res.Route, res.Status = -1, 404
}

// Rewrite returns the path to send upstream for route i given the matched params
// (strip_prefix, path template); it returns path unchanged when the route has no rewrite.
func (r *Router) Rewrite(i int, path string, p *Params) string { return path }

// NormalizePath removes dot-segments (RFC 3986 section 5.2.4) and duplicate slashes and
// decodes percent-encoded unreserved characters; ok is false for a path that escapes the
// root or is not origin-form.
func NormalizePath(p string) (clean string, ok bool) { return p, true }
