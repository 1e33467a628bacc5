package observe

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gantrygw/gantry/internal/config"
)

func newTestObserver(t testing.TB, cfg config.Observe, opts Options) *Observer {
	t.Helper()
	o, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := o.Close(ctx); err != nil {
			t.Errorf("Close() error = %v", err)
		}
	})
	return o
}

func TestStartWithoutTracing(t *testing.T) {
	t.Parallel()
	o := newTestObserver(t, config.Observe{}, Options{Version: "t"})
	tests := []struct {
		name        string
		header      http.Header
		wantID      string // "" means a new one
		wantTraceID string // "" means a new one
		wantParent  string
		wantFlags   byte
		wantState   string
	}{
		{
			name:   "nothing incoming",
			header: http.Header{}, wantFlags: FlagSampled,
		},
		{
			name:   "valid id and traceparent",
			header: http.Header{"X-Request-Id": {"abc-123"}, "Traceparent": {validTP}, "Tracestate": {"rojo=1"}},
			wantID: "abc-123", wantTraceID: validTID, wantParent: validSID, wantFlags: 1, wantState: "rojo=1",
		},
		{
			name:        "unsampled parent stays unsampled",
			header:      http.Header{"Traceparent": {"00-" + validTID + "-" + validSID + "-00"}},
			wantTraceID: validTID, wantParent: validSID, wantFlags: 0,
		},
		{
			name:      "bad id and bad traceparent replaced",
			header:    http.Header{"X-Request-Id": {"no spaces please"}, "Traceparent": {"00-" + strings.ToUpper(validTID) + "-" + validSID + "-01"}, "Tracestate": {"rojo=1"}},
			wantFlags: FlagSampled,
		},
		{
			name:        "invalid tracestate dropped",
			header:      http.Header{"Traceparent": {validTP}, "Tracestate": {"Bad Key=1"}},
			wantTraceID: validTID, wantParent: validSID, wantFlags: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &Record{Method: "GET"}
			ctx := context.Background()
			if got := o.Start(ctx, tt.header, rec); got != ctx {
				t.Errorf("Start() returned a new context with tracing off, want the same")
			}
			if tt.wantID != "" && rec.RequestID != tt.wantID {
				t.Errorf("RequestID = %q, want %q", rec.RequestID, tt.wantID)
			}
			if tt.wantID == "" && (len(rec.RequestID) != 32 || rec.RequestID == tt.header.Get("X-Request-Id")) {
				t.Errorf("RequestID = %q, want a new one", rec.RequestID)
			}
			if rec.Start.IsZero() {
				t.Errorf("Start not set")
			}
			if !rec.Trace.IsValid() {
				t.Fatalf("Trace = %+v, want valid", rec.Trace)
			}
			if tt.wantTraceID != "" && rec.Trace.TraceID.String() != tt.wantTraceID {
				t.Errorf("TraceID = %s, want %s", rec.Trace.TraceID, tt.wantTraceID)
			}
			if got := rec.ParentSpanID; (tt.wantParent == "" && got.IsValid()) || (tt.wantParent != "" && got.String() != tt.wantParent) {
				t.Errorf("ParentSpanID = %s, want %q", got, tt.wantParent)
			}
			if rec.Trace.SpanID == rec.ParentSpanID {
				t.Errorf("gateway span id = parent span id %s, want its own", rec.Trace.SpanID)
			}
			if rec.Trace.Flags != tt.wantFlags || rec.Trace.State != tt.wantState {
				t.Errorf("Flags, State = %#x, %q, want %#x, %q", rec.Trace.Flags, rec.Trace.State, tt.wantFlags, tt.wantState)
			}
			// The outbound request carries the gateway's span as parent.
			out := http.Header{}
			rec.Inject(out)
			tc, ok := ParseTraceparent(out.Get("Traceparent"))
			if !ok || tc.TraceID != rec.Trace.TraceID || tc.SpanID != rec.Trace.SpanID || tc.Flags != rec.Trace.Flags {
				t.Errorf("injected traceparent = %q, want trace %s span %s", out.Get("Traceparent"), rec.Trace.TraceID, rec.Trace.SpanID)
			}
			if got := out.Get("Tracestate"); got != tt.wantState {
				t.Errorf("injected tracestate = %q, want %q", got, tt.wantState)
			}
		})
	}
}

func TestEndUpdatesMetricsAndLog(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	on := true
	cfg := config.Observe{AccessLog: &config.AccessLog{Enabled: &on, Format: config.AccessLogJSON, Buffer: 64}}
	o := newTestObserver(t, cfg, Options{Version: "t", AccessLogWriter: &out})
	rm := o.Metrics.Route("orders", "shop")
	type req struct {
		route  *RouteMetrics
		method string
		status int
	}
	reqs := []req{{rm, "GET", 200}, {rm, "GET", 200}, {rm, "POST", 500}, {nil, "GET", 404}}
	for _, r := range reqs {
		rec := &Record{Method: r.method, Path: "/orders", ClientIP: netip.MustParseAddr("::1")}
		o.Start(context.Background(), http.Header{}, rec)
		rec.Route, rec.Status = r.route, r.status
		o.End(rec)
		if rec.Duration <= 0 {
			t.Errorf("End() left Duration = %v, want measured", rec.Duration)
		}
	}
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"orders", "GET", "2xx", "shop"}, 2},
		{[]string{"orders", "POST", "5xx", "shop"}, 1},
		{[]string{"", "GET", "4xx", ""}, 1},
	} {
		if got := testutil.ToFloat64(o.Metrics.requests.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("gantry_http_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := histogramCount(t, o.Metrics, "gantry_http_request_duration_seconds", map[string]string{"route": "orders", "upstream": "shop"}); got != 3 {
		t.Errorf("duration count{orders} = %d, want 3", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.AccessLog.Close(ctx); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(reqs) {
		t.Fatalf("access log lines = %d, want %d", len(lines), len(reqs))
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d not JSON: %v", i, err)
		}
		if m["status"] != float64(reqs[i].status) || m["trace_id"] == "" || m["client_ip"] != "::1" {
			t.Errorf("line %d = %s, want status %d, a trace id and client ::1", i, line, reqs[i].status)
		}
	}
}

func TestObserverSharesMetricsAcrossReload(t *testing.T) {
	t.Parallel()
	first := newTestObserver(t, config.Observe{}, Options{Version: "t"})
	rm := first.Metrics.Route("orders", "shop")
	first.End(&Record{Method: "GET", Route: rm, Status: 200, Duration: time.Millisecond})
	// A reload that changes the observe section builds a new Observer on the same metrics.
	second := newTestObserver(t, config.Observe{}, Options{Version: "t", Metrics: first.Metrics})
	if second.Metrics.Route("orders", "shop") != rm {
		t.Fatalf("Route() on the shared metrics returned a new handle, want the existing one")
	}
	second.End(&Record{Method: "GET", Route: rm, Status: 200, Duration: time.Millisecond})
	if got := testutil.ToFloat64(second.Metrics.requests.WithLabelValues("orders", "GET", "2xx", "shop")); got != 2 {
		t.Errorf("requests after two observers = %v, want 2", got)
	}
	if err := second.Reopen(); err != nil {
		t.Errorf("Reopen() without an access log = %v, want nil", err)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	on := true
	_, err := New(config.Observe{AccessLog: &config.AccessLog{Enabled: &on, Output: t.TempDir() + "/no/such/dir/log"}}, Options{})
	if err == nil {
		t.Errorf("New() with an unopenable access log error = nil, want one")
	}
	_, err = New(config.Observe{Tracing: &config.Tracing{OTLPEndpoint: "http://127.0.0.1:1", Protocol: "carrier-pigeon"}}, Options{})
	if err == nil {
		t.Errorf("New() with an unknown protocol error = nil, want one")
	}
}

func BenchmarkEndMetricsOnly(b *testing.B) {
	o := newTestObserver(b, config.Observe{}, Options{Version: "b"})
	rm := o.Metrics.Route("orders", "shop")
	rec := &Record{Method: "GET", Route: rm, Status: 200, BytesOut: 100, Start: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		rec.Duration = 0
		o.End(rec)
	}
}

func BenchmarkEndWithAccessLog(b *testing.B) {
	on := true
	cfg := config.Observe{AccessLog: &config.AccessLog{Enabled: &on, Format: config.AccessLogJSON, Buffer: config.DefaultAccessLogBuffer}}
	o := newTestObserver(b, cfg, Options{Version: "b", AccessLogWriter: discard{}})
	rm := o.Metrics.Route("orders", "shop")
	rec := testRecord(o.Metrics)
	rec.Route = rm
	// A success: an error status would also be copied into the dashboard's
	// recent-errors ring (BenchmarkEndRecordsError measures that).
	rec.Status, rec.Reason = 200, ""
	b.ReportAllocs()
	for b.Loop() {
		rec.Duration = 0
		o.End(rec)
	}
	b.StopTimer()
	b.ReportMetric(float64(o.AccessLog.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkStartEnd is a whole request's observation with tracing off: request ID,
// traceparent parse, new span id, traceparent injection, metrics, and the access log
// on or off.
func BenchmarkStartEnd(b *testing.B) {
	on := true
	for _, bc := range []struct {
		name string
		cfg  config.Observe
	}{
		{name: "log=off", cfg: config.Observe{}},
		{name: "log=on", cfg: config.Observe{AccessLog: &config.AccessLog{Enabled: &on, Format: config.AccessLogJSON, Buffer: config.DefaultAccessLogBuffer}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			o := newTestObserver(b, bc.cfg, Options{Version: "b", AccessLogWriter: discard{}})
			rm := o.Metrics.Route("orders", "shop")
			in := http.Header{"Traceparent": {validTP}, "X-Request-Id": {"f47ac10b-58cc-4372-a567-0e02b2c3d479"}}
			out := http.Header{}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				rec := Record{Method: "GET", Path: "/orders", Host: "api"}
				o.Start(ctx, in, &rec)
				rec.Inject(out)
				rec.Route, rec.Status = rm, 200
				o.End(&rec)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
