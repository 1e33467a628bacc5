// Package proxyproto reads and writes PROXY protocol headers, versions 1 (text) and
// 2 (binary), as specified in HAProxy's doc/proxy-protocol.txt.
//
// What it does:
//   - ReadHeader parses one header from a bufio.Reader with the spec's strict limits
//     (a v1 line is at most 107 bytes, a v2 length at most MaxV2Length), failing on the
//     first byte that cannot belong to a header. v2 TLVs are skipped; UNIX and UNSPEC
//     addresses, LOCAL commands and v1 UNKNOWN lines yield a Header without addresses.
//   - AppendV1, AppendV2 and AppendV2Local encode headers into a caller's buffer
//     without allocating (the layer-4 proxy sends them to targets).
//   - NewListener wraps a net.Listener for listeners configured with proxy_protocol:
//     true; the accepted *Conn reports the header's addresses as RemoteAddr/LocalAddr.
//     The header is read lazily by the connection's own goroutine, bounded by a
//     timeout, so one slow client never blocks Accept.
//
// What it does not do: decide whom to trust (the spec requires the receiver to accept
// headers only from configured proxies and never to guess whether one is present; a
// listener either requires the header or does not use this package), interpret TLVs,
// or verify the CRC32C TLV.
//
// Concurrency: ReadHeader and the Append functions are pure over their arguments. A
// Conn is safe for concurrent use like any net.Conn; its header is read once.
//
// Place in the path: first thing after accept on a listener with proxy_protocol, for
// the HTTP server (through NewListener) and the layer-4 proxy (which calls ReadHeader
// on its own pooled reader to keep the splice path); then, for layer-4 targets with
// proxy_protocol v1/v2, the first bytes written upstream.
package proxyproto
