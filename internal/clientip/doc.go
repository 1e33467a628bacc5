// Package clientip resolves the real client address of a request from the TCP peer
// and X-Forwarded-For, believing forwarding headers only from trusted proxies.
//
// The rule (the same as nginx's real_ip_recursive and Envoy's xff_num_trusted_hops
// spirit): if the peer is not a trusted proxy, the peer is the client and every
// X-Forwarded-For is ignored, so a client cannot spoof its address. If the peer is
// trusted, X-Forwarded-For is walked from right to left (the right-most entries were
// appended by the proxies closest to us), skipping trusted hops; the first untrusted
// address is the client. A malformed entry stops the walk: the last address we could
// attribute is the client. If every hop is trusted, the left-most one is.
//
// It does not parse the RFC 7239 Forwarded header, and it does not change headers:
// the proxy rewrites X-Forwarded-For upstream.
//
// A Resolver is immutable and safe for concurrent use; Client does not allocate. It
// runs once per request, before routing, on the listener's accept path.
package clientip
