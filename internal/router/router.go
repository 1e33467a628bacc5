package router

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/gantrygw/gantry/internal/config"
)

// Header is the request-header lookup the router needs; http.Header satisfies it.
type Header interface {
	Get(key string) string
	Values(key string) []string
}

// Request is what the router matches on. Host is lower case without port; Path is
// already normalised (see NormalizePath). The router only reads it.
type Request struct {
	Method   string
	Host     string
	Path     string
	RawQuery string
	Header   Header
	// Body is the buffered request body, only when NeedsBody said so.
	Body []byte
	// Listener is the name of the listener the request came in on; routes with a
	// Listeners list only match requests from those. "" skips that check (tests,
	// explain for any listener).
	Listener string
}

// MaxParams is the most {name} segments one route's path may hold.
const MaxParams = 8

// DefaultMaxBodyBytes is how much body NeedsBody asks to buffer for a route whose
// Match.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 64 << 10

// Params are the values of a matched route's {name} segments and its * tail; the values
// are substrings of Request.Path (no copies). Only the first N Names and Values are
// meaningful; Match leaves older entries beyond N in a reused Result.
type Params struct {
	N      int
	Names  [MaxParams]string
	Values [MaxParams]string
	// Tail is what * matched ("" when the pattern has none): "x/y" for "/api/*" and
	// "/api/x/y", "" for "/api" and "/api/".
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

// Result is the outcome of Match. The caller owns it and may reuse it; Match
// overwrites every field it reports on.
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

// Router is an immutable compiled route table; safe for concurrent use. The zero value
// and nil match nothing.
type Router struct {
	routes  []*config.Route
	entries []*entry // by route index

	exact map[string][]*tier // exact host → its tiers, most specific first
	wild  map[string][]*tier // wildcard suffix (".example.com") → its tiers
	any   []*tier            // the any-host tier, or nil

	extMethods map[string]uint64 // extension method → bit
	extNames   []string          // extension methods in bit order

	anyBody bool // some route has body conditions
}

// entry is one compiled route.
type entry struct {
	idx       int
	name      string
	listeners []string
	methods   uint64 // 0: any method
	nconds    int    // methods (as one) + headers + query + body; more wins a tie
	headers   []cond
	query     []cond
	body      []cond
	maxBody   int64
	hosts     []hostPat // nil: any host
	pat       *pattern  // nil for a path_regex route
	re        *regexp.Regexp
	rePrefix  string // a literal every path_regex match starts with, to skip the regex
	rw        *rewrite
}

// tier is the routes of one host group: a segment trie for Match.Path patterns and a
// list for path_regex routes, each in priority order.
type tier struct {
	root  *node
	regex []*entry
}

// Compile builds a Router from validated routes. It returns an error wrapping one of
// the sentinels in errors.go for anything it cannot compile (a bad regex, a malformed
// pattern, a rewrite naming an unknown param), never panics, and does not retain or
// modify routes beyond keeping the slice for Route.
func Compile(routes []*config.Route) (*Router, error) {
	r := &Router{
		routes:  routes,
		entries: make([]*entry, len(routes)),
		exact:   map[string][]*tier{},
		wild:    map[string][]*tier{},
	}
	if err := r.assignMethods(routes); err != nil {
		return nil, err
	}
	for i, rt := range routes {
		e, err := r.compileRoute(i, rt)
		if err != nil {
			name := ""
			if rt != nil {
				name = rt.Name
			}
			return nil, fmt.Errorf("compiling route %d %q: %w", i, name, err)
		}
		r.entries[i] = e
		if len(e.body) > 0 {
			r.anyBody = true
		}
	}
	r.buildTiers()
	return r, nil
}

// assignMethods gives extension methods their bits, in sorted order so that Allow
// lists them deterministically.
func (r *Router) assignMethods(routes []*config.Route) error {
	seen := map[string]bool{}
	for _, rt := range routes {
		if rt == nil {
			continue
		}
		for _, m := range rt.Match.Methods {
			m = strings.ToUpper(m)
			if stdMethodBit(m) == 0 && !seen[m] {
				if !isToken(m) {
					return fmt.Errorf("compiling route %q: method %q is not an HTTP token: %w", rt.Name, m, ErrCondition)
				}
				seen[m] = true
				r.extNames = append(r.extNames, m)
			}
		}
	}
	if len(r.extNames) > maxExtMethods {
		return fmt.Errorf("compiling routes: %d distinct extension methods, at most %d: %w", len(r.extNames), maxExtMethods, ErrCondition)
	}
	sort.Strings(r.extNames)
	r.extMethods = make(map[string]uint64, len(r.extNames))
	for i, m := range r.extNames {
		r.extMethods[m] = 1 << (numStdMethods + i)
	}
	return nil
}

// isToken reports an RFC 9110 section 5.6.2 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func (r *Router) compileRoute(i int, rt *config.Route) (*entry, error) {
	if rt == nil {
		return nil, fmt.Errorf("nil route: %w", ErrCondition)
	}
	m := &rt.Match
	e := &entry{idx: i, name: rt.Name, listeners: rt.Listeners}

	seen := map[string]bool{}
	for _, h := range m.Hosts {
		hp, err := parseHost(h)
		if err != nil {
			return nil, err
		}
		if hp.kind == hostAny {
			e.hosts = nil // "*" among others: any host
			break
		}
		if key := hp.name; !seen[key] {
			seen[key] = true
			e.hosts = append(e.hosts, hp)
		}
	}

	switch {
	case m.PathRegex != "" && m.Path != "":
		return nil, fmt.Errorf("path and path_regex are exclusive: %w", ErrPattern)
	case m.PathRegex != "":
		re, err := compileAnchored(m.PathRegex)
		if err != nil {
			return nil, fmt.Errorf("path_regex: %w", err)
		}
		e.re = re
		// The anchored regex only matches paths starting with the expression's literal
		// prefix; checking that first spares most misses the regex engine.
		if plain, err := regexp.Compile(m.PathRegex); err == nil {
			e.rePrefix, _ = plain.LiteralPrefix()
		}
	default:
		pt, err := parsePattern(m.Path)
		if err != nil {
			return nil, err
		}
		e.pat = pt
	}

	for _, name := range m.Methods {
		e.methods |= r.methodBit(strings.ToUpper(name))
	}
	if e.methods&mGET != 0 {
		e.methods |= mHEAD // RFC 9110 section 9.3.2: HEAD is GET without the body
	}

	var err error
	if e.headers, err = compileConds("header", m.Headers); err != nil {
		return nil, err
	}
	if e.query, err = compileConds("query", m.Query); err != nil {
		return nil, err
	}
	if e.body, err = compileConds("body", m.Body); err != nil {
		return nil, err
	}
	e.nconds = len(e.headers) + len(e.query) + len(e.body)
	if e.methods != 0 {
		e.nconds++
	}
	e.maxBody = int64(m.MaxBodyBytes)
	if e.maxBody <= 0 {
		e.maxBody = DefaultMaxBodyBytes
	}

	if e.rw, err = compileRewrite(rt.Rewrite, e.pat); err != nil {
		return nil, err
	}
	return e, nil
}

// buildTiers groups entries by host and materialises, for every exact host and every
// wildcard suffix, the list of tiers a request for it must search, so that Match does
// one host lookup and never merges lists at run time.
func (r *Router) buildTiers() {
	// Insertion order is the tie-break inside a trie node and a regex list: more
	// conditions first, then config order.
	sorted := make([]*entry, len(r.entries))
	copy(sorted, r.entries)
	sort.SliceStable(sorted, func(a, b int) bool { return sorted[a].nconds > sorted[b].nconds })

	exact := map[string]*tier{}
	wild := map[string]*tier{}
	var anyT *tier
	get := func(m map[string]*tier, k string) *tier {
		if m[k] == nil {
			m[k] = &tier{}
		}
		return m[k]
	}
	for _, e := range sorted {
		if e.hosts == nil {
			if anyT == nil {
				anyT = &tier{}
			}
			anyT.add(e)
			continue
		}
		for _, hp := range e.hosts {
			if hp.kind == hostExact {
				get(exact, hp.name).add(e)
			} else {
				get(wild, hp.name).add(e)
			}
		}
	}

	suffixes := make([]string, 0, len(wild))
	for s := range wild {
		suffixes = append(suffixes, s)
	}
	// Longest suffix first; equal lengths cannot both match one host.
	sort.Slice(suffixes, func(a, b int) bool {
		if len(suffixes[a]) != len(suffixes[b]) {
			return len(suffixes[a]) > len(suffixes[b])
		}
		return suffixes[a] < suffixes[b]
	})
	chain := func(first *tier, name, self string) []*tier {
		ts := []*tier{first}
		for _, s := range suffixes {
			if s != self && len(name) > len(s) && strings.HasSuffix(name, s) {
				ts = append(ts, wild[s])
			}
		}
		if anyT != nil {
			ts = append(ts, anyT)
		}
		return ts
	}
	for h, t := range exact {
		r.exact[h] = chain(t, h, "")
	}
	for s, t := range wild {
		// A wildcard's own suffix ".a.example.com" is matched by the shorter
		// ".example.com" as a host "x.a.example.com" would be.
		r.wild[s] = chain(t, "x"+s, s)
	}
	if anyT != nil {
		r.any = []*tier{anyT}
	}
}

func (t *tier) add(e *entry) {
	if e.re != nil {
		t.regex = append(t.regex, e)
		return
	}
	if t.root == nil {
		t.root = &node{}
	}
	t.root.insert(e)
}

// Route returns the route at index i as given to Compile, or nil.
func (r *Router) Route(i int) *config.Route {
	if r == nil || i < 0 || i >= len(r.routes) {
		return nil
	}
	return r.routes[i]
}

// Len returns the number of routes.
func (r *Router) Len() int {
	if r == nil {
		return 0
	}
	return len(r.routes)
}

// Match finds the route for req and fills res. It does not allocate (except to
// lower-case a Host the caller left upper-case, and to render an Allow list holding
// extension methods). See doc.go for the priority rules and 404/405.
func (r *Router) Match(req *Request, res *Result) {
	res.Route, res.Status, res.Allow = -1, 404, ""
	res.Params.N, res.Params.Tail = 0, ""
	if r == nil || req == nil || req.Path == "" || req.Path[0] != '/' {
		return
	}
	s := state{r: r, req: req, methods: r.requestMethods(req)}
	for _, t := range r.tiersFor(hostKey(req.Host)) {
		if s.searchTier(t, req.Path) {
			e := s.win
			res.Route, res.Status = e.idx, 0
			if e.pat != nil {
				n := len(e.pat.names)
				res.Params.N = n
				copy(res.Params.Names[:n], e.pat.names)
				copy(res.Params.Values[:n], s.vals[:n])
				if e.pat.hasTail() {
					res.Params.Tail = s.tail
				}
			}
			return
		}
	}
	if s.pathHit && !s.methodHit {
		res.Status = 405
		res.Allow = r.allowString(s.allow)
	}
}

// NeedsBody reports whether any route that could match req's host, path and method
// matches on the body, and the most body bytes to buffer for it (the largest
// Match.MaxBodyBytes among them, DefaultMaxBodyBytes for zero). It does not allocate.
func (r *Router) NeedsBody(req *Request) (bool, int64) {
	if r == nil || req == nil || !r.anyBody || req.Path == "" || req.Path[0] != '/' {
		return false, 0
	}
	s := state{r: r, req: req, methods: r.requestMethods(req), needsBody: true}
	for _, t := range r.tiersFor(hostKey(req.Host)) {
		s.searchTier(t, req.Path)
	}
	return s.maxBody > 0, s.maxBody
}

// onListener reports whether e may serve a request that came in on listener l.
func (e *entry) onListener(l string) bool {
	if l == "" || len(e.listeners) == 0 {
		return true
	}
	for _, x := range e.listeners {
		if x == l {
			return true
		}
	}
	return false
}

func (e *entry) allows(methods uint64) bool { return e.methods == 0 || e.methods&methods != 0 }
