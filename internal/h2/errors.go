package h2

import "errors"

// Errors a handler sees from the request body or the ResponseWriter.
var (
	// ErrStreamReset: the client reset the stream or the connection ended.
	ErrStreamReset = errors.New("h2: stream reset")
	// ErrConnClosed: the connection is closed.
	ErrConnClosed = errors.New("h2: connection closed")
	// ErrBodyClosed: the handler closed the request body (or returned) before reading it.
	ErrBodyClosed = errors.New("h2: request body closed")
	// ErrContentLength: the handler wrote more than its declared Content-Length.
	ErrContentLength = errors.New("h2: wrote more than the declared Content-Length")
)

// errHeaderBlockTooLong ends a connection whose header block (HEADERS and its
// CONTINUATION frames) exceeds the byte budget, however the frames are sized.
var errHeaderBlockTooLong = errors.New("h2: header block too long")
