package proxyproto

import "errors"

// Sentinel errors returned (wrapped) by ReadHeader. I/O failures keep their cause
// wrapped as well, so errors.Is(err, os.ErrDeadlineExceeded) still works.
var (
	// ErrNoHeader means the stream does not start with a PROXY v1 or v2 signature.
	ErrNoHeader = errors.New("no proxy protocol header")
	// ErrTruncated means the stream ended (or timed out) inside a header.
	ErrTruncated = errors.New("truncated proxy protocol header")
	// ErrLineTooLong means no CRLF was found within the 107 bytes v1 allows.
	ErrLineTooLong = errors.New("proxy protocol v1 line longer than 107 bytes")
	// ErrMalformedV1 means a v1 line does not match the grammar of the spec (section 2.1).
	ErrMalformedV1 = errors.New("malformed proxy protocol v1 line")
	// ErrVersion means a v2 header announces a version other than 2.
	ErrVersion = errors.New("unsupported proxy protocol version")
	// ErrCommand means a v2 header carries a command other than LOCAL or PROXY.
	ErrCommand = errors.New("unknown proxy protocol v2 command")
	// ErrFamily means a v2 header carries an unassigned address family or transport.
	ErrFamily = errors.New("unknown proxy protocol v2 address family")
	// ErrLength means a v2 length is shorter than its address block or above MaxV2Length.
	ErrLength = errors.New("invalid proxy protocol v2 length")
)
