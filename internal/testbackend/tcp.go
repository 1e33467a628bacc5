package testbackend

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/proxyproto"
)

// TCPMode selects what a TCP backend does with a connection.
type TCPMode int

const (
	// TCPModeEcho echoes every byte until the client half-closes, then half-closes back.
	TCPModeEcho TCPMode = iota
	// TCPModeSHA256 reads until the client half-closes, then replies with the lowercase
	// hex SHA-256 of everything it read (64 bytes) and closes.
	TCPModeSHA256
)

// TCPOptions configures StartTCP.
type TCPOptions struct {
	Mode TCPMode
	// ProxyProtocol requires a PROXY v1/v2 header on every connection; the header's
	// source is what Remotes reports.
	ProxyProtocol bool
}

// TCPEcho is a real TCP backend on 127.0.0.1. Its methods are safe for concurrent use.
type TCPEcho struct {
	t    testing.TB
	opts TCPOptions
	addr string

	accepted atomic.Int64

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}
	remotes []string
	wg      sync.WaitGroup
}

// StartTCPEcho starts an echo backend (TCPModeEcho) on 127.0.0.1:0, stopped at test cleanup.
func StartTCPEcho(t testing.TB) *TCPEcho { return StartTCP(t, TCPOptions{Mode: TCPModeEcho}) }

// StartTCPSHA256 starts a sha256 sink backend (TCPModeSHA256) on 127.0.0.1:0.
func StartTCPSHA256(t testing.TB) *TCPEcho { return StartTCP(t, TCPOptions{Mode: TCPModeSHA256}) }

// StartTCP starts a TCP backend with opts on 127.0.0.1:0, stopped at test cleanup.
func StartTCP(t testing.TB, opts TCPOptions) *TCPEcho {
	t.Helper()
	e := &TCPEcho{t: t, opts: opts, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testbackend: listen: %v", err)
	}
	e.addr = ln.Addr().String()
	e.start(ln)
	t.Cleanup(e.Stop)
	return e
}

// Addr returns host:port; it stays the same across Stop and Restart.
func (e *TCPEcho) Addr() string { return e.addr }

// Conns returns how many connections were accepted since start (across restarts).
func (e *TCPEcho) Conns() int64 { return e.accepted.Load() }

// Active returns how many connections are open right now.
func (e *TCPEcho) Active() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.conns)
}

// Remotes returns each accepted connection's RemoteAddr in accept order (the PROXY
// header's source with ProxyProtocol).
func (e *TCPEcho) Remotes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.remotes...)
}

// Stop closes the listener and every open connection and waits for their goroutines.
// Dials to Addr are then refused. Stop is idempotent.
func (e *TCPEcho) Stop() {
	e.mu.Lock()
	if e.ln != nil {
		e.ln.Close()
		e.ln = nil
	}
	for c := range e.conns {
		c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// Restart listens again on the same address after Stop.
func (e *TCPEcho) Restart() {
	e.t.Helper()
	e.Stop()
	var ln net.Listener
	var err error
	// The port was ours a moment ago; a few tries cover a racing ephemeral dial.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", e.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		e.t.Fatalf("testbackend: restart on %s: %v", e.addr, err)
	}
	e.start(ln)
}

func (e *TCPEcho) start(ln net.Listener) {
	if e.opts.ProxyProtocol {
		ln = proxyproto.NewListener(ln, 5*time.Second)
	}
	e.mu.Lock()
	e.ln = ln
	e.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			if e.ln != ln { // stopped between Accept and here
				e.mu.Unlock()
				c.Close()
				return
			}
			e.accepted.Add(1)
			e.conns[c] = struct{}{}
			e.wg.Add(1)
			e.mu.Unlock()
			go e.serve(c)
		}
	}()
}

func (e *TCPEcho) serve(c net.Conn) {
	defer e.wg.Done()
	defer func() {
		c.Close()
		e.mu.Lock()
		delete(e.conns, c)
		e.mu.Unlock()
	}()
	remote := c.RemoteAddr().String() // reads the PROXY header when required
	e.mu.Lock()
	e.remotes = append(e.remotes, remote)
	e.mu.Unlock()
	switch e.opts.Mode {
	case TCPModeSHA256:
		h := sha256.New()
		if _, err := io.Copy(h, c); err != nil {
			return
		}
		var sum [sha256.Size]byte
		_, _ = c.Write(hex.AppendEncode(nil, h.Sum(sum[:0])))
		closeWrite(c)
	default:
		if _, err := io.Copy(c, c); err != nil {
			return
		}
		closeWrite(c)
		// Wait for the client to close so the FIN is not turned into a reset.
		_, _ = io.Copy(io.Discard, c)
	}
}

// closeWrite half-closes c, looking through wrappers for the TCP connection.
func closeWrite(c net.Conn) {
	if pc, ok := c.(*proxyproto.Conn); ok {
		c = pc.NetConn()
	}
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
}
