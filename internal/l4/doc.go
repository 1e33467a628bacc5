// Package l4 forwards layer-4 traffic: TCP connections (with TLS passthrough routed by
// SNI) and UDP datagrams, to targets chosen by the same balancers as HTTP.
//
// What it does not do: terminate TLS, look inside the byte stream beyond a PROXY
// header and the TLS ClientHello, health-check targets (internal/health does, through
// the balancer.Set behind each Route's Picker), or read the config (the gateway builds
// a Table from config.Listener.SNI/Upstream and hands it over with SetTable).
//
// Main types: TCPServer and UDPServer, each serving one listener; Table and Route,
// the routing snapshot; Picker, the small interface the balancer satisfies.
//
// A TCP connection's path (TCPServer.handle):
//
//  1. accept: beyond TCPOptions.MaxConnections the connection is closed at once.
//  2. table snapshot: the Table current at accept is used for the whole connection;
//     SetTable swaps it atomically, so a reload routes new connections only and never
//     cuts a session.
//  3. optional PROXY header from the client (TCPOptions.AcceptProxyProtocol), read
//     with proxyproto.ReadHeader from a pooled bufio.Reader under PeekTimeout; its
//     source becomes the client address.
//  4. route by SNI: only when the table has SNI keys, the ClientHello is peeked (not
//     consumed; hand-parsed, bounded, no allocation) and its server name looked up
//     (exact, then one-label wildcard), else Default. Server-speaks-first protocols
//     (SSH, SMTP) must use listeners without SNI keys: with them the proxy waits for
//     the client's first bytes.
//  5. pick → dial: Picker.Pick with Info.ClientIP; each dial is bounded by
//     Route.ConnectTimeout; a failed target is Ended as failed, added to Info.Tried and
//     another one picked, until the picker runs out (the client then sees a close and
//     never a half-open session). The chosen target's State is Begun.
//  6. optional PROXY v1/v2 header to the target (Route.ProxyProtocol), then the bytes
//     peeked in steps 3-4, then:
//  7. copy both ways, half-closing: each direction runs until EOF and then CloseWrites
//     its destination, so protocols that half-close (a client sending its request and
//     shutting down its write side) work; an error in either direction closes both.
//     Between two *net.TCPConn the copy is (*net.TCPConn).ReadFrom, which splices in
//     the kernel on Linux; nothing wraps the conns, and peeked bytes are written before
//     the raw conn takes over. Other pairs use pooled 32 KiB buffers.
//  8. callback: State.End with the connect time as the latency sample (a session's
//     length says nothing about a target's speed) and TCPOptions.OnDone with the
//     session's bytes, duration and error.
//
// Idle timeout trade-off: resetting a read deadline per read would defeat splice (it
// returns only at EOF), so each direction arms its deadline a quarter of IdleTimeout
// ahead and re-arms it only when it fires; bytes moved since the last firing count as
// activity shared by both directions. An idle session therefore closes between
// IdleTimeout and 1.25×IdleTimeout after its last byte, at the cost of one deadline
// update per quarter period per direction.
//
// UDP: one session per client address (a map under an RWMutex), each with its own
// connected upstream socket picked at the first datagram and a goroutine relaying
// replies back; sessions end after IdleTimeout without datagrams either way (same
// coarse deadline scheme) or on ICMP unreachable; MaxSessions drops datagrams that
// would open more. Datagram buffers are pooled 64 KiB slices.
//
// Concurrency: servers are safe for concurrent use. Per TCP connection there are two
// goroutines (handler and one copy direction) and no allocation of ours beyond
// pooled session state; per UDP session one goroutine. Shutdown stops accepting,
// waits for sessions until its context ends, then closes them and waits for their
// goroutines, so none outlive it.
package l4
