package observe

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/gantrygw/gantry/internal/config"
)

// Tracer records the gateway's server spans with the OpenTelemetry SDK and exports them
// over OTLP. It has its own TracerProvider (never the global one). Safe for concurrent use.
//
// Export failures are reported through OpenTelemetry's process-wide error handler
// (otel.SetErrorHandler; by default the standard logger), the one global the SDK keeps;
// cmd/gantry may point it at its slog logger once at startup.
type Tracer struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

// NewTracer builds a tracer exporting to cfg.OTLPEndpoint over cfg.Protocol, sampling
// parent-based: a request carrying a traceparent follows its sampled flag, a new trace
// is recorded with probability cfg.SampleRatio. Nothing is dialled until the first export.
func NewTracer(ctx context.Context, cfg *config.Tracing, version string) (*Tracer, error) {
	if !cfg.On() {
		return nil, ErrTracingOff
	}
	u, err := url.Parse(cfg.OTLPEndpoint)
	if err != nil {
		return nil, fmt.Errorf("tracing: parse otlp_endpoint: %w", err)
	}
	var exp sdktrace.SpanExporter
	switch cfg.Protocol {
	case config.TracingGRPC:
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(u.Host)}
		if u.Scheme == "http" {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if len(cfg.Headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(cfg.Headers))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	case config.TracingHTTP, "":
		// WithEndpointURL would post to "/" for a bare host; collectors listen on
		// /v1/traces, so a URL without a path means that.
		path := u.Path
		if path == "" || path == "/" {
			path = "/v1/traces"
		}
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithURLPath(path)}
		if u.Scheme == "http" {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if len(cfg.Headers) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	default:
		return nil, fmt.Errorf("tracing: %w %q", ErrUnknownProtocol, cfg.Protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: create otlp exporter: %w", err)
	}
	ratio := 1.0
	if cfg.SampleRatio != nil {
		ratio = *cfg.SampleRatio
	}
	name := cfg.ServiceName
	if name == "" {
		name = config.DefaultServiceName
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", name),
		attribute.String("service.version", version),
	)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	return &Tracer{tp: tp, tracer: tp.Tracer("github.com/gantrygw/gantry")}, nil
}

// Shutdown exports the spans still queued and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if err := t.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// ForceFlush exports the spans queued so far.
func (t *Tracer) ForceFlush(ctx context.Context) error {
	if err := t.tp.ForceFlush(ctx); err != nil {
		return fmt.Errorf("tracing: flush: %w", err)
	}
	return nil
}

// start opens the server span, as a child of parent when hasParent, and fills rec.Trace.
func (t *Tracer) start(ctx context.Context, parent TraceContext, hasParent bool, rec *Record) context.Context {
	if hasParent {
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID(parent.TraceID),
			SpanID:     trace.SpanID(parent.SpanID),
			TraceFlags: trace.TraceFlags(parent.Flags),
			Remote:     true,
		})
		if parent.State != "" {
			if ts, err := trace.ParseTraceState(parent.State); err == nil {
				sc = sc.WithTraceState(ts)
			}
		}
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	method := NormalizeMethod(rec.Method)
	ctx, span := t.tracer.Start(ctx, method,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(rec.Start),
	)
	if span.IsRecording() {
		attrs := []attribute.KeyValue{
			attribute.String("url.path", strings.Clone(rec.Path)),
			attribute.String("server.address", strings.Clone(rec.Host)),
		}
		// Semantic conventions: unknown methods are "_OTHER", the original kept beside.
		if method == "OTHER" {
			attrs = append(attrs, attribute.String("http.request.method", "_OTHER"),
				attribute.String("http.request.method_original", strings.Clone(rec.Method)))
		} else {
			attrs = append(attrs, attribute.String("http.request.method", method))
		}
		if rec.ClientIP.IsValid() {
			attrs = append(attrs, attribute.String("client.address", rec.ClientIP.String()))
		}
		span.SetAttributes(attrs...)
	}
	sc := span.SpanContext()
	rec.Trace = TraceContext{
		TraceID: TraceID(sc.TraceID()),
		SpanID:  SpanID(sc.SpanID()),
		Flags:   byte(sc.TraceFlags()),
		State:   parent.State,
	}
	rec.span = span
	return ctx
}

// end finishes rec's span with the outcome.
func (t *Tracer) end(rec *Record) {
	span := rec.span
	if span == nil {
		return
	}
	rec.span = nil
	if span.IsRecording() {
		if name := rec.routeName(); name != "" {
			span.SetName(NormalizeMethod(rec.Method) + " " + name)
		}
		span.SetAttributes(
			attribute.Int("http.response.status_code", rec.Status),
			attribute.String("gantry.route", rec.routeName()),
			attribute.String("gantry.upstream", rec.upstreamName()),
			attribute.String("gantry.target", rec.Target),
			attribute.String("gantry.request_id", strings.Clone(rec.RequestID)),
			attribute.Int("gantry.retries", rec.Retries),
		)
		errType := ""
		switch {
		case rec.Reason != "":
			errType = rec.Reason
		case rec.Status == 0:
			errType = "no_response"
		case rec.Status >= 500:
			errType = strconv.Itoa(rec.Status)
		}
		if errType != "" {
			span.SetAttributes(attribute.String("error.type", errType))
		}
		// Server spans: 5xx is an error, 4xx is the client's (semantic conventions).
		if rec.Status >= 500 || rec.Status == 0 {
			span.SetStatus(codes.Error, errType)
		}
	}
	span.End(trace.WithTimestamp(rec.Start.Add(rec.Duration)))
}
