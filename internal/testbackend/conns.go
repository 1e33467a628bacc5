package testbackend

import (
	"net"
	"testing"
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
