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
//  7. copy both ways, half-closing: each direction runs until EOF and then shuts down
//     its destination's write side, so protocols that half-close (a client sending its
//     request and shutting down its write side) work; an error in either direction
//     closes both. Peeked bytes are written before the relay takes over.
//     On Linux, between two *net.TCPConn, the relay is readiness-driven (relay_poll_linux.go):
//     both sockets are detached from the Go runtime (netpoll.Detach) and registered
//     edge-triggered on a poller of netpoll.Shared(); on readable, bytes are read into
//     the poller's buffer and written on (one recv and one send per message, no
//     goroutine switch, no EAGAIN read before parking): at the end of the poller's
//     batch, with the batch's other sends in one io_uring_enter (a pollSend, a
//     netpoll.Sender; the direction keeps the bytes and its session stays open until
//     the send reports), or at once where io_uring is refused; a destination that cannot
//     take them all keeps them in a pooled buffer, its source is not read until the
//     destination is writable again (memory per session stays bounded); a read that
//     fills the 64 KiB buffer marks a bulk stream, which then splices through a pooled
//     pipe. Elsewhere (and with GANTRY_L4_RELAY=goroutine, for comparison) two
//     goroutines copy: (*net.TCPConn).ReadFrom, which splices on Linux, after small
//     reads through a pooled buffer; other pairs use pooled 32 KiB buffers.
//  8. callback: State.End with the connect time as the latency sample (a session's
//     length says nothing about a target's speed) and TCPOptions.OnDone with the
//     session's bytes, duration and error.
//
// Idle timeout trade-off: no clock is read per message. Poller sessions set an
// activity flag when bytes move; one sweeper goroutine per TCPServer ticks at a
// quarter of IdleTimeout, clears the flags and closes sessions found clear for four
// ticks in a row. The goroutine relay arms each direction's read deadline a quarter
// of IdleTimeout ahead and re-arms it only when it fires (a deadline per read would
// defeat splice). Either way an idle session closes between IdleTimeout and
// 1.25×IdleTimeout after its last byte.
//
// UDP: one session per client address (a map under an RWMutex), each with its own
// connected upstream socket picked at the first datagram and a goroutine relaying
// replies back; sessions end after IdleTimeout without datagrams either way (same
// coarse deadline scheme) or on ICMP unreachable; MaxSessions drops datagrams that
// would open more. Datagram buffers are pooled 64 KiB slices.
//
// Concurrency: servers are safe for concurrent use. Per TCP connection there is one
// goroutine (the handler, parked while a poller relays; with the goroutine relay a
// second one copies), and no allocation of ours beyond pooled session state; per UDP
// session one goroutine. A poller session's bytes move only on its poller's
// goroutine; Shutdown and the sweeper end it by shutting its sockets down, which
// the poller sees and finishes (only the poller closes the descriptors), and the
// handler then does the accounting (State.End, OnDone) off the poller. Shutdown
// stops accepting, waits for sessions until its context ends, then closes them and
// waits for their goroutines (and the sweeper), so none outlive it.
package l4
