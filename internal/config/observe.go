package config

import (
	"net/url"
	"strings"
)

// Observe configures tracing and the access log. Metrics are always collected; they
// are served by the admin listener.
type Observe struct {
	At `yaml:"-"`
	// Tracing exports OpenTelemetry spans over OTLP; nil means off (W3C trace context is
	// still propagated and the trace id still logged).
	Tracing *Tracing `yaml:"tracing"`
	// AccessLog writes one structured line per request; nil means off.
	AccessLog *AccessLog `yaml:"access_log"`
}

// Tracing protocols.
const (
	TracingHTTP = "http"
	TracingGRPC = "grpc"
)

// Tracing configures span export.
type Tracing struct {
	At `yaml:"-"`
	// OTLPEndpoint is the collector URL, e.g. "http://127.0.0.1:4318" (http) or
	// "http://127.0.0.1:4317" (grpc); an http scheme means plaintext, https means TLS. Required.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// Protocol is http (default, OTLP/HTTP protobuf) or grpc.
	Protocol string `yaml:"protocol"`
	// SampleRatio is the share of new traces recorded, 0..1; default 1. A request that
	// carries a traceparent follows its sampled flag instead (parent-based sampling).
	SampleRatio *float64 `yaml:"sample_ratio"`
	// ServiceName is the service.name resource attribute; default "gantry".
	ServiceName string `yaml:"service_name"`
	// Headers are sent with every export (collector authentication).
	Headers map[string]string `yaml:"headers"`
}

// AccessLog formats and outputs.
const (
	AccessLogJSON   = "json"
	AccessLogText   = "text"
	AccessLogStdout = "stdout"
	AccessLogStderr = "stderr"
)

// AccessLog configures the access log.
type AccessLog struct {
	At `yaml:"-"`
	// Enabled defaults to true when the access_log section is present.
	Enabled *bool `yaml:"enabled"`
	// Output is stdout (default), stderr or a file path (appended to, reopened on SIGHUP).
	Output string `yaml:"output"`
	// Format is json (default) or text (logfmt-style key=value).
	Format string `yaml:"format"`
	// Buffer is how many records may wait for the writer; beyond it records are dropped
	// and counted, so logging never stalls requests. Default 8192.
	Buffer int `yaml:"buffer"`
}

// On reports whether access logging is configured and enabled; nil-safe.
func (a *AccessLog) On() bool { return a != nil && (a.Enabled == nil || *a.Enabled) }

// On reports whether span export is configured; nil-safe.
func (t *Tracing) On() bool { return t != nil && t.OTLPEndpoint != "" }

// Defaults of the observe section.
const (
	DefaultServiceName     = "gantry"
	DefaultAccessLogBuffer = 8192
	maxAccessLogBuffer     = 1 << 20
)

// defaultObserve fills defaults of the observe section.
func defaultObserve(c *Config) {
	o := &c.Observe
	if t := o.Tracing; t != nil {
		if t.Protocol == "" {
			t.Protocol = TracingHTTP
		}
		if t.SampleRatio == nil {
			one := 1.0
			t.SampleRatio = &one
		}
		if t.ServiceName == "" {
			t.ServiceName = DefaultServiceName
		}
	}
	if a := o.AccessLog; a != nil {
		if a.Enabled == nil {
			on := true
			a.Enabled = &on
		}
		if a.Output == "" {
			a.Output = AccessLogStdout
		}
		if a.Format == "" {
			a.Format = AccessLogJSON
		}
		if a.Buffer == 0 {
			a.Buffer = DefaultAccessLogBuffer
		}
	}
}

// validateObserve adds every problem of the observe section to ps.
func validateObserve(c *Config, ps *Problems) {
	o := &c.Observe
	if t := o.Tracing; t != nil {
		switch t.Protocol {
		case TracingHTTP, TracingGRPC:
		default:
			ps.AddField(t.At, "protocol", "unknown protocol %q (known: grpc, http)", t.Protocol)
		}
		if t.OTLPEndpoint == "" {
			ps.AddField(t.At, "otlp_endpoint", "required when tracing is configured")
		} else if u, err := url.Parse(t.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.AddField(t.At, "otlp_endpoint", "want an http:// or https:// URL with a host, got %q", t.OTLPEndpoint)
		}
		if r := t.SampleRatio; r != nil && !(*r >= 0 && *r <= 1) {
			ps.AddField(t.At, "sample_ratio", "must be between 0 and 1, got %v", *r)
		}
		for k := range t.Headers {
			if k == "" || strings.ContainsAny(k, " \t\r\n:") {
				ps.AddField(t.At, "headers", "invalid header name %q", k)
			}
		}
	}
	if a := o.AccessLog; a != nil {
		switch a.Format {
		case AccessLogJSON, AccessLogText:
		default:
			ps.AddField(a.At, "format", "unknown format %q (known: json, text)", a.Format)
		}
		if strings.TrimSpace(a.Output) == "" {
			ps.AddField(a.At, "output", "want stdout, stderr or a file path")
		}
		if a.Buffer < 1 || a.Buffer > maxAccessLogBuffer {
			ps.AddField(a.At, "buffer", "must be between 1 and %d, got %d", maxAccessLogBuffer, a.Buffer)
		}
	}
}
