// Package rawio reads and writes sockets with raw system calls while still waiting
// on the Go runtime's poller: the send/recv half of what the runtime's net package
// does, minus its system-call bookkeeping.
//
// # Why
//
// A net.Conn's Read and Write go through syscall.Syscall, which brackets every call
// with entersyscall/exitsyscall so the scheduler can hand the goroutine's P to
// another thread if the call blocks. A socket the runtime polls is non-blocking, so
// the call never blocks; but on a busy machine the kernel often preempts the calling
// thread at the end of a loopback write (the woken peer runs first), and while that
// thread waits for a CPU its P still looks "in a system call". The runtime's sysmon
// thread then retakes the P and starts another thread for it, and keeps itself on a
// 20 µs wake-up cycle while it keeps finding such Ps. On the 2-core benchmark box that
// cost the HTTP/1.1 engine about 0.15 nanosleep and 0.07 futex calls and 0.18 extra
// context switches per proxied request, about 15% of its CPU (docs/performance.md).
// A raw system call (syscall.RawSyscall) leaves the P running: nothing to retake, and
// sysmon falls back to sleeping up to 10 ms.
//
// The calls used are recvfrom/sendto/sendmsg rather than read/write/writev: they skip
// the file layer (fdget_pos and the VFS iterators) and take MSG_NOSIGNAL, so a send to
// a reset peer returns EPIPE without raising SIGPIPE.
//
// # Main types
//
// Recv, Send, Sendv and Splice are the system calls, retried on EINTR, for code that
// owns a descriptor's readiness itself (internal/l4's relay, internal/h1's upstream
// await). Wrap turns a net.Conn into one whose Read, Write and Writev make those calls
// inside the conn's syscall.RawConn, so deadlines, Close and the runtime's poller work
// exactly as for the original conn.
//
// # What it does not do
//
// It never blocks a thread: only descriptors the runtime's poller manages (every
// net.Conn's socket) are safe, because a raw call on a blocking descriptor would hold
// its P for as long as it blocks. Wrap requires that the conn's SyscallConn be the very
// socket its Read and Write use, with nothing buffered or transformed between them:
// *net.TCPConn, *net.UnixConn and pass-through wrappers that forward SyscallConn (the
// gateway's listener wrappers). A conn without SyscallConn (TLS) is returned as it
// is. Elsewhere than Linux Wrap returns its argument.
//
// # Concurrency
//
// A wrapped conn is a net.Conn: its methods may be called from several goroutines.
// One Read and one Write may run at once on the raw path; a second concurrent Read (or
// Write) takes the wrapped conn's own method instead, which the descriptor's lock
// orders behind the first, as net does.
package rawio
