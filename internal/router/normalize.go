package router

import "strings"

// NormalizeOptions choose how NormalizePathWith treats percent-encoded slashes
// ("%2F") and backslashes ("%5C"). The zero value keeps both encoded: they are then
// data inside a segment, never separators, which is what the upstream most likely sees
// too (RFC 3986 section 2.2: encoded reserved characters are not equivalent to the
// raw ones).
type NormalizeOptions struct {
	// DecodeSlashes decodes %2F to "/" (a segment separator from then on, so it takes
	// part in dot-segment removal) and %5C to a raw "\" (data, not a separator).
	DecodeSlashes bool
	// RejectEncodedSlashes makes a path holding %2F or %5C invalid (ok=false); it wins
	// over DecodeSlashes.
	RejectEncodedSlashes bool
	// RejectBackslashes makes a path holding "\" raw or as %5C invalid, for upstreams
	// (IIS, some Windows file servers) that treat it as a separator.
	RejectBackslashes bool
}

// NormalizePath is NormalizePathWith with the zero NormalizeOptions (encoded slashes
// kept encoded).
func NormalizePath(p string) (clean string, ok bool) {
	return NormalizePathWith(p, NormalizeOptions{})
}

// NormalizePathWith returns the canonical form of the escaped request path p (what
// url.URL.EscapedPath returns, never the decoded url.URL.Path), which the gateway must
// route and authorise on. It runs before routing and every policy; a path that two
// components could read differently is the classic way past a route's auth.
//
// In order: percent-encodings are validated and those of unreserved characters
// (ALPHA DIGIT - . _ ~, RFC 3986 section 2.3) decoded, the others kept with upper-case
// hex (section 6.2.2.1); each byte is decoded at most once, so "%2561" stays "%2561".
// Then empty segments collapse ("//a" is "/a") and dot-segments are removed (section
// 5.2.4, so "%2e%2e" counts as ".."); a final "." or ".." leaves a trailing slash.
//
// ok is false, and clean "", for a path that does not start with "/", holds a raw
// control byte, NUL in any form ("%00"), a malformed percent-encoding, a ".." that would
// climb above the root ("/../x": RFC 3986 would clamp it, but a client sending it is
// probing), a dot-segment carrying parameters ("..;x", which Tomcat-style servers
// resolve as ".."), %2F/%5C when opts.RejectEncodedSlashes is set, or a backslash in
// any form when opts.RejectBackslashes is set.
//
// When p is already canonical it is returned as is, without allocating.
func NormalizePathWith(p string, opts NormalizeOptions) (clean string, ok bool) {
	if isCleanPath(p, opts) {
		return p, true
	}
	return normalizeSlow(p, opts)
}

// isCleanPath reports whether p is already in the form normalizeSlow produces. It may
// say false for a clean path (the slow path then returns an equal string); it must
// never say true for a path the slow path would change or reject.
func isCleanPath(p string, opts NormalizeOptions) bool {
	if len(p) == 0 || p[0] != '/' {
		return false
	}
	segStart := 1
	for i := 1; i < len(p); i++ {
		c := p[i]
		switch {
		case c < 0x20 || c == 0x7f || c == '\\' && opts.RejectBackslashes:
			return false
		case c == '%':
			if i+2 >= len(p) {
				return false
			}
			hi, lo := p[i+1], p[i+2]
			if !isUpperHex(hi) || !isUpperHex(lo) {
				return false
			}
			v := unhex(hi)<<4 | unhex(lo)
			if v == 0 || isUnreserved(v) {
				return false
			}
			if (v == '/' || v == '\\') && (opts.DecodeSlashes || opts.RejectEncodedSlashes) || v == '\\' && opts.RejectBackslashes {
				return false
			}
			i += 2
		case c == '/':
			seg := p[segStart:i]
			if seg == "" || isDotSegment(seg) || hasDotParam(seg) {
				return false
			}
			segStart = i + 1
		}
	}
	seg := p[segStart:]
	return !isDotSegment(seg) && !hasDotParam(seg)
}

// normalizeSlow decodes into a buffer, then rebuilds the segments; allocation is fine
// here, only a dirty path comes this way.
func normalizeSlow(p string, opts NormalizeOptions) (string, bool) {
	if len(p) == 0 || p[0] != '/' {
		return "", false
	}
	buf := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < 0x20 || c == 0x7f || c == '\\' && opts.RejectBackslashes {
			return "", false
		}
		if c != '%' {
			buf = append(buf, c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", false
		}
		v := unhex(p[i+1])<<4 | unhex(p[i+2])
		i += 2
		switch {
		case v == 0 || v == '\\' && opts.RejectBackslashes:
			return "", false
		case isUnreserved(v):
			buf = append(buf, v)
		case v == '/' || v == '\\':
			if opts.RejectEncodedSlashes {
				return "", false
			}
			if opts.DecodeSlashes {
				buf = append(buf, v)
				continue
			}
			buf = append(buf, '%', upperHex[v>>4], upperHex[v&15])
		default:
			buf = append(buf, '%', upperHex[v>>4], upperHex[v&15])
		}
	}

	// out doubles as the segment stack: "/a/b"; popping truncates at the last '/'.
	out := make([]byte, 1, len(buf)+1)
	out[0] = '/'
	trailing := false
	rest := buf[1:]
	for {
		j := indexByte(rest, '/')
		last := j < 0
		seg := rest
		if !last {
			seg = rest[:j]
		}
		s := string(seg) // the compiler does not allocate for these comparisons
		switch {
		case len(seg) == 0:
			trailing = last
		case s == ".":
			trailing = last
		case s == "..":
			if len(out) == 1 {
				return "", false // would climb above the root
			}
			out = out[:lastSlash(out)]
			if len(out) == 0 {
				out = out[:1]
			}
			trailing = last
		case hasDotParam(s):
			return "", false
		default:
			if len(out) > 1 {
				out = append(out, '/')
			}
			out = append(out, seg...)
			trailing = false
		}
		if last {
			break
		}
		rest = rest[j+1:]
	}
	if trailing && len(out) > 1 {
		out = append(out, '/')
	}
	if string(out) == p {
		return p, true
	}
	return string(out), true
}

func isDotSegment(s string) bool { return s == "." || s == ".." }

// hasDotParam reports a dot-segment followed by ";params" ("..;jsessionid=x"), which
// servers that strip path parameters before resolving dots read as a dot-segment.
func hasDotParam(s string) bool {
	if len(s) < 2 || s[0] != '.' {
		return false
	}
	i := strings.IndexByte(s, ';')
	return i > 0 && isDotSegment(s[:i])
}

// isUnreserved reports RFC 3986 section 2.3 unreserved characters.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

const upperHex = "0123456789ABCDEF"

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return 0
}
