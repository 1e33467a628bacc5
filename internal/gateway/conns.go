package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// connTracker follows an http.Server's connections through ConnState so the server can
// be retired without losing a request.
//
// Why not just http.Server.Shutdown: once Shutdown has begun, net/http drops any request
// it reads afterwards by closing the connection without an answer (server.go checks
// shuttingDown() right after readRequest). A connection accepted a moment before a
// reload, whose request bytes arrive a moment after, would see EOF. So a retiring
// server first stops keep-alive (every in-flight HTTP/1 response then ends its
// connection) and waits until no connection is still new (accepted, request not yet
// read); then Shutdown finishes active requests (HTTP/2 ones through GOAWAY) and closes
// what is idle.
type connTracker struct {
	mu     sync.Mutex
	states map[net.Conn]http.ConnState
	busy   int           // connections in StateNew
	idle   chan struct{} // closed and replaced whenever busy drops to 0
}

func newConnTracker() *connTracker {
	return &connTracker{states: map[net.Conn]http.ConnState{}, idle: make(chan struct{})}
}

func isBusy(s http.ConnState) bool { return s == http.StateNew }

// hook is the http.Server.ConnState callback.
func (t *connTracker) hook(c net.Conn, s http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, known := t.states[c]
	if known && isBusy(prev) {
		t.busy--
	}
	switch s {
	case http.StateClosed, http.StateHijacked:
		delete(t.states, c)
	default:
		t.states[c] = s
		if isBusy(s) {
			t.busy++
		}
	}
	if t.busy == 0 {
		close(t.idle)
		t.idle = make(chan struct{})
	}
}

// waitQuiet returns once no connection is new, or when ctx is done. A TLS connection
// that negotiated HTTP/2 counts as served: net/http marks those active without calling
// the ConnState hook (golang.org/issue/39776), so they are checked here directly.
func (t *connTracker) waitQuiet(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		busy, idle := 0, t.idle
		for c, s := range t.states {
			if isBusy(s) && !isH2(c) {
				busy++
			}
		}
		t.mu.Unlock()
		if busy == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func isH2(c net.Conn) bool {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return false
	}
	st := tc.ConnectionState()
	return st.HandshakeComplete && st.NegotiatedProtocol == "h2"
}

// Open returns the number of tracked (not closed, not hijacked) connections.
func (t *connTracker) open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.states)
}

// trackListener marks each connection busy the moment it is accepted, before net/http
// reports StateNew, closing the window in which a retiring server could look quiet
// while holding a connection whose request it has not read yet.
type trackListener struct {
	net.Listener
	t *connTracker
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.t.hook(c, http.StateNew)
	}
	return c, err
}
