package gateway

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// socket owns one bound TCP listener and hands each accepted connection to the current
// consumer (an http.Server or an L4 server) through a chanListener. Swapping the
// consumer keeps the bound socket, so changing a listener's settings on reload never
// refuses a connection and never needs SO_REUSEPORT (which would also let a second
// gantry process silently share the port).
type socket struct {
	ln      net.Listener
	cur     atomic.Pointer[chanListener]
	running atomic.Bool
	done    chan struct{}
}

func newSocket(ln net.Listener) *socket {
	return &socket{ln: ln, done: make(chan struct{})}
}

// attach makes cl the consumer of new connections and returns the previous one.
func (s *socket) attach(cl *chanListener) *chanListener { return s.cur.Swap(cl) }

// start runs the accept loop once.
func (s *socket) start() {
	if s.running.CompareAndSwap(false, true) {
		go s.run()
	}
}

// run accepts until the socket is closed.
func (s *socket) run() {
	defer close(s.done)
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failures (EMFILE, ECONNABORTED): back off as net/http does.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.deliver(c)
	}
}

func (s *socket) deliver(c net.Conn) {
	for {
		cl := s.cur.Load()
		if cl == nil {
			c.Close()
			return
		}
		if cl.deliver(c) {
			return
		}
		if s.cur.Load() == cl { // consumer closed and not replaced: shutting down
			c.Close()
			return
		}
	}
}

// close stops accepting and waits for the accept loop to end.
func (s *socket) close() {
	s.ln.Close()
	if s.running.Load() {
		<-s.done
	}
}

// chanListener is the net.Listener a consumer serves on; Close detaches it without
// closing the bound socket.
type chanListener struct {
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   net.Addr
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{ch: make(chan net.Conn), closed: make(chan struct{}), addr: addr}
}

func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case <-l.closed:
		return false
	default:
	}
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

// Accept implements net.Listener.
func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener; it does not close the bound socket.
func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr implements net.Listener.
func (l *chanListener) Addr() net.Addr { return l.addr }

// limitListener caps concurrent connections of an http listener: beyond the cap a new
// connection is closed at once (the client sees a reset rather than a hang).
type limitListener struct {
	net.Listener
	max    int64
	active atomic.Int64
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.active.Add(1) > l.max {
			l.active.Add(-1)
			c.Close()
			continue
		}
		return &limitConn{Conn: c, l: l}, nil
	}
}

type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	c.once.Do(func() { c.l.active.Add(-1) })
	return c.Conn.Close()
}

// SyscallConn passes the socket through: the wrapper buffers nothing, so the HTTP/1.1
// engine may park the connection on its descriptor while it idles (internal/h1).
func (c *limitConn) SyscallConn() (syscall.RawConn, error) { return rawConnOf(c.Conn) }

// CloseWrite passes the half-close through (see closeWrite).
func (c *limitConn) CloseWrite() error { return closeWrite(c.Conn) }

var errNoRawConn = errors.New("connection has no descriptor")

// rawConnOf is SyscallConn for wrappers that add nothing to reads.
func rawConnOf(c net.Conn) (syscall.RawConn, error) {
	if sc, ok := c.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errNoRawConn
}
