package proxy

import (
	"net/http"
	"net/netip"
	"strings"
)

// hopHeaders are the hop-by-hop fields of RFC 9110 section 7.6.1 plus the de-facto ones
// (Proxy-Connection, Keep-Alive) every proxy strips; they describe one connection and
// are never forwarded. Canonical forms, so deletes need no canonicalisation.
var hopHeaders = [...]string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// removeHopByHop deletes, in place, the hop-by-hop headers and every header named in
// Connection (RFC 9110 section 7.6.1). It reports whether TE asked for "trailers", the
// one TE value that must still travel (gRPC needs it). Callers set their own headers
// afterwards, so a client naming X-Forwarded-For or X-Request-Id in Connection only
// removes its own copy.
//
// Hand-written rather than textproto-based: tokens are matched against the map's keys
// case-insensitively, so nothing is canonicalised and nothing allocates.
func removeHopByHop(h http.Header) (teTrailers bool) {
	for _, v := range h["Connection"] {
		for v != "" {
			var tok string
			tok, v = nextToken(v)
			if tok == "" {
				continue
			}
			for k := range h {
				if asciiEqualFold(k, tok) {
					delete(h, k)
				}
			}
		}
	}
	for _, v := range h["Te"] {
		if hasToken(v, "trailers") {
			teTrailers = true
			break
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
	return teTrailers
}

// upgradeType returns the protocol a request or response asks to switch to: the Upgrade
// value when Connection lists "upgrade", else "".
func upgradeType(h http.Header) string {
	up := h["Upgrade"]
	if len(up) == 0 {
		return ""
	}
	for _, v := range h["Connection"] {
		if hasToken(v, "upgrade") {
			return up[0]
		}
	}
	return ""
}

// nextToken splits the first comma-separated element off v, trimmed of spaces and tabs.
func nextToken(v string) (tok, rest string) {
	i := strings.IndexByte(v, ',')
	if i < 0 {
		tok, rest = v, ""
	} else {
		tok, rest = v[:i], v[i+1:]
	}
	return strings.Trim(tok, " \t"), rest
}

// hasToken reports whether the comma-separated list v contains tok (case-insensitive).
func hasToken(v, tok string) bool {
	for v != "" {
		var t string
		t, v = nextToken(v)
		if asciiEqualFold(t, tok) {
			return true
		}
	}
	return false
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// forwarding holds what rewriteRequest needs besides the header.
type forwarding struct {
	clientIP string // textual client address, no brackets or zone
	v6       bool
	proto    string // "http" or "https"
	host     string // the client's Host
	via      string // "1.1 gantry" or "2 gantry"
	reqID    string
	upgrade  string // protocol the client asked to switch to, or ""
	trust    bool
}

// Via values per client protocol version (RFC 9110 section 7.6.3: the received
// protocol, then a pseudonym).
const (
	via10 = "1.0 gantry"
	via11 = "1.1 gantry"
	via2  = "2 gantry"
	via3  = "3 gantry"
)

func viaFor(major, minor int) string {
	switch {
	case major == 2:
		return via2
	case major == 3:
		return via3
	case major == 1 && minor == 0:
		return via10
	}
	return via11
}

// rewriteRequest turns a client request header into the outbound one, in place: strip
// hop-by-hop, then set the forwarding headers, so nothing a client names in Connection
// can remove what the gateway sets.
func rewriteRequest(h http.Header, f *forwarding, s *scratch) {
	teTrailers := removeHopByHop(h)
	if teTrailers {
		h["Te"] = s.one("trailers")
	}
	if f.upgrade != "" {
		// RFC 9110 section 7.8: Upgrade is hop-by-hop, so the proxy re-requests it on
		// its own connection to the target.
		h["Connection"] = s.one("Upgrade")
		h["Upgrade"] = s.one(f.upgrade)
	}

	// X-Forwarded-For: append to a trusted chain, else start a new one.
	if f.clientIP != "" {
		prev := h["X-Forwarded-For"]
		if f.trust && len(prev) > 0 {
			b := s.start()
			for _, v := range prev {
				if v = strings.TrimSpace(v); v != "" {
					b = append(b, v...)
					b = append(b, ", "...)
				}
			}
			b = append(b, f.clientIP...)
			h["X-Forwarded-For"] = s.one(s.finish(b))
		} else {
			h["X-Forwarded-For"] = s.one(f.clientIP)
		}
	} else if !f.trust {
		delete(h, "X-Forwarded-For")
	}
	if _, ok := h["X-Forwarded-Proto"]; !f.trust || !ok {
		h["X-Forwarded-Proto"] = s.one(f.proto)
	}
	if _, ok := h["X-Forwarded-Host"]; !f.trust || !ok {
		if f.host != "" {
			h["X-Forwarded-Host"] = s.one(f.host)
		} else {
			delete(h, "X-Forwarded-Host")
		}
	}

	// Forwarded (RFC 7239): one element per proxy, appended to a trusted list.
	b := s.start()
	if prev := h["Forwarded"]; f.trust && len(prev) > 0 {
		for _, v := range prev {
			if v = strings.TrimSpace(v); v != "" {
				b = append(b, v...)
				b = append(b, ", "...)
			}
		}
	}
	b = appendForwardedElement(b, f)
	h["Forwarded"] = s.one(s.finish(b))

	// Via is a chain of every intermediary, trusted or not (RFC 9110 section 7.6.3).
	if prev := h["Via"]; len(prev) > 0 {
		b := s.start()
		for _, v := range prev {
			if v = strings.TrimSpace(v); v != "" {
				b = append(b, v...)
				b = append(b, ", "...)
			}
		}
		b = append(b, f.via...)
		h["Via"] = s.one(s.finish(b))
	} else {
		h["Via"] = s.one(f.via)
	}

	if f.reqID != "" {
		h["X-Request-Id"] = s.one(f.reqID)
	}
	// Without a User-Agent the transport would add Go's; an empty value suppresses it.
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = s.one("")
	}
}

// appendForwardedElement appends `for=...;host=...;proto=...` (RFC 7239 section 4).
// IPv6 nodes are bracketed and quoted (section 6); a host that is not a token is quoted.
func appendForwardedElement(b []byte, f *forwarding) []byte {
	if f.clientIP != "" {
		b = append(b, "for="...)
		if f.v6 {
			b = append(b, `"[`...)
			b = append(b, f.clientIP...)
			b = append(b, `]"`...)
		} else {
			b = append(b, f.clientIP...)
		}
		b = append(b, ';')
	}
	if f.host != "" {
		b = append(b, "host="...)
		b = appendTokenOrQuoted(b, f.host)
		b = append(b, ';')
	}
	b = append(b, "proto="...)
	return append(b, f.proto...)
}

func appendTokenOrQuoted(b []byte, v string) []byte {
	token := true
	for i := 0; i < len(v); i++ {
		if !isTokenChar(v[i]) {
			token = false
			break
		}
	}
	if token {
		return append(b, v...)
	}
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		if c < 0x20 || c == 0x7f {
			continue // not representable; the server rejects such hosts anyway
		}
		b = append(b, c)
	}
	return append(b, '"')
}

// isTokenChar reports whether c is a tchar (RFC 9110 section 5.6.2).
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// clientAddr returns the client address as text without allocating when it is the
// direct peer (a substring of r.RemoteAddr), else formatted into s.
func clientAddr(remoteAddr string, ip netip.Addr, s *scratch) (text string, v6 bool) {
	host := remoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	peer, err := netip.ParseAddr(host)
	if !ip.IsValid() {
		if err != nil {
			return "", false
		}
		ip = peer
	}
	if err == nil && peer == ip && peer.Zone() == "" {
		return host, strings.IndexByte(host, ':') >= 0
	}
	text = s.finish(ip.WithZone("").AppendTo(s.start()))
	// Any textual IPv6 form (also ::ffff:a.b.c.d) needs brackets in Forwarded.
	return text, strings.IndexByte(text, ':') >= 0
}
