package l4

import (
	"context"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
)

// rrPicker is a real round-robin picker over real targets, honouring info.Tried.
type rrPicker struct {
	targets []*balancer.Target
	next    atomic.Uint64

	mu     sync.Mutex
	lastIP netip.Addr
}

func newPicker(addrs ...string) *rrPicker {
	p := &rrPicker{}
	for _, a := range addrs {
		p.targets = append(p.targets, &balancer.Target{URL: a, Addr: a, Weight: 1, State: &balancer.State{}})
	}
	return p
}

func (p *rrPicker) Pick(info *balancer.Info) (*balancer.Target, error) {
	p.mu.Lock()
	p.lastIP = info.ClientIP
	p.mu.Unlock()
	start := p.next.Add(1) - 1
	for i := range p.targets {
		t := p.targets[(int(start)+i)%len(p.targets)]
		if !tried(info, t) {
			return t, nil
		}
	}
	return nil, balancer.ErrNoTarget
}

func (p *rrPicker) ClientIP() netip.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastIP
}

// route is a Default-only table for addrs.
func route(addrs ...string) *Table {
	return &Table{Default: &Route{Upstream: "up", Picker: newPicker(addrs...), ConnectTimeout: 2 * time.Second}}
}

// startTCP serves a TCPServer on 127.0.0.1:0 and shuts it down at cleanup.
func startTCP(t testing.TB, opts TCPOptions, tab *Table) (*TCPServer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewTCP(opts)
	s.SetTable(tab)
	serveUntilCleanup(t, func() error { return s.Serve(ln) }, s.Shutdown)
	return s, ln.Addr().String()
}

// serveUntilCleanup runs serve on its own goroutine and, when the test ends, shuts the
// server down and checks both ended as documented (Shutdown nil, Serve ErrServerClosed).
func serveUntilCleanup(t testing.TB, serve func() error, shutdown func(context.Context) error) {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			t.Errorf("Shutdown() = %v, want nil", err)
		}
		if err := <-served; err != ErrServerClosed {
			t.Errorf("Serve() = %v, want ErrServerClosed", err)
		}
	})
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	return c.(*net.TCPConn)
}

// echoOnce writes msg and reads len(msg) bytes back.
func echoOnce(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo = %q, %v, want %q", buf, err, msg)
	}
}

// expectClosed asserts the peer closes c within bound (EOF or reset, no data).
func expectClosed(t testing.TB, c net.Conn, bound time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(bound))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil {
		t.Fatalf("Read() = %d, %v, want connection closed", n, err)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v", bound)
	}
}

// eventually polls cond every 10 ms until it holds or bound passes.
func eventually(t testing.TB, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %v", what, bound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkNoLeak fails the test if goroutines running l4 code outlive it. Use it only in
// tests that are not parallel (no other test's server is running then).
func checkNoLeak(t *testing.T) {
	t.Cleanup(func() {
		var stacks string
		eventually(t, 5*time.Second, "l4 goroutines exit", func() bool {
			buf := make([]byte, 1<<20)
			stacks = string(buf[:runtime.Stack(buf, true)])
			for _, g := range strings.Split(stacks, "\n\n") {
				if strings.Contains(g, "gantry/internal/l4.(*") {
					return false
				}
			}
			return true
		})
	})
}
