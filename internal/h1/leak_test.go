package h1

import (
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestNoGoroutineLeak runs before the parallel tests start (it is not parallel), so
// every engine goroutine alive afterwards would be this test's.
func TestNoGoroutineLeak(t *testing.T) {
	up := newUpstream(t, nil)
	p := &listPicker{targets: nil}
	p.targets = append(p.targets, newTarget(up.addr()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(Options{Handler: &testHandler{picker: p}})
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	for i := 0; i < 3; i++ {
		c := dialRaw(t, ln.Addr().String())
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		c.response("GET")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if err := <-served; err != ErrServerClosed {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "gantry/internal/h1.(*") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine goroutines left after Shutdown:\n%s", stacks)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}
