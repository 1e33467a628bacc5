package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/h1"
	"github.com/gantrygw/gantry/internal/h2"
	"github.com/gantrygw/gantry/internal/l4"
	"github.com/gantrygw/gantry/internal/observe"
	"github.com/gantrygw/gantry/internal/policy/ipfilter"
	"github.com/gantrygw/gantry/internal/proxyproto"
	"github.com/gantrygw/gantry/internal/rawio"
	"github.com/gantrygw/gantry/internal/tlsconf"
)

// listener is the runtime of one configured listener: an http.Server, an L4 TCP server
// (both fed by a socket), or an L4 UDP server on a packet conn.
type listener struct {
	cfg  *config.Listener
	sock *socket // http, tcp: shared with the listener it took over, if any
	cl   *chanListener

	srv   *http.Server // http (with the fast engine: its fallback)
	conns *connTracker // http
	lm    *observe.ListenerMetrics
	// fast is the HTTP/1.1 engine of a plain-HTTP listener (engine: fast); fbCL feeds
	// srv the connections it hands over, fbServed closes when srv.Serve returns.
	fast *h1.Server
	// h2 serves the h2c prior-knowledge connections the engine hands over (net/http
	// keeps the other handed-over ones: upgrades, and HTTP/2 over TLS).
	h2       *h2.Server
	fbCL     *chanListener
	fbServed chan struct{}
	tls      *tlsconf.Config
	// redirect is the plain-HTTP listener that redirects to this TLS one (tls.redirect_http).
	redirect *listener
	tcp      *l4.TCPServer
	// tcpFilter is a tcp listener's ip_filter, applied to the TCP peer at accept.
	tcpFilter *ipfilter.Filter
	udp       *l4.UDPServer
	pc        net.PacketConn // udp

	startOnce sync.Once
	served    chan struct{} // closed when the serve goroutine returns
}

func (l *listener) addr() net.Addr {
	if l.pc != nil {
		return l.pc.LocalAddr()
	}
	return l.sock.ln.Addr()
}

// sameServer reports whether a listener built for a can serve b as is: everything but
// the L4 routing (upstream, sni), which SetTable changes live, must be equal.
func sameServer(a, b *config.Listener) bool {
	x, y := *a, *b
	x.Upstream, y.Upstream = "", ""
	x.SNI, y.SNI = nil, nil
	return config.Same(&x, &y)
}

// prepareListeners binds what is new and builds a server per listener of cfg, without
// serving. A listener whose server settings are unchanged is reused; one on an address
// an old listener already holds takes over that socket. On error every socket opened
// here is closed and nothing else changed.
func (g *Gateway) prepareListeners(cfg *config.Config) (map[string]*listener, error) {
	next := map[string]*listener{}
	var opened []closer
	byAddr := map[string]*socket{}
	udpByAddr := map[string]*listener{}
	// Sockets are found again by their configured and their bound address, so a listener
	// configured with port 0 is found by a config naming the port it got. A port-0
	// address itself never matches: each one asks for a new port.
	remember := func(addr string, sock *socket) {
		if !strings.HasSuffix(addr, ":0") {
			byAddr[addr] = sock
		}
	}
	for _, l := range g.listeners {
		if l.pc != nil {
			udpByAddr[l.addr().String()] = l
			if !strings.HasSuffix(l.cfg.Address, ":0") {
				udpByAddr[l.cfg.Address] = l
			}
		} else {
			remember(l.cfg.Address, l.sock)
			remember(l.addr().String(), l.sock)
		}
		if r := l.redirect; r != nil {
			remember(r.cfg.Address, r.sock)
			remember(r.addr().String(), r.sock)
		}
	}
	bind := func(addr string) (*socket, error) {
		if sock := byAddr[addr]; sock != nil {
			return sock, nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		sock := newSocket(ln)
		opened = append(opened, ln)
		remember(addr, sock)
		return sock, nil
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfg.Listeners)) {
		lc := cfg.Listeners[name]
		if old := g.listeners[name]; old != nil && sameServer(old.cfg, lc) {
			next[name] = old
			continue
		}
		if lc.Protocol == config.ProtocolUDP {
			if old := udpByAddr[lc.Address]; old != nil {
				// One UDP socket cannot feed two servers; changing a UDP listener's
				// settings on the same address is not supported without a restart.
				errs = append(errs, fmt.Errorf("listener %s: changing the settings of a udp listener needs a restart", name))
				continue
			}
			pc, err := net.ListenPacket("udp", lc.Address)
			if err != nil {
				errs = append(errs, fmt.Errorf("listener %s: %w", name, err))
				continue
			}
			opened = append(opened, pc)
			next[name] = g.newUDPListener(lc, pc)
			continue
		}
		sock, err := bind(lc.Address)
		if err != nil {
			errs = append(errs, fmt.Errorf("listener %s: %w", name, err))
			continue
		}
		var l *listener
		if lc.Protocol == config.ProtocolTCP {
			l, err = g.newTCPListener(lc, sock)
		} else {
			l, err = g.newHTTPListener(lc, sock)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("listener %s: %w", name, err))
			continue
		}
		if lc.TLS != nil && lc.TLS.RedirectHTTP != "" {
			rs, err := bind(lc.TLS.RedirectHTTP)
			if err != nil {
				errs = append(errs, fmt.Errorf("listener %s: tls.redirect_http: %w", name, err))
				continue
			}
			l.redirect = g.newRedirectListener(lc, rs, sock.ln.Addr())
		}
		next[name] = l
	}
	if len(errs) > 0 {
		for _, c := range opened {
			c.Close()
		}
		return nil, errors.Join(errs...)
	}
	return next, nil
}

// closer is what prepareListeners may have to close on failure.
type closer interface{ Close() error }

func (g *Gateway) newHTTPListener(lc *config.Listener, sock *socket) (*listener, error) {
	l := &listener{cfg: lc, sock: sock, served: make(chan struct{}), conns: newConnTracker()}
	lm := g.metrics.Listener(lc.Name)
	l.lm = lm
	fast := lc.TLS == nil && lc.Engine == config.EngineFast
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	hd := &handler{g: g, listener: lc.Name, tls: lc.TLS != nil, hard: newHardening(lc)}
	srv := &http.Server{
		Handler:           hd,
		ConnContext:       hardenConnContext,
		ReadHeaderTimeout: lc.Timeouts.ReadHeader.D(),
		IdleTimeout:       lc.Timeouts.Idle.D(),
		MaxHeaderBytes:    int(lc.Limits.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		Protocols:         &protocols,
		ConnState: func(c net.Conn, s http.ConnState) {
			l.conns.hook(c, s)
			if !fast { // the engine's countListener already counts handed-over conns
				lm.ConnState(c, s)
			}
		},
	}
	if fast {
		l.fbServed = make(chan struct{})
		l.fast = h1.NewServer(h1.Options{
			Handler:           &fastHandler{g: g, listener: lc.Name},
			Fallback:          l.fallbackConn,
			Problem:           problemFor,
			ReadHeaderTimeout: lc.Timeouts.ReadHeader.D(),
			IdleTimeout:       lc.Timeouts.Idle.D(),
			// Streams (SSE, long polls) may be quiet for minutes; a stalled peer is cut
			// after this long without progress.
			StallTimeout:       5 * time.Minute,
			MaxHeaderBytes:     int(lc.Limits.MaxHeaderBytes),
			MaxHeaderCount:     lc.Limits.MaxHeaderCount,
			MaxURILength:       int(lc.Limits.MaxURILength),
			MaxRequestsPerConn: lc.Limits.MaxRequestsPerConnection,
			Logger:             g.log.With("listener", lc.Name),
		})
		hd.engine = l.fast
		l.h2 = h2.NewServer(h2.Options{
			Handler:           hd,
			ConnContext:       hardenConnContext,
			MaxHeaderListSize: uint32(lc.Limits.MaxHeaderBytes),
			ReadHeaderTimeout: lc.Timeouts.ReadHeader.D(),
			IdleTimeout:       lc.Timeouts.Idle.D(),
			Logger:            g.log.With("listener", lc.Name),
			UnindexedFields:   []string{observe.RequestIDHeader},
		})
	}
	if lc.TLS != nil {
		tc, err := tlsconf.New(lc.TLS, tlsconf.Options{Extra: lc.TLS.Options(), Logger: g.log.With("listener", lc.Name)})
		if err != nil {
			return nil, err
		}
		l.tls = tc
		srv.TLSConfig = tc.TLSConfig()
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge
	}
	l.srv = srv
	return l, nil
}

func (g *Gateway) newTCPListener(lc *config.Listener, sock *socket) (*listener, error) {
	var filter *ipfilter.Filter
	if lc.IPFilter != nil {
		var err error
		if filter, err = ipfilter.New(lc.IPFilter); err != nil {
			return nil, err
		}
	}
	return &listener{cfg: lc, sock: sock, served: make(chan struct{}), tcpFilter: filter, tcp: l4.NewTCP(l4.TCPOptions{
		Listener:            lc.Name,
		IdleTimeout:         lc.Timeouts.Idle.D(),
		MaxConnections:      lc.Limits.MaxConnections,
		AcceptProxyProtocol: lc.ProxyProtocol,
		Logger:              g.log.With("listener", lc.Name),
	})}, nil
}

func (g *Gateway) newUDPListener(lc *config.Listener, pc net.PacketConn) *listener {
	return &listener{cfg: lc, pc: pc, served: make(chan struct{}), udp: l4.NewUDP(l4.UDPOptions{
		Listener:    lc.Name,
		IdleTimeout: lc.Timeouts.Idle.D(),
		Logger:      g.log.With("listener", lc.Name),
	})}
}

// newRedirectListener serves plain HTTP on sock, redirecting every request to the TLS
// listener lc (308, same host and path).
func (g *Gateway) newRedirectListener(lc *config.Listener, sock *socket, tlsAddr net.Addr) *listener {
	_, port, _ := net.SplitHostPort(tlsAddr.String()) // the bound port, also for ":0"
	rc := &config.Listener{Name: lc.Name + "-redirect", Address: lc.TLS.RedirectHTTP, Protocol: config.ProtocolHTTP, Timeouts: lc.Timeouts}
	l := &listener{cfg: rc, sock: sock, served: make(chan struct{}), conns: newConnTracker()}
	l.srv = &http.Server{
		Handler:           tlsconf.RedirectHandler(port),
		ReadHeaderTimeout: lc.Timeouts.ReadHeader.D(),
		IdleTimeout:       lc.Timeouts.Idle.D(),
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		ConnState:         l.conns.hook,
	}
	return l
}

// setTable points an L4 listener at the routes of snap.
func (l *listener) setTable(snap *Snapshot) {
	t := snap.l4[l.cfg.Name]
	switch {
	case l.tcp != nil:
		l.tcp.SetTable(t)
	case l.udp != nil:
		l.udp.SetTable(t)
	}
}

// start serves the listener (once).
func (l *listener) start() {
	if l.redirect != nil {
		l.redirect.start()
	}
	l.startOnce.Do(func() {
		if l.udp != nil {
			go func() {
				defer close(l.served)
				l.udp.Serve(l.pc) //nolint:errcheck // ErrServerClosed after Shutdown
			}()
			return
		}
		l.cl = newChanListener(l.sock.ln.Addr())
		var ln net.Listener = l.cl
		if l.srv != nil {
			if l.cfg.ProxyProtocol {
				ln = proxyproto.NewListener(ln, l.cfg.Timeouts.ReadHeader.D())
			}
			if n := l.cfg.Limits.MaxConnections; n > 0 {
				ln = &limitListener{Listener: ln, max: int64(n)}
			}
			if l.srv.TLSConfig != nil {
				// TLS is layered here rather than by ServeTLS, so the tracker below sees
				// the same *tls.Conn that the server reports states for.
				// Under TLS the socket's reads and writes are raw system calls, as the
				// HTTP engines make them on plain listeners (internal/rawio).
				ln = tls.NewListener(rawio.Listener(ln), l.srv.TLSConfig)
			}
		}
		hard := func(ln net.Listener) net.Listener {
			// The raw framing check reads plaintext bytes; TLS conns belong to net/http whole.
			if h, ok := l.srv.Handler.(*handler); ok && l.srv.TLSConfig == nil {
				return h.hard.wrap(ln)
			}
			return ln
		}
		if l.fast != nil {
			// The engine takes every connection first (its own parser is as strict); net/http
			// gets the ones it hands over, behind the same framing check as a standard listener.
			ln = &countListener{Listener: ln, m: l.lm}
			l.fbCL = newChanListener(l.sock.ln.Addr())
			fb := &trackListener{Listener: hard(l.fbCL), t: l.conns}
			go func() {
				defer close(l.fbServed)
				l.srv.Serve(fb) //nolint:errcheck // ErrServerClosed after Shutdown
			}()
		} else if l.srv != nil {
			ln = &trackListener{Listener: hard(ln), t: l.conns} // outermost: sees the conn the server sees
		}
		if l.tcpFilter != nil {
			ln = &filterListener{Listener: ln, f: l.tcpFilter}
		}
		go func() {
			defer close(l.served)
			switch {
			case l.tcp != nil:
				l.tcp.Serve(ln) //nolint:errcheck // ErrServerClosed after Shutdown
			case l.fast != nil:
				l.fast.Serve(ln) //nolint:errcheck // ErrServerClosed after Shutdown
			default:
				l.srv.Serve(ln) //nolint:errcheck // ErrServerClosed after Shutdown
			}
		}()
		l.sock.attach(l.cl)
		l.sock.start()
	})
}

// fallbackConn takes a connection the HTTP/1.1 engine hands over: an h2c
// prior-knowledge connection goes to the listener's HTTP/2 server, anything else
// (upgrades) to net/http.
func (l *listener) fallbackConn(c net.Conn) {
	// The engine replays what it read, at least the request line it judged, so this
	// read returns buffered bytes and never waits on the client.
	var line [len(h2PrefaceLine)]byte
	n, err := io.ReadFull(c, line[:])
	c = &prefixConn{Conn: c, prefix: line[:n]}
	if err == nil && string(line[:]) == h2PrefaceLine && l.h2 != nil {
		go l.h2.ServeConn(c)
		return
	}
	if !l.fbCL.deliver(c) {
		c.Close() // shutting down
	}
}

// h2PrefaceLine is the first line of the HTTP/2 connection preface (RFC 9113 section 3.4).
const h2PrefaceLine = "PRI * HTTP/2.0\r\n"

// prefixConn reads prefix before the connection itself.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes when the wrapped conn can (lingering closes need it).
func (c *prefixConn) CloseWrite() error { return closeWrite(c.Conn) }

// NetConn returns the wrapped connection.
func (c *prefixConn) NetConn() net.Conn { return c.Conn }

// shutdown stops the listener's server; its bound socket is closed too unless keep
// says a newer listener serves on it. Idle connections close at once, active ones may
// finish until ctx is done, then they are closed. Hijacked connections (WebSockets)
// are left alone.
func (l *listener) shutdown(ctx context.Context, keep map[*socket]bool) error {
	if l.redirect != nil {
		defer l.redirect.shutdown(ctx, keep) //nolint:errcheck
	}
	closeSocket := l.sock != nil && !keep[l.sock]
	if l.udp != nil {
		err := l.udp.Shutdown(ctx)
		l.pc.Close()
		return err
	}
	if closeSocket {
		l.sock.close()
	}
	if l.cl != nil {
		l.cl.Close()
	}
	switch {
	case l.tcp != nil:
		return l.tcp.Shutdown(ctx)
	case l.fast != nil:
		// HTTP/2 streams forward through the engine's upstream pool, so they drain
		// alongside the engine's own connections.
		errH2 := make(chan error, 1)
		go func() { errH2 <- l.h2.Shutdown(ctx) }()
		errFast := l.fast.Shutdown(ctx)
		errFast = errors.Join(errFast, <-errH2)
		var errStd error
		if l.fbCL != nil {
			l.fbCL.Close()
			errStd = l.drainHTTP(ctx, l.fbServed)
		}
		return errors.Join(errFast, errStd)
	}
	var served chan struct{}
	if l.cl != nil {
		served = l.served
	}
	return l.drainHTTP(ctx, served)
}

// drainHTTP shuts the net/http server down without losing a request (see connTracker):
// served, when not nil, closes once Serve has returned (its listener was closed), so
// every connection it accepted has been reported to the tracker.
func (l *listener) drainHTTP(ctx context.Context, served chan struct{}) error {
	var err error
	if served != nil {
		select {
		case <-served:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	l.srv.SetKeepAlivesEnabled(false)
	if err == nil {
		err = l.conns.waitQuiet(ctx)
	}
	if err == nil {
		err = l.srv.Shutdown(ctx)
	}
	if err != nil {
		l.srv.Close()
	}
	return err
}

// filterListener closes connections from TCP peers a tcp listener's ip_filter denies.
// It returns the accepted *net.TCPConn itself, so the splice path stays.
type filterListener struct {
	net.Listener
	f *ipfilter.Filter
}

func (l *filterListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil && l.f.Allowed(ap.Addr().Unmap()) {
			return c, nil
		}
		c.Close()
	}
}

// countListener keeps a listener's active-connections gauge for the HTTP/1.1 engine.
type countListener struct {
	net.Listener
	m *observe.ListenerMetrics
}

func (l *countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.m.Opened()
	return &countConn{Conn: c, m: l.m}, nil
}

type countConn struct {
	net.Conn
	m    *observe.ListenerMetrics
	once sync.Once
}

func (c *countConn) Close() error {
	c.once.Do(c.m.Closed)
	return c.Conn.Close()
}

// SyscallConn passes the socket through: the wrapper buffers nothing, so the HTTP/1.1
// engine may park the connection on its descriptor while it idles (internal/h1).
func (c *countConn) SyscallConn() (syscall.RawConn, error) { return rawConnOf(c.Conn) }

// CloseWrite passes the half-close through (see closeWrite).
func (c *countConn) CloseWrite() error { return closeWrite(c.Conn) }
