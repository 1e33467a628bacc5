//go:build linux

package netpoll

import (
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantrygw/gantry/internal/testbackend"
)

// chanHandler reports every Ready on a channel.
type chanHandler chan Events

func (h chanHandler) Ready(ev Events) { h <- ev }

func waitEvent(t *testing.T, h chanHandler, want Events) Events {
	t.Helper()
	select {
	case ev := <-h:
		if ev&want != want {
			t.Fatalf("Ready(%b), want bits %b", ev, want)
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no Ready within 5s, want %b", want)
	}
	return 0
}

func noEvent(t *testing.T, h chanHandler, within time.Duration) {
	t.Helper()
	select {
	case ev := <-h:
		t.Fatalf("Ready(%b), want none", ev)
	case <-time.After(within):
	}
}

// detached takes s away from the runtime (Detach) and closes the descriptor when the
// test ends.
func detached(t *testing.T, s *net.TCPConn) int {
	t.Helper()
	fd, err := Detach(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func newPoller(t *testing.T) *Poller {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestReadableEdgeAndOneshot(t *testing.T) {
	t.Parallel()
	p := newPoller(t)
	c, s := testbackend.TCPPair(t)
	fd := detached(t, s)
	h := make(chanHandler, 8)
	r, err := p.Add(fd, Readable, true, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, h, Readable)
	buf := make([]byte, 16)
	n, err := unix.Read(fd, buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v; want hello", buf[:n], err)
	}
	// Oneshot: more bytes do not call Ready until Rearm.
	if _, err := c.Write([]byte("again")); err != nil {
		t.Fatal(err)
	}
	noEvent(t, h, 100*time.Millisecond)
	if err := r.Rearm(Readable); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, h, Readable)
	if err := r.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(); err != nil {
		t.Fatalf("second Remove() = %v, want nil", err)
	}
}

func TestHangupOnPeerClose(t *testing.T) {
	t.Parallel()
	p := newPoller(t)
	c, s := testbackend.TCPPair(t)
	fd := detached(t, s)
	h := make(chanHandler, 8)
	r, err := p.Add(fd, Readable|Writable, false, h)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Remove()
	waitEvent(t, h, Writable) // edge-triggered: a fresh socket is writable once
	c.Close()
	waitEvent(t, h, Hangup|Readable)
	n, err := unix.Read(fd, make([]byte, 4))
	if n != 0 || err != nil {
		t.Fatalf("Read after peer close = %d, %v; want 0 (EOF), nil", n, err)
	}
}

// TestStaleEventsDropped: a registration removed while its event is pending, and a
// new registration reusing the slot, must not see the old one's readiness.
func TestStaleEventsDropped(t *testing.T) {
	t.Parallel()
	p := newPoller(t)
	c1, s1 := testbackend.TCPPair(t)
	_, s2 := testbackend.TCPPair(t)
	fd1 := detached(t, s1)
	fd2 := detached(t, s2)
	old := make(chanHandler, 8)
	r1, err := p.Add(fd1, Readable, false, old)
	if err != nil {
		t.Fatal(err)
	}
	idx := r1.idx
	if err := r1.Remove(); err != nil {
		t.Fatal(err)
	}
	fresh := make(chanHandler, 8)
	r2, err := p.Add(fd2, Readable, false, fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Remove()
	if r2.idx != idx || r2.gen == r1.gen {
		t.Fatalf("slot reuse: idx %d gen %d, want idx %d and a new generation than %d", r2.idx, r2.gen, idx, r1.gen)
	}
	if _, err := c1.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	noEvent(t, old, 100*time.Millisecond)
	noEvent(t, fresh, 10*time.Millisecond)
}

func TestDetachLeavesSocketUsable(t *testing.T) {
	t.Parallel()
	c, s := testbackend.TCPPair(t)
	fd := detached(t, s)
	if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write on detached conn = %v, want net.ErrClosed", err)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Fatalf("detached fd flags %#x, %v; want O_NONBLOCK", fl, err)
	}
	if _, err := unix.Write(fd, []byte("pong")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err != nil || string(buf) != "pong" {
		t.Fatalf("peer Read = %q, %v; want pong", buf, err)
	}
}

func TestCloseStopsPoller(t *testing.T) {
	t.Parallel()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close() = %v, want nil", err)
	}
	_, s := testbackend.TCPPair(t)
	fd, err := FDOf(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Add(fd, Readable, false, make(chanHandler, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close = %v, want ErrClosed", err)
	}
}

// TestGroupManyConnections: every one of many registrations spread over a group
// gets its own readiness, exactly once per write with oneshot.
func TestGroupManyConnections(t *testing.T) {
	t.Parallel()
	g, err := NewGroup(2)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	const n = 64
	h := make(chanHandler, n*2)
	var clients []*net.TCPConn
	for range n {
		c, s := testbackend.TCPPair(t)
		fd, err := FDOf(s)
		if err != nil {
			t.Fatal(err)
		}
		r, err := g.Pick().Add(fd, Readable, true, h)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Remove()
		clients = append(clients, c)
	}
	for _, c := range clients {
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		waitEvent(t, h, Readable)
	}
	noEvent(t, h, 100*time.Millisecond)
}

// TestSlotTableGrows: registrations added while the loop runs, past the slot
// table's first size (so it is republished larger twice), each get their own
// readiness: the lock-free lookup sees every one of them.
func TestSlotTableGrows(t *testing.T) {
	t.Parallel()
	p := newPoller(t)
	const n = 150
	hs := make([]chanHandler, n)
	clients := make([]*net.TCPConn, n)
	for i := range n {
		c, s := testbackend.TCPPair(t)
		fd, err := FDOf(s)
		if err != nil {
			t.Fatal(err)
		}
		hs[i] = make(chanHandler, 4)
		r, err := p.Add(fd, Readable, true, hs[i])
		if err != nil {
			t.Fatal(err)
		}
		defer r.Remove()
		clients[i] = c
	}
	if got := len(*p.slots.Load()); got < n {
		t.Fatalf("len(slots) = %d, want >= %d", got, n)
	}
	for i, c := range clients {
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatalf("Write(%d): %v", i, err)
		}
	}
	for i := range n {
		waitEvent(t, hs[i], Readable)
	}
}

// TestAddToReuse: a Registration reused for another descriptor gets that
// descriptor's events only, not its former one's.
func TestAddToReuse(t *testing.T) {
	t.Parallel()
	p := newPoller(t)
	c1, s1 := testbackend.TCPPair(t)
	c2, s2 := testbackend.TCPPair(t)
	fd1, err := FDOf(s1)
	if err != nil {
		t.Fatal(err)
	}
	fd2, err := FDOf(s2)
	if err != nil {
		t.Fatal(err)
	}
	var r Registration
	h1 := make(chanHandler, 4)
	if err := p.AddTo(&r, fd1, Readable, false, h1); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(); err != nil {
		t.Fatal(err)
	}
	h2 := make(chanHandler, 4)
	if err := p.AddTo(&r, fd2, Readable, false, h2); err != nil {
		t.Fatal(err)
	}
	defer r.Remove()
	if r.FD() != fd2 {
		t.Fatalf("FD() = %d, want %d", r.FD(), fd2)
	}
	if _, err := c1.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	noEvent(t, h1, 50*time.Millisecond)
	noEvent(t, h2, 10*time.Millisecond)
	if _, err := c2.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, h2, Readable)
}

// logDefer is deferred work that reports itself on a channel, and defers next (if
// any) from its Flush.
type logDefer struct {
	name string
	log  chan string
	p    *Poller
	next *logDefer
}

func (d *logDefer) Flush() {
	d.log <- "flush:" + d.name
	if d.next != nil {
		d.p.Defer(d.next)
	}
}

// deferHandler logs its Ready and defers its work.
type deferHandler struct {
	name string
	log  chan string
	p    *Poller
	d    *logDefer
}

func (h *deferHandler) Ready(Events) {
	h.log <- "ready:" + h.name
	h.p.Defer(h.d)
}

// gateHandler blocks its poller until the test opens the gate.
type gateHandler struct{ entered, gate chan struct{} }

func (h *gateHandler) Ready(Events) {
	h.entered <- struct{}{}
	<-h.gate
}

// Deferred work runs after every Ready of its batch, before the poller waits again
// (nothing else happens after the batch here: a poller that only flushed on its next
// wake-up would never run it), and work deferred by a Flush runs in the same round.
func TestDeferRunsAtBatchEnd(t *testing.T) {
	t.Parallel()
	p := newPoller(t)
	log := make(chan string, 16)
	gc, gs := testbackend.TCPPair(t)
	g := &gateHandler{entered: make(chan struct{}), gate: make(chan struct{})}
	if _, err := p.Add(detached(t, gs), Readable, false, g); err != nil {
		t.Fatal(err)
	}
	var clients []net.Conn
	for _, name := range []string{"a", "b"} {
		c, s := testbackend.TCPPair(t)
		d := &logDefer{name: name, log: log, p: p}
		if name == "a" {
			d.next = &logDefer{name: "a-again", log: log, p: p}
		}
		h := &deferHandler{name: name, log: log, p: p, d: d}
		if _, err := p.Add(detached(t, s), Readable, false, h); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	// Hold the poller inside the gate's Ready, make both sockets readable, then let it
	// go: its next epoll_wait returns both in one batch.
	if _, err := gc.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	for _, c := range clients {
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	close(g.gate)
	var got []string
	for len(got) < 5 {
		select {
		case e := <-log:
			got = append(got, e)
		case <-time.After(5 * time.Second):
			t.Fatalf("after %q: nothing more within 5s (deferred work not run before the poller waited)", got)
		}
	}
	pos := map[string]int{}
	for i, e := range got {
		pos[e] = i
	}
	for _, e := range []string{"ready:a", "ready:b", "flush:a", "flush:b", "flush:a-again"} {
		if _, ok := pos[e]; !ok {
			t.Fatalf("log %q lacks %s", got, e)
		}
	}
	if max(pos["ready:a"], pos["ready:b"]) > min(pos["flush:a"], pos["flush:b"]) {
		t.Fatalf("log %q: a Flush ran before the batch's last Ready", got)
	}
	if pos["flush:a-again"] < pos["flush:a"] || pos["flush:a-again"] < pos["flush:b"] {
		t.Fatalf("log %q: work deferred by a Flush ran before the batch's earlier work", got)
	}
}
