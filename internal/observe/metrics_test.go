package observe

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// histogramCount returns the sample count of the histogram series with the given labels.
func histogramCount(t *testing.T, m *Metrics, name string, labels map[string]string) uint64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("Gather() error = %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, met := range mf.GetMetric() {
			if labelsMatch(met.GetLabel(), labels) {
				return met.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func labelsMatch(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, lp := range got {
		if v, ok := want[lp.GetName()]; !ok || v != lp.GetValue() {
			return false
		}
	}
	return true
}

func TestRouteMetricsCounts(t *testing.T) {
	t.Parallel()
	m := NewMetrics("v1.2.3")
	orders := m.Route("orders", "shop")
	users := m.Route("users", "accounts")
	if again := m.Route("orders", "shop"); again != orders {
		t.Fatalf("Route(orders, shop) returned a new handle, want the cached one")
	}
	calls := []struct {
		rm     *RouteMetrics
		method string
		status int
		in     int64
		out    int64
	}{
		{orders, "GET", 200, 0, 100},
		{orders, "GET", 204, 0, 0},
		{orders, "POST", 201, 50, 10},
		{orders, "GET", 503, 0, 20},
		{orders, "BREW", 418, 5, 0}, // unknown method → OTHER
		{users, "GET", 200, 0, 7},
		{m.noRoute, "GET", 404, 0, 30},
		{orders, "GET", 0, 0, 0}, // client gone before an answer
	}
	for _, c := range calls {
		c.rm.observe(c.method, c.status, 3*time.Millisecond, c.in, c.out)
	}

	counters := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"orders GET 2xx", []string{"orders", "GET", "2xx", "shop"}, 2},
		{"orders POST 2xx", []string{"orders", "POST", "2xx", "shop"}, 1},
		{"orders GET 5xx", []string{"orders", "GET", "5xx", "shop"}, 1},
		{"orders OTHER 4xx", []string{"orders", "OTHER", "4xx", "shop"}, 1},
		{"orders GET error", []string{"orders", "GET", "error", "shop"}, 1},
		{"users GET 2xx", []string{"users", "GET", "2xx", "accounts"}, 1},
		{"no route GET 4xx", []string{"", "GET", "4xx", ""}, 1},
	}
	for _, c := range counters {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("gantry_http_requests_total{%s} = %v, want %v", c.name, got, c.want)
		}
	}
	// Only the combinations seen exist: 7 series, not 60 per route.
	if got := testutil.CollectAndCount(m.requests); got != len(counters) {
		t.Errorf("gantry_http_requests_total series = %d, want %d", got, len(counters))
	}
	if got := histogramCount(t, m, "gantry_http_request_duration_seconds", map[string]string{"route": "orders", "upstream": "shop"}); got != 6 {
		t.Errorf("duration count{orders} = %d, want 6", got)
	}
	if got := testutil.ToFloat64(m.reqBytes.WithLabelValues("orders")); got != 55 {
		t.Errorf("gantry_http_request_bytes_total{orders} = %v, want 55", got)
	}
	if got := testutil.ToFloat64(m.respBytes.WithLabelValues("orders")); got != 130 {
		t.Errorf("gantry_http_response_bytes_total{orders} = %v, want 130", got)
	}
}

func TestTargetMetrics(t *testing.T) {
	t.Parallel()
	m := NewMetrics("test")
	a := m.Target("shop", "10.0.0.1:80")
	b := m.Target("shop", "10.0.0.2:80")
	a.Observe(200, time.Millisecond)
	a.Observe(502, time.Millisecond)
	a.Observe(0, time.Second) // connect failure
	b.Observe(200, time.Millisecond)
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"shop", "10.0.0.1:80", "2xx"}, 1},
		{[]string{"shop", "10.0.0.1:80", "5xx"}, 1},
		{[]string{"shop", "10.0.0.1:80", "error"}, 1},
		{[]string{"shop", "10.0.0.2:80", "2xx"}, 1},
	} {
		if got := testutil.ToFloat64(m.upRequests.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("gantry_upstream_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := histogramCount(t, m, "gantry_upstream_duration_seconds", map[string]string{"upstream": "shop"}); got != 4 {
		t.Errorf("gantry_upstream_duration_seconds count{shop} = %d, want 4", got)
	}
	m.RetainTargets([]*TargetMetrics{b})
	if got := testutil.CollectAndCount(m.upRequests); got != 1 {
		t.Errorf("series after RetainTargets(b) = %d, want 1", got)
	}
	if m.Target("shop", "10.0.0.1:80") == a {
		t.Errorf("Target() after RetainTargets returned the dropped handle, want a new one")
	}
}

func TestRetainRoutes(t *testing.T) {
	t.Parallel()
	m := NewMetrics("test")
	keep := m.Route("keep", "u")
	gone := m.Route("gone", "u")
	keep.observe("GET", 200, time.Millisecond, 1, 1)
	gone.observe("GET", 200, time.Millisecond, 1, 1)
	gone.AuthFailure("invalid_token")
	m.noRoute.observe("GET", 404, time.Millisecond, 0, 0)
	m.RetainRoutes([]*RouteMetrics{keep})
	if got := testutil.CollectAndCount(m.requests); got != 2 {
		t.Errorf("request series after RetainRoutes = %d, want 2 (keep and unmatched)", got)
	}
	if got := testutil.CollectAndCount(m.authFails); got != 0 {
		t.Errorf("auth failure series after RetainRoutes = %d, want 0", got)
	}
	if got := testutil.CollectAndCount(m.reqBytes); got != 2 {
		t.Errorf("request bytes series after RetainRoutes = %d, want 2", got)
	}
}

func TestAuthAndRateLimit(t *testing.T) {
	t.Parallel()
	m := NewMetrics("test")
	rm := m.Route("api", "u")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				rm.AuthFailure("invalid_token")
				rm.RateLimit(true)
			}
		})
	}
	wg.Wait()
	rm.AuthFailure("missing_credentials")
	rm.RateLimit(false)
	if got := testutil.ToFloat64(m.authFails.WithLabelValues("api", "invalid_token")); got != 100 {
		t.Errorf("gantry_auth_failures_total{api,invalid_token} = %v, want 100", got)
	}
	if got := testutil.ToFloat64(m.authFails.WithLabelValues("api", "missing_credentials")); got != 1 {
		t.Errorf("gantry_auth_failures_total{api,missing_credentials} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.rateLimit.WithLabelValues("api", "allowed")); got != 100 {
		t.Errorf("gantry_ratelimit_requests_total{api,allowed} = %v, want 100", got)
	}
	if got := testutil.ToFloat64(m.rateLimit.WithLabelValues("api", "limited")); got != 1 {
		t.Errorf("gantry_ratelimit_requests_total{api,limited} = %v, want 1", got)
	}
}

func TestConfigMetrics(t *testing.T) {
	t.Parallel()
	m := NewMetrics("test")
	t0 := time.Unix(1700000000, 500_000_000)
	m.ConfigLoaded("aaaa", t0)
	m.ConfigReloaded("bbbb", nil, t0.Add(time.Minute))
	m.ConfigReloaded("cccc", io.ErrUnexpectedEOF, t0.Add(2*time.Minute))
	if got := testutil.ToFloat64(m.reloads.WithLabelValues("success")); got != 1 {
		t.Errorf("reloads{success} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.reloads.WithLabelValues("failure")); got != 1 {
		t.Errorf("reloads{failure} = %v, want 1", got)
	}
	want := `
# HELP gantry_config_hash_info Always 1; the hash label identifies the running config.
# TYPE gantry_config_hash_info gauge
gantry_config_hash_info{hash="bbbb"} 1
# HELP gantry_config_last_reload_success_timestamp_seconds Unix time of the last successful config load or reload.
# TYPE gantry_config_last_reload_success_timestamp_seconds gauge
gantry_config_last_reload_success_timestamp_seconds 1.7000000605e+09
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"gantry_config_hash_info", "gantry_config_last_reload_success_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}

type fakeTargets struct {
	mu   sync.Mutex
	rows []TargetRow
}

func (f *fakeTargets) AppendTargets(dst []TargetRow) []TargetRow {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(dst, f.rows...)
}

func (f *fakeTargets) set(rows ...TargetRow) {
	f.mu.Lock()
	f.rows = rows
	f.mu.Unlock()
}

func TestTargetSourceNeverStale(t *testing.T) {
	t.Parallel()
	m := NewMetrics("test")
	src := &fakeTargets{}
	m.SetTargetSource(src)
	src.set(
		TargetRow{Upstream: "shop", Target: "a:80", Healthy: true, InFlight: 3},
		TargetRow{Upstream: "shop", Target: "b:80", Healthy: false, InFlight: 0},
		TargetRow{Upstream: "shop", Target: "b:80", Healthy: true, InFlight: 9}, // duplicate: ignored
	)
	want := `
# HELP gantry_upstream_target_healthy 1 when the target receives traffic (healthy, not ejected, not drained), else 0.
# TYPE gantry_upstream_target_healthy gauge
gantry_upstream_target_healthy{target="a:80",upstream="shop"} 1
gantry_upstream_target_healthy{target="b:80",upstream="shop"} 0
# HELP gantry_upstream_target_in_flight Requests currently in flight to the target.
# TYPE gantry_upstream_target_in_flight gauge
gantry_upstream_target_in_flight{target="a:80",upstream="shop"} 3
gantry_upstream_target_in_flight{target="b:80",upstream="shop"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"gantry_upstream_target_healthy", "gantry_upstream_target_in_flight"); err != nil {
		t.Error(err)
	}
	// The next scrape reads the source again.
	src.set(TargetRow{Upstream: "shop", Target: "a:80", Healthy: false, InFlight: 1})
	want = `
# HELP gantry_upstream_target_in_flight Requests currently in flight to the target.
# TYPE gantry_upstream_target_in_flight gauge
gantry_upstream_target_in_flight{target="a:80",upstream="shop"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "gantry_upstream_target_in_flight"); err != nil {
		t.Error(err)
	}
}

func TestListenerConnections(t *testing.T) {
	t.Parallel()
	m := NewMetrics("test")
	lm := m.Listener("public")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = lm.ConnState
	srv.Start()
	defer srv.Close()
	gauge := m.conns.WithLabelValues("public")

	tr := &http.Transport{}
	c := &http.Client{Transport: tr}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET error = %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if got := testutil.ToFloat64(gauge); got != 1 {
		t.Errorf("active connections with one keep-alive connection = %v, want 1", got)
	}
	tr.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(gauge) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := testutil.ToFloat64(gauge); got != 0 {
		t.Errorf("active connections after close = %v, want 0", got)
	}
	lm.Opened()
	lm.Opened()
	lm.Closed()
	if got := testutil.ToFloat64(gauge); got != 1 {
		t.Errorf("active connections after 2 L4 opens and 1 close = %v, want 1", got)
	}
}

func TestMetricsLint(t *testing.T) {
	t.Parallel()
	m := NewMetrics("test")
	rm := m.Route("orders", "shop")
	rm.observe("GET", 200, time.Millisecond, 1, 1)
	rm.AuthFailure("invalid_token")
	rm.RateLimit(false)
	m.Target("shop", "a:80").Observe(200, time.Millisecond)
	m.Listener("public").Opened()
	m.ConfigLoaded("abc", time.Now())
	m.dropped.Inc()
	m.SetTargetSource(&fakeTargets{rows: []TargetRow{{Upstream: "shop", Target: "a:80", Healthy: true}}})
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatalf("GatherAndLint() error = %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	problems, err = testutil.CollectAndLint(m.requests)
	if err != nil || len(problems) != 0 {
		t.Errorf("CollectAndLint(requests) = %v, %v, want no problems", problems, err)
	}
}

func TestHandlerServesText(t *testing.T) {
	t.Parallel()
	m := NewMetrics("v9")
	m.Route("orders", "shop").observe("GET", 200, time.Millisecond, 0, 0)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		accept string
		want   string
	}{
		{name: "text", accept: "", want: "text/plain"},
		{name: "openmetrics", accept: "application/openmetrics-text;version=1.0.0", want: "application/openmetrics-text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("GET /metrics error = %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.want) {
				t.Errorf("Content-Type = %q, want %s", ct, tc.want)
			}
			for _, s := range []string{
				`gantry_http_requests_total{code_class="2xx",method="GET",route="orders",upstream="shop"} 1`,
				`gantry_build_info{goversion="go`,
				`gantry_config_reloads_total{result="failure"} 0`,
			} {
				if !strings.Contains(string(body), s) {
					t.Errorf("/metrics lacks %q", s)
				}
			}
		})
	}
}

func BenchmarkRouteObserve(b *testing.B) {
	m := NewMetrics("bench")
	rm := m.Route("orders", "shop")
	b.ReportAllocs()
	for b.Loop() {
		rm.observe("GET", 200, 1500*time.Microsecond, 10, 100)
	}
}
