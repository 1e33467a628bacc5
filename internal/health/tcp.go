package health

import (
	"context"
	"fmt"
	"net"

	"github.com/gantrygw/gantry/internal/balancer"
)

// probeTCP passes when a TCP connection to the target opens within the deadline; it
// sends nothing and closes at once.
func probeTCP(ctx context.Context, t *balancer.Target) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return fmt.Errorf("%w: connect: %w", ErrCheckFailed, err)
	}
	return conn.Close()
}
