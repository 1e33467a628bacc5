// Package netpoll is a small edge-triggered readiness loop (epoll on Linux) for
// connections that should not cost a parked goroutine each: layer-4 relay sessions
// moved by readiness callbacks, and idle HTTP/1.1 keep-alive connections parked until
// their next request arrives.
//
// Why not the runtime's netpoller alone: Go parks one goroutine per blocked read, and
// every blocked read first tries the syscall (an extra EAGAIN read per message) and
// then pays a goroutine switch on wake-up. For a relay that moves small messages both
// ways that is twice the syscalls nginx makes, and for ten thousand idle keep-alive
// connections it is ten thousand goroutine stacks. A readiness loop reads only when the
// kernel said there are bytes, handles many ready descriptors per epoll_wait, and
// holds no stack for a connection that is waiting.
//
// What it does not do: own or close descriptors (the caller does, after Remove),
// time anything out (callers keep their own clocks), or read and write (handlers make
// their own non-blocking syscalls).
//
// Main types: Poller, one epoll instance served by one goroutine; Registration, one
// descriptor's membership (allocated by Add, or embedded in the caller's pooled
// state with AddTo); Handler, the callback; Group, a fixed set of pollers that
// spreads registrations (one poller per CPU by default).
//
// Concurrency: a Handler's Ready runs on its poller's goroutine, never concurrently
// with itself for the same Poller, and must not block: a slow handler delays every
// descriptor on that poller. Add, Rearm and Remove are safe from any goroutine.
// After Remove returns, Ready is not called again for that registration unless it is
// already running on the poller goroutine; a handler that frees state on Remove must
// therefore call Remove from inside Ready or tolerate one late call. Stale events for
// a removed registration (the kernel may have queued them) are dropped by a
// generation check, so a descriptor number reused by a new registration never
// receives its predecessor's events.
//
// Deferred work: a Ready may put work off to the end of its batch (Poller.Defer);
// it runs on the poller's goroutine after the batch's last Ready, before the poller
// waits again. The HTTP/1.1 loop sends its upstream requests that way, so a batch's
// requests reach a sleeping backend together and wake it once. A send deferred with
// DeferSend (a Sender) goes out with the round's other sends in one io_uring_enter
// (uring_linux.go): sent one by one, the first send woke the backend and the kernel
// often ran it before the poller's next send, so the rest of the batch waited for the
// poller to be scheduled again. Where io_uring is refused (kernel.io_uring_disabled, a
// container's seccomp profile, a kernel before 5.11) or GANTRY_URING=off, the poller
// sends each with send(2).
//
// Descriptors registered here are usually also registered with the Go runtime's
// poller (a net.Conn's); that is harmless (both get the edge). Callers that take a
// descriptor over completely (internal/l4) detach it from the runtime first, see
// Detach.
package netpoll
