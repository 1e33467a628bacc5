package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/l4"
	"github.com/gantrygw/gantry/internal/proxyproto"
)

// listener is the runtime of one configured listener: an http.Server, an L4 TCP server
// (both fed by a socket), or an L4 UDP server on a packet conn.
type listener struct {
	cfg  *config.Listener
	sock *socket // http, tcp: shared with the listener it took over, if any
	cl   *chanListener

	srv   *http.Server // http
	conns *connTracker // http
	tcp *l4.TCPServer
	udp *l4.UDPServer
	pc  net.PacketConn // udp

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
		sock := byAddr[lc.Address]
		if sock == nil {
			ln, err := net.Listen("tcp", lc.Address)
			if err != nil {
				errs = append(errs, fmt.Errorf("listener %s: %w", name, err))
				continue
			}
			sock = newSocket(ln)
			opened = append(opened, ln)
			byAddr[lc.Address] = sock
		}
		var l *listener
		var err error
		if lc.Protocol == config.ProtocolTCP {
			l = g.newTCPListener(lc, sock)
		} else {
			l, err = g.newHTTPListener(lc, sock)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("listener %s: %w", name, err))
			continue
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
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	srv := &http.Server{
		Handler:           &handler{g: g, listener: lc.Name, tls: lc.TLS != nil},
		ReadHeaderTimeout: lc.Timeouts.ReadHeader.D(),
		IdleTimeout:       lc.Timeouts.Idle.D(),
		MaxHeaderBytes:    int(lc.Limits.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		Protocols:         &protocols,
		ConnState:         l.conns.hook,
	}
	if lc.TLS != nil {
		tc, err := loadTLS(lc.TLS)
		if err != nil {
			return nil, err
		}
		srv.TLSConfig = tc
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

// loadTLS builds the listener's TLS config from certificate files.
func loadTLS(c *config.TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	if c.MinVersion == "1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	for _, cf := range c.Certificates {
		cert, err := tls.LoadX509KeyPair(cf.CertFile, cf.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls certificate %s: %w", cf.CertFile, err)
		}
		tc.Certificates = append(tc.Certificates, cert)
	}
	return tc, nil
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

// shutdown stops the listener's server: with closeSocket the bound socket is closed too
// (no socket sharing). Idle connections close at once, active ones may finish until ctx
// is done, then they are closed. Hijacked connections (WebSockets) are left alone.
func (l *listener) shutdown(ctx context.Context, closeSocket bool) error {
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
