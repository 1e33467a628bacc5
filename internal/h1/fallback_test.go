package h1

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/testbackend"
)

// connListener hands conns given to Fallback to a net/http server, as the gateway's
// chanListener does.
type connListener struct {
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *connListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func TestFallback(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	l := &connListener{ch: make(chan net.Conn), closed: make(chan struct{})}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	fb := &http.Server{Protocols: &protos, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "websocket" {
			hj, brw, _ := w.(http.Hijacker).Hijack()
			defer hj.Close()
			_, _ = io.WriteString(hj, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Key: "+r.Header.Get("Sec-WebSocket-Key")+"\r\n\r\n")
			buf := make([]byte, 4)
			n, _ := io.ReadFull(brw, buf) // net/http may have buffered the bytes already
			_, _ = hj.Write(buf[:n])      // echo
			return
		}
		_, _ = io.WriteString(w, "fallback "+r.Proto+" "+r.URL.Path)
	})}
	go func() { _ = fb.Serve(l) }()
	t.Cleanup(func() { _ = fb.Close() })

	h := &testHandler{picker: &orderPicker{targets: []*balancer.Target{newTarget(up.addr())}}, route: func(req *Request, d *Decision) {
		if req.Path() == "/fb" {
			d.Kind = Fallback
		}
	}}
	_, addr := engine(t, Options{Handler: h, Fallback: func(c net.Conn) {
		select {
		case l.ch <- c:
		case <-time.After(5 * time.Second):
			c.Close()
		}
	}})

	t.Run("upgrade_websocket", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k123\r\n\r\nping")
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 101 || resp.Header.Get("X-Key") != "k123" {
			t.Fatalf("got %d key %q, want 101 k123", resp.StatusCode, resp.Header.Get("X-Key"))
		}
		echo := make([]byte, 4)
		if _, err := io.ReadFull(c.br, echo); err != nil || string(echo) != "ping" {
			t.Fatalf("echo %q err %v, want ping (bytes read by the engine replayed)", echo, err)
		}
		if up.requests.Load() != 0 {
			t.Error("upgrade request reached the upstream")
		}
	})
	t.Run("h2c_prior_knowledge", func(t *testing.T) {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		cl := &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 10 * time.Second}
		resp, err := cl.Get("http://" + addr + "/h2")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "fallback HTTP/2.0 /h2" {
			t.Fatalf("got %q, want the net/http fallback over h2c", b)
		}
	})
	t.Run("handler_marks_fallback_mid_connection", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send("GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /fb HTTP/1.1\r\nHost: a\r\n\r\n")
		if _, body := c.response("GET"); body != "hello /first" {
			t.Fatalf("first = %q, want the engine's forward", body)
		}
		if _, body := c.response("GET"); body != "fallback HTTP/1.1 /fb" {
			t.Fatalf("second = %q, want net/http's answer", body)
		}
	})
}

// TestReplayConnCloseWrite: the conn Fallback receives half-closes the socket beneath
// it (the peer reads the replayed side's EOF) and, over a conn that cannot, says
// errors.ErrUnsupported rather than pretending it did.
func TestReplayConnCloseWrite(t *testing.T) {
	client, server := testbackend.TCPPair(t)
	if err := (&replayConn{Conn: server}).CloseWrite(); err != nil {
		t.Fatalf("CloseWrite() = %v, want nil", err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("peer Read() = %d, %v, want 0, EOF", n, err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if err := (&replayConn{Conn: a}).CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("CloseWrite() over net.Pipe = %v, want errors.ErrUnsupported", err)
	}
}
