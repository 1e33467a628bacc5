package testbackend

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

// UDPEcho is a real UDP echo backend on 127.0.0.1: every datagram is sent back to its
// sender unchanged. Its methods are safe for concurrent use.
type UDPEcho struct {
	pc      *net.UDPConn
	packets atomic.Int64
	done    chan struct{}

	mu    sync.Mutex
	peers map[netip.AddrPort]int
}

// StartUDPEcho starts a UDP echo backend on 127.0.0.1:0, stopped at test cleanup.
func StartUDPEcho(t testing.TB) *UDPEcho {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("testbackend: listen udp: %v", err)
	}
	e := &UDPEcho{pc: pc, done: make(chan struct{}), peers: map[netip.AddrPort]int{}}
	go e.serve()
	t.Cleanup(e.Stop)
	return e
}

// Addr returns host:port.
func (e *UDPEcho) Addr() string { return e.pc.LocalAddr().String() }

// Packets returns how many datagrams were received.
func (e *UDPEcho) Packets() int64 { return e.packets.Load() }

// Peers returns how many distinct source addresses sent datagrams (for a proxy in
// front: how many upstream sessions it opened to this backend).
func (e *UDPEcho) Peers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.peers)
}

// Stop closes the socket and waits for the serving goroutine. Idempotent.
func (e *UDPEcho) Stop() {
	e.pc.Close()
	<-e.done
}

func (e *UDPEcho) serve() {
	defer close(e.done)
	buf := make([]byte, 64<<10)
	for {
		n, from, err := e.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		e.packets.Add(1)
		e.mu.Lock()
		e.peers[from]++
		e.mu.Unlock()
		_, _ = e.pc.WriteToUDPAddrPort(buf[:n], from)
	}
}
