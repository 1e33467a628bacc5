package l4

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/testbackend"
)

// BenchmarkTCPRelayThroughput pushes 1 MiB per op through one proxied connection to
// an echo backend and reads it back: b.SetBytes counts one direction. Allocations are
// those of the whole process (client, proxy, backend) per MiB relayed.
func BenchmarkTCPRelayThroughput(b *testing.B) {
	be := testbackend.StartTCPEcho(b)
	_, addr := startTCP(b, TCPOptions{IdleTimeout: time.Minute}, route(be.Addr()))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const chunk = 1 << 20
	wbuf, rbuf := make([]byte, chunk), make([]byte, chunk)
	errc := make(chan error, 1)
	b.SetBytes(chunk)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i++ {
			if _, err := c.Write(wbuf); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := 0; i < b.N; i++ {
		if _, err := io.ReadFull(c, rbuf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTCPConnect measures the connection rate: dial the proxy, echo one byte
// through a fresh upstream connection, close. allocs/op covers client, proxy and
// backend together for one connection.
func BenchmarkTCPConnect(b *testing.B) {
	be := testbackend.StartTCPEcho(b)
	_, addr := startTCP(b, TCPOptions{}, route(be.Addr()))
	one := make([]byte, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(one); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, one); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkTCPConnectDirect is BenchmarkTCPConnect without the proxy, as a baseline
// for this machine.
func BenchmarkTCPConnectDirect(b *testing.B) {
	be := testbackend.StartTCPEcho(b)
	one := make([]byte, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", be.Addr())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(one); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, one); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
