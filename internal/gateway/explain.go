package gateway

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/policy/auth"
	"github.com/gantrygw/gantry/internal/policy/authz"
	"github.com/gantrygw/gantry/internal/policy/cors"
	"github.com/gantrygw/gantry/internal/policy/ipfilter"
	"github.com/gantrygw/gantry/internal/policy/limits"
	"github.com/gantrygw/gantry/internal/router"
)

// Explain answers "what would the gateway do with this request?" without serving it:
// the normalised path, every route's verdict (winner, near misses and why they missed),
// the policies that would run in order, the upstream and the target the balancer would
// pick, and the rewritten path. It runs the real router and the real balancer of the
// running snapshot; it does not run policies (no credentials are checked) and sends
// nothing. Explaining against an explicit listener name or, when the name is "", the
// listener whose port the URL names (else the only http listener).
//
// Picking is real, so it has the side effects a pick has: a round-robin (or weighted
// round-robin) upstream advances its counter by one, as if one request had been sent.
// No in-flight count or latency is recorded (Begin/End are not called).

// ExplainRequest is the request to explain.
type ExplainRequest struct {
	// Method defaults to GET.
	Method string
	// URL is absolute ("http://api.example.com:8080/x?y=1") or a path ("/x?y=1").
	URL string
	// Header may hold Host, which then wins over the URL's host.
	Header http.Header
	// Body is matched by body conditions (JSON), as a real request's would be.
	Body []byte
	// ClientIP feeds ip_hash and consistent_hash on ip; default 127.0.0.1.
	ClientIP string
}

// Explanation is the answer of Explain; its JSON form is the admin API's.
type Explanation struct {
	Listener string `json:"listener"`
	Method   string `json:"method"`
	Host     string `json:"host"`
	// RawPath is the path as given; Path after normalisation (what routes see).
	RawPath string `json:"raw_path"`
	Path    string `json:"path"`
	Query   string `json:"query,omitempty"`
	// Matched is true when a route was chosen. Otherwise Status is the gateway's answer
	// (400 invalid path, 404 no route, 405 with Allow) and Problem its reason.
	Matched bool   `json:"matched"`
	Status  int    `json:"status,omitempty"`
	Problem string `json:"problem,omitempty"`
	Allow   string `json:"allow,omitempty"`
	// Route is the winner; Params its captured path params.
	Route  string            `json:"route,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	// Candidates are every route of the listener in config order.
	Candidates []Candidate `json:"candidates"`
	// Policies would run in this order before the proxy.
	Policies []string `json:"policies"`
	Upstream string   `json:"upstream,omitempty"`
	Balance  string   `json:"balance,omitempty"`
	// Target is the target the balancer picked ("" when none is available: TargetNote
	// says why, and the gateway would answer 503).
	Target     string `json:"target,omitempty"`
	TargetNote string `json:"target_note,omitempty"`
	// Rewrite is the outbound path and host after the route's rewrite.
	Rewrite *RewriteResult `json:"rewrite,omitempty"`
	// Notes are other facts worth knowing (listener ip filter, offline assumptions).
	Notes []string `json:"notes,omitempty"`
}

// Candidate is one route's verdict.
type Candidate struct {
	Name    string `json:"name"`
	Matched bool   `json:"matched"`
	Winner  bool   `json:"winner"`
	// NearMiss marks a route that got past host and path (failed on method, header,
	// query or body) or matched but lost on priority: the ones a user most likely meant.
	NearMiss bool `json:"near_miss"`
	// Reason is the first failed condition kind (listener, host, path, method, header,
	// query, body), Field the header/query/body name, Detail a readable sentence.
	Reason string `json:"reason,omitempty"`
	Field  string `json:"field,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// RewriteResult is the outbound request line after a route's rewrite.
type RewriteResult struct {
	Path string `json:"path"`
	Host string `json:"host,omitempty"`
}

// Explain explains req on the running snapshot (see ExplainRequest and the comment
// above it for what it does and does not do).
func (g *Gateway) Explain(listener string, req ExplainRequest) (Explanation, error) {
	s := g.snap.Load()
	v := &explainView{cfg: s.Config, normalize: s.normalize, listeners: map[string]*explainListener{}, upstreams: map[string]*balancer.Set{}}
	g.mu.Lock()
	bound := map[string]string{}
	for name, l := range g.listeners {
		bound[name] = l.addr().String()
	}
	g.mu.Unlock()
	for name, hr := range s.http {
		el := &explainListener{addr: bound[name], router: hr.router, ipFilter: hr.ipFilter != nil}
		for _, r := range hr.routes {
			el.routes = append(el.routes, explainRoute{cfg: r.cfg, policies: nonNil(r.chain.Names())})
		}
		v.listeners[name] = el
	}
	for name, u := range s.upstreams {
		v.upstreams[name] = u.set
	}
	return v.explain(listener, req)
}

// ExplainConfig explains req against cfg without running a gateway: it compiles the
// routers and builds balancer sets with fresh state (every target healthy, nothing in
// flight), binds no socket, starts no health check and fetches no JWKS. It serves
// `gantry explain`. The policy names come from the route's config sections in the
// fixed order of internal/policy, as the gateway builds them.
func ExplainConfig(cfg *config.Config, listener string, req ExplainRequest) (Explanation, error) {
	v := &explainView{cfg: cfg, listeners: map[string]*explainListener{}, upstreams: map[string]*balancer.Set{}, offline: true}
	switch cfg.Security.Path.EncodedSlashes {
	case config.EncodedSlashesDecode:
		v.normalize.DecodeSlashes = true
	case config.EncodedSlashesReject:
		v.normalize.RejectEncodedSlashes = true
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Upstreams)) {
		uc := cfg.Upstreams[name]
		factory, err := balancer.New(uc.Balance)
		if err != nil {
			return Explanation{}, fmt.Errorf("upstream %s: %w", name, err)
		}
		var targets []*balancer.Target
		for _, tc := range uc.Targets {
			t, err := balancer.NewTarget(tc.URL, tc.Weight, new(balancer.State))
			if err != nil {
				return Explanation{}, fmt.Errorf("upstream %s: target %s: %w", name, tc.URL, err)
			}
			targets = append(targets, t)
		}
		set := balancer.NewSet(targets, balancer.SetOptions{Factory: factory, HashKey: uc.HashKey})
		defer set.Close()
		v.upstreams[name] = set
	}
	for _, lname := range slices.Sorted(maps.Keys(cfg.Listeners)) {
		l := cfg.Listeners[lname]
		if l.Protocol != config.ProtocolHTTP {
			continue
		}
		el := &explainListener{addr: l.Address, ipFilter: l.IPFilter != nil}
		var rcfgs []*config.Route
		for _, rc := range cfg.Routes {
			if len(rc.Listeners) > 0 && !slices.Contains(rc.Listeners, lname) {
				continue
			}
			rcfgs = append(rcfgs, rc)
			el.routes = append(el.routes, explainRoute{cfg: rc, policies: policyNames(rc)})
		}
		rtr, err := router.Compile(rcfgs)
		if err != nil {
			return Explanation{}, fmt.Errorf("listener %s: routes: %w", lname, err)
		}
		el.router = rtr
		v.listeners[lname] = el
	}
	return v.explain(listener, req)
}

// policyNames lists the policies buildPolicies would build for rc, in chain order,
// without building them (auth would start JWKS refreshers). The section → order table
// mirrors buildPolicies; TestExplainConfigPoliciesMatchGateway keeps the two in step.
func policyNames(rc *config.Route) []string {
	var steps []policy.Step
	add := func(o policy.Order, name string) {
		steps = append(steps, policy.Step{Order: o, Policy: namedPolicy(name)})
	}
	if rc.Limits != nil {
		add(policy.OrderLimits, limits.Name)
	}
	if rc.IPFilter != nil {
		add(policy.OrderIPFilter, ipfilter.Name)
	}
	if rc.CORS != nil {
		add(policy.OrderCORS, cors.Name)
	}
	if rc.Auth != nil {
		add(policy.OrderAuth, auth.Name)
	}
	if rc.Authz != nil {
		add(policy.OrderAuthz, authz.Name)
	}
	return nonNil(policy.NewChain(steps).Names())
}

// namedPolicy stands in for a policy in an offline chain: only its name is used.
type namedPolicy string

func (p namedPolicy) Name() string                         { return string(p) }
func (p namedPolicy) Apply(*policy.Request) *policy.Answer { return nil }

var _ policy.Policy = namedPolicy("")

// explainView is what explaining needs, from a snapshot or from a bare config.
type explainView struct {
	cfg       *config.Config
	normalize router.NormalizeOptions
	listeners map[string]*explainListener // http listeners
	upstreams map[string]*balancer.Set
	offline   bool
}

type explainListener struct {
	addr     string // bound (live) or configured (offline)
	router   *router.Router
	routes   []explainRoute // indexed like the router's routes
	ipFilter bool
}

type explainRoute struct {
	cfg      *config.Route
	policies []string
}

func (v *explainView) pickListener(name string, u *url.URL) (string, error) {
	if name != "" {
		if v.listeners[name] == nil {
			return "", fmt.Errorf("listener %q (http listeners: %s): %w", name, strings.Join(slices.Sorted(maps.Keys(v.listeners)), ", "), ErrUnknownListener)
		}
		return name, nil
	}
	names := slices.Sorted(maps.Keys(v.listeners))
	if len(names) == 0 {
		return "", fmt.Errorf("the config has no http listener: %w", ErrUnknownListener)
	}
	if len(names) == 1 {
		return names[0], nil
	}
	if port := u.Port(); port != "" {
		for _, n := range names {
			if _, p, err := net.SplitHostPort(v.listeners[n].addr); err == nil && p == port {
				return n, nil
			}
		}
	}
	return "", fmt.Errorf("several http listeners (%s) and the URL's port names none: name one: %w", strings.Join(names, ", "), ErrUnknownListener)
}

func (v *explainView) explain(listener string, req ExplainRequest) (Explanation, error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return Explanation{}, fmt.Errorf("explain: url: %w", err)
	}
	if listener, err = v.pickListener(listener, u); err != nil {
		return Explanation{}, err
	}
	el := v.listeners[listener]
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	header := req.Header
	if header == nil {
		header = http.Header{}
	}
	host := u.Host
	if h := header.Get("Host"); h != "" {
		host = h
	}
	ex := Explanation{Listener: listener, Method: method, Host: hostOnly(host), RawPath: u.EscapedPath(), Query: u.RawQuery, Candidates: []Candidate{}, Policies: []string{}}
	if ex.RawPath == "" {
		ex.RawPath = "/"
	}
	if v.offline {
		ex.Notes = append(ex.Notes, "offline: every target is taken as healthy with nothing in flight")
	}
	if el.ipFilter {
		ex.Notes = append(ex.Notes, "the listener has an ip_filter: clients it refuses get 403 before routing")
	}
	path, ok := router.NormalizePathWith(ex.RawPath, v.normalize)
	if !ok {
		ex.Status, ex.Problem = http.StatusBadRequest, "bad_request"
		ex.Notes = append(ex.Notes, "the path is invalid after normalisation (dot segments above the root, or encoded slashes rejected by security.path)")
		return ex, nil
	}
	ex.Path = path
	rreq := &router.Request{Method: method, Host: ex.Host, Path: path, RawQuery: u.RawQuery, Header: header}
	if need, max := el.router.NeedsBody(rreq); need && len(req.Body) > 0 && int64(len(req.Body)) <= max {
		rreq.Body = req.Body
	}
	var res router.Result
	el.router.Match(rreq, &res)
	cands := el.router.Explain(rreq)
	winner := ""
	for _, c := range cands {
		if c.Winner {
			winner = c.Name
		}
	}
	for _, c := range cands {
		rc := el.routes[c.Route].cfg
		ec := Candidate{Name: c.Name, Matched: c.Matched, Winner: c.Winner, Reason: c.Reason, Field: c.Field}
		switch c.Reason {
		case router.ReasonMethod, router.ReasonHeader, router.ReasonQuery, router.ReasonBody:
			ec.NearMiss = true
		case "":
			ec.NearMiss = !c.Winner
		}
		ec.Detail = missDetail(c, rc, rreq, winner, listener)
		ex.Candidates = append(ex.Candidates, ec)
	}
	switch res.Status {
	case 0:
	case http.StatusMethodNotAllowed:
		ex.Status, ex.Problem, ex.Allow = res.Status, "method_not_allowed", res.Allow
		return ex, nil
	default:
		ex.Status, ex.Problem = http.StatusNotFound, "no_route"
		return ex, nil
	}
	r := el.routes[res.Route]
	ex.Matched = true
	ex.Route = r.cfg.Name
	if res.Params.N > 0 || res.Params.Tail != "" {
		ex.Params = map[string]string{}
		for i := 0; i < res.Params.N; i++ {
			ex.Params[res.Params.Names[i]] = res.Params.Values[i]
		}
		if res.Params.Tail != "" {
			ex.Params["*"] = res.Params.Tail
		}
	}
	ex.Policies = r.policies
	ex.Upstream = r.cfg.Upstream
	rw := &RewriteResult{Path: el.router.Rewrite(res.Route, path, &res.Params), Host: ex.Host}
	if r.cfg.Rewrite != nil && r.cfg.Rewrite.Host != "" {
		rw.Host = r.cfg.Rewrite.Host
	}
	if u.RawQuery != "" {
		rw.Path += "?" + u.RawQuery
	}
	ex.Rewrite = rw
	uc := v.cfg.Upstreams[r.cfg.Upstream]
	set := v.upstreams[r.cfg.Upstream]
	if uc == nil || set == nil {
		ex.TargetNote = "the upstream does not exist"
		return ex, nil
	}
	ex.Balance = uc.Balance
	info := &balancer.Info{ClientIP: netip.MustParseAddr("127.0.0.1")}
	if ip, err := netip.ParseAddr(req.ClientIP); err == nil {
		info.ClientIP = ip
	}
	if k, err := balancer.ParseKey(uc.HashKey); err == nil { // "" (no hash_key) is an error: no key
		info.Key = k.Value(header, u.RawQuery, path, info.ClientIP)
	}
	if uc.Balance == "sticky" {
		info.Sticky = balancer.CookieValue(header["Cookie"], stickyCookie)
	}
	t, err := set.Pick(info)
	switch {
	case err != nil:
		ex.TargetNote = fmt.Sprintf("no target available (%v): the gateway would answer 503 no_healthy_target", err)
	default:
		ex.Target = t.URL
		switch uc.Balance {
		case "round_robin", "weighted_round_robin":
			ex.TargetNote = "picked by the real balancer: its round-robin position moved on by one"
		}
	}
	return ex, nil
}

// missDetail says in a sentence why route rc did or did not match.
func missDetail(c router.Candidate, rc *config.Route, req *router.Request, winner, listener string) string {
	m := &rc.Match
	switch c.Reason {
	case "":
		if c.Winner {
			return "matched"
		}
		return fmt.Sprintf("matched too, but %q wins on priority (more specific host or path, more conditions, or earlier in the file)", winner)
	case router.ReasonListener:
		return fmt.Sprintf("route is limited to listeners %s, not %s", strings.Join(rc.Listeners, ", "), listener)
	case router.ReasonHost:
		return fmt.Sprintf("host %q is not one of %s", req.Host, strings.Join(m.Hosts, ", "))
	case router.ReasonPath:
		p := m.Path
		if m.PathRegex != "" {
			p = "regex " + m.PathRegex
		}
		return fmt.Sprintf("path %q does not match %s", req.Path, p)
	case router.ReasonMethod:
		return fmt.Sprintf("method %s is not one of %s", req.Method, strings.Join(m.Methods, ", "))
	case router.ReasonHeader:
		return fmt.Sprintf("header %s: want%s, got %s", c.Field, valueMatchSummary(m.Headers[c.Field]), quotedOrNone(req.Header.Values(c.Field)))
	case router.ReasonQuery:
		q, _ := url.ParseQuery(req.RawQuery)
		return fmt.Sprintf("query %s: want%s, got %s", c.Field, valueMatchSummary(m.Query[c.Field]), quotedOrNone(q[c.Field]))
	case router.ReasonBody:
		if len(req.Body) == 0 {
			return fmt.Sprintf("body %s: want%s, but the request has no (JSON) body", c.Field, valueMatchSummary(m.Body[c.Field]))
		}
		return fmt.Sprintf("body %s: want%s", c.Field, valueMatchSummary(m.Body[c.Field]))
	}
	return c.Reason
}

func quotedOrNone(vals []string) string {
	if len(vals) == 0 {
		return "none"
	}
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
