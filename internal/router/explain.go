package router

// Reasons a route did not match, in the order Explain checks them.
const (
	ReasonListener = "listener"
	ReasonHost     = "host"
	ReasonPath     = "path"
	ReasonMethod   = "method"
	ReasonHeader   = "header"
	ReasonQuery    = "query"
	ReasonBody     = "body"
)

// Candidate is one route's verdict for a request, as Explain reports it.
type Candidate struct {
	// Route is the route's index in the slice given to Compile; Name its name.
	Route int
	Name  string
	// Matched is true when every condition of the route held.
	Matched bool
	// Winner is true for the route Match picks; a Matched route that is not the
	// Winner lost on priority.
	Winner bool
	// Reason is the first condition that failed (one of the Reason constants), ""
	// when Matched; Field names the header, query parameter or body path for those.
	Reason string
	Field  string
	// Params are the route's captured params when its host and path matched.
	Params Params
}

// Explain evaluates every route on its own against req, in config order, and reports
// for each whether it matched and, if not, the first reason why not (checked in the
// order listener, host, path, method, headers, query, body; conditions of one kind in
// name order). It serves the admin "explain" feature and allocates freely; the Winner
// is the route Match returns, so Explain and Match can never disagree.
func (r *Router) Explain(req *Request) []Candidate {
	if r == nil || req == nil {
		return nil
	}
	var res Result
	r.Match(req, &res)

	host := hostKey(req.Host)
	bodyValid := len(req.Body) > 0 && jsonValid(req.Body)
	methods := r.requestMethods(req)
	out := make([]Candidate, len(r.entries))
	for i, e := range r.entries {
		c := &out[i]
		c.Route, c.Name = i, e.name
		c.Winner = res.Route == i
		c.Reason, c.Field = r.explainOne(e, req, host, methods, bodyValid, &c.Params)
		c.Matched = c.Reason == ""
	}
	return out
}

func (r *Router) explainOne(e *entry, req *Request, host string, methods uint64, bodyValid bool, p *Params) (reason, field string) {
	if !e.onListener(req.Listener) {
		return ReasonListener, ""
	}
	if e.hosts != nil {
		ok := false
		for _, hp := range e.hosts {
			ok = ok || hp.matches(host)
		}
		if !ok {
			return ReasonHost, ""
		}
	}
	switch {
	case e.pat != nil:
		n, tail, ok := e.pat.match(req.Path, &p.Values)
		if !ok {
			return ReasonPath, ""
		}
		p.N, p.Tail = n, tail
		copy(p.Names[:], e.pat.names)
	case req.Path == "" || req.Path[0] != '/' || !e.re.MatchString(req.Path):
		return ReasonPath, ""
	}
	if !e.allows(methods) {
		return ReasonMethod, ""
	}
	for i := range e.headers {
		if !headerOK(req.Header, &e.headers[i]) {
			return ReasonHeader, e.headers[i].name
		}
	}
	for i := range e.query {
		if !queryOK(req.RawQuery, &e.query[i]) {
			return ReasonQuery, e.query[i].name
		}
	}
	for i := range e.body {
		if !bodyOK(req.Body, bodyValid, &e.body[i]) {
			return ReasonBody, e.body[i].name
		}
	}
	return "", ""
}
