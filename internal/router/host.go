package router

import (
	"fmt"
	"strings"
)

type hostKind uint8

const (
	hostExact hostKind = iota
	hostWild
	hostAny
)

// hostPat is a compiled Match.Hosts entry. For a wildcard, name is the suffix with its
// leading dot (".example.com").
type hostPat struct {
	kind hostKind
	name string
}

// parseHost compiles one Match.Hosts entry: "api.example.com", "*.example.com" or "*".
// Names are lower-cased and a trailing dot (FQDN form) dropped.
func parseHost(h string) (hostPat, error) {
	n := strings.TrimSuffix(strings.ToLower(h), ".")
	switch {
	case n == "*":
		return hostPat{kind: hostAny}, nil
	case strings.HasPrefix(n, "*."):
		suf := n[1:]
		if len(suf) < 2 || strings.ContainsAny(suf, "*/ \t") || strings.Contains(suf, "..") {
			return hostPat{}, fmt.Errorf("host %q: want \"*.\" followed by a domain name: %w", h, ErrHost)
		}
		return hostPat{kind: hostWild, name: suf}, nil
	case n == "" || strings.ContainsAny(n, "*/ \t"):
		return hostPat{}, fmt.Errorf("host %q: want a name, \"*.\" and a domain name, or \"*\": %w", h, ErrHost)
	}
	return hostPat{kind: hostExact, name: n}, nil
}

// matches reports whether host (as hostKey returns it) matches the pattern. A wildcard
// matches one or more labels in front of its suffix ("*.example.com" matches
// "a.example.com" and "a.b.example.com", not "example.com"), as nginx and Envoy do.
func (hp hostPat) matches(host string) bool {
	switch hp.kind {
	case hostExact:
		return host == hp.name
	case hostWild:
		return len(host) > len(hp.name) && strings.HasSuffix(host, hp.name)
	}
	return true
}

// hostKey defends against a caller that passes a Host header as sent: it drops a port
// and a trailing dot (substrings, no allocation) and lower-cases (allocating, only
// when there is an upper-case letter).
func hostKey(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && allDigits(h[i+1:]) {
		// "[::1]:80" → "[::1]"; a bare IPv6 literal ("::1") keeps its last group.
		if h[0] == '[' && i > 0 && h[i-1] == ']' || strings.IndexByte(h, ':') == i {
			h = h[:i]
		}
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if 'A' <= h[i] && h[i] <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// tiersFor returns the route tiers that apply to host, most specific first: the exact
// name's, then those of the wildcards that match it (longest suffix first), then the
// any-host routes. The lists are built by Compile; a lookup is one map probe for an
// exact name, else one probe per dot in the name, from the left, so the first hit is the
// longest matching suffix.
func (r *Router) tiersFor(host string) []*tier {
	if t, ok := r.exact[host]; ok {
		return t
	}
	if len(r.wild) > 0 {
		for i := 1; i < len(host); i++ {
			if host[i] == '.' {
				if t, ok := r.wild[host[i:]]; ok {
					return t
				}
			}
		}
	}
	return r.any
}
