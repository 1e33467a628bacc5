package l4

import (
	"fmt"
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
	for _, m := range relayModes {
		b.Run(m.name, func(b *testing.B) { benchThroughput(b, m.goroutine) })
	}
}

func benchThroughput(b *testing.B, goroutine bool) {
	be := testbackend.StartTCPEcho(b)
	_, addr := startTCP(b, TCPOptions{IdleTimeout: time.Minute, goroutineRelay: goroutine}, route(be.Addr()))
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
	for _, m := range relayModes {
		b.Run(m.name, func(b *testing.B) { benchConnect(b, m.goroutine) })
	}
}

func benchConnect(b *testing.B, goroutine bool) {
	be := testbackend.StartTCPEcho(b)
	_, addr := startTCP(b, TCPOptions{IdleTimeout: time.Minute, goroutineRelay: goroutine}, route(be.Addr()))
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

// BenchmarkTCPRelayMessage is the relay's hot path: one small request and its reply
// per op over one proxied keep-alive connection to an echo backend. allocs/op counts
// the whole process (client, proxy, backend) and must stay 0 in steady state.
func BenchmarkTCPRelayMessage(b *testing.B) {
	for _, m := range relayModes {
		for _, size := range []int{6, 16 << 10} {
			b.Run(fmt.Sprintf("%s/%dB", m.name, size), func(b *testing.B) {
				be := testbackend.StartTCPEcho(b)
				_, addr := startTCP(b, TCPOptions{IdleTimeout: time.Minute, goroutineRelay: m.goroutine}, route(be.Addr()))
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				msg, got := make([]byte, size), make([]byte, size)
				for range 100 { // warm pools and buffers
					if _, err := c.Write(msg); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(c, got); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := c.Write(msg); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(c, got); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
