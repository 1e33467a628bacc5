package proxyproto

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func listen(t *testing.T, timeout time.Duration) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl := NewListener(ln, timeout)
	t.Cleanup(func() { pl.Close() })
	return pl
}

func dial(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestListenerSlowClientDoesNotBlockAccept: a silent first client must not delay the
// second one, because the header is read in the connection's goroutine.
func TestListenerSlowClientDoesNotBlockAccept(t *testing.T) {
	t.Parallel()
	ln := listen(t, 10*time.Second)
	silent := dial(t, ln.Addr())
	_ = silent
	talker := dial(t, ln.Addr())
	if _, err := talker.Write([]byte("PROXY TCP4 203.0.113.7 198.51.100.1 4242 443\r\nhello")); err != nil {
		t.Fatal(err)
	}

	conns := make(chan net.Conn, 2)
	go func() {
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	// Serve both accepted conns concurrently; the talker's must complete while the
	// silent one is still waiting for its header (10 s timeout).
	got := make(chan string, 2)
	for range 2 {
		select {
		case c := <-conns:
			t.Cleanup(func() { c.Close() })
			go func() {
				buf := make([]byte, 5)
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				got <- c.RemoteAddr().String() + " " + c.LocalAddr().String() + " " + string(buf)
			}()
		case <-time.After(5 * time.Second):
			t.Fatal("Accept() blocked by a silent client")
		}
	}
	select {
	case s := <-got:
		if want := "203.0.113.7:4242 198.51.100.1:443 hello"; s != want {
			t.Fatalf("RemoteAddr LocalAddr payload = %q, want %q", s, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("talker's connection not served while a silent one waits")
	}
}

func TestListenerHeaderTimeout(t *testing.T) {
	t.Parallel()
	ln := listen(t, 100*time.Millisecond)
	c := dial(t, ln.Addr())
	_ = c
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	done := make(chan error, 1)
	go func() {
		_, err := sc.Read(make([]byte, 1))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, ErrTruncated) {
			t.Fatalf("Read() error = %v, want deadline exceeded inside a truncated header", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read() not bounded by the header timeout")
	}
	// The real peer is reported when no header could be read.
	if got, want := sc.RemoteAddr().String(), c.LocalAddr().String(); got != want {
		t.Fatalf("RemoteAddr() = %s, want real peer %s", got, want)
	}
}

func TestListenerRejectsNonProxy(t *testing.T) {
	t.Parallel()
	ln := listen(t, 5*time.Second)
	c := dial(t, ln.Addr())
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, err := sc.Read(make([]byte, 1)); !errors.Is(err, ErrNoHeader) {
		t.Fatalf("Read() error = %v, want ErrNoHeader", err)
	}
}

// TestListenerKeepsUserDeadline: net/http sets a read deadline before the first Read;
// the header read must restore it rather than clear it.
func TestListenerKeepsUserDeadline(t *testing.T) {
	t.Parallel()
	ln := listen(t, 5*time.Second)
	c := dial(t, ln.Addr())
	if _, err := c.Write(AppendV2(nil, addrPortOf(t, "192.0.2.1:1"), addrPortOf(t, "192.0.2.2:2"))); err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := sc.Read(make([]byte, 1)) // header arrives, payload never does
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read() error = %v, want the user's deadline to fire", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("user read deadline lost after the header read")
	}
	if got := sc.RemoteAddr().String(); got != "192.0.2.1:1" {
		t.Fatalf("RemoteAddr() = %s, want 192.0.2.1:1", got)
	}
}
