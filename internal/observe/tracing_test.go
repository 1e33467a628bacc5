package observe

import (
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/gantrygw/gantry/internal/config"
)

// spanSink collects spans a receiver got.
type spanSink struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
	paths    []string
	got      chan struct{}
}

func newSpanSink() *spanSink { return &spanSink{got: make(chan struct{}, 100)} }

func (s *spanSink) add(path string, req *collectortrace.ExportTraceServiceRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths = append(s.paths, path)
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				s.services = append(s.services, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			s.spans = append(s.spans, ss.GetSpans()...)
		}
	}
	select {
	case s.got <- struct{}{}:
	default:
	}
}

func (s *spanSink) snapshot() ([]*tracepb.Span, []string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*tracepb.Span(nil), s.spans...), append([]string(nil), s.services...), append([]string(nil), s.paths...)
}

// otlpHTTPReceiver is a real OTLP/HTTP endpoint decoding protobuf exports.
func otlpHTTPReceiver(t *testing.T, sink *spanSink) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
			http.Error(w, "content type "+ct, http.StatusUnsupportedMediaType)
			return
		}
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sink.add(r.URL.Path, &req)
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type grpcReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	sink *spanSink
}

func (g *grpcReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	g.sink.add("grpc", req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// otlpGRPCReceiver is a real grpc-go OTLP trace service on loopback.
func otlpGRPCReceiver(t *testing.T, sink *spanSink) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(s, &grpcReceiver{sink: sink})
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return "http://" + ln.Addr().String()
}

// attrs flattens a span's attributes to strings (ints in decimal).
func attrs(sp *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range sp.GetAttributes() {
		v := kv.GetValue()
		if _, ok := v.GetValue().(*commonpb.AnyValue_IntValue); ok {
			m[kv.GetKey()] = strconv.FormatInt(v.GetIntValue(), 10)
			continue
		}
		m[kv.GetKey()] = v.GetStringValue()
	}
	return m
}

// waitSpans waits until the sink holds n spans or the deadline passes.
func waitSpans(t *testing.T, sink *spanSink, n int) []*tracepb.Span {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		spans, _, _ := sink.snapshot()
		if len(spans) >= n {
			return spans
		}
		select {
		case <-sink.got:
		case <-deadline:
			t.Fatalf("receiver got %d spans within 10s, want %d", len(spans), n)
		}
	}
}

func tracingObserver(t *testing.T, endpoint, protocol string, ratio float64) *Observer {
	t.Helper()
	cfg := config.Observe{Tracing: &config.Tracing{
		OTLPEndpoint: endpoint, Protocol: protocol, SampleRatio: &ratio, ServiceName: "gantry-test",
		Headers: map[string]string{"x-token": "t"},
	}}
	return newTestObserver(t, cfg, Options{Version: "v0.0.1"})
}

// request runs one observed request through o, as the gateway would.
func request(t *testing.T, o *Observer, in http.Header, route *RouteMetrics, status int, reason string) (*Record, http.Header) {
	t.Helper()
	rec := &Record{Method: "GET", Host: "api.example.com", Path: "/orders/42", ClientIP: netip.MustParseAddr("127.0.0.1")}
	ctx := o.Start(context.Background(), in, rec)
	if o.Tracer != nil && !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		t.Errorf("Start() context carries no span with tracing on")
	}
	out := http.Header{}
	rec.Inject(out)
	rec.Route, rec.Status, rec.Target, rec.Reason, rec.Retries = route, status, "10.0.0.1:8080", reason, 1
	o.End(rec)
	return rec, out
}

func TestTracingOTLPHTTP(t *testing.T) {
	t.Parallel()
	sink := newSpanSink()
	srv := otlpHTTPReceiver(t, sink)
	// A ratio of 0 shows that an incoming sampled flag wins (parent-based sampling).
	o := tracingObserver(t, srv.URL, config.TracingHTTP, 0)
	route := o.Metrics.Route("orders", "shop")

	rec, out := request(t, o, http.Header{"Traceparent": {validTP}, "Tracestate": {"rojo=1"}}, route, 502, "upstream_connect_failed")
	// Unsampled parent: no span exported, context still propagated.
	unsampled := "00-" + validTID + "-" + validSID + "-00"
	rec2, out2 := request(t, o, http.Header{"Traceparent": {unsampled}}, route, 200, "")
	// No parent and ratio 0: not sampled either.
	request(t, o, http.Header{}, route, 200, "")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Tracer.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush() error = %v", err)
	}
	spans := waitSpans(t, sink, 1)
	if len(spans) != 1 {
		t.Fatalf("receiver got %d spans, want 1 (only the sampled request)", len(spans))
	}
	sp := spans[0]
	if got := TraceID(sp.GetTraceId()); got.String() != validTID {
		t.Errorf("span trace id = %s, want the incoming %s", got, validTID)
	}
	if got := SpanID(sp.GetParentSpanId()); got.String() != validSID {
		t.Errorf("span parent id = %s, want the incoming span %s", got, validSID)
	}
	if got := SpanID(sp.GetSpanId()); got != rec.Trace.SpanID {
		t.Errorf("span id = %s, want Record.Trace.SpanID %s", got, rec.Trace.SpanID)
	}
	if sp.GetName() != "GET orders" || sp.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("span name, kind = %q, %v, want \"GET orders\", server", sp.GetName(), sp.GetKind())
	}
	if sp.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("span status = %v, want error for a 502", sp.GetStatus().GetCode())
	}
	if sp.GetTraceState() != "rojo=1" {
		t.Errorf("span trace state = %q, want rojo=1", sp.GetTraceState())
	}
	want := map[string]string{
		"http.request.method": "GET", "url.path": "/orders/42", "server.address": "api.example.com",
		"http.response.status_code": "502", "gantry.route": "orders", "gantry.upstream": "shop",
		"gantry.target": "10.0.0.1:8080", "error.type": "upstream_connect_failed", "gantry.request_id": rec.RequestID,
	}
	got := attrs(sp)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, got[k], v)
		}
	}
	_, services, paths := sink.snapshot()
	if len(services) == 0 || services[0] != "gantry-test" || paths[0] != "/v1/traces" {
		t.Errorf("service.name, path = %v, %v, want gantry-test, /v1/traces", services, paths)
	}
	// The outbound traceparent names the gateway's span as parent, for both requests.
	for _, c := range []struct {
		name string
		out  http.Header
		rec  *Record
		flag string
	}{{"sampled", out, rec, "01"}, {"unsampled", out2, rec2, "00"}} {
		wantTP := "00-" + validTID + "-" + c.rec.Trace.SpanID.String() + "-" + c.flag
		if got := c.out.Get("Traceparent"); got != wantTP {
			t.Errorf("%s: outbound traceparent = %s, want %s", c.name, got, wantTP)
		}
	}
	if out.Get("Tracestate") != "rojo=1" {
		t.Errorf("outbound tracestate = %q, want rojo=1", out.Get("Tracestate"))
	}
}

func TestTracingOTLPGRPC(t *testing.T) {
	t.Parallel()
	sink := newSpanSink()
	endpoint := otlpGRPCReceiver(t, sink)
	o := tracingObserver(t, endpoint, config.TracingGRPC, 1)
	rec, _ := request(t, o, http.Header{}, o.Metrics.Route("users", "accounts"), 200, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Tracer.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush() error = %v", err)
	}
	spans := waitSpans(t, sink, 1)
	sp := spans[0]
	if got := TraceID(sp.GetTraceId()); got != rec.Trace.TraceID {
		t.Errorf("span trace id = %s, want the new trace %s", got, rec.Trace.TraceID)
	}
	if len(sp.GetParentSpanId()) != 0 {
		t.Errorf("span parent = %x, want none for a new trace", sp.GetParentSpanId())
	}
	if sp.GetName() != "GET users" || sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("span name, status = %q, %v, want \"GET users\", not error", sp.GetName(), sp.GetStatus().GetCode())
	}
}

func BenchmarkStartEndTracingSampled(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	b.Cleanup(srv.Close) // registered first, runs after the observer's Close flushed to it
	one := 1.0
	o := newTestObserver(b, config.Observe{Tracing: &config.Tracing{OTLPEndpoint: srv.URL, Protocol: config.TracingHTTP, SampleRatio: &one}}, Options{})
	rm := o.Metrics.Route("orders", "shop")
	in := http.Header{"Traceparent": {validTP}}
	out := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		rec := Record{Method: "GET", Path: "/orders", Host: "api"}
		o.Start(context.Background(), in, &rec)
		rec.Inject(out)
		rec.Route, rec.Status = rm, 200
		o.End(&rec)
	}
}
