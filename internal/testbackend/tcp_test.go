package testbackend

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/proxyproto"
)

func dialTCP(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

func TestTCPEchoHalfClose(t *testing.T) {
	t.Parallel()
	e := StartTCPEcho(t)
	c := dialTCP(t, e.Addr())
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c) // ends only if the backend half-closes back
	if err != nil || string(got) != "ping" {
		t.Fatalf("echo = %q, %v, want %q", got, err, "ping")
	}
	if e.Conns() != 1 {
		t.Fatalf("Conns() = %d, want 1", e.Conns())
	}
}

func TestTCPSHA256(t *testing.T) {
	t.Parallel()
	e := StartTCPSHA256(t)
	c := dialTCP(t, e.Addr())
	payload := []byte("some bytes to hash")
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	_ = c.CloseWrite()
	got, err := io.ReadAll(c)
	sum := sha256.Sum256(payload)
	if want := hex.EncodeToString(sum[:]); err != nil || string(got) != want {
		t.Fatalf("sink reply = %q, %v, want %q", got, err, want)
	}
}

func TestTCPEchoStopRestart(t *testing.T) {
	t.Parallel()
	e := StartTCPEcho(t)
	addr := e.Addr()
	e.Stop()
	if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		c.Close()
		t.Fatal("Dial() after Stop succeeded, want refused")
	}
	e.Restart()
	c := dialTCP(t, addr)
	_, _ = c.Write([]byte("x"))
	_ = c.CloseWrite()
	if got, _ := io.ReadAll(c); string(got) != "x" {
		t.Fatalf("echo after Restart = %q, want %q", got, "x")
	}
}

func TestTCPProxyProtocol(t *testing.T) {
	t.Parallel()
	e := StartTCP(t, TCPOptions{ProxyProtocol: true})
	c := dialTCP(t, e.Addr())
	hdr := proxyproto.AppendV1(nil, netip.MustParseAddrPort("192.0.2.9:999"), netip.MustParseAddrPort("192.0.2.1:80"))
	_, _ = c.Write(append(hdr, "abc"...))
	_ = c.CloseWrite()
	if got, _ := io.ReadAll(c); string(got) != "abc" {
		t.Fatalf("echo = %q, want %q", got, "abc")
	}
	if r := e.Remotes(); len(r) != 1 || r[0] != "192.0.2.9:999" {
		t.Fatalf("Remotes() = %v, want [192.0.2.9:999]", r)
	}
}
