package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// TransportOptions configure NewTransport; zero fields take the defaults named.
type TransportOptions struct {
	// ConnectTimeout bounds dialing (and the TLS handshake); default 5s.
	ConnectTimeout time.Duration
	// IdleTimeout bounds how long a pooled connection stays idle; default 90s.
	IdleTimeout time.Duration
	// MaxIdleConnsPerHost is the idle pool per target; default and minimum 128, so a
	// busy upstream does not churn connections (net/http's default of 2 would).
	MaxIdleConnsPerHost int
	// MaxConnsPerHost caps connections per target (breaker max_connections); 0: none.
	MaxConnsPerHost int
	// H2C makes the transport speak HTTP/2 with prior knowledge to http:// URLs, for
	// upstreams whose targets are h2c://. net/http picks cleartext HTTP/2 only when
	// HTTP/1 is disabled, so such a transport speaks nothing else: an upstream's
	// targets must all be h2c or all not.
	H2C bool
	// TLSConfig is cloned for https targets (CA pool, client certificate, ServerName);
	// nil uses the system roots.
	TLSConfig *tls.Config
}

// NewTransport returns the transport of one upstream: no proxy from the environment
// (a gateway must not route through HTTP_PROXY by accident), no transparent
// compression (bodies pass through byte for byte), HTTP/2 for https by ALPN, h2c when
// o.H2C. The gateway keeps it across reloads so pooled connections survive.
func NewTransport(o TransportOptions) *http.Transport {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 90 * time.Second
	}
	if o.MaxIdleConnsPerHost < 128 {
		o.MaxIdleConnsPerHost = 128
	}
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	p := new(http.Protocols)
	if o.H2C {
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
		p.SetHTTP2(true)
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer{d}.DialContext,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		MaxIdleConns:          0, // no global cap; per-host caps below
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		MaxConnsPerHost:       o.MaxConnsPerHost,
		IdleConnTimeout:       o.IdleTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     true,
		Protocols:             p,
		HTTP2: &http.HTTP2Config{
			// Detect dead HTTP/2 connections (long-lived h2c/gRPC) instead of hanging.
			SendPingTimeout: 30 * time.Second,
			PingTimeout:     15 * time.Second,
		},
	}
	if o.TLSConfig != nil {
		t.TLSClientConfig = o.TLSConfig.Clone()
	}
	return t
}

// connectTimeoutKey carries a route's own connect timeout into the dial, so routes that
// share an upstream's connection pool can still bound connecting differently.
type connectTimeoutKey struct{}

// dialer applies a per-request connect timeout when the request context carries one.
type dialer struct{ d *net.Dialer }

func (d dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if to, ok := ctx.Value(connectTimeoutKey{}).(time.Duration); ok && to > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, to)
		defer cancel()
	}
	return d.d.DialContext(ctx, network, addr)
}
