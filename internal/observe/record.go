package observe

import (
	"net/http"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Record is what the gateway knows about one request; it fills it during the request
// and hands it to Observer.End, which updates metrics, ends the span and logs. The
// gateway owns it (it may pool Records: nothing keeps a reference after End returns).
// The zero value is ready; Observer.Start fills RequestID and Trace.
type Record struct {
	// Start is when the request arrived; Observer.Start sets it to now when zero.
	Start time.Time
	// RequestID is the accepted incoming X-Request-Id or a new one (set by Start).
	RequestID string
	// Trace is the gateway's own span: the trace it belongs to, the gateway's span id
	// (the parent-id forwarded upstream) and flags (set by Start).
	Trace TraceContext
	// ParentSpanID is the incoming traceparent's span id; zero when the request started
	// a new trace.
	ParentSpanID SpanID
	// ClientIP is the client address after trusted-proxy resolution.
	ClientIP netip.Addr
	// Consumer is the authenticated consumer's name, "" if none.
	Consumer string
	Method   string
	Host     string
	Path     string
	// Route is the matched route's handle from Metrics.Route; nil when no route matched.
	Route *RouteMetrics
	// Target is the address of the last upstream target tried, "" if none.
	Target string
	// Status is the status sent to the client; 0 when none was sent (client gone).
	Status int
	// BytesIn and BytesOut are body bytes read from the client and sent to it.
	BytesIn  int64
	BytesOut int64
	// Duration is the whole exchange; End measures it from Start when zero.
	Duration time.Duration
	// UpstreamDuration is the time spent in upstream tries (all of them).
	UpstreamDuration time.Duration
	// Retries is the number of tries after the first.
	Retries int
	// Reason is the problem reason of a gateway-made error ("upstream_timeout", ...).
	Reason string

	span trace.Span // nil unless tracing is on
}

// Reset clears r for reuse.
func (r *Record) Reset() { *r = Record{} }

// HeaderGetter is the read side of a header set; http.Header satisfies it.
type HeaderGetter interface{ Get(key string) string }

// HeaderSetter is the write side of a header set; http.Header satisfies it.
type HeaderSetter interface{ Set(key, value string) }

var (
	_ HeaderGetter = http.Header(nil)
	_ HeaderSetter = http.Header(nil)
)

// Inject writes the gateway's traceparent (and the tracestate received, if any) into h,
// the header set of the outbound request: downstream, the gateway's span is the parent.
// It costs one allocation (the header value); the tracestate string is passed through.
func (r *Record) Inject(h HeaderSetter) {
	if !r.Trace.IsValid() {
		return
	}
	h.Set(TraceparentHeader, r.Trace.Traceparent())
	if r.Trace.State != "" {
		h.Set(TracestateHeader, r.Trace.State)
	}
}

// routeName and upstreamName read the route handle nil-safely.
func (r *Record) routeName() string {
	if r.Route == nil {
		return ""
	}
	return r.Route.name
}

func (r *Record) upstreamName() string {
	if r.Route == nil {
		return ""
	}
	return r.Route.upstream
}
