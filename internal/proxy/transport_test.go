package proxy

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestRouteConnectTimeout: a handler's own connect timeout bounds the dial even when the
// shared transport's dialer allows a minute: the dial sees the route's deadline.
func TestRouteConnectTimeout(t *testing.T) {
	t.Parallel()
	var got time.Duration
	d := dialer{d: &net.Dialer{Timeout: time.Minute}}
	ctx := context.WithValue(context.Background(), connectTimeoutKey{}, 150*time.Millisecond)
	probe := func(ctx context.Context) {
		if dl, ok := ctx.Deadline(); ok {
			got = time.Until(dl)
		}
	}
	d.d.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
		probe(ctx)
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got <= 0 || got > 150*time.Millisecond {
		t.Fatalf("dial deadline in %v, want within the route's 150ms", got)
	}
}
