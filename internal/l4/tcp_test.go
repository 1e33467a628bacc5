package l4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/proxyproto"
	"github.com/gantrygw/gantry/internal/testbackend"
)

func TestTCPEcho(t *testing.T) {
	t.Parallel()
	be := testbackend.StartTCPEcho(t)
	_, addr := startTCP(t, TCPOptions{Listener: "t"}, route(be.Addr()))
	c := dial(t, addr)
	echoOnce(t, c, "hello through the proxy")
	if be.Conns() != 1 {
		t.Fatalf("backend Conns() = %d, want 1", be.Conns())
	}
}

// randStream is a deterministic pseudo-random byte source.
type randStream struct{ r *rand.ChaCha8 }

func (s randStream) Read(p []byte) (int, error) { return s.r.Read(p) }

func TestTCPLargeTransferSHA256(t *testing.T) {
	t.Parallel()
	const size = 64 << 20
	t.Run("to sink", func(t *testing.T) {
		t.Parallel()
		be := testbackend.StartTCPSHA256(t)
		_, addr := startTCP(t, TCPOptions{}, route(be.Addr()))
		c := dial(t, addr)
		h := sha256.New()
		src := io.LimitReader(randStream{rand.NewChaCha8([32]byte{1})}, size)
		if _, err := io.Copy(io.MultiWriter(c, h), src); err != nil {
			t.Fatal(err)
		}
		_ = c.CloseWrite()
		got, err := io.ReadAll(c)
		if want := hex.EncodeToString(h.Sum(nil)); err != nil || string(got) != want {
			t.Fatalf("sink sha256 = %q, %v, want %q", got, err, want)
		}
	})
	t.Run("echo both ways", func(t *testing.T) {
		t.Parallel()
		be := testbackend.StartTCPEcho(t)
		_, addr := startTCP(t, TCPOptions{}, route(be.Addr()))
		c := dial(t, addr)
		sent := sha256.New()
		errc := make(chan error, 1)
		go func() {
			src := io.LimitReader(randStream{rand.NewChaCha8([32]byte{2})}, size)
			_, err := io.Copy(io.MultiWriter(c, sent), src)
			if err == nil {
				err = c.CloseWrite()
			}
			errc <- err
		}()
		recv := sha256.New()
		n, err := io.Copy(recv, c)
		if werr := <-errc; werr != nil {
			t.Fatalf("write: %v", werr)
		}
		if err != nil || n != size {
			t.Fatalf("received %d bytes, %v, want %d", n, err, size)
		}
		if got, want := hex.EncodeToString(recv.Sum(nil)), hex.EncodeToString(sent.Sum(nil)); got != want {
			t.Fatalf("echoed sha256 = %s, want %s", got, want)
		}
	})
}

func TestTCPHalfClose(t *testing.T) {
	t.Parallel()
	be := testbackend.StartTCPEcho(t)
	_, addr := startTCP(t, TCPOptions{}, route(be.Addr()))
	c := dial(t, addr)
	if _, err := io.WriteString(c, "last words"); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	// The echo backend answers only after it sees our FIN, then half-closes back:
	// ReadAll ending proves both FINs crossed the proxy and the reply was not cut.
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "last words" {
		t.Fatalf("reply after CloseWrite = %q, %v, want %q", got, err, "last words")
	}
}

func TestTCPFailover(t *testing.T) {
	t.Parallel()
	be := testbackend.StartTCPEcho(t)
	tab := route(testbackend.RefusedAddr(t), be.Addr(), testbackend.RefusedAddr(t))
	s, addr := startTCP(t, TCPOptions{}, tab)
	const conns = 6
	for i := range conns {
		c := dial(t, addr)
		echoOnce(t, c, "ping")
		c.Close()
		_ = i
	}
	if got := be.Conns(); got != conns {
		t.Fatalf("live backend Conns() = %d, want %d (every client served)", got, conns)
	}
	p := tab.Default.Picker.(*rrPicker)
	for _, tg := range []*balancer.Target{p.targets[0], p.targets[2]} {
		if _, failed := tg.State.Requests(); failed == 0 {
			t.Errorf("down target %s failures = 0, want > 0", tg.Addr)
		}
	}
	eventually(t, 5*time.Second, "sessions end", func() bool { return s.Stats().Active == 0 })
	if st := s.Stats(); st.Failed != 0 || st.Total != conns {
		t.Fatalf("Stats() = %+v, want Total %d Failed 0", st, conns)
	}
	if in := p.targets[1].State.InFlight(); in != 0 {
		t.Fatalf("live target InFlight() = %d after sessions ended, want 0", in)
	}
}

func TestTCPAllTargetsDown(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var infos []SessionInfo
	s, addr := startTCP(t, TCPOptions{OnDone: func(i *SessionInfo) {
		mu.Lock()
		infos = append(infos, *i)
		mu.Unlock()
	}}, route(testbackend.RefusedAddr(t), testbackend.RefusedAddr(t)))
	c := dial(t, addr)
	expectClosed(t, c, 5*time.Second)
	eventually(t, 5*time.Second, "OnDone called", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(infos) == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if s.Stats().Failed != 1 || len(infos) != 1 || !errors.Is(infos[0].Err, syscallRefused()) {
		t.Fatalf("OnDone infos = %+v, want one with connection refused", infos)
	}
}

func TestTCPNoRoute(t *testing.T) {
	t.Parallel()
	s, addr := startTCP(t, TCPOptions{}, &Table{})
	expectClosed(t, dial(t, addr), 5*time.Second)
	eventually(t, 5*time.Second, "failure counted", func() bool { return s.Stats().Failed == 1 })
}

func TestTCPIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 300 * time.Millisecond
	be := testbackend.StartTCPEcho(t)
	_, addr := startTCP(t, TCPOptions{IdleTimeout: idle}, route(be.Addr()))

	t.Run("idle session closed", func(t *testing.T) {
		t.Parallel()
		c := dial(t, addr)
		echoOnce(t, c, "x")
		start := time.Now()
		expectClosed(t, c, 10*time.Second)
		if el := time.Since(start); el < idle {
			t.Fatalf("closed after %v, want >= idle timeout %v", el, idle)
		}
	})
	t.Run("trickling session kept", func(t *testing.T) {
		t.Parallel()
		c := dial(t, addr)
		// One byte every idle/3 for 4 idle periods: never idle, must survive.
		for i := 0; i < 12; i++ {
			echoOnce(t, c, "y")
			time.Sleep(idle / 3)
		}
		echoOnce(t, c, "still here")
	})
}

func TestTCPSetTableKeepsSessions(t *testing.T) {
	t.Parallel()
	a, b := testbackend.StartTCPEcho(t), testbackend.StartTCPEcho(t)
	s, addr := startTCP(t, TCPOptions{}, route(a.Addr()))
	old := dial(t, addr)
	echoOnce(t, old, "on a")

	s.SetTable(route(b.Addr()))
	fresh := dial(t, addr)
	echoOnce(t, fresh, "on b")
	echoOnce(t, old, "still on a")
	if a.Conns() != 1 || b.Conns() != 1 {
		t.Fatalf("Conns() a=%d b=%d, want 1 and 1", a.Conns(), b.Conns())
	}
}

func TestTCPShutdownDrains(t *testing.T) {
	checkNoLeak(t)
	be := testbackend.StartTCPEcho(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewTCP(TCPOptions{})
	s.SetTable(route(be.Addr()))
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	c := dial(t, ln.Addr().String())
	echoOnce(t, c, "before")

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	if err := <-served; err != ErrServerClosed {
		t.Fatalf("Serve() = %v, want ErrServerClosed", err)
	}
	if c2, err := net.DialTimeout("tcp", ln.Addr().String(), 2*time.Second); err == nil {
		c2.Close()
		t.Fatal("Dial() after Shutdown succeeded, want refused")
	}
	echoOnce(t, c, "during drain") // the open session still works
	select {
	case err := <-shut:
		t.Fatalf("Shutdown() = %v while a session is open, want it to wait", err)
	default:
	}
	_ = c.CloseWrite()
	_, _ = io.ReadAll(c)
	c.Close()
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown() = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown() did not return after the last session ended")
	}
}

func TestTCPShutdownDeadlineClosesSessions(t *testing.T) {
	checkNoLeak(t)
	be := testbackend.StartTCPEcho(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewTCP(TCPOptions{})
	s.SetTable(route(be.Addr()))
	go func() { _ = s.Serve(ln) }()
	c := dial(t, ln.Addr().String())
	echoOnce(t, c, "open")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown() = %v, want DeadlineExceeded", err)
	}
	expectClosed(t, c, 5*time.Second)
	if st := s.Stats(); st.Active != 0 {
		t.Fatalf("Stats().Active = %d after Shutdown, want 0", st.Active)
	}
}

func TestTCPMaxConnections(t *testing.T) {
	t.Parallel()
	be := testbackend.StartTCPEcho(t)
	s, addr := startTCP(t, TCPOptions{MaxConnections: 1}, route(be.Addr()))
	first := dial(t, addr)
	echoOnce(t, first, "one")
	second := dial(t, addr)
	expectClosed(t, second, 5*time.Second)
	if st := s.Stats(); st.Refused != 1 || st.Active != 1 {
		t.Fatalf("Stats() = %+v, want Refused 1 Active 1", st)
	}
	first.Close()
	eventually(t, 5*time.Second, "slot freed", func() bool { return s.Stats().Active == 0 })
	echoOnce(t, dial(t, addr), "three")
}

func TestTCPSendProxyProtocol(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"v1", "v2"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			be := testbackend.StartTCP(t, testbackend.TCPOptions{ProxyProtocol: true})
			tab := route(be.Addr())
			tab.Default.ProxyProtocol = version
			_, addr := startTCP(t, TCPOptions{}, tab)
			c := dial(t, addr)
			echoOnce(t, c, "payload after header")
			if got, want := be.Remotes(), c.LocalAddr().String(); len(got) != 1 || got[0] != want {
				t.Fatalf("backend saw source %v, want [%s]", got, want)
			}
		})
	}
}

func TestTCPAcceptProxyProtocol(t *testing.T) {
	t.Parallel()
	be := testbackend.StartTCP(t, testbackend.TCPOptions{ProxyProtocol: true})
	tab := route(be.Addr())
	tab.Default.ProxyProtocol = "v2"
	s, addr := startTCP(t, TCPOptions{AcceptProxyProtocol: true, PeekTimeout: 2 * time.Second}, tab)

	t.Run("source relayed", func(t *testing.T) {
		c := dial(t, addr)
		src := netip.MustParseAddrPort("203.0.113.5:1234")
		hdr := proxyproto.AppendV1(nil, src, netip.MustParseAddrPort("198.51.100.1:443"))
		if _, err := c.Write(append(hdr, "data"...)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "data" {
			t.Fatalf("echo = %q, %v, want data", buf, err)
		}
		if got := be.Remotes(); len(got) != 1 || got[0] != src.String() {
			t.Fatalf("backend saw %v, want [%s]", got, src)
		}
		if got := tab.Default.Picker.(*rrPicker).ClientIP(); got != src.Addr() {
			t.Fatalf("Info.ClientIP = %v, want %v", got, src.Addr())
		}
	})
	t.Run("missing header closed", func(t *testing.T) {
		before := s.Stats().Failed
		c := dial(t, addr)
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\n\r\n")
		expectClosed(t, c, 5*time.Second)
		eventually(t, 5*time.Second, "failure counted", func() bool { return s.Stats().Failed == before+1 })
	})
}

// TestTCPSmallThenBulk crosses the relay's switch from copying small reads to
// splicing bulk ones inside one session: each message must come back whole and in
// order, whichever path carried it.
func TestTCPSmallThenBulk(t *testing.T) {
	t.Parallel()
	be := testbackend.StartTCPEcho(t)
	_, addr := startTCP(t, TCPOptions{IdleTimeout: time.Minute}, route(be.Addr()))
	c := dial(t, addr)
	if err := c.SetDeadline(time.Now().Add(15 * time.Second)); err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{3})
	for i, size := range []int{6, 300, smallBufSize - 1, 1 << 20, 6, 4 << 10} {
		msg := make([]byte, size)
		_, _ = rng.Read(msg)
		errc := make(chan error, 1)
		go func() { _, err := c.Write(msg); errc <- err }()
		got := make([]byte, size)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("message %d (%d bytes): read: %v", i, size, err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("message %d (%d bytes): write: %v", i, size, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("message %d (%d bytes): echo differs from what was sent", i, size)
		}
	}
}
