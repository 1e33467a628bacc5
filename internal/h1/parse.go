package h1

import (
	"bytes"

	"github.com/gantrygw/gantry/internal/host"
)

// This file holds the hand-written head parsers. No library is used because the hot
// path must not allocate (net/textproto builds maps) and because the engine must be
// stricter than net/http: it rejects every ambiguity that could let the gateway and a
// backend disagree on where a message ends (request smuggling, RFC 9112 section 11.2).

// limits are the bounds a request head is checked against.
type limits struct {
	maxHeaderBytes int
	maxHeaderCount int
	maxURI         int
}

// Bounds that are not configurable.
const (
	maxMethodLen    = 32  // longest method accepted; registered ones are ≤ 7
	maxLeadingBlank = 4   // empty lines tolerated before a request line (RFC 9112 section 2.2)
	maxChunkLine    = 512 // chunk-size line including extensions
	maxTrailerBytes = 16 << 10
	maxTrailerCount = 32
	maxInterim      = 8 // 1xx responses before the final one
)

// headState is the incremental position of a head being scanned in a buffer, so a head
// that arrives in many small reads is scanned once, not once per read.
type headState struct {
	start int // first byte of the head, after skipped empty lines
	scan  int // next byte not yet searched for LF
	line  int // start of the current, incomplete line
	n     int // complete lines parsed, the start line included
	blank int // empty lines skipped before the start line
	hosts int // Host fields seen
	tes   int // Transfer-Encoding fields seen
}

// parseRequestHead continues scanning buf (which only ever grows between calls) for a
// request head starting at st.start. It returns end > 0, the offset just past the
// head's empty line, when the head is complete and valid; status > 0 with a cause when
// it must be rejected; and (0, 0, nil) when more bytes are needed. An h2c preface
// returns at the end of its first line with r.h2Preface set.
func parseRequestHead(r *Request, buf []byte, st *headState, lim *limits) (end, status int, err error) {
	for {
		i := bytes.IndexByte(buf[st.scan:], '\n')
		if i < 0 {
			break
		}
		nl := st.scan + i
		st.scan = nl + 1
		if nl == st.line || buf[nl-1] != '\r' {
			return 0, 400, errBareLF // RFC 9112 section 2.2 allows accepting LF; we do not
		}
		line := buf[st.line : nl-1]
		st.line = st.scan
		if nl-st.start > lim.maxHeaderBytes {
			if st.n == 0 {
				return 0, 414, errLineTooLong
			}
			return 0, 431, errLineTooLong
		}
		if st.n == 0 {
			if len(line) == 0 {
				if st.blank++; st.blank > maxLeadingBlank {
					return 0, 400, errBadRequestLine
				}
				st.start = st.scan
				continue
			}
			if status, err := parseRequestLine(r, line, lim); status != 0 {
				return 0, status, err
			}
			st.n = 1
			if r.h2Preface {
				return st.scan, 0, nil
			}
			continue
		}
		if len(line) == 0 {
			if status, err := finishRequest(r, st); status != 0 {
				return 0, status, err
			}
			return st.scan, 0, nil
		}
		if st.n > lim.maxHeaderCount {
			return 0, 431, errTooManyHeaders
		}
		f, ok := parseField(line)
		if !ok {
			return 0, 400, errBadHeader
		}
		if status, err := noteRequestField(r, st, f); status != 0 {
			return 0, status, err
		}
		r.fields = append(r.fields, f)
		st.n++
	}
	pending := len(buf) - st.start
	if st.n == 0 && pending > lim.maxURI+maxMethodLen+len("  HTTP/1.1") {
		return 0, 414, errLineTooLong
	}
	if pending > lim.maxHeaderBytes {
		if st.n == 0 {
			return 0, 414, errLineTooLong
		}
		return 0, 431, errHeadTooLarge
	}
	return 0, 0, nil
}

// parseRequestLine parses method SP request-target SP HTTP-version (RFC 9112 section 3)
// with exactly one SP between the parts.
func parseRequestLine(r *Request, line []byte, lim *limits) (int, error) {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 || sp1 > maxMethodLen || !isToken(line[:sp1]) {
		return 400, errBadRequestLine
	}
	m := line[:sp1]
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 { // HTTP/0.9 simple request, or garbage
		if len(rest) > lim.maxURI {
			return 414, errLineTooLong
		}
		return 400, errBadRequestLine
	}
	target, ver := rest[:sp2], rest[sp2+1:]
	if len(target) > lim.maxURI {
		return 414, errLineTooLong
	}
	if len(target) == 0 {
		return 400, errBadRequestLine
	}
	if string(m) == "PRI" && string(target) == "*" && string(ver) == "HTTP/2.0" {
		r.h2Preface = true // RFC 9113 section 3.4: h2c with prior knowledge
		return 0, nil
	}
	switch {
	case string(ver) == "HTTP/1.1":
		r.minor = 1
	case string(ver) == "HTTP/1.0":
		r.minor = 0
	case len(ver) == 8 && string(ver[:5]) == "HTTP/" && isDigit(ver[5]) && ver[6] == '.' && isDigit(ver[7]):
		return 505, errBadVersion
	default:
		return 400, errBadVersion
	}
	r.method = internMethod(m)
	r.target = b2s(target)
	switch {
	case r.method == "CONNECT":
		if !host.Valid(target) || bytes.IndexByte(target, ':') < 0 {
			return 400, errBadTarget
		}
		r.fallback = true
	case target[0] == '/':
		path, query, ok := splitOrigin(target)
		if !ok {
			return 400, errBadTarget
		}
		r.path, r.query, r.origin = b2s(path), b2s(query), r.target
	case len(target) == 1 && target[0] == '*':
		if r.method != "OPTIONS" {
			return 400, errBadTarget
		}
		r.fallback = true
	default:
		return parseAbsolute(r, target)
	}
	return 0, nil
}

// parseAbsolute handles the absolute-form (RFC 9112 section 3.2.2): the authority
// replaces Host; the path and query are sent upstream in origin-form.
func parseAbsolute(r *Request, t []byte) (int, error) {
	var rest []byte
	switch {
	case len(t) > 7 && equalFold(t[:7], "http://"):
		rest = t[7:]
	case len(t) > 8 && equalFold(t[:8], "https://"):
		rest = t[8:]
	default:
		return 400, errBadTarget
	}
	i := 0
	for i < len(rest) && rest[i] != '/' && rest[i] != '?' {
		i++
	}
	auth := rest[:i]
	if len(auth) == 0 || !host.Valid(auth) {
		return 400, errBadTarget
	}
	r.hostRaw = auth
	if i == len(rest) {
		r.path, r.origin = "/", "/"
		return 0, nil
	}
	if rest[i] == '?' { // "http://h?q" would need "/?q" built; too rare to allocate for
		return 400, errBadTarget
	}
	path, query, ok := splitOrigin(rest[i:])
	if !ok {
		return 400, errBadTarget
	}
	r.path, r.query, r.origin = b2s(path), b2s(query), b2s(rest[i:])
	return 0, nil
}

// splitOrigin validates an origin-form target (RFC 9112 section 3.2.1, RFC 3986): only
// visible ASCII, no '#', valid percent-escapes in the path.
func splitOrigin(t []byte) (path, query []byte, ok bool) {
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c < 0x21 || c > 0x7e || c == '#':
			return nil, nil, false
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return nil, nil, false
			}
		case c == '?':
			q := t[i+1:]
			for _, c := range q {
				if c < 0x21 || c > 0x7e || c == '#' {
					return nil, nil, false
				}
			}
			return t[:i], q, true
		}
	}
	return t, nil, true
}

// parseField splits a header field line (RFC 9112 section 5): a token name immediately
// followed by ':' (whitespace before the colon is a 400, section 5.1), a value with OWS
// trimmed and no CTL. A line starting with whitespace is obs-fold, rejected (section 5.2).
func parseField(line []byte) (field, bool) {
	if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
		return field{}, false
	}
	c := bytes.IndexByte(line, ':')
	if c <= 0 || !isToken(line[:c]) {
		return field{}, false
	}
	v := trimOWS(line[c+1:])
	if !validValue(v) {
		return field{}, false
	}
	return field{name: line[:c], value: v}, true
}

// noteRequestField records the fields that decide framing and routing.
func noteRequestField(r *Request, st *headState, f field) (int, error) {
	switch len(f.name) {
	case 4:
		if equalFold(f.name, "host") {
			if st.hosts++; st.hosts > 1 { // RFC 9112 section 3.2
				return 400, errBadHost
			}
			if !host.Valid(f.value) {
				return 400, errBadHost
			}
			if r.hostRaw == nil { // absolute-form authority wins
				r.hostRaw = f.value
			}
			r.hasHost = true
		}
	case 6:
		if equalFold(f.name, "expect") {
			if !equalFold(f.value, "100-continue") {
				return 417, errBadExpect
			}
			r.expect100 = true
		}
	case 7:
		if equalFold(f.name, "upgrade") && len(f.value) > 0 {
			r.upgrade = true // only honoured with "Connection: upgrade", see finishRequest
		}
	case 10:
		if equalFold(f.name, "connection") {
			for tok, rest := nextToken(f.value); tok != nil; tok, rest = nextToken(rest) {
				if !isToken(tok) || r.nconn == maxConnTokens {
					return 400, errBadHeader
				}
				r.conn[r.nconn] = tok
				r.nconn++
			}
		}
	case 14:
		// An underscore alias is read as the real field by CGI-style backends: refusing
		// it keeps framing unambiguous for every hop.
		if equalFold(f.name, "content_length") {
			return 400, errBadFraming
		}
		if equalFold(f.name, "content-length") {
			if r.hasCL { // even identical duplicates: nginx does the same
				return 400, errBadFraming
			}
			n, ok := parseDigits(f.value)
			if !ok {
				return 400, errBadFraming
			}
			r.hasCL, r.contentLength = true, n
		}
	case 17:
		if equalFold(f.name, "transfer_encoding") {
			return 400, errBadFraming
		}
		if equalFold(f.name, "transfer-encoding") {
			// Only a single, exact "chunked" is accepted: lists, other codings and
			// anything obfuscated are where smuggling lives (RFC 9112 section 6.1).
			if st.tes++; st.tes > 1 || !equalFold(f.value, "chunked") {
				return 400, errBadFraming
			}
		}
	}
	return 0, nil
}

// finishRequest applies the rules that need the whole head.
func finishRequest(r *Request, st *headState) (int, error) {
	if st.tes > 0 {
		if r.hasCL || r.minor == 0 { // RFC 9112 sections 6.1 and 6.3
			return 400, errBadFraming
		}
		r.contentLength = -1
	}
	if r.minor == 1 && !r.hasHost {
		return 400, errBadHost
	}
	r.host = hostOnly(r.hostRaw, &r.hostLower)
	var closeTok, keepTok, upgradeTok bool
	for i := 0; i < r.nconn; i++ {
		switch {
		case equalFold(r.conn[i], "close"):
			closeTok = true
		case equalFold(r.conn[i], "keep-alive"):
			keepTok = true
		case equalFold(r.conn[i], "upgrade"):
			upgradeTok = true
		}
	}
	r.upgrade = r.upgrade && upgradeTok
	r.keepAlive = !closeTok && (r.minor == 1 || keepTok)
	return 0, nil
}

// hostOnly returns the host without port and brackets, lower case. It lower-cases into
// scratch (reused per connection) rather than allocating.
func hostOnly(b []byte, scratch *[]byte) string {
	if len(b) > 0 && b[0] == '[' {
		if j := bytes.IndexByte(b, ']'); j > 0 {
			b = b[1:j]
		}
	} else if j := bytes.IndexByte(b, ':'); j >= 0 {
		b = b[:j]
	}
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			s := (*scratch)[:0]
			for _, c := range b {
				s = append(s, lower(c))
			}
			*scratch = s
			return b2s(s)
		}
	}
	return b2s(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
