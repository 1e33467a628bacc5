package l4

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/proxyproto"
)

// DefaultPeekTimeout bounds reading a client's PROXY header and TLS ClientHello when
// TCPOptions.PeekTimeout is 0.
const DefaultPeekTimeout = 5 * time.Second

// maxDialAttempts bounds the dial loop against a Picker that never runs out.
const maxDialAttempts = 64

// Dialer opens upstream connections; *net.Dialer implements it. Returning a
// *net.TCPConn (as net.Dialer does for "tcp") keeps the splice path.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// SessionInfo describes one finished TCP session, handed to TCPOptions.OnDone.
type SessionInfo struct {
	Listener string
	// Upstream and Target are empty when no route or no target was found.
	Upstream string
	Target   string
	// Client is the client's address (from the PROXY header when accepted).
	Client netip.AddrPort
	// ServerName is the SNI the client sent (nil without SNI routing; truncated past
	// 253 bytes). It aliases pooled memory: copy it to keep it past the callback.
	ServerName []byte
	// BytesIn counts client→target bytes, BytesOut target→client bytes.
	BytesIn, BytesOut int64
	Duration          time.Duration
	// Err is nil for a session both sides ended cleanly; otherwise why it ended
	// (ErrNoRoute, balancer.ErrNoTarget, a dial error, ErrIdle, a copy error).
	Err error
}

// TCPOptions configure a TCPServer; they are fixed for its lifetime (routing changes
// go through SetTable).
type TCPOptions struct {
	// Listener names the listener in logs and SessionInfo.
	Listener string
	// IdleTimeout closes a session without traffic in either direction for this long;
	// 0 disables it. See doc.go for the precision trade-off.
	IdleTimeout time.Duration
	// MaxConnections bounds concurrent sessions; connections beyond it are closed at
	// once. 0 means no limit.
	MaxConnections int
	// AcceptProxyProtocol requires a PROXY v1/v2 header from every client.
	AcceptProxyProtocol bool
	// PeekTimeout bounds reading the PROXY header and the ClientHello; 0 means
	// DefaultPeekTimeout.
	PeekTimeout time.Duration
	// Logger receives per-connection failures at debug level; nil discards.
	Logger *slog.Logger
	// Dialer opens upstream connections; nil means a zero net.Dialer.
	Dialer Dialer
	// OnDone, when set, is called once per accepted connection after it is closed,
	// on the connection's goroutine; it must not retain info.ServerName.
	OnDone func(info *SessionInfo)

	// goroutineRelay forces the goroutine relay (tests of the non-Linux path).
	goroutineRelay bool
}

// TCPStats are counters of a TCPServer.
type TCPStats struct {
	// Active is the number of open client connections.
	Active int64
	// Total counts admitted connections, Refused those closed by MaxConnections,
	// Failed those closed before relaying (header, routing or dial failure).
	Total, Refused, Failed uint64
}

// TCPServer forwards TCP connections to upstream targets. All methods are safe for
// concurrent use; Serve may be called for several listeners.
type TCPServer struct {
	opts   TCPOptions
	dialer Dialer
	log    *slog.Logger
	tab    atomic.Pointer[table]

	active                 atomic.Int64
	total, refused, failed atomic.Uint64

	// ctx is cancelled when Shutdown gives up waiting, aborting dials in progress.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	serveWG   sync.WaitGroup
	sessWG    sync.WaitGroup
	done      chan struct{} // closed by Shutdown, wakes accept back-off

	// The idle sweeper of poller sessions, started with the first one (see sweep).
	sweeping  atomic.Bool
	sweepStop chan struct{} // under mu; closed when Shutdown has drained
	sweepWG   sync.WaitGroup
}

// NewTCP returns a server with an empty table (every connection is closed until
// SetTable provides a route).
func NewTCP(opts TCPOptions) *TCPServer {
	if opts.PeekTimeout <= 0 {
		opts.PeekTimeout = DefaultPeekTimeout
	}
	s := &TCPServer{
		opts:      opts,
		dialer:    opts.Dialer,
		log:       opts.Logger,
		listeners: map[net.Listener]struct{}{},
		sessions:  map[*session]struct{}{},
		done:      make(chan struct{}),
	}
	if s.dialer == nil {
		s.dialer = &net.Dialer{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.tab.Store(compile(nil))
	return s
}

// SetTable atomically replaces the routing table. Connections accepted afterwards use
// t; sessions already relaying keep their target and are never cut.
func (s *TCPServer) SetTable(t *Table) { s.tab.Store(compile(t)) }

// Stats returns a snapshot of the counters.
func (s *TCPServer) Stats() TCPStats {
	return TCPStats{Active: s.active.Load(), Total: s.total.Load(), Refused: s.refused.Load(), Failed: s.failed.Load()}
}

// Serve accepts connections on ln until Shutdown (then it returns ErrServerClosed)
// or a permanent accept error. It closes ln when it returns.
func (s *TCPServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.serveWG.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
		s.serveWG.Done()
	}()

	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accept: %w", err)
			}
			// EMFILE and friends: back off as net/http does instead of spinning.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("l4 accept failed", "listener", s.opts.Listener, "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.done:
			}
			continue
		}
		backoff = 0
		if !s.admit() {
			s.refused.Add(1)
			c.Close()
			continue
		}
		s.total.Add(1)
		s.sessWG.Add(1)
		go s.handle(c, s.tab.Load())
	}
}

// admit reserves a slot under MaxConnections.
func (s *TCPServer) admit() bool {
	limit := int64(s.opts.MaxConnections)
	for {
		n := s.active.Load()
		if limit > 0 && n >= limit {
			return false
		}
		if s.active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (s *TCPServer) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting (closing every listener given to Serve), then waits for
// open sessions to finish on their own. When ctx ends first it closes them and
// returns ctx.Err(), after their goroutines have exited.
func (s *TCPServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.done)
	}
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	s.serveWG.Wait() // no accept loop may Add to sessWG after this

	drained := make(chan struct{})
	go func() {
		s.sessWG.Wait()
		close(drained)
	}()
	select {
	case <-drained:
		s.cancel()
		s.stopSweep()
		return nil
	case <-ctx.Done():
	}
	s.cancel()
	s.mu.Lock()
	for ss := range s.sessions {
		ss.closeConns()
		ss.poll.abort(ErrServerClosed)
	}
	s.mu.Unlock()
	<-drained
	s.stopSweep()
	return ctx.Err()
}

// startSweep starts the idle sweeper once, when the first poller session of a server
// with an idle timeout begins.
func (s *TCPServer) startSweep() {
	if s.opts.IdleTimeout <= 0 || s.sweeping.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sweepStop != nil {
		return
	}
	s.sweeping.Store(true)
	s.sweepStop = make(chan struct{})
	s.sweepWG.Add(1)
	go s.sweep(s.sweepStop)
}

// stopSweep ends the sweeper; Shutdown calls it once no session is left.
func (s *TCPServer) stopSweep() {
	s.mu.Lock()
	if s.sweepStop != nil {
		select {
		case <-s.sweepStop:
		default:
			close(s.sweepStop)
		}
	}
	s.mu.Unlock()
	s.sweepWG.Wait()
}

// sweep closes poller sessions idle for IdleTimeout. Poller sessions have no read
// deadline (nothing blocks on a read), so one goroutine per server ticks at a quarter
// of the timeout and ages every session that moved no byte since the last tick: a
// session closes between IdleTimeout and 1.25×IdleTimeout after its last byte (plus
// how late the ticks run), as with the goroutine relay, and the hot path pays one
// flag store per tick.
func (s *TCPServer) sweep(stop <-chan struct{}) {
	defer s.sweepWG.Done()
	idle := s.opts.IdleTimeout
	tick := max(idle/4, time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-stop:
			return
		}
		now := time.Now() // not the tick's time: the tick may be read late
		s.mu.Lock()
		for ss := range s.sessions {
			ss.poll.idleTick(now, idle)
		}
		s.mu.Unlock()
	}
}

// session is the per-connection state, pooled so that a connection costs no
// allocations of ours beyond what net itself needs.
type session struct {
	client, up net.Conn // up is set under TCPServer.mu once dialed
	info       balancer.Info
	tried      [8]*balancer.Target
	hdr        [proxyHeaderMax]byte
	sni        [maxServerName]byte
	relay      relay
	poll       pollRelay
	done       SessionInfo
}

// proxyHeaderMax fits the longest header we write (v1 TCP6 is 104 bytes, v2 TCP6 52).
const proxyHeaderMax = 108

var sessionPool = sync.Pool{New: func() any { return new(session) }}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, peekBufSize) }}

func (ss *session) closeConns() {
	ss.client.Close()
	if ss.up != nil {
		ss.up.Close()
	}
}

func (s *TCPServer) track(ss *session, on bool) {
	s.mu.Lock()
	if on {
		s.sessions[ss] = struct{}{}
	} else {
		delete(s.sessions, ss)
	}
	s.mu.Unlock()
}

// handle runs one connection: header → route → pick/dial → PROXY out → relay.
func (s *TCPServer) handle(c net.Conn, tab *table) {
	start := time.Now()
	ss := sessionPool.Get().(*session)
	ss.client = c
	s.track(ss, true)
	defer func() {
		s.track(ss, false)
		ss.closeConns()
		s.active.Add(-1)
		if s.opts.OnDone != nil {
			ss.done.Duration = time.Since(start)
			s.opts.OnDone(&ss.done)
		}
		// The relay's read callbacks are bound to ss itself: keep them, not a new pair
		// of closures per session.
		r0, r1 := ss.relay.dirs[0].read, ss.relay.dirs[1].read
		if !ss.poll.noReuse {
			*ss = session{}
			ss.relay.dirs[0].read, ss.relay.dirs[1].read = r0, r1
			sessionPool.Put(ss)
		}
		s.sessWG.Done()
	}()
	ss.done = SessionInfo{Listener: s.opts.Listener}

	clientAddr, localAddr := tcpAddrPort(c.RemoteAddr()), tcpAddrPort(c.LocalAddr())
	var br *bufio.Reader
	if s.opts.AcceptProxyProtocol || tab.sni() {
		br = readerPool.Get().(*bufio.Reader)
		br.Reset(c)
		defer func() {
			br.Reset(nil)
			readerPool.Put(br)
		}()
		_ = c.SetReadDeadline(time.Now().Add(s.opts.PeekTimeout))
	}
	if s.opts.AcceptProxyProtocol {
		h, err := proxyproto.ReadHeader(br)
		if err != nil {
			s.fail(ss, fmt.Errorf("read proxy header: %w", err))
			return
		}
		if h.Source.IsValid() {
			clientAddr, localAddr = h.Source, h.Dest
		}
	}
	ss.done.Client = clientAddr
	route := tab.def
	if tab.sni() {
		name, err := peekServerName(br)
		switch {
		case err == nil:
			ss.done.ServerName = ss.sni[:copy(ss.sni[:], name)]
			route = tab.lookup(name)
		case errors.Is(err, errNotTLS), errors.Is(err, errBadHello):
			// Not ours to judge: the default target (if any) answers the client.
		default:
			s.fail(ss, fmt.Errorf("peek client hello: %w", err))
			return
		}
	}
	if br != nil {
		_ = c.SetReadDeadline(time.Time{})
	}
	if route == nil {
		s.fail(ss, ErrNoRoute)
		return
	}
	ss.done.Upstream = route.Upstream

	up, target, connectTime, err := s.dial(ss, route, clientAddr.Addr().Unmap())
	if err != nil {
		s.fail(ss, err)
		return
	}
	s.mu.Lock()
	ss.up = up
	s.mu.Unlock()
	ss.done.Target = target.Addr
	failed := false
	defer func() { target.State.End(connectTime, failed) }()

	// The PROXY header must reach the target first and in one write (spec section 2).
	var hdr []byte
	switch route.ProxyProtocol {
	case "v1":
		hdr = proxyproto.AppendV1(ss.hdr[:0], clientAddr, localAddr)
	case "v2":
		hdr = proxyproto.AppendV2(ss.hdr[:0], clientAddr, localAddr)
	}
	if len(hdr) > 0 {
		if _, err := up.Write(hdr); err != nil {
			failed = true
			s.fail(ss, fmt.Errorf("write proxy header: %w", err))
			return
		}
	}
	// Bytes peeked for the header parse and the ClientHello go first; the relay then
	// reads the raw conn so the kernel splice path stays available.
	if br != nil && br.Buffered() > 0 {
		peeked, _ := br.Peek(br.Buffered())
		n, err := up.Write(peeked)
		ss.done.BytesIn += int64(n)
		if err != nil {
			failed = true
			s.fail(ss, fmt.Errorf("write peeked bytes: %w", err))
			return
		}
		br.Reset(nil)
	}
	in, out, err := s.relay(ss, c, up)
	ss.done.BytesIn += in
	ss.done.BytesOut = out
	ss.done.Err = err
	if err != nil {
		s.log.Debug("l4 session ended", "listener", s.opts.Listener, "target", target.Addr, "err", err)
	}
}

// relay moves the session's bytes until both sides are done: on the readiness loop
// where there is one (Linux), else, or when forced by GANTRY_L4_RELAY=goroutine (for
// comparison benchmarks), with the two-goroutine relay.
func (s *TCPServer) relay(ss *session, c, up net.Conn) (in, out int64, err error) {
	if !s.opts.goroutineRelay && pollSupported() {
		s.startSweep()
		if in, out, err, ok := ss.poll.run(c, up); ok {
			return in, out, err
		}
	}
	return ss.relay.run(c, up, s.opts.IdleTimeout)
}

func (s *TCPServer) fail(ss *session, err error) {
	s.failed.Add(1)
	ss.done.Err = err
	s.log.Debug("l4 connection failed", "listener", s.opts.Listener, "client", ss.done.Client, "err", err)
}

// dial picks and dials until a target answers, excluding the ones that failed. On
// success the target's State has been Begun; the caller Ends it.
func (s *TCPServer) dial(ss *session, r *Route, ip netip.Addr) (net.Conn, *balancer.Target, time.Duration, error) {
	if r.Picker == nil {
		return nil, nil, 0, fmt.Errorf("route %q: %w", r.Upstream, balancer.ErrNoTarget)
	}
	timeout := r.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	ss.info = balancer.Info{ClientIP: ip, Tried: ss.tried[:0]}
	var lastErr error
	for range maxDialAttempts {
		t, err := r.Picker.Pick(&ss.info)
		if err != nil || tried(&ss.info, t) {
			if lastErr != nil {
				return nil, nil, 0, fmt.Errorf("upstream %q: every target failed, last: %w", r.Upstream, lastErr)
			}
			if err == nil {
				err = balancer.ErrNoTarget
			}
			return nil, nil, 0, fmt.Errorf("upstream %q: %w", r.Upstream, err)
		}
		t.State.Begin()
		start := time.Now()
		ctx, cancel := context.WithTimeout(s.ctx, timeout)
		up, err := s.dialer.DialContext(ctx, "tcp", t.Addr)
		cancel()
		elapsed := time.Since(start)
		if err == nil {
			return up, t, elapsed, nil
		}
		t.State.End(elapsed, true)
		s.log.Debug("l4 dial failed", "listener", s.opts.Listener, "target", t.Addr, "err", err)
		lastErr = err
		ss.info.Tried = append(ss.info.Tried, t)
	}
	return nil, nil, 0, fmt.Errorf("upstream %q: gave up after %d dials, last: %w", r.Upstream, maxDialAttempts, lastErr)
}

func tried(info *balancer.Info, t *balancer.Target) bool {
	for _, x := range info.Tried {
		if x == t {
			return true
		}
	}
	return false
}

func tcpAddrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}
