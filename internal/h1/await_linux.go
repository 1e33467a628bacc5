//go:build linux

package h1

import (
	"io"
	"net"
	"os"
	"syscall"

	"github.com/gantrygw/gantry/internal/rawio"
)

// awaiter lets an upstream connection send a request and wait for the answer in one
// pass through the runtime's poller, without the read that would return EAGAIN.
//
// A plain Write followed by Read costs three system calls per exchange: the write, a
// read that finds nothing yet (Go always reads before it parks) and the read after the
// wake-up. Waiting first is only safe when the poller was told to watch before the
// request left: RawConn.Read resets the descriptor's readiness before calling f, so a
// response that arrived between a separate write and that reset would never wake the
// waiter. Writing from inside f closes that gap: the reset comes first, then the write,
// then the wait; the answer's readiness edge can only come after the reset.
//
// The reset also forgets bytes an upstream sent unsolicited while the connection was
// pooled; they are read with the answer, or, if the upstream then stays silent, the
// exchange ends at the response-head deadline instead of at once. Either way nothing
// of them reaches a client (the response parser or the deadline stops the exchange).
type awaiter struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // u.awaitStep and u.readStep, bound once per connection
	rfn func(fd uintptr)      // (no allocation per call)
	p   []byte                // the bytes to write or the buffer to read into
	n   int                   // how many of p were written or read
	// err is the last write's or read's error; wrote is set once the write was
	// attempted; readable once the poller reported the connection readable after the
	// write (cleared by the read that uses it).
	err      error
	wrote    bool
	readable bool
}

// initAwait prepares the awaiter of a freshly dialled connection; without a raw
// descriptor (not a TCP conn) the plain write-then-read path is used.
func (u *upConn) initAwait() {
	if sc, ok := u.c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			u.aw.rc = rc
			u.aw.fn, u.aw.rfn = u.awaitStep, u.readStep
		}
	}
}

// writeAwait writes p, non-blocking, and when all of it left waits until the upstream
// connection is readable (or its read deadline passes, or it closes; the next read
// reports that as before). It returns how much of p it wrote and the write's error;
// when it wrote less without an error (the socket buffer was full, or no raw
// descriptor), the caller writes the rest the ordinary way.
func (u *upConn) writeAwait(p []byte) (int, error) {
	a := &u.aw
	a.readable = false
	if a.rc == nil || len(p) == 0 {
		return 0, nil
	}
	a.p, a.n, a.err, a.wrote = p, 0, nil, false
	_ = a.rc.Read(a.fn)
	a.p = nil
	if a.err != nil {
		return a.n, &net.OpError{Op: "write", Net: "tcp", Source: u.c.LocalAddr(), Addr: u.c.RemoteAddr(), Err: os.NewSyscallError("sendto", a.err)}
	}
	return a.n, nil
}

// awaitStep is the RawConn.Read callback: first the write, then, on each wake-up,
// done. true ends the wait.
func (u *upConn) awaitStep(fd uintptr) bool {
	a := &u.aw
	if a.wrote {
		a.readable = true
		return true
	}
	a.wrote = true
	for a.n < len(a.p) {
		n, err := rawio.Send(int(fd), a.p[a.n:])
		if n > 0 {
			a.n += n
		}
		switch err {
		case nil:
			if n <= 0 {
				return true // no progress: leave the rest to the ordinary write
			}
		case syscall.EAGAIN:
			return true
		default:
			a.err = err
			return true
		}
	}
	return false
}

// read reads into p: straight from the descriptor when the poller has just reported
// it readable (no EAGAIN round trip), else through the conn. Results and errors are
// those the conn's Read would give.
func (u *upConn) read(p []byte) (int, error) {
	a := &u.aw
	if !a.readable {
		return u.c.Read(p)
	}
	a.readable = false
	a.p, a.n, a.err = p, 0, nil
	err := a.rc.Control(a.rfn)
	a.p = nil
	switch {
	case err != nil || a.err == syscall.EAGAIN: // closed under us, or a spurious wake-up
		return u.c.Read(p)
	case a.err != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: u.c.LocalAddr(), Addr: u.c.RemoteAddr(), Err: os.NewSyscallError("recvfrom", a.err)}
	case a.n == 0:
		return 0, io.EOF
	}
	return a.n, nil
}

// readStep is read's RawConn.Control callback.
func (u *upConn) readStep(fd uintptr) {
	a := &u.aw
	a.n, a.err = rawio.Recv(int(fd), a.p)
}
