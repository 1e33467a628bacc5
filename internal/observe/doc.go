// Package observe is what the gateway knows about its own traffic: Prometheus metrics,
// W3C trace context and OpenTelemetry spans, the access log, and request IDs.
//
// It does not serve anything by itself (the admin listener mounts Handler), does not
// decide anything about a request (policies and the proxy do), and keeps no global
// state: every process, and every test, builds its own Metrics on its own
// prometheus.Registry and its own OTel TracerProvider.
//
// # Main types
//
//   - Observer: the facade the gateway calls; holds Metrics, Tracer (nil when tracing is
//     off) and AccessLog (nil when off).
//   - Record: one request's facts, filled by the gateway, handed to Observer.End.
//   - Metrics, with pre-resolved handles RouteMetrics (per route and upstream),
//     TargetMetrics (per upstream target) and ListenerMetrics; TargetSource is the small
//     interface the gateway implements so target health and in-flight are read at scrape.
//   - TraceContext and ParseTraceparent / ValidTracestate: allocation-free W3C parsing.
//   - AccessLog: bounded lock-free ring, one writer goroutine, hand-written JSON/text.
//
// # Place in a request's path
//
// When a request arrives the gateway fills Record.Method/Host/Path/ClientIP and calls
// Observer.Start, which accepts or replaces X-Request-Id, continues or starts the
// trace and (tracing on) opens the server span. Before forwarding, Record.Inject writes
// the traceparent naming the gateway's span as parent. The proxy calls
// TargetMetrics.Observe once per try. At the end the gateway sets Route, Status, bytes,
// Target, Retries, Reason and calls Observer.End: one metrics update, the span's end,
// one access-log line.
//
// # Concurrency and cost
//
// Everything is safe for concurrent use. Handles (Metrics.Route, Target, Listener) are
// resolved when a snapshot is built, under a mutex; the request path then does no map
// lookup and builds no label strings: a request's counter is found by indexing
// [method][status class] in the route handle and created once on first use. With
// tracing off, Start allocates at most a new request ID and End allocates nothing;
// Log copies a fixed-size entry into the ring and never blocks (a full ring drops and
// counts). Metrics outlive reloads (pass Options.Metrics to a new Observer); removed
// routes and targets are swept with RetainRoutes / RetainTargets.
package observe
