package testbackend

import (
	"net"
	"syscall"
	"testing"
)

// RefusedAddr returns a loopback address where connections are refused, and keeps it
// that way for the test: the port stays bound (without listening and without
// SO_REUSEADDR) until the test ends, so no other test running in parallel, in this
// package or another, can be given the same port by the kernel and answer on it.
// (Listening on port 0 and closing again frees the port for the next caller.)
func RefusedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	in, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("getsockname: unexpected %T", sa)
	}
	return (&net.TCPAddr{IP: net.IP(in.Addr[:]), Port: in.Port}).String()
}
