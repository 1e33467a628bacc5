package testbackend

import (
	"net"
	"testing"
	"time"
)

func TestUDPEcho(t *testing.T) {
	t.Parallel()
	e := StartUDPEcho(t)
	c, err := net.Dial("udp", e.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("dgram")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "dgram" {
		t.Fatalf("echo = %q, %v, want %q", buf[:n], err, "dgram")
	}
	if e.Packets() != 1 || e.Peers() != 1 {
		t.Fatalf("Packets(), Peers() = %d, %d, want 1, 1", e.Packets(), e.Peers())
	}
}
