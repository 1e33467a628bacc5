package h1

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantrygw/gantry/internal/netpoll"
)

// Server is one engine instance: its options, its client connections and its upstream
// connection pool. Create it with NewServer; all methods are safe for concurrent use.
type Server struct {
	o    Options
	lim  limits
	pool *upstreamPool

	// parkAfter is how long an idle keep-alive connection keeps its goroutine before
	// it parks (0: never); parkedFor is the rest of the idle timeout, which the sweeper
	// enforces every sweepEvery (park.go).
	parkAfter, parkedFor, sweepEvery time.Duration
	// loop: idle keep-alive connections go to the readiness loop, which runs their
	// common exchanges itself (loop_linux.go); parking is then never reached.
	loop bool
	// trace, set by tests before Serve, hears what the loop did ("answered",
	// "deferred" for an upstream send put off to the end of the poller's batch, or a
	// handover point, see hoNames).
	trace func(ev string)

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*session]struct{}
	sweeping  bool
	shutting  atomic.Bool
	stop      chan struct{} // closed when Shutdown begins
}

// NewServer builds a Server. It panics if o.Handler is nil (a programming error).
func NewServer(o Options) *Server {
	if o.Handler == nil {
		panic("h1: Options.Handler is nil")
	}
	o.setDefaults()
	s := &Server{
		o:         o,
		lim:       limits{maxHeaderBytes: o.MaxHeaderBytes, maxHeaderCount: o.MaxHeaderCount, maxURI: o.MaxURILength},
		pool:      newUpstreamPool(o.UpstreamIdlePerHost, o.UpstreamIdleTimeout, o.StallTimeout),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*session]struct{}{},
		stop:      make(chan struct{}),
	}
	if netpoll.Supported() {
		s.setParkAfter(parkGrace)
		s.loop = s.parkAfter > 0 && loopSupported()
		s.pool.loop = s.loop
	}
	return s
}

// setParkAfter sets the grace before an idle connection parks, and the sweeper's
// period, so that an idle connection is still closed between about 3/4 of IdleTimeout
// and IdleTimeout (the grace deadline passes after between g/2 and g, the sweeper
// closes up to one period after the rest has passed). 0 disables parking.
func (s *Server) setParkAfter(g time.Duration) {
	idle := s.o.IdleTimeout
	g = min(g, idle/4)
	s.sweepEvery = idle / 8
	s.parkedFor = idle - g - s.sweepEvery
	if g <= 0 || s.sweepEvery <= 0 {
		g = 0
	}
	s.parkAfter = g
}

// Serve accepts connections from ln and serves each on its own goroutine until ln
// fails or Shutdown is called (then it returns ErrServerClosed). Temporary accept
// errors are retried with backoff, as net/http does.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || !errors.Is(err, net.ErrClosed) && isTemporary(err) {
				if backoff == 0 {
					backoff = 5 * time.Millisecond
				} else if backoff *= 2; backoff > time.Second {
					backoff = time.Second
				}
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		// Registered before the goroutine starts, even if Shutdown began meanwhile: a
		// connection accepted is served (Shutdown spares it for a short grace), never
		// closed with its request unread.
		cn := connPool.Get().(*conn)
		cn.init(s, c)
		s.mu.Lock()
		s.conns[cn.cl] = struct{}{}
		s.mu.Unlock()
		go s.run(cn)
	}
}

// isTemporary reports accept errors worth retrying (EMFILE, ECONNABORTED, ...).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// ServeConn serves one connection on the calling goroutine until it closes, fails, is
// handed to Options.Fallback, or Shutdown ends it. The engine closes c unless it was
// handed off. Connections served here are never parked: the caller's goroutine is
// theirs until they end.
func (s *Server) ServeConn(c net.Conn) {
	cn := connPool.Get().(*conn)
	cn.init(s, c)
	cn.cl.fd = fdNone
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		_ = c.Close()
		cn.release()
		return
	}
	s.conns[cn.cl] = struct{}{}
	s.mu.Unlock()
	s.run(cn)
}

// run serves a registered connection until it ends, parks or goes to the loop.
func (s *Server) run(cn *conn) {
	if cn.serveRest() {
		s.done(cn)
	}
}

// done forgets a connection that ended or parked and returns its conn to the pool.
func (s *Server) done(cn *conn) {
	if !cn.parked {
		s.mu.Lock()
		delete(s.conns, cn.cl)
		s.mu.Unlock()
	}
	cn.release()
}

// Shutdown stops accepting, closes idle keep-alive connections (and those that become
// idle), lets active exchanges finish (their responses carry Connection: close) and
// returns nil once every connection is gone; when ctx ends first it closes the rest
// and returns ctx.Err(). Idle upstream connections are closed at once.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.shutting.CompareAndSwap(false, true) {
		close(s.stop)
	}
	s.mu.Lock()
	for ln := range s.listeners {
		_ = ln.Close()
	}
	s.mu.Unlock()
	defer s.pool.close()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	grace := min(s.o.ReadHeaderTimeout, freshGrace)
	var parked []*session // parked connections taken over, disposed of outside the lock
	for {
		now := time.Now()
		s.mu.Lock()
		for cl := range s.conns {
			if cl.closeIfIdle(now, grace) {
				delete(s.conns, cl)
				parked = append(parked, cl)
			}
		}
		n := len(s.conns) + len(s.listeners) // accept loops still running may register more
		s.mu.Unlock()
		parked = disposeAll(parked)
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for cl := range s.conns {
				if cl.forceClose() {
					delete(s.conns, cl)
					parked = append(parked, cl)
				}
			}
			s.mu.Unlock()
			disposeAll(parked)
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// disposeAll disposes of parked sessions taken out of Server.conns and returns the
// emptied slice.
func disposeAll(cls []*session) []*session {
	for i, cl := range cls {
		cl.dispose()
		cls[i] = nil
	}
	return cls[:0]
}

// freshGrace bounds how long Shutdown waits for the first request of a new connection.
const freshGrace = 5 * time.Second

// Connection states for Shutdown.
const (
	stateIdle   int32 = iota // between requests (or before the first byte)
	stateActive              // a request is being read or served
	stateClosed              // closed by Shutdown (or, parked, by the sweeper)
)
