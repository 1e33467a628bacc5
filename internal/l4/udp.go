package l4

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
)

// DefaultUDPIdleTimeout reaps UDP sessions when UDPOptions.IdleTimeout is 0: UDP has
// no close, so a session without traffic must end some time.
const DefaultUDPIdleTimeout = 2 * time.Minute

// maxDatagram is the largest UDP payload (65535 minus the 8-byte UDP header, minus a
// 20-byte IPv4 header for the IPv4 bound; 64 KiB covers both families).
const maxDatagram = 64 << 10

var datagramPool = sync.Pool{New: func() any { b := make([]byte, maxDatagram); return &b }}

// UDPOptions configure a UDPServer.
type UDPOptions struct {
	// Listener names the listener in logs.
	Listener string
	// IdleTimeout ends a session without datagrams in either direction for this long;
	// 0 means DefaultUDPIdleTimeout.
	IdleTimeout time.Duration
	// MaxSessions bounds concurrent client sessions; datagrams that would open one
	// more are dropped. 0 means no limit (each session holds a 64 KiB reply buffer).
	MaxSessions int
	// Logger receives per-session failures at debug level; nil discards.
	Logger *slog.Logger
	// Dialer opens the connected upstream sockets; nil means a zero net.Dialer.
	Dialer Dialer
}

// UDPStats are counters of a UDPServer.
type UDPStats struct {
	// Active is the number of live sessions.
	Active int64
	// Total counts sessions opened; Refused datagrams dropped by MaxSessions; Failed
	// datagrams dropped because no route, target or socket was available.
	Total, Refused, Failed uint64
}

// UDPServer relays datagrams between clients and upstream targets. Each client
// address gets a session with its own connected socket to one target, picked when
// its first datagram arrives; replies from that socket go back to the client. All
// methods are safe for concurrent use; Serve is called once.
type UDPServer struct {
	opts   UDPOptions
	dialer Dialer
	log    *slog.Logger
	tab    atomic.Pointer[table]

	total, refused, failed atomic.Uint64

	mu       sync.RWMutex
	closing  bool
	pc       net.PacketConn
	sessions map[netip.AddrPort]*udpSession
	serving  chan struct{} // closed when Serve returns
	wg       sync.WaitGroup
}

type udpSession struct {
	client   netip.AddrPort
	clientNA net.Addr // for PacketConns that are not *net.UDPConn
	up       net.Conn
	target   *balancer.Target
	last     atomic.Int64 // unix nanos of the last datagram either way
	start    time.Time
}

// NewUDP returns a server with an empty table (datagrams are dropped until SetTable).
func NewUDP(opts UDPOptions) *UDPServer {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultUDPIdleTimeout
	}
	s := &UDPServer{opts: opts, dialer: opts.Dialer, log: opts.Logger,
		sessions: map[netip.AddrPort]*udpSession{}, serving: make(chan struct{})}
	if s.dialer == nil {
		s.dialer = &net.Dialer{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.tab.Store(compile(nil))
	return s
}

// SetTable atomically replaces the routing table (only Default is used). New sessions
// use it; live sessions keep their target until they go idle.
func (s *UDPServer) SetTable(t *Table) { s.tab.Store(compile(t)) }

// Stats returns a snapshot of the counters.
func (s *UDPServer) Stats() UDPStats {
	s.mu.RLock()
	n := len(s.sessions)
	s.mu.RUnlock()
	return UDPStats{Active: int64(n), Total: s.total.Load(), Refused: s.refused.Load(), Failed: s.failed.Load()}
}

// Serve reads datagrams from pc until Shutdown (returning ErrServerClosed) or a read
// error. It owns pc and closes it when it returns. Session setup (pick and a
// connect(2) on a new UDP socket) runs on this goroutine; targets should be IP
// addresses so no DNS lookup stalls other clients.
func (s *UDPServer) Serve(pc net.PacketConn) error {
	s.mu.Lock()
	if s.closing || s.pc != nil {
		s.mu.Unlock()
		pc.Close()
		if s.closing {
			return ErrServerClosed
		}
		return errors.New("l4: udp Serve called twice")
	}
	s.pc = pc
	s.mu.Unlock()
	defer close(s.serving)
	defer pc.Close()

	uc, _ := pc.(*net.UDPConn)
	bp := datagramPool.Get().(*[]byte)
	defer datagramPool.Put(bp)
	buf := *bp
	for {
		var n int
		var from netip.AddrPort
		var fromNA net.Addr
		var err error
		if uc != nil {
			n, from, err = uc.ReadFromUDPAddrPort(buf)
		} else {
			n, fromNA, err = pc.ReadFrom(buf)
			if ua, ok := fromNA.(*net.UDPAddr); ok {
				from = ua.AddrPort()
			}
		}
		if err != nil {
			s.mu.RLock()
			closing := s.closing
			s.mu.RUnlock()
			if closing {
				return ErrServerClosed
			}
			return fmt.Errorf("udp read: %w", err)
		}
		s.mu.RLock()
		ss := s.sessions[from]
		s.mu.RUnlock()
		if ss == nil {
			if ss = s.open(from, fromNA); ss == nil {
				continue
			}
		}
		ss.last.Store(time.Now().UnixNano())
		if _, err := ss.up.Write(buf[:n]); err != nil {
			s.log.Debug("l4 udp forward failed", "listener", s.opts.Listener, "target", ss.target.Addr, "err", err)
		}
	}
}

// open starts a session for a new client, or returns nil (datagram dropped).
func (s *UDPServer) open(from netip.AddrPort, fromNA net.Addr) *udpSession {
	if max := s.opts.MaxSessions; max > 0 {
		s.mu.RLock()
		full := len(s.sessions) >= max
		s.mu.RUnlock()
		if full {
			s.refused.Add(1)
			return nil
		}
	}
	r := s.tab.Load().def
	if r == nil || r.Picker == nil {
		s.failed.Add(1)
		return nil
	}
	info := balancer.Info{ClientIP: from.Addr().Unmap()}
	var up net.Conn
	var t *balancer.Target
	for range maxDialAttempts {
		var err error
		t, err = r.Picker.Pick(&info)
		if err != nil || tried(&info, t) {
			s.failed.Add(1)
			return nil
		}
		timeout := r.ConnectTimeout
		if timeout <= 0 {
			timeout = DefaultConnectTimeout
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		up, err = s.dialer.DialContext(ctx, "udp", t.Addr)
		cancel()
		if err == nil {
			break
		}
		t.State.Begin()
		t.State.End(0, true)
		info.Tried = append(info.Tried, t)
		up = nil
	}
	if up == nil {
		s.failed.Add(1)
		return nil
	}
	t.State.Begin()
	ss := &udpSession{client: from, clientNA: fromNA, up: up, target: t, start: time.Now()}
	ss.last.Store(ss.start.UnixNano())
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		up.Close()
		t.State.End(0, false)
		return nil
	}
	s.sessions[from] = ss
	s.wg.Add(1)
	s.mu.Unlock()
	s.total.Add(1)
	go s.replies(ss)
	return ss
}

// replies relays target→client datagrams for one session and reaps it when idle.
// As in the TCP relay, the read deadline is armed once per tick (a quarter of the
// idle timeout), not per datagram.
func (s *UDPServer) replies(ss *udpSession) {
	failed := false
	defer func() {
		s.mu.Lock()
		delete(s.sessions, ss.client)
		s.mu.Unlock()
		ss.up.Close()
		ss.target.State.End(0, failed)
		s.wg.Done()
	}()
	bp := datagramPool.Get().(*[]byte)
	defer datagramPool.Put(bp)
	buf := *bp
	idle := s.opts.IdleTimeout
	tick := max(idle/4, time.Millisecond)
	s.mu.RLock()
	pc := s.pc
	s.mu.RUnlock()
	uc, _ := pc.(*net.UDPConn)
	if err := ss.up.SetReadDeadline(time.Now().Add(tick)); err != nil {
		return
	}
	for {
		n, err := ss.up.Read(buf)
		if n > 0 {
			ss.last.Store(time.Now().UnixNano())
			var werr error
			if uc != nil {
				_, werr = uc.WriteToUDPAddrPort(buf[:n], ss.client)
			} else {
				_, werr = pc.WriteTo(buf[:n], ss.clientNA)
			}
			if werr != nil {
				s.log.Debug("l4 udp reply failed", "listener", s.opts.Listener, "err", werr)
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if time.Duration(time.Now().UnixNano()-ss.last.Load()) >= idle {
				return
			}
			if ss.up.SetReadDeadline(time.Now().Add(tick)) != nil {
				return
			}
			continue
		}
		// ECONNREFUSED (ICMP port unreachable) or a closed socket: end the session;
		// the client's next datagram opens a new one.
		failed = !errors.Is(err, net.ErrClosed)
		s.log.Debug("l4 udp session ended", "listener", s.opts.Listener, "target", ss.target.Addr, "err", err)
		return
	}
}

// Shutdown stops reading (closing the PacketConn, so replies can no longer reach
// clients) and ends every session. UDP has nothing to drain, so ctx only bounds the
// wait for the goroutines; it returns ctx.Err() if they outlive it.
func (s *UDPServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	pc := s.pc
	for _, ss := range s.sessions {
		ss.up.Close()
	}
	s.mu.Unlock()
	if pc != nil {
		pc.Close()
		<-s.serving
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
