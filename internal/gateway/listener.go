package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/l4"
	"github.com/gantrygw/gantry/internal/proxyproto"
	"github.com/gantrygw/gantry/internal/tlsconf"
)

// listener is the runtime of one configured listener: an http.Server, an L4 TCP server
// (both fed by a socket), or an L4 UDP server on a packet conn.
type listener struct {
	cfg  *config.Listener
	sock *socket // http, tcp: shared with the listener it took over, if any
	cl   *chanListener

	srv   *http.Server // http
	conns *connTracker // http
	tls   *tlsconf.Config
	// redirect is the plain-HTTP listener that redirects to this TLS one (tls.redirect_http).
	redirect *listener
	tcp   *l4.TCPServer
	udp   *l4.UDPServer
	pc    net.PacketConn // udp

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
	for _, l := range g.listeners {
		// Key by the configured and the bound address: a listener configured with port 0
		// is found again by a config naming the port it got.
		for _, a := range []string{l.cfg.Address, l.addr().String()} {
			if l.pc != nil {
				udpByAddr[a] = l
			} else {
				byAddr[a] = l.sock
			}
		}
		if r := l.redirect; r != nil {
			byAddr[r.cfg.Address] = r.sock
			byAddr[r.addr().String()] = r.sock
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
		byAddr[addr] = sock
		return sock, nil
	}
	var errs []error
	for _, name := range sortedKeys(cfg.Listeners) {
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
			l = g.newTCPListener(lc, sock)
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
			l.redirect = g.newRedirectListener(lc, rs)
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
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	srv := &http.Server{
		Handler:           &handler{g: g, listener: lc.Name, tls: lc.TLS != nil, hard: newHardening(lc)},
		ConnContext:       hardenConnContext,
		ReadHeaderTimeout: lc.Timeouts.ReadHeader.D(),
		IdleTimeout:       lc.Timeouts.Idle.D(),
		MaxHeaderBytes:    int(lc.Limits.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		Protocols:         &protocols,
		ConnState: func(c net.Conn, s http.ConnState) {
			l.conns.hook(c, s)
			lm.ConnState(c, s)
		},
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

func (g *Gateway) newTCPListener(lc *config.Listener, sock *socket) *listener {
	return &listener{cfg: lc, sock: sock, served: make(chan struct{}), tcp: l4.NewTCP(l4.TCPOptions{
		Listener:            lc.Name,
		IdleTimeout:         lc.Timeouts.Idle.D(),
		MaxConnections:      lc.Limits.MaxConnections,
		AcceptProxyProtocol: lc.ProxyProtocol,
		Logger:              g.log.With("listener", lc.Name),
	})}
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
func (g *Gateway) newRedirectListener(lc *config.Listener, sock *socket) *listener {
	_, port, _ := net.SplitHostPort(lc.Address)
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
			if h, ok := l.srv.Handler.(*handler); ok {
				ln = h.hard.wrap(ln)
			}
		}
		go func() {
			defer close(l.served)
			switch {
			case l.tcp != nil:
				l.tcp.Serve(ln) //nolint:errcheck // ErrServerClosed after Shutdown
			case l.srv.TLSConfig != nil:
				l.srv.ServeTLS(ln, "", "") //nolint:errcheck // ErrServerClosed after Shutdown
			default:
				l.srv.Serve(ln) //nolint:errcheck // ErrServerClosed after Shutdown
			}
		}()
		l.sock.attach(l.cl)
		l.sock.start()
	})
}

// shutdown stops the listener's server; its bound socket is closed too unless keep
// says a newer listener serves on it. Idle connections close at once, active ones may finish until ctx
// is done, then they are closed. Hijacked connections (WebSockets) are left alone.
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
	if l.tcp != nil {
		return l.tcp.Shutdown(ctx)
	}
	// See connTracker for why Shutdown comes last.
	l.srv.SetKeepAlivesEnabled(false)
	err := l.conns.waitQuiet(ctx)
	if err == nil {
		err = l.srv.Shutdown(ctx)
	}
	if err != nil {
		l.srv.Close()
	}
	return err
}
