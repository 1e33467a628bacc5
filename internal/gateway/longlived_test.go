package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gantrygw/gantry/internal/testbackend"
)

// TestTCPListener proxies raw TCP through a tcp listener: a refused target is skipped,
// half-close works, and the echo comes back whole.
func TestTCPListener(t *testing.T) {
	e1, e2 := testbackend.StartTCPEcho(t), testbackend.StartTCPEcho(t)
	dead := testbackend.StartTCPEcho(t)
	deadAddr := dead.Addr()
	dead.Stop()
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  db: { address: "127.0.0.1:0", protocol: tcp, upstream: echo }
upstreams:
  echo: { targets: [%q, %q, %q] }
`, deadAddr, e1.Addr(), e2.Addr())))
	for i := 0; i < 6; i++ {
		c, err := net.Dial("tcp", g.Addr("db").String())
		if err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("hello %d", i)
		io.WriteString(c, msg)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != msg {
			t.Fatalf("connection %d: echo = %q, %v; want %q", i, got, err, msg)
		}
	}
	if e1.Conns() == 0 || e2.Conns() == 0 {
		t.Fatalf("connections per live backend = %d, %d; want both used", e1.Conns(), e2.Conns())
	}
}

// TestLongLivedSurviveReload: a WebSocket and a TCP session opened before a reload that
// changes the upstream and the listener's settings keep working after it.
func TestLongLivedSurviveReload(t *testing.T) {
	ws := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "ws"})
	other := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "other"})
	echo := testbackend.StartTCPEcho(t)
	conf := func(httpTarget, idle string) string {
		return fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0", timeouts: { idle: %s } }
  tcp: { address: "127.0.0.1:0", protocol: tcp, upstream: echo }
upstreams:
  app: { targets: [%q] }
  echo: { targets: [%q] }
routes:
  - { name: all, upstream: app }
`, idle, httpTarget, echo.Addr())
	}
	g := start(t, parse(t, conf(ws.URL, "60s")))
	web, tcp := g.Addr("web").String(), g.Addr("tcp").String()
	pin := func(s string) string {
		s = strings.Replace(s, `web: { address: "127.0.0.1:0"`, `web: { address: "`+web+`"`, 1)
		return strings.Replace(s, `tcp: { address: "127.0.0.1:0"`, `tcp: { address: "`+tcp+`"`, 1)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wc, _, err := websocket.Dial(ctx, "ws://"+web+"/ws", nil)
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	defer wc.CloseNow()
	tc, err := net.Dial("tcp", tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	roundTrip := func(when string) {
		t.Helper()
		if err := wc.Write(ctx, websocket.MessageText, []byte("ping "+when)); err != nil {
			t.Fatalf("%s: websocket write: %v", when, err)
		}
		_, msg, err := wc.Read(ctx)
		if err != nil || string(msg) != "ping "+when {
			t.Fatalf("%s: websocket read = %q, %v", when, msg, err)
		}
		io.WriteString(tc, when)
		buf := make([]byte, len(when))
		tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(tc, buf); err != nil || string(buf) != when {
			t.Fatalf("%s: tcp echo = %q, %v", when, buf, err)
		}
	}
	roundTrip("before")
	if _, err := g.Reload(parse(t, pin(conf(other.URL, "30s")))); err != nil {
		t.Fatal(err)
	}
	roundTrip("after-first")
	if _, err := g.Reload(parse(t, pin(conf(ws.URL, "45s")))); err != nil {
		t.Fatal(err)
	}
	roundTrip("after-second")
}

// TestTCPListenerIPFilter: a tcp listener's ip_filter closes denied peers at accept.
func TestTCPListenerIPFilter(t *testing.T) {
	echo := testbackend.StartTCPEcho(t)
	for _, tc := range []struct {
		name   string
		filter string
		want   bool
	}{
		{name: "allowed", filter: `{ allow: ["127.0.0.0/8"] }`, want: true},
		{name: "denied", filter: `{ deny: ["127.0.0.1/32"] }`, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := start(t, parse(t, fmt.Sprintf(`
listeners:
  db: { address: "127.0.0.1:0", protocol: tcp, upstream: echo, ip_filter: %s }
upstreams:
  echo: { targets: [%q] }
`, tc.filter, echo.Addr())))
			c, err := net.Dial("tcp", g.Addr("db").String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "hi")
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, _ := io.ReadAll(c)
			if (string(got) == "hi") != tc.want {
				t.Fatalf("echo = %q, want relayed=%v", got, tc.want)
			}
		})
	}
}
