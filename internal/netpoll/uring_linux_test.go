//go:build linux

package netpoll

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantrygw/gantry/internal/testbackend"
)

// testRing sets up a real ring, or skips where the kernel refuses io_uring (the
// poller then sends one by one; TestSendRoundWithoutRing covers that path).
func testRing(t *testing.T) *uring {
	t.Helper()
	r, err := newUring()
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		t.Skipf("io_uring refused here (%v): batched sends fall back to one send each", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r
}

// full returns a connected socket whose send buffer is full (its peer never reads).
func full(t *testing.T) int {
	t.Helper()
	_, s := testbackend.TCPPair(t)
	fd := detached(t, s)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for range 10_000 {
		if _, err := unix.SendmsgN(fd, chunk, nil, nil, unix.MSG_DONTWAIT); err == unix.EAGAIN {
			return fd
		} else if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("the send buffer never filled")
	return -1
}

// sendAllWithin runs r.sendAll and fails the test if it does not return within 5 s
// (a send that waited for room would hang the poller).
func sendAllWithin(t *testing.T, r *uring, fds []int, bufs [][]byte) []int32 {
	t.Helper()
	res := make([]int32, len(fds))
	done := make(chan error, 1)
	go func() { done <- r.sendAll(fds, bufs, res) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sendAll did not return within 5s")
	}
	return res
}

// One io_uring_enter sends to several sockets and reports each result: the bytes
// taken, EAGAIN for a full socket (without waiting for room) and EBADF for a bad
// descriptor; the bytes arrive whole and in order.
func TestUringSendAll(t *testing.T) {
	t.Parallel()
	r := testRing(t)
	var (
		fds     []int
		bufs    [][]byte
		readers []net.Conn
	)
	for _, b := range []string{"alpha", strings.Repeat("b", 1000), "c"} {
		c, s := testbackend.TCPPair(t)
		fds, bufs, readers = append(fds, detached(t, s)), append(bufs, []byte(b)), append(readers, c)
	}
	fds, bufs = append(fds, full(t)), append(bufs, []byte("no room"))
	fds, bufs = append(fds, -1), append(bufs, []byte("bad descriptor"))

	res := sendAllWithin(t, r, fds, bufs)
	for i := range 3 {
		if int(res[i]) != len(bufs[i]) {
			t.Errorf("send %d: result %d, want %d", i, res[i], len(bufs[i]))
		}
		got := make([]byte, len(bufs[i]))
		readers[i].SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(readers[i], got); err != nil || !bytes.Equal(got, bufs[i]) {
			t.Errorf("socket %d received %q (%v), want %q", i, got, err, bufs[i])
		}
	}
	if res[3] != -int32(unix.EAGAIN) {
		t.Errorf("full socket: result %d, want -EAGAIN (%d)", res[3], -int32(unix.EAGAIN))
	}
	if res[4] != -int32(unix.EBADF) {
		t.Errorf("bad descriptor: result %d, want -EBADF (%d)", res[4], -int32(unix.EBADF))
	}

	// The ring is reusable: a second call sees only its own completions.
	res = sendAllWithin(t, r, fds[:1], [][]byte{[]byte("again")})
	if res[0] != 5 {
		t.Fatalf("second call: result %d, want 5", res[0])
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(readers[0], got); err != nil || string(got) != "again" {
		t.Fatalf("second call: received %q (%v)", got, err)
	}
}

// logSender is a Sender that logs its result.
type logSender struct {
	name string
	fd   int
	b    []byte
	log  chan string
}

func (s *logSender) SendArgs() (int, []byte) { return s.fd, s.b }
func (s *logSender) Sent(n int, err error)   { s.log <- fmt.Sprintf("sent:%s:%d:%v", s.name, n, err) }

// sendingHandler defers its senders, then a plain logDefer, from one Ready.
type sendingHandler struct {
	p       *Poller
	senders []*logSender
	after   *logDefer
}

func (h *sendingHandler) Ready(Events) {
	for _, s := range h.senders {
		h.p.DeferSend(s)
	}
	h.p.Defer(h.after)
}

// sendRoundSetup registers a handler that defers n senders (spread over three
// sockets, 2 bytes each), with fullFD >= 0 two more ("full" on fullFD, "bad" on an
// invalid descriptor), then a logDefer; triggers it, and returns the log, the
// senders and the three receiving ends.
func sendRoundSetup(t *testing.T, n, fullFD int) (chan string, []*logSender, []net.Conn) {
	t.Helper()
	p := newPoller(t)
	log := make(chan string, n+8)
	var fds []int
	var readers []net.Conn
	for range 3 {
		c, s := testbackend.TCPPair(t)
		fds, readers = append(fds, detached(t, s)), append(readers, c)
	}
	h := &sendingHandler{p: p, after: &logDefer{name: "after", log: log, p: p}}
	for i := range n {
		h.senders = append(h.senders, &logSender{name: fmt.Sprint(i), fd: fds[i%3], b: []byte(fmt.Sprintf("%02d", i%100)), log: log})
	}
	if fullFD >= 0 {
		h.senders = append(h.senders,
			&logSender{name: "full", fd: fullFD, b: []byte("no room"), log: log},
			&logSender{name: "bad", fd: -1, b: []byte("bad descriptor"), log: log})
	}
	tc, ts := testbackend.TCPPair(t)
	if _, err := p.Add(detached(t, ts), Readable, false, h); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Write([]byte("go")); err != nil {
		t.Fatal(err)
	}
	return log, h.senders, readers
}

func collect(t *testing.T, log chan string, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		select {
		case e := <-log:
			got = append(got, e)
		case <-time.After(5 * time.Second):
			t.Fatalf("after %d log entries: nothing more within 5s (last %q)", len(got), got[max(0, len(got)-3):])
		}
	}
	return got
}

// wantEach checks that the log starts with the n senders, in order, each having sent
// its two bytes.
func wantEach(t *testing.T, got []string, n int) {
	t.Helper()
	for i := range n {
		if want := fmt.Sprintf("sent:%d:2:<nil>", i); got[i] != want {
			t.Fatalf("log[%d] = %q, want %q", i, got[i], want)
		}
	}
}

// checkReceived reads what the three sockets got: sender i's two bytes on socket
// i%3, in the order deferred.
func checkReceived(t *testing.T, senders []*logSender, readers []net.Conn) {
	t.Helper()
	for k, c := range readers {
		var want []byte
		for i := k; i < len(senders); i += 3 {
			want = append(want, senders[i].b...)
		}
		got := make([]byte, len(want))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("socket %d received %q (%v), want %q", k, got, err, want)
		}
	}
}

// A round's Senders go out in one batch (more than the ring's 256 entries: in two),
// each learns its result through Sent, in the order deferred, and the round's other
// deferred work runs after them.
func TestSendRoundBatchesSenders(t *testing.T) {
	t.Parallel()
	testRing(t) // skips where io_uring is refused
	checkRound(t, 300)
}

// Without a ring (io_uring refused) the poller sends each Sender with send(2), in
// order, and reports the same results.
func TestSendRoundWithoutRing(t *testing.T) {
	setup := uringSetup
	uringSetup = func() (*uring, error) { return nil, fmtErr("io_uring_setup", unix.EPERM) }
	t.Cleanup(func() { uringSetup = setup })
	checkRound(t, 5)
}

// checkRound defers n senders, one to a full socket and one to a bad descriptor, and
// a plain piece of work, and checks what each learnt and what the sockets received.
func checkRound(t *testing.T, n int) {
	t.Helper()
	log, senders, readers := sendRoundSetup(t, n, full(t))
	got := collect(t, log, n+3)
	wantEach(t, got, n)
	// A full socket took nothing, without an error (the caller's slow path waits for
	// room); a bad descriptor reports its error.
	if got[n] != "sent:full:0:<nil>" {
		t.Fatalf("log[%d] = %q, want sent:full:0:<nil>", n, got[n])
	}
	if !strings.HasPrefix(got[n+1], "sent:bad:0:") || !strings.Contains(got[n+1], "bad file descriptor") {
		t.Fatalf("log[%d] = %q, want sent:bad:0 with EBADF", n+1, got[n+1])
	}
	if got[n+2] != "flush:after" {
		t.Fatalf("log[%d] = %q, want the plain deferred work after the senders", n+2, got[n+2])
	}
	checkReceived(t, senders[:n], readers)
}

// brokenRing is a real ring whose descriptor is gone, so its first submission fails.
func brokenRing() (*uring, error) {
	r, err := newUring()
	if err != nil {
		return nil, err
	}
	unix.Close(r.fd)
	r.fd = -1
	return r, nil
}

// A ring that fails to submit reports every send as not made (EAGAIN: the caller's
// slow path writes it), is never used again, and the round's later Senders go out with
// send(2).
func TestSendRoundRingBreaks(t *testing.T) {
	r, err := newUring()
	if err != nil {
		t.Skipf("io_uring refused here (%v)", err)
	}
	r.close()
	setup := uringSetup
	uringSetup = brokenRing
	t.Cleanup(func() { uringSetup = setup })
	const n = 300 // the first 256 go to the ring, which breaks
	log, _, _ := sendRoundSetup(t, n, -1)
	got := collect(t, log, n+1)
	wantRange := func(from, to int, format string) {
		t.Helper()
		for i := from; i < to; i++ {
			if want := fmt.Sprintf(format, i); got[i] != want {
				t.Fatalf("log[%d] = %q, want %q", i, got[i], want)
			}
		}
	}
	wantRange(0, uringEntries, "sent:%d:0:<nil>")
	wantRange(uringEntries, n, "sent:%d:2:<nil>")
	if got[n] != "flush:after" {
		t.Fatalf("log[%d] = %q, want flush:after", n, got[n])
	}
}

// TestSendPathSaysWhy: where io_uring cannot be set up, the startup log's reason names
// the refusal and its usual cause.
func TestSendPathSaysWhy(t *testing.T) {
	setup := uringSetup
	t.Cleanup(func() { uringSetup = setup })
	for _, tc := range []struct {
		errno unix.Errno
		want  string
	}{
		{unix.EPERM, "seccomp"},
		{unix.EACCES, "kernel.io_uring_disabled"},
		{unix.ENOSYS, "has no io_uring"},
		{unix.ENOTSUP, "older than Linux 5.11"},
		{unix.ENOMEM, "io_uring_setup"},
	} {
		uringSetup = func() (*uring, error) { return nil, fmtErr("io_uring_setup", tc.errno) }
		ok, why := probeSendPath()
		if ok || !strings.Contains(why, tc.want) || !strings.Contains(why, tc.errno.Error()) {
			t.Errorf("%v: SendPath = %v %q, want false and a reason with %q and the error", tc.errno, ok, why, tc.want)
		}
	}
	uringSetup = setup
	if _, err := newUring(); err == nil {
		if ok, why := probeSendPath(); !ok || why != "" {
			t.Errorf("with a ring to be had: SendPath = %v %q, want true and no reason", ok, why)
		}
	}
}
