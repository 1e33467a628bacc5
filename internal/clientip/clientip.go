package clientip

import (
	"net/netip"
	"strings"
)

// Resolver decides which address of a request is the client's.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver trusting the given proxy prefixes (nil or empty: trust none).
// IPv4-mapped IPv6 prefixes are expected unmapped, as config.ParsePrefix returns them.
func New(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: append([]netip.Prefix(nil), trusted...)}
}

// Trusted reports whether a is a trusted proxy.
func (r *Resolver) Trusted(a netip.Addr) bool {
	if r == nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Client returns the client address of a request from peer carrying the (comma-joined)
// X-Forwarded-For value xff. It never believes xff from an untrusted peer.
func (r *Resolver) Client(peer netip.AddrPort, xff string) netip.Addr {
	client := peer.Addr().Unmap()
	if xff == "" || !r.Trusted(client) {
		return client
	}
	client, _ = r.walk(client, xff)
	return client
}

// ClientValues is Client for a header that arrived as several X-Forwarded-For fields;
// they are read as one list in order (RFC 9110 section 5.3).
func (r *Resolver) ClientValues(peer netip.AddrPort, xff []string) netip.Addr {
	client := peer.Addr().Unmap()
	if len(xff) == 0 || !r.Trusted(client) {
		return client
	}
	for i := len(xff) - 1; i >= 0; i-- {
		var more bool
		client, more = r.walk(client, xff[i])
		if !more {
			break
		}
	}
	return client
}

// walk consumes one X-Forwarded-For value right to left, starting from the trusted hop
// last. It returns the resolved address and whether the walk may continue into an
// earlier field (every hop so far was trusted and well-formed).
func (r *Resolver) walk(last netip.Addr, xff string) (netip.Addr, bool) {
	for xff != "" {
		var item string
		if i := strings.LastIndexByte(xff, ','); i >= 0 {
			item, xff = xff[i+1:], xff[:i]
		} else {
			item, xff = xff, ""
		}
		item = strings.TrimSpace(item)
		if item == "" {
			continue // "a, , b" and a trailing comma carry no hop
		}
		a, ok := parseHop(item)
		if !ok {
			return last, false
		}
		last = a
		if !r.Trusted(a) {
			return a, false
		}
	}
	return last, true
}

// parseHop parses an address, optionally with a port ("192.0.2.1:443", "[2001:db8::1]:80"),
// as some proxies write them. Zones are dropped: they never identify a remote client.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}
