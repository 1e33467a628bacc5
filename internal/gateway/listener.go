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
)

// listener is the runtime of one configured listener.
type listener struct {
	cfg  *config.Listener
	sock *socket // shared with the listener it took over, if any
	cl   *chanListener
	srv  *http.Server // http listeners

	startOnce sync.Once
	served    chan struct{} // closed when the serve goroutine returns
}

func (l *listener) addr() net.Addr { return l.sock.ln.Addr() }

// prepareListeners binds what is new and builds a server per listener of cfg, without
// serving. A listener whose config is unchanged is reused as is; one on an address an
// old listener already holds takes over that socket. On error every socket opened here
// is closed and nothing else changed.
func (g *Gateway) prepareListeners(cfg *config.Config) (map[string]*listener, error) {
	next := map[string]*listener{}
	var opened []*socket
	byAddr := map[string]*socket{}
	for _, l := range g.listeners {
		byAddr[l.cfg.Address] = l.sock
	}
	var errs []error
	for _, name := range sortedKeys(cfg.Listeners) {
		lc := cfg.Listeners[name]
		if old := g.listeners[name]; old != nil && config.Same(old.cfg, lc) {
			next[name] = old
			continue
		}
		if lc.Protocol != config.ProtocolHTTP {
			errs = append(errs, fmt.Errorf("listener %s: protocol %s is not supported yet", name, lc.Protocol))
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
			opened = append(opened, sock)
			byAddr[lc.Address] = sock
		}
		l, err := g.newHTTPListener(lc, sock)
		if err != nil {
			errs = append(errs, fmt.Errorf("listener %s: %w", name, err))
			continue
		}
		next[name] = l
	}
	if len(errs) > 0 {
		for _, s := range opened {
			s.ln.Close()
		}
		return nil, errors.Join(errs...)
	}
	return next, nil
}

func (g *Gateway) newHTTPListener(lc *config.Listener, sock *socket) (*listener, error) {
	l := &listener{cfg: lc, sock: sock, served: make(chan struct{})}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	srv := &http.Server{
		Handler:           &handler{g: g, listener: lc.Name, tls: lc.TLS != nil},
		ReadHeaderTimeout: lc.Timeouts.ReadHeader.D(),
		IdleTimeout:       lc.Timeouts.Idle.D(),
		MaxHeaderBytes:    int(lc.Limits.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		Protocols:         &protocols,
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

// start serves the listener on its socket (once).
func (l *listener) start() {
	l.startOnce.Do(func() {
		l.cl = newChanListener(l.sock.ln.Addr())
		var ln net.Listener = l.cl
		if n := l.cfg.Limits.MaxConnections; n > 0 {
			ln = &limitListener{Listener: ln, max: int64(n)}
		}
		go func() {
			defer close(l.served)
			var err error
			if l.srv.TLSConfig != nil {
				err = l.srv.ServeTLS(ln, "", "")
			} else {
				err = l.srv.Serve(ln)
			}
			_ = err // http.ErrServerClosed after Shutdown; accept errors end only with the socket
		}()
		l.sock.attach(l.cl)
		l.sock.start()
	})
}

// shutdown stops the listener's server: with closeSocket the bound socket is closed too
// (no socket sharing). Idle connections close at once, active ones may finish until ctx
// is done, then they are closed. Hijacked connections (WebSockets) are left alone.
func (l *listener) shutdown(ctx context.Context, closeSocket bool) error {
	if closeSocket {
		l.sock.close()
	}
	if l.cl != nil {
		l.cl.Close()
	}
	err := l.srv.Shutdown(ctx)
	if err != nil {
		l.srv.Close()
	}
	return err
}
