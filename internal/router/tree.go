package router

import "strings"

// node is a segment trie node. Each request path segment is one map probe (a substring
// key, no allocation); the search is depth-first in rank order (literal child, then
// param child, then tail) and backtracks, so the first route it accepts is the most
// specific one, and a failed search has seen every route whose path matches (which the
// 405 decision needs).
type node struct {
	static map[string]*node
	param  *node
	leaf   []*entry // patterns ending at this node, in tie-break order
	tail   []*entry // patterns ending with "*" after this node, in tie-break order
}

func (n *node) insert(e *entry) {
	for _, sg := range e.pat.segs {
		switch sg.kind {
		case segLit:
			if n.static == nil {
				n.static = map[string]*node{}
			}
			c := n.static[sg.text]
			if c == nil {
				c = &node{}
				n.static[sg.text] = c
			}
			n = c
		case segParam:
			if n.param == nil {
				n.param = &node{}
			}
			n = n.param
		case segTail:
			n.tail = append(n.tail, e)
			return
		}
	}
	n.leaf = append(n.leaf, e)
}

// state is one search; it lives on the caller's stack.
type state struct {
	r       *Router
	req     *Request
	methods uint64 // the request's method bits

	vals [MaxParams]string
	np   int
	tail string

	win       *entry
	pathHit   bool   // some route matched listener, host and path
	methodHit bool   // ... and the method
	allow     uint64 // methods of the routes that matched the path

	body int8 // 0 not checked yet, 1 valid JSON, -1 not

	needsBody bool  // NeedsBody mode: visit every candidate, accept none
	maxBody   int64 // NeedsBody result
}

// searchTier searches one host tier: the trie, then the path_regex routes.
func (s *state) searchTier(t *tier, path string) bool {
	if t.root != nil && s.walk(t.root, path) {
		return true
	}
	for _, e := range t.regex {
		if s.needsBody && len(e.body) == 0 {
			continue // evaluating the regex cannot change NeedsBody's answer
		}
		if strings.HasPrefix(path, e.rePrefix) && e.re.MatchString(path) && s.visit(e) {
			return true
		}
	}
	return false
}

// walk matches rest (the unconsumed path: "" or "/seg...") below n.
func (s *state) walk(n *node, rest string) bool {
	if rest == "" {
		for _, e := range n.leaf {
			if s.visit(e) {
				return true
			}
		}
		s.tail = ""
		for _, e := range n.tail {
			if s.visit(e) {
				return true
			}
		}
		return false
	}
	seg, next := splitSeg(rest)
	if n.static != nil {
		if c := n.static[seg]; c != nil && s.walk(c, next) {
			return true
		}
	}
	if n.param != nil && seg != "" {
		s.vals[s.np] = seg
		s.np++
		if s.walk(n.param, next) {
			return true
		}
		s.np--
	}
	if len(n.tail) > 0 {
		s.tail = rest[1:]
		for _, e := range n.tail {
			if s.visit(e) {
				return true
			}
		}
	}
	return false
}

// visit considers route e, whose host and path match; it reports whether e wins.
func (s *state) visit(e *entry) bool {
	if !e.onListener(s.req.Listener) {
		return false
	}
	if s.needsBody {
		if len(e.body) > 0 && e.allows(s.methods) && e.maxBody > s.maxBody {
			s.maxBody = e.maxBody
		}
		return false
	}
	s.pathHit = true
	if !e.allows(s.methods) {
		s.allow |= e.methods
		return false
	}
	s.methodHit = true
	if !s.condsOK(e) {
		return false
	}
	s.win = e
	return true
}

// condsOK evaluates e's header, query and body conditions, cheapest first.
func (s *state) condsOK(e *entry) bool {
	for i := range e.headers {
		if !headerOK(s.req.Header, &e.headers[i]) {
			return false
		}
	}
	for i := range e.query {
		if !queryOK(s.req.RawQuery, &e.query[i]) {
			return false
		}
	}
	if len(e.body) > 0 {
		if s.body == 0 {
			s.body = -1
			if len(s.req.Body) > 0 && jsonValid(s.req.Body) {
				s.body = 1
			}
		}
		for i := range e.body {
			if !bodyOK(s.req.Body, s.body == 1, &e.body[i]) {
				return false
			}
		}
	}
	return true
}
