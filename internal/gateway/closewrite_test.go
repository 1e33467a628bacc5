package gateway

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/testbackend"
)

// TestWrappersPassCloseWrite: every wrapper the gateway puts around an accepted
// connection half-closes the socket beneath it (the peer reads EOF), and says
// errors.ErrUnsupported over a connection that cannot. limitConn and countConn used to
// drop CloseWrite, so HTTP/2's lingering close after GOAWAY waited for its deadline
// (TestH2ServerOnEngineListener's Shutdown timed out about once in 150 runs).
func TestWrappersPassCloseWrite(t *testing.T) {
	wrappers := []struct {
		name string
		wrap func(net.Conn) net.Conn
	}{
		{"limitConn", func(c net.Conn) net.Conn { return &limitConn{Conn: c} }},
		{"countConn", func(c net.Conn) net.Conn { return &countConn{Conn: c} }},
		{"prefixConn", func(c net.Conn) net.Conn { return &prefixConn{Conn: c} }},
		{"rawConn", func(c net.Conn) net.Conn { return &rawConn{Conn: c} }},
		{"limitConn in countConn", func(c net.Conn) net.Conn { return &countConn{Conn: &limitConn{Conn: c}} }},
	}
	for _, w := range wrappers {
		t.Run(w.name, func(t *testing.T) {
			client, server := testbackend.TCPPair(t)
			cw, ok := w.wrap(server).(interface{ CloseWrite() error })
			if !ok {
				t.Fatal("wrapper has no CloseWrite")
			}
			if err := cw.CloseWrite(); err != nil {
				t.Fatalf("CloseWrite() = %v, want nil", err)
			}
			client.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Fatalf("peer Read() = %d, %v, want 0, EOF", n, err)
			}

			a, b := net.Pipe() // no half-close
			defer a.Close()
			defer b.Close()
			if err := w.wrap(a).(interface{ CloseWrite() error }).CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
				t.Fatalf("CloseWrite() over net.Pipe = %v, want errors.ErrUnsupported", err)
			}
		})
	}
}
