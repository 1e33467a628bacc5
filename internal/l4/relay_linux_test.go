//go:build linux

package l4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantrygw/gantry/internal/netpoll"
)

// TestTCPSmallWritesSlowReader: small messages (each relayed by one read and one send,
// batched with the poller's other sends where it can) towards a target that does not
// read at first and then reads slowly through a small receive buffer, so the relay's
// sends find the target's socket full and must hold the rest until it drains. Every
// byte must arrive, in order.
func TestTCPSmallWritesSlowReader(t *testing.T) {
	t.Parallel()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	const size, chunk = 60 << 10, 1024 // under the 64 KiB read buffer: never a bulk splice
	start := make(chan struct{})
	go func() { // the slow target: once started, size bytes in 100-byte reads, then the digest
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		<-start
		h := sha256.New()
		buf := make([]byte, 100)
		for got := 0; got < size; {
			n, err := c.Read(buf[:min(len(buf), size-got)])
			h.Write(buf[:n])
			got += n
			if err != nil {
				break
			}
		}
		io.WriteString(c, hex.EncodeToString(h.Sum(nil)))
	}()
	_, addr := startTCP(t, TCPOptions{}, route(ln.Addr().String()))
	c := dial(t, addr)
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	sent := sha256.New()
	src := randStream{rand.NewChaCha8([32]byte{3})}
	buf := make([]byte, chunk)
	for written := 0; written < size; written += chunk {
		src.Read(buf)
		sent.Write(buf)
		if _, err := c.Write(buf); err != nil {
			t.Fatalf("write after %d bytes: %v", written, err)
		}
	}
	// Everything is written (into the client's and the relay's socket buffers) while the
	// target reads nothing, so the relay finds the target's socket full. Then the target
	// reads. No FIN and nothing more to read from the client: the bytes the full socket
	// refused must go out on its writable edges alone.
	close(start)
	got := make([]byte, 64)
	_, err = io.ReadFull(c, got)
	if want := hex.EncodeToString(sent.Sum(nil)); err != nil || string(got) != want {
		t.Fatalf("target's sha256 = %q, %v, want %q", got, err, want)
	}
}

type ignoreReady struct{}

func (ignoreReady) Ready(netpoll.Events) {}

// queuedRelay is a session between two real socket pairs whose direction 0 has a send
// queued (as pump leaves it), for driving pollSend and finish directly. It returns the
// peers of the session's two sockets.
func queuedRelay(t *testing.T, pend string) (*pollRelay, [2]int) {
	t.Helper()
	p, err := netpoll.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	r := &pollRelay{st: &pollerState{buf: heldPool.Get().(*[]byte), p: p}}
	var peers [2]int
	for i := range r.fd {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		r.fd[i], peers[i] = fds[0], fds[1]
		t.Cleanup(func() { unix.Close(fds[1]) })
		if err := p.AddTo(&r.regs[i], r.fd[i], netpoll.Readable, false, ignoreReady{}); err != nil {
			t.Fatal(err)
		}
	}
	r.wg.Add(1)
	d := &r.dirs[0]
	d.held = heldPool.Get().(*[]byte)
	d.pend = append((*d.held)[:0], pend...)
	d.queued = true
	d.snd = pollSend{r: r, d: 0}
	return r, peers
}

func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

func released(r *pollRelay) bool {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(100 * time.Millisecond):
		return false
	}
}

// A send that went only in part leaves the rest pending and waits for the
// destination's writable edge (blocked); one that went whole frees the buffer.
func TestPollSendResults(t *testing.T) {
	t.Parallel()
	r, _ := queuedRelay(t, "abc")
	d := &r.dirs[0]
	d.snd.Sent(1, nil)
	if d.queued || !d.blocked || string(d.pend) != "bc" || r.over {
		t.Fatalf("after a short send: queued %v blocked %v pend %q over %v, want false true \"bc\" false", d.queued, d.blocked, d.pend, r.over)
	}
	r.closeNow(nil)
	r2, _ := queuedRelay(t, "abc")
	d = &r2.dirs[0]
	d.snd.Sent(3, nil)
	if d.queued || d.blocked || d.pend != nil || d.held != nil || r2.over {
		t.Fatalf("after a whole send: queued %v blocked %v pend %q held %v over %v", d.queued, d.blocked, d.pend, d.held != nil, r2.over)
	}
	r2.closeNow(nil)
}

// A session that ends while one of its sends is queued keeps its descriptors open for
// that send (a closed number could be reused by another connection before the poller
// sends on it) and is released only when the send reports.
func TestFinishWaitsForQueuedSend(t *testing.T) {
	t.Parallel()
	r, _ := queuedRelay(t, "abc")
	r.finish(errSpliceStuck) // any reason
	r.release()              // as ready does after a step that finished
	if !isOpen(r.fd[0]) || !isOpen(r.fd[1]) {
		t.Fatal("descriptors closed while a send on one of them was queued")
	}
	if released(r) {
		t.Fatal("session released while a send was queued")
	}
	r.dirs[0].snd.Sent(3, nil)
	if isOpen(r.fd[0]) || isOpen(r.fd[1]) {
		t.Fatal("descriptors still open after the queued send reported")
	}
	if !released(r) {
		t.Fatal("session not released after the queued send reported")
	}
	if r.err == nil {
		t.Fatal("the finish's reason was lost")
	}
}
