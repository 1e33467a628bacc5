package proxy

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/testbackend"
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

// TestRouteConnectTimeoutWithPerTryTimeout: the route's connect timeout still reaches
// the dial when a per-try timeout wraps the try's context.
func TestRouteConnectTimeoutWithPerTryTimeout(t *testing.T) {
	t.Parallel()
	seen := make(chan time.Duration, 1)
	tr := NewTransport(TransportOptions{ConnectTimeout: time.Minute})
	inner := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := ctx.Value(connectTimeoutKey{}).(time.Duration); ok {
			select {
			case seen <- to:
			default:
			}
		}
		return inner(ctx, network, addr)
	}
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "be"})
	g := startProxy(t, Options{
		Picker:         &ordered{targets: []*balancer.Target{target(t, be.URL)}},
		Transport:      tr,
		ConnectTimeout: 150 * time.Millisecond,
		Retry:          RetryPolicy{PerTryTimeout: time.Second},
	}, nil)
	if res, _ := get(t, client(t), g.URL+"/x", nil); res.StatusCode != 200 {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	select {
	case to := <-seen:
		if to != 150*time.Millisecond {
			t.Fatalf("dial saw connect timeout %v, want 150ms", to)
		}
	default:
		t.Fatalf("the dial did not see the route's connect timeout (per-try timeout set)")
	}
}
