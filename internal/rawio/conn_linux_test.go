//go:build linux

package rawio

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/testbackend"
	"golang.org/x/sys/unix"
)

// pair returns a wrapped client conn and the plain server side of a loopback TCP
// connection; both are closed at the end of the test.
func pair(t testing.TB) (*Conn, net.Conn) {
	t.Helper()
	c, s := testbackend.TCPPair(t)
	w, ok := Wrap(c).(*Conn)
	if !ok {
		t.Fatalf("Wrap(%T) did not wrap", c)
	}
	return w, s
}

func TestWrapOnlySockets(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := Wrap(a); got != a {
		t.Fatalf("Wrap(net.Pipe) = %T, want the pipe itself (no socket)", got)
	}
	w, _ := pair(t)
	if got := Wrap(w); got != net.Conn(w) {
		t.Fatal("Wrap of a wrapped conn wrapped it again")
	}
	if _, ok := w.NetConn().(*net.TCPConn); !ok {
		t.Fatalf("NetConn = %T, want *net.TCPConn", w.NetConn())
	}
}

func TestListenerWraps(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rl := Listener(ln)
	defer rl.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := rl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*Conn); !ok {
		t.Fatalf("accepted %T, want *Conn", c)
	}
	if b, err := io.ReadAll(c); err != nil || string(b) != "hi" {
		t.Fatalf("read %q, %v", b, err)
	}
}

func TestReadWriteEOF(t *testing.T) {
	w, s := pair(t)
	if n, err := w.Write([]byte("ping")); n != 4 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	buf := make([]byte, 16)
	if n, err := io.ReadFull(s, buf[:4]); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("peer read %q, %v", buf[:n], err)
	}
	if n, err := w.Write(nil); n != 0 || err != nil {
		t.Fatalf("Write(nil) = %d, %v", n, err)
	}
	if _, err := s.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if n, err := io.ReadFull(w, buf[:4]); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("Read %q, %v", buf[:n], err)
	}
	if n, err := w.Read(buf[:0]); n != 0 || err != nil {
		t.Fatalf("Read(empty) = %d, %v", n, err)
	}
	s.Close()
	if n, err := w.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after peer close = %d, %v; want 0, io.EOF", n, err)
	}
}

func TestReadDeadlineAndClose(t *testing.T) {
	w, _ := pair(t)
	w.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := w.Read(make([]byte, 8))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past deadline: %v, want a timeout net.Error", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("error %v is not a read OpError", err)
	}
	w.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, err := w.Read(make([]byte, 8)); done <- err }()
	time.Sleep(10 * time.Millisecond) // let the Read park; it fails the same way if it had not
	w.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read on closed conn: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake a pending Read")
	}
}

// TestWriteBackpressure sends far more than the socket buffers hold to a slow
// reader: Write must wait for room (EAGAIN) and deliver every byte in order.
func TestWriteBackpressure(t *testing.T) {
	w, s := pair(t)
	const size = 24 << 20
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i * 7 >> 3)
	}
	got := make(chan [32]byte, 1)
	go func() {
		h := sha256.New()
		buf := make([]byte, 4096) // small reads: the writer outruns the reader
		io.CopyBuffer(h, io.LimitReader(s, size), buf)
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		got <- sum
	}()
	if n, err := w.Write(src); n != size || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if <-got != sha256.Sum256(src) {
		t.Fatal("peer received different bytes")
	}
}

// TestWritev sends more buffers than one system call takes, some empty, some large,
// and checks the stream and that the caller's slice was left alone.
func TestWritev(t *testing.T) {
	w, s := pair(t)
	var bufs [][]byte
	var want bytes.Buffer
	for i := range 21 {
		n := i * 1000
		if i%5 == 0 {
			n = 0
		}
		if i == 7 {
			n = 3 << 20 // fills the socket buffer mid-batch
		}
		b := bytes.Repeat([]byte{byte('a' + i)}, n)
		bufs = append(bufs, b)
		want.Write(b)
	}
	before := make([][]byte, len(bufs))
	copy(before, bufs)
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(io.LimitReader(s, int64(want.Len()))); got <- b }()
	n, err := w.Writev(bufs)
	if n != int64(want.Len()) || err != nil {
		t.Fatalf("Writev = %d, %v; want %d", n, err, want.Len())
	}
	if !bytes.Equal(<-got, want.Bytes()) {
		t.Fatal("peer received a different stream")
	}
	for i := range bufs {
		if len(bufs[i]) != len(before[i]) || len(bufs[i]) > 0 && &bufs[i][0] != &before[i][0] {
			t.Fatalf("Writev modified the caller's buffer %d", i)
		}
	}
}

// TestConcurrentWritesStayWhole: two goroutines writing records at once; each record
// arrives whole, as with net.Conn (one of them takes the wrapped conn's own Write).
func TestConcurrentWritesStayWhole(t *testing.T) {
	w, s := pair(t)
	const rec, per = 200 << 10, 20
	var wg sync.WaitGroup
	for _, b := range []byte{'x', 'y'} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := bytes.Repeat([]byte{b}, rec)
			for range per {
				if _, err := w.Write(p); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	buf := make([]byte, rec)
	for i := range 2 * per {
		if _, err := io.ReadFull(s, buf); err != nil {
			t.Fatal(err)
		}
		if bytes.Count(buf, buf[:1]) != rec {
			t.Fatalf("record %d is interleaved", i)
		}
	}
	wg.Wait()
}

// TestFullDuplex reads and writes at the same time from two goroutines (run with -race).
func TestFullDuplex(t *testing.T) {
	w, s := pair(t)
	const size = 8 << 20
	go io.Copy(s, s) // echo
	src := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	errc := make(chan error, 1)
	go func() { _, err := w.Write(src); errc <- err }()
	back := make([]byte, size)
	if _, err := io.ReadFull(w, back); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, src) {
		t.Fatal("echo differs")
	}
}

func TestWriteToResetPeer(t *testing.T) {
	w, s := pair(t)
	s.(*net.TCPConn).SetLinger(0)
	s.Close() // RST
	p := make([]byte, 64<<10)
	var err error
	for i := 0; i < 100 && err == nil; i++ { // the first writes may land before the RST is seen
		_, err = w.Write(p)
	}
	var oe *net.OpError
	if err == nil || !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("Write to a reset peer: %v, want a write OpError", err)
	}
}

func TestCloseWrite(t *testing.T) {
	w, s := pair(t)
	w.Write([]byte("last"))
	if err := w.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(s)
	if err != nil || string(b) != "last" {
		t.Fatalf("peer read %q, %v; want \"last\" then EOF", b, err)
	}
	s.Write([]byte("reply"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(w, buf); err != nil || string(buf) != "reply" {
		t.Fatalf("read after CloseWrite: %q, %v", buf, err)
	}
}

// BenchmarkPingPong is one 64-byte request and answer over loopback through the raw
// path and through the plain conn; the raw path allocates nothing.
func BenchmarkPingPong(b *testing.B) {
	for _, raw := range []bool{true, false} {
		name := "raw"
		if !raw {
			name = "net"
		}
		b.Run(name, func(b *testing.B) {
			w, s := pair(b)
			go io.Copy(s, s)
			var c net.Conn = w
			if !raw {
				c = w.NetConn()
			}
			msg, buf := make([]byte, 64), make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTryReadNeverWaits: TryRead reports EAGAIN on an empty socket instead of
// waiting, then the bytes, then the end of stream.
func TestTryReadNeverWaits(t *testing.T) {
	w, s := pair(t)
	buf := make([]byte, 16)
	if n, err := w.TryRead(buf); n != 0 || err != unix.EAGAIN {
		t.Fatalf("TryRead on an empty socket = %d, %v; want 0, EAGAIN", n, err)
	}
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	// The bytes are in flight on loopback: poll TryRead itself (bounded).
	var got []byte
	for deadline := time.Now().Add(5 * time.Second); len(got) < 5 && time.Now().Before(deadline); {
		n, err := w.TryRead(buf)
		if err != nil && err != unix.EAGAIN {
			t.Fatalf("TryRead = %v", err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "hello" {
		t.Fatalf("TryRead read %q, want %q", got, "hello")
	}
	s.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		n, err := w.TryRead(buf)
		if err == io.EOF && n == 0 {
			break
		}
		if err != unix.EAGAIN || time.Now().After(deadline) {
			t.Fatalf("TryRead after the peer's close = %d, %v; want 0, io.EOF", n, err)
		}
	}
}

// TestTrySendStopsWhenFull: with a peer that does not read, TrySend returns what the
// socket took, less than asked and without an error, instead of waiting; every byte it
// reported as sent arrives, in order, a then b.
func TestTrySendStopsWhenFull(t *testing.T) {
	w, s := pair(t)
	// Small buffers on both sides (set ones are not auto-tuned), so 2 MiB cannot fit.
	if err := w.NetConn().(*net.TCPConn).SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if err := s.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	a := bytes.Repeat([]byte("a"), 1<<20)
	b := bytes.Repeat([]byte("b"), 1<<20)
	n, err := w.TrySend(a, b)
	if err != nil {
		t.Fatalf("TrySend = %d, %v", n, err)
	}
	if n >= len(a)+len(b) {
		t.Fatalf("TrySend took all %d bytes into socket buffers; the test needs more data", n)
	}
	if n2, err := w.TrySend(a, b); n2 != 0 || err != nil {
		t.Fatalf("TrySend on a full socket = %d, %v; want 0, nil", n2, err)
	}
	got := make([]byte, n)
	if _, err := io.ReadFull(s, got); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte(nil), a...), b...)[:n]
	if !bytes.Equal(got, want) {
		t.Fatal("the bytes TrySend reported do not arrive as a then b")
	}
}
