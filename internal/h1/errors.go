package h1

import "errors"

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("h1: server closed")

// Internal failure causes, reported in Result.Err (the client sees a problem instead).
var (
	errBareLF        = errors.New("line ends in bare LF")
	errBareCR        = errors.New("bare CR")
	errLineTooLong   = errors.New("line too long")
	errBadChunk      = errors.New("malformed chunk")
	errBadTrailer    = errors.New("malformed trailer")
	errBodyTooLarge  = errors.New("request body exceeds limit")
	errBadResponse   = errors.New("malformed upstream response")
	errBadDecision   = errors.New("decision holds a value that cannot be sent")
	errNoProgress    = errors.New("read made no progress")
	errBufferFull    = errors.New("buffer full")
	errTooManyInterm = errors.New("too many interim responses")
	errUpstreamEarly = errors.New("upstream answered before the request body was sent")
)

// Parse failure causes.
var (
	errBadRequestLine = errors.New("malformed request line")
	errBadVersion     = errors.New("unsupported HTTP version")
	errBadTarget      = errors.New("malformed request target")
	errBadHeader      = errors.New("malformed header field")
	errBadHost        = errors.New("missing, duplicate or invalid Host")
	errBadExpect      = errors.New("unsupported expectation")
	errBadFraming     = errors.New("ambiguous or invalid message framing")
	errTooManyHeaders = errors.New("too many header fields")
	errHeadTooLarge   = errors.New("head too large")
)

var errNotImplemented = errors.New("not handled by the engine and no fallback configured")

var errRetryStatus = errors.New("upstream status is retryable")
