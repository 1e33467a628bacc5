package admin

import (
	"log/slog"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gantrygw/gantry/internal/gateway"
	"github.com/gantrygw/gantry/internal/observe"
)

// The dashboard's numbers come from the same metrics /metrics exports: a sampler
// gathers the registry once per interval (as a Prometheus scrape would) and turns
// counter and histogram deltas into rates and percentiles. The request path does
// nothing for the dashboard beyond what observe already does for /metrics.

// Point is one moment of a series: rates over the last interval, error share and
// latency percentiles over the window (nil when no request finished in it).
type Point struct {
	// T is Unix milliseconds.
	T int64 `json:"t"`
	// RPS is requests (for upstreams: tries) per second over the last interval.
	RPS float64 `json:"rps"`
	// ErrorRate is the share of 5xx answers and answers with no status (connection
	// failures, client gone) over the window, 0..1.
	ErrorRate float64 `json:"error_rate"`
	// P50, P95 and P99 are latency percentiles in milliseconds over the window,
	// interpolated within the histogram's buckets as Prometheus' histogram_quantile does.
	P50 *float64 `json:"p50_ms"`
	P95 *float64 `json:"p95_ms"`
	P99 *float64 `json:"p99_ms"`
}

// Series is a route's or an upstream's statistics.
type Series struct {
	Name string `json:"name"`
	// Upstream is the route's upstream (routes only). The route "" counts requests no
	// route matched.
	Upstream string `json:"upstream,omitempty"`
	// Total is the number of requests (tries for upstreams) since the gateway started.
	Total float64 `json:"total"`
	Point
	// History holds up to the history span of points, oldest first (omitted in the stream).
	History []Point `json:"history,omitempty"`
}

// UpstreamStats is an upstream's statistics and its targets' live state.
type UpstreamStats struct {
	Series
	Balance   string        `json:"balance"`
	Panicking bool          `json:"panicking,omitempty"`
	Targets   []TargetStats `json:"targets"`
}

// TargetStats is a target's live state plus its tries per second.
type TargetStats struct {
	gateway.TargetInfo
	RPS float64 `json:"rps"`
}

// Stats is what the dashboard draws: GET /api/v1/stats and each event of the stream.
type Stats struct {
	Time       time.Time `json:"time"`
	IntervalMS int64     `json:"interval_ms"`
	WindowS    float64   `json:"window_s"`
	// HistoryS is how far back History reaches (the charts' time axis).
	HistoryS  float64               `json:"history_s"`
	Status    gateway.Status        `json:"status"`
	Routes    []Series              `json:"routes"`
	Upstreams []UpstreamStats       `json:"upstreams"`
	Errors    []observe.ErrorRecord `json:"errors"`
	// ErrorsTotal counts every error recorded since start (Errors keeps the newest).
	ErrorsTotal uint64 `json:"errors_total"`
}

// maxErrorsShown bounds the recent errors in a Stats.
const maxErrorsShown = 50

// counts is one series' cumulative counters in one sample.
type counts struct {
	total, errors float64
	bounds        []float64 // histogram upper bounds, ascending, without +Inf
	cum           []float64 // cumulative counts per bound
	hcount        float64   // observations in the histogram (the +Inf bucket)
}

type targetKey struct{ upstream, url string }

// sample is the registry's relevant counters at one moment.
type sample struct {
	at        time.Time
	routes    map[string]*counts
	routeUp   map[string]string
	upstreams map[string]*counts
	targets   map[targetKey]float64
}

type sampler struct {
	gw      Gateway
	g       prometheus.Gatherer
	every   time.Duration
	window  time.Duration
	keep    int // history points per series
	history time.Duration
	log     *slog.Logger
	done    chan struct{}
	stopped chan struct{}

	mu        sync.Mutex
	samples   []*sample          // the last window/every+1 samples, oldest first
	routes    map[string][]Point // history by route
	upstreams map[string][]Point // history by upstream
	tick      chan struct{}      // closed and replaced after each sample
	latest    atomic.Pointer[Stats]
}

func newSampler(gw Gateway, g prometheus.Gatherer, every, window, history time.Duration, log *slog.Logger) *sampler {
	return &sampler{
		gw: gw, g: g, every: every, window: window, log: log,
		keep:      max(1, int(history/every)),
		history:   history,
		done:      make(chan struct{}),
		stopped:   make(chan struct{}),
		routes:    map[string][]Point{},
		upstreams: map[string][]Point{},
		tick:      make(chan struct{}),
	}
}

func (s *sampler) run() {
	defer close(s.stopped)
	s.sample(time.Now())
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.sample(now)
		}
	}
}

func (s *sampler) stop() {
	close(s.done)
	<-s.stopped
}

// next returns a channel closed after the next sample.
func (s *sampler) next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tick
}

// gather reads one sample from the registry.
func (s *sampler) gather(now time.Time) *sample {
	smp := &sample{at: now, routes: map[string]*counts{}, routeUp: map[string]string{}, upstreams: map[string]*counts{}, targets: map[targetKey]float64{}}
	mfs, err := s.g.Gather()
	if err != nil {
		// A failing collector (process metrics on an odd platform) must not blank the
		// dashboard: Gather returns what it could.
		s.log.Debug("admin: gathering metrics", "err", err)
	}
	get := func(m map[string]*counts, k string) *counts {
		c := m[k]
		if c == nil {
			c = &counts{}
			m[k] = c
		}
		return c
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "gantry_http_requests_total":
			for _, m := range mf.GetMetric() {
				l := labels(m)
				c := get(smp.routes, l["route"])
				smp.routeUp[l["route"]] = l["upstream"]
				v := m.GetCounter().GetValue()
				c.total += v
				if isError(l["code_class"]) {
					c.errors += v
				}
			}
		case "gantry_http_request_duration_seconds":
			for _, m := range mf.GetMetric() {
				l := labels(m)
				smp.routeUp[l["route"]] = l["upstream"]
				addHistogram(get(smp.routes, l["route"]), m.GetHistogram())
			}
		case "gantry_upstream_requests_total":
			for _, m := range mf.GetMetric() {
				l := labels(m)
				c := get(smp.upstreams, l["upstream"])
				v := m.GetCounter().GetValue()
				c.total += v
				if isError(l["code_class"]) {
					c.errors += v
				}
				smp.targets[targetKey{l["upstream"], l["target"]}] += v
			}
		case "gantry_upstream_duration_seconds":
			for _, m := range mf.GetMetric() {
				addHistogram(get(smp.upstreams, labels(m)["upstream"]), m.GetHistogram())
			}
		}
	}
	return smp
}

func isError(class string) bool { return class == "5xx" || class == "error" }

func labels(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// addHistogram adds h's classic buckets into c (several series can fold into one).
func addHistogram(c *counts, h *dto.Histogram) {
	if h == nil {
		return
	}
	c.hcount += float64(h.GetSampleCount())
	for i, b := range h.GetBucket() {
		ub := b.GetUpperBound()
		if math.IsInf(ub, 1) {
			continue
		}
		if len(c.bounds) <= i {
			c.bounds = append(c.bounds, ub)
			c.cum = append(c.cum, 0)
		}
		c.cum[i] += float64(b.GetCumulativeCount())
	}
}

// sample takes one sample and publishes the new Stats.
func (s *sampler) sample(now time.Time) {
	smp := s.gather(now)
	status := s.gw.Status()
	ups := s.gw.Upstreams()
	errs, total := s.gw.Metrics().RecentErrors(nil)
	if len(errs) > maxErrorsShown {
		errs = errs[:maxErrorsShown]
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var prev, base *sample
	if n := len(s.samples); n > 0 {
		prev = s.samples[n-1]
		// base: the oldest sample within the window (or the oldest kept).
		base = s.samples[0]
		for _, x := range s.samples {
			if now.Sub(x.at) <= s.window+s.every/2 {
				base = x
				break
			}
		}
	}
	s.samples = append(s.samples, smp)
	if keep := int(s.window/s.every) + 1; len(s.samples) > keep {
		s.samples = append(s.samples[:0], s.samples[len(s.samples)-keep:]...)
	}

	st := &Stats{Time: now, IntervalMS: s.every.Milliseconds(), WindowS: s.window.Seconds(), HistoryS: s.history.Seconds(), Status: status, Errors: nonNilSlice(errs), ErrorsTotal: total}
	point := func(cur *counts, p, b *counts, pAt, bAt time.Time) Point {
		pt := Point{T: now.UnixMilli()}
		if p != nil && now.After(pAt) {
			pt.RPS = math.Max(0, cur.total-p.total) / now.Sub(pAt).Seconds()
		}
		if b == nil {
			b = &counts{}
		}
		if dt := cur.total - b.total; dt > 0 {
			pt.ErrorRate = math.Max(0, cur.errors-b.errors) / dt
		}
		pt.P50, pt.P95, pt.P99 = quantiles(cur, b)
		return pt
	}
	lookup := func(x *sample, routes bool, name string) (*counts, time.Time) {
		if x == nil {
			return nil, time.Time{}
		}
		if routes {
			return x.routes[name], x.at
		}
		return x.upstreams[name], x.at
	}

	seen := map[string]bool{}
	for _, name := range sortedNames(smp.routes) {
		cur := smp.routes[name]
		p, pAt := lookup(prev, true, name)
		b, bAt := lookup(base, true, name)
		pt := point(cur, p, b, pAt, bAt)
		if prev != nil {
			s.routes[name] = appendPoint(s.routes[name], pt, s.keep)
		}
		seen[name] = true
		st.Routes = append(st.Routes, Series{Name: name, Upstream: smp.routeUp[name], Total: cur.total, Point: pt})
	}
	for name := range s.routes {
		if !seen[name] {
			delete(s.routes, name) // removed by a reload
		}
	}

	clear(seen)
	for _, u := range ups {
		cur := smp.upstreams[u.Name]
		if cur == nil {
			cur = &counts{}
		}
		p, pAt := lookup(prev, false, u.Name)
		b, bAt := lookup(base, false, u.Name)
		pt := point(cur, p, b, pAt, bAt)
		if prev != nil {
			s.upstreams[u.Name] = appendPoint(s.upstreams[u.Name], pt, s.keep)
		}
		seen[u.Name] = true
		us := UpstreamStats{Series: Series{Name: u.Name, Total: cur.total, Point: pt}, Balance: u.Balance, Panicking: u.Panicking, Targets: []TargetStats{}}
		for _, t := range u.Targets {
			ts := TargetStats{TargetInfo: t}
			if prev != nil && now.After(prev.at) {
				k := targetKey{u.Name, t.URL}
				ts.RPS = math.Max(0, smp.targets[k]-prev.targets[k]) / now.Sub(prev.at).Seconds()
			}
			us.Targets = append(us.Targets, ts)
		}
		st.Upstreams = append(st.Upstreams, us)
	}
	for name := range s.upstreams {
		if !seen[name] {
			delete(s.upstreams, name)
		}
	}
	if st.Routes == nil {
		st.Routes = []Series{}
	}
	if st.Upstreams == nil {
		st.Upstreams = []UpstreamStats{}
	}
	s.latest.Store(st)
	close(s.tick)
	s.tick = make(chan struct{})
}

func appendPoint(h []Point, p Point, keep int) []Point {
	h = append(h, p)
	if len(h) > keep {
		h = append(h[:0], h[len(h)-keep:]...)
	}
	return h
}

// snapshot returns the latest Stats, with history when asked.
func (s *sampler) snapshot(history bool) *Stats {
	st := s.latest.Load()
	if st == nil || !history {
		return st
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := *st
	cp.Routes = append([]Series(nil), st.Routes...)
	for i := range cp.Routes {
		cp.Routes[i].History = append([]Point(nil), s.routes[cp.Routes[i].Name]...)
	}
	cp.Upstreams = append([]UpstreamStats(nil), st.Upstreams...)
	for i := range cp.Upstreams {
		cp.Upstreams[i].History = append([]Point(nil), s.upstreams[cp.Upstreams[i].Name]...)
	}
	return &cp
}

// quantiles returns p50, p95, p99 in milliseconds of the observations between base b
// and cur, or nils when there were none.
func quantiles(cur, b *counts) (p50, p95, p99 *float64) {
	n := cur.hcount - b.hcount
	if n <= 0 || len(cur.bounds) == 0 {
		return nil, nil, nil
	}
	delta := make([]float64, len(cur.cum))
	for i := range cur.cum {
		delta[i] = cur.cum[i]
		if i < len(b.cum) {
			delta[i] -= b.cum[i]
		}
	}
	q := func(q float64) *float64 {
		v := bucketQuantile(q, cur.bounds, delta, n) * 1000
		return &v
	}
	return q(0.5), q(0.95), q(0.99)
}

// bucketQuantile estimates the q-quantile from cumulative bucket counts, interpolating
// linearly inside the bucket the rank falls in (histogram_quantile's method); a rank
// in the +Inf bucket answers the highest finite bound.
func bucketQuantile(q float64, bounds, cum []float64, total float64) float64 {
	rank := q * total
	i := sort.Search(len(cum), func(i int) bool { return cum[i] >= rank })
	if i == len(cum) {
		return bounds[len(bounds)-1]
	}
	lo, below := 0.0, 0.0
	if i > 0 {
		lo, below = bounds[i-1], cum[i-1]
	}
	in := cum[i] - below
	if in <= 0 {
		return bounds[i]
	}
	return lo + (bounds[i]-lo)*(rank-below)/in
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
