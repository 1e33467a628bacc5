package health

import (
	"context"
	"crypto/tls"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gantrygw/gantry/internal/balancer"
)

// grpcProbe runs grpc.health.v1 checks.
type grpcProbe struct {
	service string
	tls     *tls.Config
}

// probe calls grpc.health.v1.Health/Check for the configured service and passes on
// SERVING. Each probe opens its own client connection and closes it: a long-lived one
// would, after the target restarts, wait out gRPC's reconnect backoff (up to two
// minutes) and report stale results; one connection per interval costs little.
// Targets with scheme https use TLS (verified, see Options.TLS); others, h2c or plain,
// speak plaintext HTTP/2.
func (p *grpcProbe) probe(ctx context.Context, t *balancer.Target) error {
	creds := insecure.NewCredentials()
	if t.Scheme == "https" {
		conf := &tls.Config{}
		if p.tls != nil {
			conf = p.tls.Clone()
		}
		creds = credentials.NewTLS(conf)
	}
	// passthrough: the address is dialled as written, without gRPC's DNS resolver
	// goroutine (a host name is still resolved by the dialer).
	conn, err := grpc.NewClient("passthrough:///"+t.Addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return fmt.Errorf("%w: grpc client: %w", ErrCheckFailed, err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: p.service})
	if err != nil {
		return fmt.Errorf("%w: grpc health: %w", ErrCheckFailed, err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("%w: grpc service %q is %s", ErrCheckFailed, p.service, s)
	}
	return nil
}
