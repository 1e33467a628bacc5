//go:build linux

package rawio

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxIov bounds the buffers one Writev system call takes; more are sent in turns.
const maxIov = 4

// Conn is a net.Conn whose Read, Write and Writev are raw system calls made inside
// the wrapped conn's syscall.RawConn (see the package doc). Everything else (Close,
// deadlines, addresses) is the wrapped conn's.
type Conn struct {
	net.Conn
	rc syscall.RawConn

	// Read side: the callback bound once (no allocation per call) and its arguments
	// and results, owned by the Read that set rbusy.
	rbusy atomic.Bool
	rfn   func(fd uintptr) bool
	rp    []byte
	rn    int
	rerr  error
	rtry  bool // TryRead: EAGAIN ends the call instead of waiting

	wbusy atomic.Bool
	wfn   func(fd uintptr) bool
	wv    [][]byte // what is left to write
	wn    int
	werr  error
	wtry  bool // TrySend: a full socket ends the call instead of waiting
	one   [1][]byte
	two   [2][]byte
	scr   [maxIov][]byte
	iov   [maxIov]unix.Iovec
}

// Wrap returns c with raw reads and writes when c exposes its socket through
// syscall.Conn, else c itself. c must satisfy the package doc's requirement: its
// SyscallConn is the socket its Read and Write use, with nothing buffered between.
func Wrap(c net.Conn) net.Conn {
	if _, ok := c.(*Conn); ok {
		return c
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	w := &Conn{Conn: c, rc: rc}
	w.rfn, w.wfn = w.readStep, w.writeStep
	return w
}

// NetConn returns the wrapped conn (for a consumer that wants its own fast paths,
// such as net/http's sendfile through *net.TCPConn).
func (c *Conn) NetConn() net.Conn { return c.Conn }

// SyscallConn returns the wrapped conn's raw connection.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// CloseWrite shuts down the writing side when the wrapped conn can.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return &net.OpError{Op: "close", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: syscall.ENOTSUP}
}

// Read reads like net.Conn's Read: at least one byte, or io.EOF, or the error.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !c.rbusy.CompareAndSwap(false, true) {
		return c.Conn.Read(p) // a concurrent Read: the descriptor's lock orders it
	}
	c.rp, c.rn, c.rerr = p, 0, nil
	err := c.rc.Read(c.rfn)
	n, rerr := c.rn, c.rerr
	c.rp, c.rerr = nil, nil
	c.rbusy.Store(false)
	switch {
	case err != nil: // deadline, closed
		return 0, c.opError("read", err)
	case rerr != nil:
		return 0, c.opError("read", os.NewSyscallError("recvfrom", rerr))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// TryRead is one read that never waits, for callers that wait for readiness
// themselves (internal/h1's readiness loop): n > 0, or 0 and unix.EAGAIN when nothing
// is there yet (also when another Read is in progress), io.EOF at the end of stream,
// or the error.
func (c *Conn) TryRead(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !c.rbusy.CompareAndSwap(false, true) {
		return 0, unix.EAGAIN
	}
	c.rp, c.rn, c.rerr, c.rtry = p, 0, nil, true
	err := c.rc.Read(c.rfn)
	n, rerr := c.rn, c.rerr
	c.rp, c.rerr, c.rtry = nil, nil, false
	c.rbusy.Store(false)
	switch {
	case err != nil: // deadline, closed
		return 0, c.opError("read", err)
	case rerr == unix.EAGAIN:
		return 0, unix.EAGAIN
	case rerr != nil:
		return 0, c.opError("read", os.NewSyscallError("recvfrom", rerr))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// readStep is the RawConn.Read callback: one recv; false (wait for readiness) only on
// EAGAIN, and not for TryRead.
func (c *Conn) readStep(fd uintptr) bool {
	n, err := Recv(int(fd), c.rp)
	if err == unix.EAGAIN && !c.rtry {
		return false
	}
	c.rn, c.rerr = n, err
	return true
}

// Write writes all of p, waiting for room as net.Conn's Write does.
func (c *Conn) Write(p []byte) (int, error) {
	if !c.wbusy.CompareAndSwap(false, true) {
		return c.Conn.Write(p)
	}
	c.one[0] = p
	n, err := c.writev(c.one[:])
	c.one[0] = nil
	c.wbusy.Store(false)
	return int(n), err
}

// Writev writes the buffers in order, all of them, in as few system calls as the
// socket's room allows (one, usually). bufs itself is left as it was.
func (c *Conn) Writev(bufs [][]byte) (int64, error) {
	if !c.wbusy.CompareAndSwap(false, true) {
		nb := net.Buffers(append([][]byte(nil), bufs...))
		return nb.WriteTo(c.Conn)
	}
	n, err := c.writev(bufs)
	c.wbusy.Store(false)
	return n, err
}

// TrySend writes a then b, in one system call when it can, as far as the socket takes
// them now: it never waits for room, so n may be less than both (0 when the socket is
// full, or another write is in progress). For callers that wait for readiness
// themselves (internal/h1's readiness loop).
func (c *Conn) TrySend(a, b []byte) (int, error) {
	if !c.wbusy.CompareAndSwap(false, true) {
		return 0, nil
	}
	c.two[0], c.two[1], c.wtry = a, b, true
	n, err := c.writev(c.two[:])
	c.two, c.wtry = [2][]byte{}, false
	c.wbusy.Store(false)
	return int(n), err
}

func (c *Conn) writev(bufs [][]byte) (int64, error) {
	c.wn = 0
	for len(bufs) > 0 {
		// writeStep trims entries as they leave; it works on a copy in c.scr so the
		// caller's slice is never modified.
		k := copy(c.scr[:], bufs)
		bufs = bufs[k:]
		c.wv, c.werr = c.scr[:k], nil
		err := c.rc.Write(c.wfn)
		if err == nil && c.werr != nil {
			err = os.NewSyscallError("sendmsg", c.werr)
		}
		full := len(c.wv) > 0 // only TrySend returns with bytes left and no error
		clear(c.scr[:k])
		c.wv, c.werr = nil, nil
		if err != nil {
			return int64(c.wn), c.opError("write", err)
		}
		if full {
			break
		}
	}
	return int64(c.wn), nil
}

// writeStep is the RawConn.Write callback: sends until c.wv is empty; false (wait for
// room) on EAGAIN, except for TrySend, which stops there.
func (c *Conn) writeStep(fd uintptr) bool {
	for len(c.wv) > 0 {
		if len(c.wv[0]) == 0 {
			c.wv = c.wv[1:]
			continue
		}
		var n int
		var err error
		if len(c.wv) == 1 {
			n, err = Send(int(fd), c.wv[0])
		} else {
			n, err = Sendv(int(fd), c.wv, c.iov[:])
		}
		if err == unix.EAGAIN {
			return c.wtry
		}
		if err == nil && n == 0 {
			err = io.ErrShortWrite // no progress and no error: never spin on it
		}
		if err != nil {
			c.werr = err
			return true
		}
		c.wn += n
		for n > 0 && len(c.wv) > 0 {
			if n >= len(c.wv[0]) {
				n -= len(c.wv[0])
				c.wv = c.wv[1:]
				continue
			}
			c.wv[0] = c.wv[0][n:]
			n = 0
		}
	}
	return true
}

// opError shapes err like the wrapped conn's own errors (a *net.OpError with the
// operation and both addresses), so callers' timeout and closed checks keep working.
func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok { // from RawConn: deadline or closed
		oe.Op = op
		return oe
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// Listener wraps ln so that every accepted conn goes through Wrap; used below layers
// that read and write through the conn (TLS), where the engines cannot wrap it
// themselves.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}
