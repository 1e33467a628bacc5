package testbackend

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"

	"golang.org/x/net/http2"
)

// ServeConns accepts connections on ln until the test ends and runs handle for each
// on its own goroutine, closing the connection when handle returns; ln is closed at
// test cleanup. It returns ln's address. For raw-socket peers a test writes by hand
// (canned upstream answers, TLS handshake targets, servers under test that take a
// net.Conn).
func ServeConns(t testing.TB, ln net.Listener, handle func(net.Conn)) string {
	t.Helper()
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// Listen returns a TCP listener on 127.0.0.1:0 (closed by ServeConns, or by the caller).
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TCPPair returns both ends of one real loopback TCP connection, closed at test
// cleanup: for code under test that takes a socket directly (pollers, raw I/O).
func TCPPair(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	ln := Listen(t)
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		acc <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-acc
	if s == nil {
		c.Close()
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// H2CClient returns x/net/http2's client speaking h2c with prior knowledge: a real
// HTTP/2 client for plain-text listeners. No timeout is set; callers add one if needed.
func H2CClient() *http.Client {
	return &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}
