// Package problem is the gateway's error vocabulary for request-time failures and the
// one place they are rendered: as application/problem+json (RFC 9457), or as a gRPC
// status in trailers-only form when the client spoke gRPC.
//
// A Problem carries a status, a stable machine-readable Reason (documented, never
// changed once shipped), a client-safe Detail and the request ID. Internal detail
// (Go error strings, upstream addresses) never goes into a Problem: callers log it.
//
// The package is a leaf: stdlib only. Problems are plain values; the predefined ones
// are templates to copy (With... returns a copy), never mutated.
package problem
