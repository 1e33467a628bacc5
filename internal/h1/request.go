package h1

import "net/netip"

// maxConnTokens bounds the option names one request may list in Connection; a longer
// list is rejected rather than tracked, so the hop-by-hop filter stays allocation-free.
const maxConnTokens = 16

// field is one header field line: views into the head.
type field struct {
	name, value []byte
}

// Request is the engine's read-only view of one request head. Every string and byte
// slice it returns aliases the connection's read buffer and is valid only until
// Handler.Done returns; copy what must outlive the request. Not safe for concurrent use.
// Request satisfies router.Header and the read half of policy.Header.
type Request struct {
	method  string
	target  string
	path    string
	query   string
	origin  string // path[?query] as received, the form sent upstream by default
	host    string // lower case, no port
	hostRaw []byte // client's Host value, or the absolute-form authority
	hasHost bool
	minor   int

	fields        []field
	contentLength int64
	hasCL         bool
	keepAlive     bool
	expect100     bool
	upgrade       bool
	h2Preface     bool
	fallback      bool // asterisk-form, CONNECT
	conn          [maxConnTokens][]byte
	nconn         int

	remote    netip.AddrPort
	vals      []string
	hostLower []byte // scratch for lower-casing the host without an allocation
}

// reset prepares r for the next request, keeping its slices' capacity.
func (r *Request) reset() {
	fields, vals, hl, remote := r.fields[:0], r.vals[:0], r.hostLower[:0], r.remote
	*r = Request{fields: fields, vals: vals, hostLower: hl, remote: remote}
}

// Method returns the request method (a constant string for the registered methods).
func (r *Request) Method() string { return r.method }

// Target returns the raw request-target as received.
func (r *Request) Target() string { return r.target }

// Path returns the target's path, still percent-encoded and not normalised.
func (r *Request) Path() string { return r.path }

// RawQuery returns the target's query without '?', "" if none.
func (r *Request) RawQuery() string { return r.query }

// Host returns the request's host, lower case, without port ("" if absent). For an
// absolute-form target it is the target's host (RFC 9112 section 3.2.2).
func (r *Request) Host() string { return r.host }

// ProtoMinor returns 0 for HTTP/1.0 and 1 for HTTP/1.1.
func (r *Request) ProtoMinor() int { return r.minor }

// ContentLength returns the body length: -1 for a chunked body, 0 when there is none.
func (r *Request) ContentLength() int64 { return r.contentLength }

// RemoteAddr returns the TCP peer's address.
func (r *Request) RemoteAddr() netip.AddrPort { return r.remote }

// KeepAlive reports whether the client allows another request on the connection.
func (r *Request) KeepAlive() bool { return r.keepAlive }

// Header returns the value of the first field named name (case-insensitive), or nil.
func (r *Request) Header(name string) []byte {
	for i := range r.fields {
		if equalFold(r.fields[i].name, name) {
			return r.fields[i].value
		}
	}
	return nil
}

// Get returns the value of the first field named key as a string view, or "".
func (r *Request) Get(key string) string { return b2s(r.Header(key)) }

// Values returns the values of every field named key, in order (nil if none). The
// slice comes from a per-request arena: it stays valid until Done but must not be
// appended to.
func (r *Request) Values(key string) []string {
	start := len(r.vals)
	for i := range r.fields {
		if equalFold(r.fields[i].name, key) {
			r.vals = append(r.vals, b2s(r.fields[i].value))
		}
	}
	if len(r.vals) == start {
		return nil
	}
	return r.vals[start:len(r.vals):len(r.vals)]
}

// NumHeaders returns the number of header field lines.
func (r *Request) NumHeaders() int { return len(r.fields) }

// HeaderAt returns the i-th field line's name (as sent) and value (OWS trimmed).
func (r *Request) HeaderAt(i int) (name, value []byte) {
	return r.fields[i].name, r.fields[i].value
}

// listedInConnection reports whether name is an option of the Connection header.
func (r *Request) listedInConnection(name []byte) bool {
	for i := 0; i < r.nconn; i++ {
		if len(r.conn[i]) == len(name) && equalFoldBytes(r.conn[i], name) {
			return true
		}
	}
	return false
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// idempotent reports whether the method is idempotent (RFC 9110 section 9.2.2).
func idempotent(m string) bool {
	switch m {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// internMethod returns a constant string for the registered methods, so the common
// case keeps no view into the buffer.
func internMethod(b []byte) string {
	switch string(b) { // the compiler does not allocate for a switch on string(b)
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "OPTIONS":
		return "OPTIONS"
	case "CONNECT":
		return "CONNECT"
	case "TRACE":
		return "TRACE"
	}
	return b2s(b)
}
