package observe

import (
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one Gantry process's Prometheus metrics, on its own registry (never the
// global one, so tests and embedded gateways stay apart). It outlives config reloads:
// the gateway resolves per-route and per-target handles (Route, Target, Listener) when it
// builds a snapshot, and requests only touch those handles. Safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests   *prometheus.CounterVec   // route, method, code_class, upstream
	duration   *prometheus.HistogramVec // route, upstream
	reqBytes   *prometheus.CounterVec   // route
	respBytes  *prometheus.CounterVec   // route
	upRequests *prometheus.CounterVec   // upstream, target, code_class
	upDuration *prometheus.HistogramVec // upstream
	conns      *prometheus.GaugeVec     // listener
	authFails  *prometheus.CounterVec   // route, reason
	rateLimit  *prometheus.CounterVec   // route, result
	reloads    *prometheus.CounterVec   // result
	configHash *prometheus.GaugeVec     // hash
	lastReload prometheus.Gauge
	dropped    prometheus.Counter
	targets    *targetCollector

	mu        sync.Mutex
	routes    map[routeKey]*RouteMetrics
	targetMs  map[targetKey]*TargetMetrics
	listeners map[string]*ListenerMetrics
	noRoute   *RouteMetrics

	recent recentErrors  // the last error records, for the admin API
	reload reloadTracker // the latest load/reload outcome, for the admin API
}

type routeKey struct{ route, upstream string }
type targetKey struct{ upstream, target string }

// Label values of code_class: "error" stands for no HTTP status (connection failure,
// client gone before an answer, or a status outside 100..599).
var classNames = [...]string{"error", "1xx", "2xx", "3xx", "4xx", "5xx"}

const numClasses = len(classNames)

func classIndex(status int) int {
	if status >= 100 && status < 600 {
		return status / 100
	}
	return 0
}

// Method label values: the RFC 9110 methods plus PATCH; anything else is "OTHER" so
// that a client cannot create series at will.
var methodNames = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER"}

const numMethods = len(methodNames)

func methodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "DELETE":
		return 4
	case "CONNECT":
		return 5
	case "OPTIONS":
		return 6
	case "TRACE":
		return 7
	case "PATCH":
		return 8
	}
	return numMethods - 1
}

// NormalizeMethod returns m when it is a standard method, else "OTHER".
func NormalizeMethod(m string) string { return methodNames[methodIndex(m)] }

// durationBuckets are the classic buckets, 0.5ms to 30s, kept beside the native
// histogram for scrapers that do not negotiate native histograms.
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func histogramOpts(name, help string) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{
		Name:    name,
		Help:    help,
		Buckets: durationBuckets,
		// Factor 1.1 gives ~5% relative error; the bucket cap and reset bound memory
		// per series when latencies spread widely.
		NativeHistogramBucketFactor:     1.1,
		NativeHistogramMaxBucketNumber:  160,
		NativeHistogramMinResetDuration: time.Hour,
	}
}

// NewMetrics creates the metrics on a new registry, together with the Go runtime and
// process collectors and gantry_build_info{version,goversion}.
func NewMetrics(version string) *Metrics {
	if version == "" {
		version = "unknown"
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_http_requests_total",
			Help: "HTTP requests answered, by route, method, status class and upstream.",
		}, []string{"route", "method", "code_class", "upstream"}),
		duration: prometheus.NewHistogramVec(histogramOpts(
			"gantry_http_request_duration_seconds",
			"Time from request start until the response was fully sent, by route and upstream.",
		), []string{"route", "upstream"}),
		reqBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_http_request_bytes_total",
			Help: "Request body bytes read from clients, by route.",
		}, []string{"route"}),
		respBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_http_response_bytes_total",
			Help: "Response body bytes sent to clients, by route.",
		}, []string{"route"}),
		upRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_upstream_requests_total",
			Help: "Tries sent to upstream targets (retries included), by upstream, target and status class.",
		}, []string{"upstream", "target", "code_class"}),
		upDuration: prometheus.NewHistogramVec(histogramOpts(
			"gantry_upstream_duration_seconds",
			"Time of one try against an upstream target until its response headers, by upstream.",
		), []string{"upstream"}),
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gantry_listener_active_connections",
			Help: "Client connections currently open, by listener.",
		}, []string{"listener"}),
		authFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_auth_failures_total",
			Help: "Requests refused by authentication or authorization, by route and reason.",
		}, []string{"route", "reason"}),
		rateLimit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_ratelimit_requests_total",
			Help: "Rate-limit decisions, by route and result (allowed, limited).",
		}, []string{"route", "result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_config_reloads_total",
			Help: "Config reloads attempted, by result (success, failure).",
		}, []string{"result"}),
		configHash: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gantry_config_hash_info",
			Help: "Always 1; the hash label identifies the running config.",
		}, []string{"hash"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gantry_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful config load or reload.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gantry_access_log_dropped_total",
			Help: "Access-log records dropped because the log writer fell behind.",
		}),
		targets:   newTargetCollector(),
		routes:    map[routeKey]*RouteMetrics{},
		targetMs:  map[targetKey]*TargetMetrics{},
		listeners: map[string]*ListenerMetrics{},
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gantry_build_info",
		Help: "Always 1; labels identify the running build.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.reg.MustRegister(
		m.requests, m.duration, m.reqBytes, m.respBytes, m.upRequests, m.upDuration,
		m.conns, m.authFails, m.rateLimit, m.reloads, m.configHash, m.lastReload,
		m.dropped, m.targets, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.noRoute = m.Route("", "")
	return m
}

// Registry returns the registry the metrics live on, for registering more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics for Prometheus: the text format, OpenMetrics when the
// scraper asks for it, and protobuf (with native histograms) when negotiated. A failing
// collector does not hide the others.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorHandling:     promhttp.ContinueOnError,
	})
}

// counterRef boxes a counter so that it can sit in an atomic.Pointer.
type counterRef struct{ c prometheus.Counter }

// lazyCounter returns the counter in p, creating it with mk on first use. Series are
// created on first use rather than up front so that a route does not export 60 zero
// series for method×class combinations it never sees.
func lazyCounter(p *atomic.Pointer[counterRef], mk func() prometheus.Counter) prometheus.Counter {
	if r := p.Load(); r != nil {
		return r.c
	}
	r := &counterRef{c: mk()}
	if p.CompareAndSwap(nil, r) {
		return r.c
	}
	return p.Load().c
}

// RouteMetrics is the pre-resolved handle of one route and its upstream; a request
// touches only it (no map lookups, no label strings built). Safe for concurrent use.
type RouteMetrics struct {
	m        *Metrics
	name     string
	upstream string

	duration  prometheus.Observer
	reqBytes  prometheus.Counter
	respBytes prometheus.Counter
	requests  [numMethods][numClasses]atomic.Pointer[counterRef]
	rateLimit [2]atomic.Pointer[counterRef]

	authMu sync.RWMutex
	auth   map[string]prometheus.Counter
}

// Route returns the handle of a route and its upstream, creating it on first use; later
// calls with the same names (e.g. after a reload) return the same handle. The route ""
// stands for requests no route matched.
func (m *Metrics) Route(name, upstream string) *RouteMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := routeKey{name, upstream}
	if rm := m.routes[k]; rm != nil {
		return rm
	}
	rm := &RouteMetrics{
		m:         m,
		name:      name,
		upstream:  upstream,
		duration:  m.duration.WithLabelValues(name, upstream),
		reqBytes:  m.reqBytes.WithLabelValues(name),
		respBytes: m.respBytes.WithLabelValues(name),
		auth:      map[string]prometheus.Counter{},
	}
	m.routes[k] = rm
	return rm
}

// Name returns the route name ("" for unmatched requests).
func (rm *RouteMetrics) Name() string { return rm.name }

// Upstream returns the upstream name.
func (rm *RouteMetrics) Upstream() string { return rm.upstream }

// observe counts one finished request. It does not allocate once the method×class
// counter exists.
func (rm *RouteMetrics) observe(method string, status int, d time.Duration, in, out int64) {
	mi, ci := methodIndex(method), classIndex(status)
	c := lazyCounter(&rm.requests[mi][ci], func() prometheus.Counter {
		return rm.m.requests.WithLabelValues(rm.name, methodNames[mi], classNames[ci], rm.upstream)
	})
	c.Inc()
	rm.duration.Observe(d.Seconds())
	if in > 0 {
		rm.reqBytes.Add(float64(in))
	}
	if out > 0 {
		rm.respBytes.Add(float64(out))
	}
}

// AuthFailure counts a request refused by auth or authz for reason (a small fixed
// vocabulary such as "missing_credentials", "invalid_token", "forbidden").
func (rm *RouteMetrics) AuthFailure(reason string) {
	rm.authMu.RLock()
	c := rm.auth[reason]
	rm.authMu.RUnlock()
	if c == nil {
		rm.authMu.Lock()
		if c = rm.auth[reason]; c == nil {
			c = rm.m.authFails.WithLabelValues(rm.name, reason)
			rm.auth[reason] = c
		}
		rm.authMu.Unlock()
	}
	c.Inc()
}

// RateLimit counts one rate-limit decision.
func (rm *RouteMetrics) RateLimit(allowed bool) {
	i, result := 0, "allowed"
	if !allowed {
		i, result = 1, "limited"
	}
	lazyCounter(&rm.rateLimit[i], func() prometheus.Counter {
		return rm.m.rateLimit.WithLabelValues(rm.name, result)
	}).Inc()
}

// TargetMetrics is the pre-resolved handle of one upstream target. Safe for concurrent use.
type TargetMetrics struct {
	m        *Metrics
	upstream string
	target   string
	duration prometheus.Observer
	requests [numClasses]atomic.Pointer[counterRef]
}

// Target returns the handle of target (its address as configured, e.g. "10.0.0.5:8080")
// in upstream, creating it on first use.
func (m *Metrics) Target(upstream, target string) *TargetMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := targetKey{upstream, target}
	if tm := m.targetMs[k]; tm != nil {
		return tm
	}
	tm := &TargetMetrics{m: m, upstream: upstream, target: target, duration: m.upDuration.WithLabelValues(upstream)}
	m.targetMs[k] = tm
	return tm
}

// Observe counts one try against the target: status is the response status, 0 when no
// response came (connect failure, reset, timeout); d is the time until response headers
// (or the failure). The proxy calls it once per try, retries included.
func (tm *TargetMetrics) Observe(status int, d time.Duration) {
	ci := classIndex(status)
	lazyCounter(&tm.requests[ci], func() prometheus.Counter {
		return tm.m.upRequests.WithLabelValues(tm.upstream, tm.target, classNames[ci])
	}).Inc()
	tm.duration.Observe(d.Seconds())
}

// ListenerMetrics counts a listener's open connections.
type ListenerMetrics struct{ g prometheus.Gauge }

// Listener returns the handle of a listener, creating it on first use.
func (m *Metrics) Listener(name string) *ListenerMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if lm := m.listeners[name]; lm != nil {
		return lm
	}
	lm := &ListenerMetrics{g: m.conns.WithLabelValues(name)}
	m.listeners[name] = lm
	return lm
}

// ConnState is an http.Server.ConnState hook: a new connection counts until it is closed
// or hijacked (a hijacked connection, e.g. a WebSocket upgrade, is then counted by
// whoever took it, through Opened/Closed, if at all).
func (lm *ListenerMetrics) ConnState(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		lm.g.Inc()
	case http.StateClosed, http.StateHijacked:
		lm.g.Dec()
	}
}

// Opened counts a connection opened outside net/http (layer 4).
func (lm *ListenerMetrics) Opened() { lm.g.Inc() }

// Closed counts a connection closed outside net/http (layer 4).
func (lm *ListenerMetrics) Closed() { lm.g.Dec() }

// ConfigLoaded records that config hash is running since at (first load or a reload).
func (m *Metrics) ConfigLoaded(hash string, at time.Time) {
	m.reload.loaded(hash, at)
	m.configHash.Reset()
	m.configHash.WithLabelValues(hash).Set(1)
	m.lastReload.Set(float64(at.UnixNano()) / 1e9)
}

// ConfigReloaded counts a reload attempt; on success (err == nil) it also records the
// new hash and time as ConfigLoaded does.
func (m *Metrics) ConfigReloaded(hash string, err error, at time.Time) {
	if err != nil {
		m.reloads.WithLabelValues("failure").Inc()
		m.reload.failed(err, at)
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.reload.succeeded()
	m.ConfigLoaded(hash, at)
}

// RetainRoutes deletes the series of every route handle not in keep (routes removed by
// a reload) and forgets those handles. Requests still running on a dropped handle count
// into series that are no longer exported.
func (m *Metrics) RetainRoutes(keep []*RouteMetrics) {
	live := map[*RouteMetrics]bool{m.noRoute: true}
	names := map[string]bool{"": true}
	for _, rm := range keep {
		live[rm] = true
		names[rm.name] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, rm := range m.routes {
		if live[rm] {
			continue
		}
		delete(m.routes, k)
		m.requests.DeletePartialMatch(prometheus.Labels{"route": k.route, "upstream": k.upstream})
		m.duration.DeleteLabelValues(k.route, k.upstream)
		if !names[k.route] {
			m.reqBytes.DeleteLabelValues(k.route)
			m.respBytes.DeleteLabelValues(k.route)
			m.authFails.DeletePartialMatch(prometheus.Labels{"route": k.route})
			m.rateLimit.DeletePartialMatch(prometheus.Labels{"route": k.route})
		}
	}
}

// RetainTargets deletes the series of every target handle not in keep (targets removed
// by a reload) and forgets those handles. Upstream duration series are kept while the
// upstream has a live target.
func (m *Metrics) RetainTargets(keep []*TargetMetrics) {
	live := map[*TargetMetrics]bool{}
	ups := map[string]bool{}
	for _, tm := range keep {
		live[tm] = true
		ups[tm.upstream] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, tm := range m.targetMs {
		if live[tm] {
			continue
		}
		delete(m.targetMs, k)
		m.upRequests.DeletePartialMatch(prometheus.Labels{"upstream": k.upstream, "target": k.target})
		if !ups[k.upstream] {
			m.upDuration.DeleteLabelValues(k.upstream)
		}
	}
}

// TargetRow is one upstream target's live state, as the gateway reports it.
type TargetRow struct {
	Upstream string
	Target   string
	Healthy  bool
	InFlight int64
}

// TargetSource reports every upstream target's live state; the gateway implements it
// over its long-lived target registry. AppendTargets appends one row per target to dst
// and returns it; it is called at scrape time, concurrently with requests, and must not
// block on request work.
type TargetSource interface {
	AppendTargets(dst []TargetRow) []TargetRow
}

// SetTargetSource makes gantry_upstream_target_healthy and
// gantry_upstream_target_in_flight read from src at every scrape (nil: no rows), so the
// values are never stale.
func (m *Metrics) SetTargetSource(src TargetSource) { m.targets.src.Store(&sourceRef{src}) }

type sourceRef struct{ s TargetSource }

// targetCollector turns TargetSource rows into const metrics at scrape time.
type targetCollector struct {
	src      atomic.Pointer[sourceRef]
	healthy  *prometheus.Desc
	inFlight *prometheus.Desc
}

func newTargetCollector() *targetCollector {
	return &targetCollector{
		healthy: prometheus.NewDesc("gantry_upstream_target_healthy",
			"1 when the target receives traffic (healthy, not ejected, not drained), else 0.",
			[]string{"upstream", "target"}, nil),
		inFlight: prometheus.NewDesc("gantry_upstream_target_in_flight",
			"Requests currently in flight to the target.",
			[]string{"upstream", "target"}, nil),
	}
}

func (c *targetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.healthy
	ch <- c.inFlight
}

func (c *targetCollector) Collect(ch chan<- prometheus.Metric) {
	ref := c.src.Load()
	if ref == nil || ref.s == nil {
		return
	}
	rows := ref.s.AppendTargets(nil)
	seen := make(map[targetKey]bool, len(rows))
	for _, r := range rows {
		// A duplicate row would fail the whole scrape; keep the first.
		k := targetKey{r.Upstream, r.Target}
		if seen[k] {
			continue
		}
		seen[k] = true
		h := 0.0
		if r.Healthy {
			h = 1
		}
		ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, h, r.Upstream, r.Target)
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(r.InFlight), r.Upstream, r.Target)
	}
}

var _ prometheus.Collector = (*targetCollector)(nil)
