package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gantrygw/gantry/internal/config"
)

// Observer is the one object the gateway talks to per request: Start when a request
// arrives, Record.Inject on the outbound request, End when it is done. It holds the
// process's Metrics, the Tracer (nil when tracing is off) and the AccessLog (nil when
// off). Safe for concurrent use; Close once at shutdown.
type Observer struct {
	Metrics   *Metrics
	Tracer    *Tracer
	AccessLog *AccessLog

	logger *slog.Logger
}

// Options are what New needs besides the config.
type Options struct {
	// Logger receives the observer's own errors (access-log writes); nil discards them.
	Logger *slog.Logger
	// Version is the build version for gantry_build_info and the service.version resource.
	Version string
	// Metrics reuses metrics across observers (a reload that changes the observe section
	// builds a new Observer but must keep counting into the same registry); nil: new.
	Metrics *Metrics
	// AccessLogWriter replaces the configured access-log output (tests, embedding).
	AccessLogWriter io.Writer
	// FlushInterval overrides DefaultFlushInterval of the access log.
	FlushInterval time.Duration
}

// New builds an Observer from the observe section. Tracing and the access log are
// started only when configured; nothing is dialled until the first span export.
func New(cfg config.Observe, opts Options) (*Observer, error) {
	o := &Observer{Metrics: opts.Metrics, logger: opts.Logger}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(opts.Version)
	}
	if cfg.Tracing.On() {
		t, err := NewTracer(context.Background(), cfg.Tracing, opts.Version)
		if err != nil {
			return nil, fmt.Errorf("observe: %w", err)
		}
		o.Tracer = t
	}
	if cfg.AccessLog.On() {
		l, err := NewAccessLog(cfg.AccessLog, AccessLogOptions{
			Writer:        opts.AccessLogWriter,
			Dropped:       o.Metrics.dropped,
			Logger:        o.logger,
			FlushInterval: opts.FlushInterval,
		})
		if err != nil {
			if o.Tracer != nil {
				_ = o.Tracer.Shutdown(context.Background())
			}
			return nil, fmt.Errorf("observe: %w", err)
		}
		o.AccessLog = l
	}
	return o, nil
}

// Start begins observing a request whose Method, Host, Path and ClientIP are already in
// rec: it sets rec.Start (when zero), rec.RequestID (the incoming X-Request-Id when
// valid, else a new one) and rec.Trace, continuing the incoming traceparent (a
// malformed one starts a new trace). When tracing is on it opens the server span and
// returns a context carrying it; otherwise ctx is returned as is and nothing allocates
// beyond a new request ID.
//
// With tracing off the gateway still takes part in the trace: it gets its own span id,
// forwarded as the parent, and keeps the incoming flags; a new trace is marked sampled,
// leaving the decision to the services behind the gateway rather than suppressing
// their parent-based samplers.
func (o *Observer) Start(ctx context.Context, h HeaderGetter, rec *Record) context.Context {
	if rec.Start.IsZero() {
		rec.Start = time.Now()
	}
	rec.RequestID = RequestID(h.Get(RequestIDHeader))
	parent, ok := ParseTraceparent(h.Get(TraceparentHeader))
	if ok {
		// §3.3: tracestate is only meaningful beside a valid traceparent.
		if ts := h.Get(TracestateHeader); ts != "" && ValidTracestate(ts) {
			parent.State = ts
		}
		rec.ParentSpanID = parent.SpanID
	}
	if o.Tracer != nil {
		return o.Tracer.start(ctx, parent, ok, rec)
	}
	if ok {
		rec.Trace = TraceContext{TraceID: parent.TraceID, SpanID: newSpanID(), Flags: parent.Flags, State: parent.State}
	} else {
		rec.Trace = TraceContext{TraceID: newTraceID(), SpanID: newSpanID(), Flags: FlagSampled}
	}
	return ctx
}

// End finishes a request: one metrics update on rec.Route (the unmatched bucket when
// nil), the span's end, one access-log line. It measures rec.Duration from rec.Start
// when zero. It does not block and, with tracing off, does not allocate. rec may be
// reused once End returns.
func (o *Observer) End(rec *Record) {
	if rec.Duration == 0 && !rec.Start.IsZero() {
		rec.Duration = time.Since(rec.Start)
	}
	rm := rec.Route
	if rm == nil {
		rm = o.Metrics.noRoute
	}
	rm.observe(rec.Method, rec.Status, rec.Duration, rec.BytesIn, rec.BytesOut)
	if shouldRecord(rec) {
		o.Metrics.recent.add(rec)
	}
	if rec.span != nil && o.Tracer != nil {
		o.Tracer.end(rec)
	}
	if o.AccessLog != nil {
		o.AccessLog.Log(rec)
	}
}

// Handler serves the metrics (see Metrics.Handler).
func (o *Observer) Handler() http.Handler { return o.Metrics.Handler() }

// Reopen reopens the access-log file (log rotation, SIGHUP); a no-op without one.
func (o *Observer) Reopen() error {
	if o.AccessLog == nil {
		return nil
	}
	return o.AccessLog.Reopen()
}

// Close flushes the access log and the queued spans, waiting at most until ctx is
// done. Metrics stay usable (they may be shared with a newer Observer).
func (o *Observer) Close(ctx context.Context) error {
	var errs []error
	if o.AccessLog != nil {
		errs = append(errs, o.AccessLog.Close(ctx))
	}
	if o.Tracer != nil {
		errs = append(errs, o.Tracer.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
