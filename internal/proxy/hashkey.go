package proxy

import (
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// HashKey says which request fact a consistent_hash upstream hashes. The zero value
// extracts nothing.
//
// It is declared here until the balancer package provides balancer.Key/ParseKey; the
// gateway then only swaps the type of Options.HashKey.
type HashKey struct {
	src  keySource
	name string
}

type keySource uint8

const (
	keyNone keySource = iota
	keyHeader
	keyCookie
	keyQuery
	keyIP
	keyPath
)

// ParseHashKey parses a hash_key spec: header:NAME, cookie:NAME, query:NAME, ip, path, or
// "" (none).
func ParseHashKey(spec string) (HashKey, error) {
	switch spec {
	case "":
		return HashKey{}, nil
	case "ip":
		return HashKey{src: keyIP}, nil
	case "path":
		return HashKey{src: keyPath}, nil
	}
	kind, name, ok := strings.Cut(spec, ":")
	if !ok || name == "" {
		return HashKey{}, fmt.Errorf("parse hash key %q: %w", spec, ErrHashKey)
	}
	switch kind {
	case "header":
		return HashKey{src: keyHeader, name: textproto.CanonicalMIMEHeaderKey(name)}, nil
	case "cookie":
		return HashKey{src: keyCookie, name: name}, nil
	case "query":
		return HashKey{src: keyQuery, name: name}, nil
	}
	return HashKey{}, fmt.Errorf("parse hash key %q: %w", spec, ErrHashKey)
}

// String returns the spec ParseHashKey accepts.
func (k HashKey) String() string {
	switch k.src {
	case keyHeader:
		return "header:" + k.name
	case keyCookie:
		return "cookie:" + k.name
	case keyQuery:
		return "query:" + k.name
	case keyIP:
		return "ip"
	case keyPath:
		return "path"
	}
	return ""
}

// extract returns the key of r; clientIP is the client address text already computed.
// It allocates only for a query value that needs unescaping.
func (k HashKey) extract(r *http.Request, clientIP string) string {
	switch k.src {
	case keyHeader:
		if v := r.Header[k.name]; len(v) > 0 {
			return v[0]
		}
	case keyCookie:
		return cookieValue(r.Header, k.name)
	case keyQuery:
		return queryValue(r.URL.RawQuery, k.name)
	case keyIP:
		return clientIP
	case keyPath:
		return r.URL.Path
	}
	return ""
}

// cookieValue finds a cookie by name without parsing every cookie into values
// (http.Request.Cookie allocates a slice of them per call).
func cookieValue(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
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

// queryValue returns the first value of name in a raw query, unescaped.
func queryValue(raw, name string) string {
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
