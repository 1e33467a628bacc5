package l4

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/testbackend"
)

func startUDP(t *testing.T, opts UDPOptions, tab *Table) (*UDPServer, string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewUDP(opts)
	s.SetTable(tab)
	serveUntilCleanup(t, func() error { return s.Serve(pc) }, s.Shutdown)
	return s, pc.LocalAddr().String()
}

func udpClient(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn)
}

// udpEcho sends msg and waits for it back, resending a few times (UDP may drop).
func udpEcho(t *testing.T, c *net.UDPConn, msg string) {
	t.Helper()
	buf := make([]byte, 64<<10)
	for try := 0; try < 5; try++ {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatalf("write: %v", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err == nil {
			if string(buf[:n]) != msg {
				t.Fatalf("udp echo = %d bytes %.20q, want %d bytes %.20q", n, buf[:n], len(msg), msg)
			}
			return
		}
	}
	t.Fatalf("no udp echo for %.20q after 5 tries", msg)
}

func TestUDPEchoBalancedSessions(t *testing.T) {
	t.Parallel()
	a, b := testbackend.StartUDPEcho(t), testbackend.StartUDPEcho(t)
	s, addr := startUDP(t, UDPOptions{IdleTimeout: 10 * time.Second}, route(a.Addr(), b.Addr()))
	c1, c2 := udpClient(t, addr), udpClient(t, addr)
	for i := 0; i < 3; i++ {
		udpEcho(t, c1, "from one")
		udpEcho(t, c2, "from two")
	}
	// Two clients → two sessions, round robin → one upstream socket per backend.
	if st := s.Stats(); st.Active != 2 || st.Total != 2 {
		t.Fatalf("Stats() = %+v, want 2 active sessions, 2 total", st)
	}
	if a.Peers() != 1 || b.Peers() != 1 {
		t.Fatalf("backend peers a=%d b=%d, want 1 and 1", a.Peers(), b.Peers())
	}
	big := string(make([]byte, 60000))
	udpEcho(t, c1, big) // near the 64 KiB bound, relayed whole both ways
}

func TestUDPIdleReap(t *testing.T) {
	t.Parallel()
	be := testbackend.StartUDPEcho(t)
	tab := route(be.Addr())
	s, addr := startUDP(t, UDPOptions{IdleTimeout: 200 * time.Millisecond}, tab)
	c := udpClient(t, addr)
	udpEcho(t, c, "one")
	eventually(t, 5*time.Second, "idle session reaped", func() bool { return s.Stats().Active == 0 })
	if in := tab.Default.Picker.(*rrPicker).targets[0].State.InFlight(); in != 0 {
		t.Fatalf("target InFlight() = %d after reap, want 0", in)
	}
	udpEcho(t, c, "two") // a new session for the same client
	if st := s.Stats(); st.Total != 2 {
		t.Fatalf("Stats().Total = %d, want 2 (reaped session replaced)", st.Total)
	}
	if be.Peers() != 2 {
		t.Fatalf("backend Peers() = %d, want 2 (a fresh upstream socket)", be.Peers())
	}
}

func TestUDPMaxSessions(t *testing.T) {
	t.Parallel()
	be := testbackend.StartUDPEcho(t)
	s, addr := startUDP(t, UDPOptions{MaxSessions: 1, IdleTimeout: 10 * time.Second}, route(be.Addr()))
	udpEcho(t, udpClient(t, addr), "first")
	c2 := udpClient(t, addr)
	if _, err := c2.Write([]byte("second")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "datagram refused", func() bool { return s.Stats().Refused >= 1 })
	if st := s.Stats(); st.Active != 1 {
		t.Fatalf("Stats().Active = %d, want 1", st.Active)
	}
}

func TestUDPShutdown(t *testing.T) {
	checkNoLeak(t)
	be := testbackend.StartUDPEcho(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewUDP(UDPOptions{IdleTimeout: time.Minute})
	s.SetTable(route(be.Addr()))
	served := make(chan error, 1)
	go func() { served <- s.Serve(pc) }()
	udpEcho(t, udpClient(t, pc.LocalAddr().String()), "x")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown() = %v, want nil", err)
	}
	if err := <-served; err != ErrServerClosed {
		t.Fatalf("Serve() = %v, want ErrServerClosed", err)
	}
	if st := s.Stats(); st.Active != 0 {
		t.Fatalf("Stats().Active = %d after Shutdown, want 0", st.Active)
	}
}
