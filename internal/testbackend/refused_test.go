package testbackend

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestRefusedAddrRefusesAndStaysTaken(t *testing.T) {
	a := RefusedAddr(t)
	c, err := net.DialTimeout("tcp", a, 5*time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("Dial(%s) succeeded, want connection refused", a)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial(%s) = %v, want ECONNREFUSED", a, err)
	}
	if ln, err := net.Listen("tcp", a); err == nil {
		ln.Close()
		t.Fatalf("Listen(%s) succeeded while the address is held, want an error", a)
	}
}
