package observe

import "errors"

var (
	// ErrTracingOff is returned by NewTracer when the config has no OTLP endpoint.
	ErrTracingOff = errors.New("tracing is not configured")
	// ErrUnknownProtocol is returned for an OTLP protocol other than http or grpc.
	ErrUnknownProtocol = errors.New("unknown otlp protocol")
	// ErrClosed is returned by operations on a closed access log.
	ErrClosed = errors.New("access log closed")
)

// ErrAccessLogOff is returned by NewAccessLog when the config does not enable it.
var ErrAccessLogOff = errors.New("access log is not enabled")
