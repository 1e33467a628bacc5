package balancer

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Hash-key kinds of upstreams.NAME.hash_key.
const (
	KeyHeader = "header" // a request header, "header:X-User"
	KeyCookie = "cookie" // a cookie, "cookie:session"
	KeyQuery  = "query"  // a query parameter, "query:tenant"
	KeyIP     = "ip"     // the client IP
	KeyPath   = "path"   // the request path
)

// Key says where the consistent_hash key comes from. Every request path (the net/http
// proxy, the HTTP/1.1 engine, HTTP/2 through the engine, explain) extracts it with
// Value and passes the result as Info.Key, so one request hashes to the same target
// whichever path serves it.
type Key struct {
	// Kind is one of KeyHeader, KeyCookie, KeyQuery, KeyIP, KeyPath.
	Kind string
	// Name is the header, cookie or query parameter name; "" for ip and path.
	Name string
}

// String renders the spec form, "header:X-User" or "ip".
func (k Key) String() string {
	if k.Name == "" {
		return k.Kind
	}
	return k.Kind + ":" + k.Name
}

// ParseKey parses a hash_key spec: "header:NAME", "cookie:NAME", "query:NAME", "ip" or
// "path". Errors wrap ErrBadKey.
func ParseKey(spec string) (Key, error) {
	kind, name, hasName := strings.Cut(strings.TrimSpace(spec), ":")
	switch kind {
	case KeyHeader, KeyCookie, KeyQuery:
		name = strings.TrimSpace(name)
		if name == "" {
			return Key{}, fmt.Errorf("%w %q: %s needs a name, as in %q", ErrBadKey, spec, kind, kind+":NAME")
		}
		return Key{Kind: kind, Name: name}, nil
	case KeyIP, KeyPath:
		if hasName {
			return Key{}, fmt.Errorf("%w %q: %s takes no name", ErrBadKey, spec, kind)
		}
		return Key{Kind: kind}, nil
	}
	return Key{}, fmt.Errorf("%w %q (want header:NAME, cookie:NAME, query:NAME, ip or path)", ErrBadKey, spec)
}

// KeySource is the header view Value reads; http.Header and the HTTP/1.1 engine's
// request both satisfy it (neither conversion allocates: both are pointer-shaped).
type KeySource interface {
	Get(name string) string
	Values(name string) []string
}

// Value returns the key of a request: h holds its header fields, rawQuery its query
// as sent, path its path before any rewrite, client its client address. Query names
// and values are unescaped and a cookie value loses its optional quotes (RFC 6265
// section 4.1.1), so "a%20b" and "a b" are one key. It allocates only for an IP key
// and for query text that needs unescaping.
func (k Key) Value(h KeySource, rawQuery, path string, client netip.Addr) string {
	switch k.Kind {
	case KeyHeader:
		return h.Get(k.Name)
	case KeyCookie:
		return CookieValue(h.Values("Cookie"), k.Name)
	case KeyQuery:
		return QueryValue(rawQuery, k.Name)
	case KeyIP:
		if !client.IsValid() {
			return ""
		}
		return client.String()
	case KeyPath:
		return path
	}
	return ""
}

// CookieValue finds the cookie name in Cookie field lines without parsing every
// cookie (http.Request.Cookie allocates a slice of them per call); "" if absent.
func CookieValue(lines []string, name string) string {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			n, v, ok := strings.Cut(part, "=")
			if !ok || n != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}

// QueryValue returns the first value of name in a raw query, unescaped; "" if absent.
func QueryValue(raw, name string) string {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		n, v, _ := strings.Cut(part, "=")
		if n != name {
			if strings.ContainsAny(n, "%+") {
				if un, err := url.QueryUnescape(n); err != nil || un != name {
					continue
				}
			} else {
				continue
			}
		}
		if strings.ContainsAny(v, "%+") {
			if un, err := url.QueryUnescape(v); err == nil {
				return un
			}
		}
		return v
	}
	return ""
}
