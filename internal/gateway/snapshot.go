package gateway

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/gantrygw/gantry/internal/clientip"
	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/h1"
	"github.com/gantrygw/gantry/internal/l4"
	"github.com/gantrygw/gantry/internal/observe"
	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/policy/ipfilter"
	"github.com/gantrygw/gantry/internal/proxy"
	"github.com/gantrygw/gantry/internal/router"
	"github.com/gantrygw/gantry/internal/tlsconf"
)

// Snapshot is everything the request path needs, immutable once published.
type Snapshot struct {
	// Config is the config the snapshot was built from.
	Config *config.Config
	// Built is when the snapshot was published.
	Built time.Time

	http      map[string]*httpRoutes // by http listener name
	l4        map[string]*l4.Table   // by tcp/udp listener name
	upstreams map[string]*upstream   // by upstream name
	routes    map[string]*route      // by routeKey

	obs            *observe.Observer
	clientIP       *clientip.Resolver
	consumerHeader string
	normalize      router.NormalizeOptions
}

// client resolves the client address of a request from its TCP peer: the peer itself,
// or, when the peer is a trusted proxy, the address its X-Forwarded-For chain names.
// trusted reports the latter case (forwarding headers are then kept and appended to).
func (s *Snapshot) client(peer netip.AddrPort, values func(key string) []string) (client netip.Addr, trusted bool) {
	if !s.clientIP.Trusted(peer.Addr()) {
		return peer.Addr(), false
	}
	return s.clientIP.ClientValues(peer, values("X-Forwarded-For")), true
}

// httpRoutes is what one http listener's requests need.
type httpRoutes struct {
	router *router.Router
	routes []*route // indexed by router.Result.Route
	// ipFilter is the listener's own filter (nil: none); routes may add theirs.
	ipFilter *ipfilter.Filter
	// hsts is the Strict-Transport-Security value to send ("" for none).
	hsts string
}

// route is a route's runtime: its chain and terminal. It is reused by the next
// snapshot when its config and upstream runtime are unchanged, so per-route state
// (JWKS caches, and later rate-limit counters) survives a reload.
type route struct {
	cfg     *config.Route
	up      *upstream
	chain   policy.Chain
	proxy   *proxy.Handler
	metrics *observe.RouteMetrics
	closers []func()
	// fast says the HTTP/1.1 engine can serve the route; fastRetry is its retry policy.
	fast      bool
	fastRetry h1.Retry
}

// retire releases what the route holds (JWKS refreshers).
func (r *route) retire() {
	for _, c := range r.closers {
		c()
	}
}

// routeKey identifies a route runtime across snapshots.
func routeKey(listener, name string) string { return listener + "\x00" + name }

// build makes a snapshot from cfg, reusing runtimes of the current one. It returns the
// upstream runtimes it created (to start on success or retire on failure).
func (g *Gateway) build(cfg *config.Config) (*Snapshot, []*upstream, error) {
	s := &Snapshot{Config: cfg, http: map[string]*httpRoutes{}, l4: map[string]*l4.Table{}, upstreams: map[string]*upstream{}, routes: map[string]*route{}}
	var created []*upstream
	prev := g.snap.Load()
	fail := func(err error) (*Snapshot, []*upstream, error) {
		for _, u := range created {
			u.retire(false)
		}
		for k, r := range s.routes {
			if g.routes[k] != r {
				r.retire()
			}
		}
		if s.obs != nil && (prev == nil || prev.obs != s.obs) {
			s.obs.Close(context.Background()) //nolint:errcheck // never served
		}
		return nil, nil, err
	}
	// Routes are reused only when what every chain reads (consumers, security) is unchanged.
	sharedSame := prev != nil && config.Same(prev.Config.Consumers, cfg.Consumers) && config.Same(prev.Config.Security, cfg.Security)
	if prev != nil && config.Same(prev.Config.Observe, cfg.Observe) {
		s.obs = prev.obs
	} else {
		o, err := observe.New(cfg.Observe, observe.Options{Logger: g.log, Version: g.opts.Version, Metrics: g.metrics, AccessLogWriter: g.opts.AccessLogWriter})
		if err != nil {
			return fail(err)
		}
		s.obs = o
	}
	trusted, err := config.ParsePrefixes(cfg.Security.TrustedProxies)
	if err != nil {
		return fail(fmt.Errorf("security.trusted_proxies: %w", err))
	}
	s.clientIP = clientip.New(trusted)
	s.consumerHeader = cfg.Security.ConsumerHeader
	switch cfg.Security.Path.EncodedSlashes {
	case config.EncodedSlashesDecode:
		s.normalize.DecodeSlashes = true
	case config.EncodedSlashesReject:
		s.normalize.RejectEncodedSlashes = true
	}

	l4Upstreams := map[string]bool{}
	for _, l := range cfg.Listeners {
		if l.Protocol == config.ProtocolTCP || l.Protocol == config.ProtocolUDP {
			if l.Upstream != "" {
				l4Upstreams[l.Upstream] = true
			}
			for _, up := range l.SNI {
				l4Upstreams[up] = true
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Upstreams)) {
		uc := cfg.Upstreams[name]
		u, isNew, err := g.buildUpstream(uc, g.upstreams[name], l4Upstreams[name])
		if err != nil {
			return fail(err)
		}
		if isNew {
			created = append(created, u)
		}
		s.upstreams[name] = u
	}

	for _, lname := range slices.Sorted(maps.Keys(cfg.Listeners)) {
		l := cfg.Listeners[lname]
		if l.Protocol != config.ProtocolHTTP {
			s.l4[lname] = l4Table(l, s.upstreams)
			continue
		}
		var rcfgs []*config.Route
		var routes []*route
		for _, rc := range cfg.Routes {
			if len(rc.Listeners) > 0 && !slices.Contains(rc.Listeners, lname) {
				continue
			}
			key := routeKey(lname, rc.Name)
			rt := g.routes[key]
			if rt == nil || !sharedSame || rt.up != s.upstreams[rc.Upstream] || !config.Same(rt.cfg, rc) {
				var err error
				if rt, err = g.buildRoute(cfg, rc, s.upstreams[rc.Upstream]); err != nil {
					return fail(fmt.Errorf("route %s: %w", rc.Name, err))
				}
			}
			s.routes[key] = rt
			rcfgs = append(rcfgs, rc)
			routes = append(routes, rt)
		}
		rtr, err := router.Compile(rcfgs)
		if err != nil {
			return fail(fmt.Errorf("listener %s: routes: %w", lname, err))
		}
		hr := &httpRoutes{router: rtr, routes: routes}
		if l.IPFilter != nil {
			if hr.ipFilter, err = ipfilter.New(l.IPFilter); err != nil {
				return fail(fmt.Errorf("listener %s: %w", lname, err))
			}
		}
		if l.TLS != nil && l.TLS.HSTS != nil {
			hr.hsts = tlsconf.HSTSValue(l.TLS.HSTS)
		}
		s.http[lname] = hr
	}
	return s, created, nil
}

func (g *Gateway) buildRoute(cfg *config.Config, rc *config.Route, u *upstream) (*route, error) {
	if u == nil {
		return nil, fmt.Errorf("unknown upstream %q", rc.Upstream)
	}
	steps, closers, err := g.buildPolicies(cfg, rc)
	if err != nil {
		return nil, err
	}
	retries := rc.Retries // config.Parse fills it from the upstream when the route has none
	if retries == nil {
		retries = u.cfg.Retries
	}
	o := proxy.Options{
		Upstream:              u.cfg.Name,
		Picker:                u.set,
		Transport:             u.transport,
		ResponseHeaderTimeout: u.cfg.Timeouts.ResponseHeader.D(),
		RequestTimeout:        rc.Timeouts.Request.D(),
		Retry:                 retryPolicy(retries),
		Budget:                u.budget,
		Breaker:               u.breaker,
		HashKey:               u.hashKey,
		Logger:                g.log.With("route", rc.Name, "upstream", u.cfg.Name),
		OnTry:                 u.observeTry,
	}
	if u.outlier != nil {
		o.Observer = u.outlier // only when set: a nil *Outlier in the interface would not be nil
	}
	if rc.Timeouts.ResponseHeader > 0 { // the effective value: config.Parse copies the upstream's when unset
		o.ResponseHeaderTimeout = rc.Timeouts.ResponseHeader.D()
	}
	if c := rc.Timeouts.Connect; c > 0 && c != u.cfg.Timeouts.Connect {
		o.ConnectTimeout = c.D() // the pool's dialer uses the upstream's; this route differs
	}
	if u.cfg.Balance == "sticky" {
		o.StickyCookie = stickyCookie
	}
	return &route{cfg: rc, up: u, chain: policy.NewChain(steps), proxy: proxy.New(o), closers: closers,
		metrics: g.metrics.Route(rc.Name, u.cfg.Name), fast: fastRoute(rc, u), fastRetry: fastRetry(rc)}, nil
}

// l4Table builds a tcp/udp listener's routing table.
func l4Table(l *config.Listener, ups map[string]*upstream) *l4.Table {
	route := func(name string) *l4.Route {
		u := ups[name]
		if u == nil {
			return nil
		}
		return &l4.Route{Upstream: name, Picker: u.set, ProxyProtocol: u.cfg.ProxyProtocol, ConnectTimeout: u.cfg.Timeouts.Connect.D()}
	}
	t := &l4.Table{}
	if l.Upstream != "" {
		t.Default = route(l.Upstream)
	}
	if len(l.SNI) > 0 {
		t.SNI = map[string]*l4.Route{}
		for name, up := range l.SNI {
			if r := route(up); r != nil {
				t.SNI[name] = r
			}
		}
	}
	return t
}

// stickyCookie is the cookie the sticky balancer uses.
const stickyCookie = "gantry_sticky"
