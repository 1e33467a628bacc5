package h1

import (
	"log/slog"
	"net"
	"time"

	"github.com/gantrygw/gantry/internal/problem"
)

// Options configure a Server. Zero values take the defaults listed per field.
type Options struct {
	// Handler routes and accounts requests; required.
	Handler Handler
	// Fallback receives connections the engine does not serve (see the package doc).
	// The conn replays the bytes the engine already read before reading the socket. It
	// is called on the connection's goroutine and should hand the conn off (e.g. to a
	// listener's Accept) and return; the engine never touches the conn again. nil
	// answers such requests 501 (Upgrade is then ignored instead).
	Fallback func(c net.Conn)
	// Problem renders the engine's own error answers (400, 413, 414, 431, 502, 503,
	// 504, ...) by setting d.Status, d.ContentType, d.Body and possibly d.RespHeader.
	// nil renders p as problem+json with d.RequestID.
	Problem func(req *Request, d *Decision, p problem.Problem)

	// ReadHeaderTimeout bounds the time from the first byte of a request head (or the
	// connection's start) to its end (slowloris); default 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive connection;
	// default 75s. Deadlines are refreshed lazily (see StallTimeout), so an idle
	// connection is closed after between IdleTimeout/2 and IdleTimeout.
	IdleTimeout time.Duration
	// StallTimeout bounds how long any single read or write inside an exchange (request
	// body, upstream I/O, response writes) may make no progress; default 60s. It is
	// refreshed lazily, taking effect after between StallTimeout/2 and StallTimeout,
	// which keeps timer updates off the per-request path. Streams (SSE) must send
	// something more often than StallTimeout/2.
	StallTimeout time.Duration
	// ConnectTimeout bounds a dial when Decision.ConnectTimeout is 0; default 10s.
	ConnectTimeout time.Duration
	// MaxHeaderBytes caps a request head (request line and headers); default 64 KiB.
	MaxHeaderBytes int
	// MaxHeaderCount caps the header fields of a request; default 100.
	MaxHeaderCount int
	// MaxURILength caps the request-target; default 8 KiB.
	MaxURILength int
	// MaxRequestsPerConn closes a client connection after that many requests; 0 means
	// unlimited.
	MaxRequestsPerConn int
	// UpstreamIdlePerHost caps idle keep-alive connections kept per target; default 256,
	// negative disables pooling. A connection returned beyond the cap is closed and the
	// next request over it dials again, so the cap must sit above the concurrency a
	// target sees in bursts: with 64, the harness's h2 load (128 streams over two
	// targets) churned connections and cost 7% more CPU per request (issue 6).
	UpstreamIdlePerHost int
	// UpstreamIdleTimeout closes pooled upstream connections idle for longer; default
	// 30s (below common upstream keep-alive timeouts, so the gateway closes first).
	UpstreamIdleTimeout time.Duration
	// ForwardedProto is sent as X-Forwarded-Proto; default "http".
	ForwardedProto string
	// Logger receives connection-level diagnostics at debug level; default discards.
	Logger *slog.Logger
}

// Defaults for Options' zero values.
const (
	DefaultReadHeaderTimeout   = 10 * time.Second
	DefaultIdleTimeout         = 75 * time.Second
	DefaultStallTimeout        = 60 * time.Second
	DefaultConnectTimeout      = 10 * time.Second
	DefaultMaxHeaderBytes      = 64 << 10
	DefaultMaxHeaderCount      = 100
	DefaultMaxURILength        = 8 << 10
	DefaultUpstreamIdlePerHost = 256
	DefaultUpstreamIdleTimeout = 30 * time.Second
)

func (o *Options) setDefaults() {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxHeaderCount <= 0 {
		o.MaxHeaderCount = DefaultMaxHeaderCount
	}
	if o.MaxURILength <= 0 {
		o.MaxURILength = DefaultMaxURILength
	}
	if o.UpstreamIdlePerHost == 0 {
		o.UpstreamIdlePerHost = DefaultUpstreamIdlePerHost
	}
	if o.UpstreamIdleTimeout <= 0 {
		o.UpstreamIdleTimeout = DefaultUpstreamIdleTimeout
	}
	if o.ForwardedProto == "" {
		o.ForwardedProto = "http"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}
