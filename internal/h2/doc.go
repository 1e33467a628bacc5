// Package h2 is the gateway's HTTP/2 server for cleartext connections with prior
// knowledge (h2c, RFC 9113 section 3.3): the HTTP/1.1 engine detects the connection
// preface and hands the connection over, and this package serves its streams through
// an ordinary http.Handler, the same one net/http would call.
//
// Why not net/http's HTTP/2 server: it moves every frame through goroutine hand-offs
// (a frame-reading goroutine, a serve loop, a handler goroutine per stream and a
// short-lived goroutine per frame write), and under many small streams those hops and
// one write syscall per frame cost more CPU than the request itself (docs/performance.md,
// issue 6). Here a connection has:
//
//   - one read loop (ServeConn's goroutine) that reads frames with x/net/http2's Framer,
//     decodes header blocks with the connection's own hpack decoder and reused field
//     slice (headerBlock, capped by MaxHeaderListSize), keeps the stream states and
//     the receive windows, answers SETTINGS and PING, and starts handlers;
//   - stream handlers on goroutines from a small reuse pool, so a handler does not grow
//     a fresh stack for every stream. The ResponseWriter tells a forwarding handler
//     whether sibling streams are running (SiblingsSending, h1.SendBatcher), so that
//     the gateway's upstream sends of a burst of streams go out together;
//   - one connection write buffer, guarded by the connection mutex, that handlers and the
//     read loop append frames to. Whoever finds no write in progress writes the whole
//     buffer in one syscall; frames appended meanwhile go out with the next write
//     ("group commit"), so many streams' responses share a syscall and no goroutine
//     exists only to write. While other streams of the connection run, the writer
//     yields once before writing so the runnable ones can append first.
//
// What it does: SETTINGS exchange, PING, both flow-control windows in both directions,
// RST_STREAM, GOAWAY (graceful on Shutdown, with an error code on protocol errors), the
// stream state machine, MAX_CONCURRENT_STREAMS, request pseudo-header and field
// validation (RFC 9113 section 8; the host by package host, the HTTP/1.1 engine's
// rule), request bodies through a bounded pipe, Content-Length checks, request and
// response trailers, http.Flusher, 1xx responses, and a request context cancelled when
// the stream is reset or the connection ends. Hardening: rapid reset (CVE-2023-44487),
// CONTINUATION floods (CVE-2023-45288, bounded bytes per header block), SETTINGS and
// PING floods (bounded pending output), idle and write-stall timeouts, no panic on any
// input.
//
// What it does not: TLS and ALPN (net/http keeps h2 over TLS), the h2c Upgrade from
// HTTP/1.1 (retired by RFC 9113), server push, stream priorities (parsed and ignored,
// as RFC 9113 allows), extended CONNECT, Expect: 100-continue, Hijack.
//
// Concurrency: Server is safe for concurrent use. Each connection's state (stream map,
// windows, write buffer, hpack encoder) is guarded by that connection's mutex; the
// hpack decoder and the Framer's read side belong to the read loop alone. A handler's
// http.ResponseWriter must be used by one goroutine at a time, as with net/http.
package h2
