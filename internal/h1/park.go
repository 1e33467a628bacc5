package h1

import (
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gantrygw/gantry/internal/netpoll"
	"github.com/gantrygw/gantry/internal/rawio"
)

// Parking idle keep-alive connections (issue 6, memory).
//
// A keep-alive connection that waits for its next request with nothing buffered
// first blocks in Read for a short grace (parkAfter). If nothing arrives, it parks:
// its descriptor is registered oneshot-readable with netpoll.Shared(), its goroutine
// returns and its conn (the ~2.5 KiB working state, buffers, views) goes back to
// connPool. What stays is a session (about a hundred bytes), the net.Conn and one
// poller registration. Readiness starts a new goroutine with a conn from the pool,
// which reads through the net.Conn as before.
//
// Why a grace window instead of parking at every idle moment: under keep-alive load
// the next request follows within microseconds, and parking then would add an
// epoll_ctl pair, a poller wake-up and a goroutine start to every request, where the
// runtime's own netpoller costs none of these. The grace deadline is set lazily
// (deadline.readFor), so a busy connection moves its timer about twice per grace.
//
// Ownership: the state word decides who may touch a parked session. Only the side that
// moves it out of stateParked (readiness: to stateIdle; the sweeper or Shutdown: to
// stateClosed) owns it from then on; the goroutine that parked never touches it again.

// parkGrace is how long an idle keep-alive connection keeps its goroutine before it
// parks. Long enough that a connection under load never parks between requests, short
// enough that thousands of quiet connections stop costing stacks within a second.
const parkGrace = time.Second

// Additional connection states for parking (see stateIdle).
const (
	stateParking int32 = iota + stateClosed + 1 // registering with the poller
	stateParked                                 // no goroutine: the poller or a closer owns it
	stateWoken                                  // readiness arrived while parking
)

// session is one accepted connection's identity and the state that outlives its conn
// while it is parked. Server.conns tracks sessions.
type session struct {
	s      *Server
	nc     net.Conn
	remote netip.AddrPort
	// born is when the connection was accepted; fresh is true until its first request
	// has been answered. Shutdown spares a fresh connection for a short grace: its
	// client may have sent a request that is still in flight (net/http does the same
	// for StateNew), and closing it would lose that request.
	born  time.Time
	fresh atomic.Bool
	state atomic.Int32
	nreq  int
	// fd is the socket's descriptor once looked up (fdUnknown before, fdNone if the
	// connection cannot be parked).
	fd  int
	reg *netpoll.Registration
	// lc is the connection's conn while the readiness loop owns it (loop_linux.go);
	// set by the owner before it lets go, read by the next owner.
	lc *conn
	// expiry is when the sweeper closes the parked connection (unix nanoseconds).
	expiry atomic.Int64
}

const (
	fdUnknown = -2
	fdNone    = -1
)

func newSession(s *Server, nc net.Conn) *session {
	// Reads and writes on the socket skip the runtime's system-call bookkeeping
	// (internal/rawio); a conn without a socket (TLS) is kept as it is.
	nc = rawio.Wrap(nc)
	cl := &session{s: s, nc: nc, born: time.Now(), remote: addrPort(nc.RemoteAddr()), fd: fdNone}
	cl.state.Store(stateIdle)
	cl.fresh.Store(true)
	// Only a connection whose Read goes straight to a socket can be parked: readiness
	// of the descriptor must mean "a Read will not block". A wrapper that implements
	// syscall.Conn promises that it buffers nothing; a *tls.Conn does not implement it
	// (it may hold decrypted bytes the socket no longer shows), so TLS is never parked.
	if _, ok := nc.(syscall.Conn); ok && s.parkAfter > 0 {
		cl.fd = fdUnknown
	}
	return cl
}

// closeIfIdle is Shutdown's: close the connection if it waits for a request (a fresh
// one only once its grace has passed). True means the session was parked and the
// caller now owns it: remove it from Server.conns and dispose of it.
func (cl *session) closeIfIdle(now time.Time, grace time.Duration) bool {
	if cl.fresh.Load() && now.Sub(cl.born) < grace {
		return false
	}
	if cl.state.CompareAndSwap(stateIdle, stateClosed) {
		_ = cl.nc.Close()
		return false
	}
	return cl.state.CompareAndSwap(stateParked, stateClosed)
}

// forceClose closes the connection whatever it does; true as for closeIfIdle.
func (cl *session) forceClose() bool {
	for {
		switch st := cl.state.Load(); st {
		case stateParked:
			if cl.state.CompareAndSwap(stateParked, stateClosed) {
				return true
			}
		case stateParking, stateWoken, stateLoop, stateLoopPending:
			// The goroutine holds a poller registration: it must remove it before the
			// descriptor is closed (a reused descriptor number would otherwise lose its
			// registration), so it closes the connection itself when it sees the state.
			if cl.state.CompareAndSwap(st, stateClosed) {
				return false
			}
		case stateClosed:
			return false
		default:
			if cl.state.CompareAndSwap(st, stateClosed) {
				_ = cl.nc.Close()
				return false
			}
		}
	}
}

// dispose ends a parked session its owner took out of Server.conns.
func (cl *session) dispose() {
	_ = cl.reg.Remove()
	_ = cl.nc.Close()
	if c := cl.lc; c != nil { // idle in the readiness loop: its conn goes back too
		cl.lc = nil
		c.release()
	}
}

// Ready implements netpoll.Handler: bytes (or the peer's close) arrived for a parked
// connection. A hangup is served like data: the peer may have sent a request and then
// half-closed, and the goroutine's Read reports the end either way.
func (cl *session) Ready(netpoll.Events) {
	for {
		switch cl.state.Load() {
		case stateParking:
			if cl.state.CompareAndSwap(stateParking, stateWoken) {
				return // the parking goroutine sees it and keeps serving
			}
		case stateParked:
			if cl.state.CompareAndSwap(stateParked, stateIdle) {
				_ = cl.reg.Remove()
				cl.reg = nil
				go cl.s.resume(cl)
			}
			return
		default:
			return // closed, or a late event for an earlier registration
		}
	}
}

var _ netpoll.Handler = (*session)(nil)

// poller looks the session's descriptor up (once) and returns the process's poller
// group; false when the connection cannot wait in a poller (no descriptor or no
// poller), which is then remembered.
func (cl *session) poller() (*netpoll.Group, bool) {
	if cl.fd == fdUnknown {
		if fd, err := netpoll.FDOf(cl.nc); err == nil {
			cl.fd = fd
		} else {
			cl.fd = fdNone
		}
	}
	g, err := netpoll.Shared()
	if cl.fd < 0 || err != nil {
		cl.fd = fdNone
		return nil, false
	}
	return g, true
}

// parkResult is what park did with the connection.
type parkResult int

const (
	parkStop     parkResult = iota // closed meanwhile: end the connection
	parkParked                     // parked: the goroutine must return without closing
	parkContinue                   // keep reading on this goroutine
)

// park hands an idle connection with nothing buffered to the poller; its read
// deadline (the grace) has just passed.
func (c *conn) park() parkResult {
	cl, s := c.cl, c.s
	g, ok := cl.poller()
	if !ok {
		return c.unparked()
	}
	if !cl.state.CompareAndSwap(stateIdle, stateParking) {
		return parkStop // Shutdown closed it
	}
	cl.nreq = c.nreq
	cl.expiry.Store(time.Now().Add(s.parkedFor).UnixNano())
	reg, err := g.Pick().Add(cl.fd, netpoll.Readable, true, cl)
	if err != nil {
		s.o.Logger.Debug("h1: cannot park connection", "cause", err, "remote", c.remote)
		cl.fd = fdNone
		if cl.state.CompareAndSwap(stateParking, stateIdle) {
			return c.unparked()
		}
		return parkStop
	}
	cl.reg = reg
	if cl.state.CompareAndSwap(stateParking, stateParked) {
		s.startSweeper()
		return parkParked
	}
	// Readiness came while registering (Ready moved the state to stateWoken), or
	// forceClose closed the connection.
	_ = reg.Remove()
	cl.reg = nil
	if !cl.state.CompareAndSwap(stateWoken, stateIdle) {
		return parkStop
	}
	c.dl.rd = time.Time{} // the grace deadline has passed: set a new one
	c.dl.readFor(c.c, s.parkAfter)
	return parkContinue
}

// unparked keeps a connection that cannot be parked waiting on its goroutine for the
// rest of the idle timeout.
func (c *conn) unparked() parkResult {
	c.dl.rd = time.Time{}
	c.dl.readFor(c.c, c.s.parkedFor)
	return parkContinue
}

// resume serves a parked connection again, on a new goroutine, with a conn from the
// pool; it waits on the small idle buffer until the request's first bytes are read.
func (s *Server) resume(cl *session) {
	c := connPool.Get().(*conn)
	c.attach(cl)
	c.idleReadBuf()
	c.resumed = true
	s.run(c)
}

// startSweeper makes sure a sweeper runs while connections are parked.
func (s *Server) startSweeper() {
	s.mu.Lock()
	if !s.sweeping && !s.shutting.Load() {
		s.sweeping = true
		go s.sweep()
	}
	s.mu.Unlock()
}

// sweep closes parked connections whose idle timeout has passed, every sweepEvery,
// until none is parked or Shutdown begins (Shutdown closes parked connections itself).
// One walk over the tracked connections costs less than a timer per parked connection
// (see docs/h1-engine.md, memory).
func (s *Server) sweep() {
	t := time.NewTicker(s.sweepEvery)
	defer t.Stop()
	var expired []*session
	for {
		select {
		case <-t.C:
		case <-s.stop:
			s.mu.Lock()
			s.sweeping = false
			s.mu.Unlock()
			return
		}
		now := time.Now().UnixNano()
		parked := 0
		expired = expired[:0]
		s.mu.Lock()
		for cl := range s.conns {
			switch cl.state.Load() {
			case stateParked:
			case stateLoop, stateLoopPending:
				parked++ // in the readiness loop: idle again soon
				continue
			default:
				continue
			}
			if cl.expiry.Load() <= now && cl.state.CompareAndSwap(stateParked, stateClosed) {
				delete(s.conns, cl)
				expired = append(expired, cl)
				continue
			}
			parked++
		}
		if parked == 0 {
			s.sweeping = false
		}
		s.mu.Unlock()
		for i, cl := range expired {
			cl.dispose()
			expired[i] = nil
		}
		if parked == 0 {
			return
		}
	}
}
