//go:build linux

package h1

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestWriteAwait drives an upstream connection's write-then-wait against a real
// loopback peer: the request must arrive whole, the wait must end with the connection
// readable when the peer answers, and every other ending must surface through read
// exactly as a plain Read would report it.
func TestWriteAwait(t *testing.T) {
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	tests := []struct {
		name string
		peer func(c net.Conn) // runs after the request arrived
		// wantReadable: the wait ended because bytes (or the close) arrived.
		wantReadable bool
		want         string // what read returns, or
		wantErr      func(error) bool
	}{
		{
			name:         "answer",
			peer:         func(c net.Conn) { _, _ = c.Write([]byte("HTTP/1.1 200 OK\r\n\r\n")) },
			wantReadable: true,
			want:         "HTTP/1.1 200 OK\r\n\r\n",
		},
		{
			name: "late answer",
			peer: func(c net.Conn) {
				time.Sleep(30 * time.Millisecond) // the waiter must be parked by now
				_, _ = c.Write([]byte("late"))
			},
			wantReadable: true,
			want:         "late",
		},
		{
			name:         "close",
			peer:         func(c net.Conn) { _ = c.Close() },
			wantReadable: true,
			wantErr:      func(err error) bool { return err == io.EOF },
		},
		{
			name:         "silence until the deadline",
			peer:         func(c net.Conn) {},
			wantReadable: false,
			wantErr:      isTimeout,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan []byte, 1)
			hold := make(chan struct{})
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- nil
					return
				}
				defer c.Close()
				b := make([]byte, len(req))
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, _ := io.ReadFull(c, b)
				got <- b[:n]
				tc.peer(c)
				<-hold
			}()
			defer close(hold)
			p := newUpstreamPool(0, time.Minute, time.Minute)
			u, err := p.dial(ln.Addr().String(), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer u.close()
			_ = u.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := u.writeAwait(req)
			if n != len(req) || err != nil {
				t.Fatalf("writeAwait() = %d, %v, want %d, nil", n, err, len(req))
			}
			if b := <-got; string(b) != string(req) {
				t.Errorf("peer got %q, want %q", b, req)
			}
			if u.aw.readable != tc.wantReadable {
				t.Errorf("readable = %v, want %v", u.aw.readable, tc.wantReadable)
			}
			buf := make([]byte, 64)
			n, err = u.read(buf)
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Errorf("read() = %d, %v, want the %s error", n, err, tc.name)
				}
				return
			}
			if err != nil || string(buf[:n]) != tc.want {
				t.Errorf("read() = %q, %v, want %q, nil", buf[:n], err, tc.want)
			}
			if u.aw.readable {
				t.Errorf("readable after read = true, want false (only the first read skips the poller)")
			}
		})
	}
}

// TestWriteAwaitWriteError: a write to a connection the peer reset fails like a plain
// Write (a *net.OpError "write"), so the caller's stale-connection retry still applies.
func TestWriteAwaitWriteError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed, accepted := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(accepted)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		<-dialed                          // a reset during the handshake would fail the dial instead
		_ = c.(*net.TCPConn).SetLinger(0) // close with a reset
		_ = c.Close()
	}()
	p := newUpstreamPool(0, time.Minute, time.Minute)
	u, err := p.dial(ln.Addr().String(), time.Second)
	close(dialed)
	if err != nil {
		t.Fatal(err)
	}
	defer u.close()
	<-accepted
	// Wait for the reset to land: a read reports it.
	_ = u.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for i := 0; i < 100; i++ {
		if _, err := u.c.Read(make([]byte, 1)); err != nil {
			break
		}
	}
	_, err = u.writeAwait([]byte("GET / HTTP/1.1\r\n\r\n"))
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "write" {
		t.Errorf("writeAwait() error = %v, want a *net.OpError with Op write", err)
	}
}
