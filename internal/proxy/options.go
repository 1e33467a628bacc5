package proxy

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
)

// Picker chooses the target of one try. *balancer.Set satisfies it. Pick must not block;
// it returns balancer.ErrNoTarget when every target is excluded by info.Tried or none is
// eligible.
type Picker interface {
	Pick(info *balancer.Info) (*balancer.Target, error)
}

// Observer receives the outcome of every try, for passive health (outlier detection).
// failed is true for a connect failure, a timeout, a 5xx answer or a mid-stream upstream
// failure. Observe is called on the request's goroutine and must not block.
type Observer interface {
	Observe(t *balancer.Target, failed bool)
}

// MaxTries bounds the tries of one request (first try plus retries): the targets already
// tried live in a fixed array so a request never allocates for them.
const MaxTries = 8

// RetryPolicy says when a failed try is repeated on another target. The zero value never
// retries.
type RetryPolicy struct {
	// Attempts is the number of retries after the first try, capped at MaxTries-1.
	Attempts int
	// OnConnect retries connect failures (refused, unreachable, DNS, TLS handshake) and a
	// connection reset or closed before any response byte.
	OnConnect bool
	// OnTimeout retries a try that hit PerTryTimeout or the response-header timeout.
	OnTimeout bool
	// Statuses are upstream statuses that are retried; the response is discarded.
	Statuses []int
	// PerTryTimeout bounds one try from its start until the response headers; 0: none.
	PerTryTimeout time.Duration
	// NonIdempotent allows retrying methods other than GET HEAD OPTIONS TRACE PUT DELETE.
	NonIdempotent bool
}

// Options configure a Handler. A Handler belongs to one route (timeouts and retries
// may differ per route); Transport, Budget and Breaker belong to the upstream and are
// shared by every route to it and kept across reloads by the gateway.
type Options struct {
	// Upstream is the upstream's name, for logs.
	Upstream string
	// Picker chooses targets; required.
	Picker Picker
	// Observer receives try outcomes; may be nil.
	Observer Observer
	// Transport performs the round trips; nil means NewTransport(TransportOptions{}).
	Transport http.RoundTripper
	// ResponseHeaderTimeout bounds each try from its start until the response headers; 0: none.
	ResponseHeaderTimeout time.Duration
	// ConnectTimeout, when > 0, bounds dialing a target for this handler's requests,
	// overriding the transport's own connect timeout (a route's timeouts.connect).
	ConnectTimeout time.Duration
	// RequestTimeout bounds the whole exchange including the response body (not upgraded
	// connections); 0: none.
	RequestTimeout time.Duration
	// Retry is the retry policy.
	Retry RetryPolicy
	// Budget caps retries of the upstream; nil: no cap beyond Retry.Attempts.
	Budget *Budget
	// Breaker caps the upstream's requests in flight; nil: no cap.
	Breaker *Breaker
	// HashKey says what consistent_hash hashes; the zero value extracts nothing.
	HashKey balancer.Key
	// StickyCookie, when set, names the cookie that pins a client to a target: its value
	// is read into Info.Sticky and set on the response when the picked target differs.
	StickyCookie string
	// TrustForwarded keeps an incoming X-Forwarded-For chain (appending the client),
	// X-Forwarded-Proto/-Host and Forwarded. The gateway sets it when the direct peer
	// is a trusted proxy; when false those headers are replaced.
	TrustForwarded bool
	// Logger receives failures at debug/warn with the request ID; nil discards.
	Logger *slog.Logger
	// OnTry, when set, is called after every try with the upstream's status (0 when it
	// gave none) and the try's duration: per-target metrics.
	OnTry func(t *balancer.Target, status int, d time.Duration)
}

// Exchange carries the facts of one request into Serve and its outcome back out, for the
// access log and metrics. The caller owns it; Serve fills the "out" fields.
type Exchange struct {
	// RequestID is the gateway's request ID: sent upstream as X-Request-Id and put in
	// problem bodies.
	RequestID string
	// ClientIP is the client's address after trusted-proxy resolution; the zero value
	// means "take it from r.RemoteAddr".
	ClientIP netip.Addr
	// Trusted says the direct peer is a trusted proxy: its forwarding headers are kept
	// and the peer's address (not ClientIP) is appended to them, as for TrustForwarded.
	Trusted bool
	// Proto is "http" or "https" as the client spoke; "" means from r.TLS.
	Proto string
	// OutPath is the path to send, already rewritten, in escaped (wire) form as
	// r.URL.EscapedPath() gives it, so encodings like %2F survive; "" sends the
	// client's path with its original encoding.
	OutPath string
	// OutHost is the Host header to send; "" sends the client's Host.
	OutHost string

	// Target is the URL of the last target tried ("" when none was picked).
	Target string
	// Status is the status sent to the client (101 for an upgrade; 499 when the client
	// went away before an answer).
	Status int
	// Tries is the number of round trips made.
	Tries int
	// UpstreamDuration runs from the first try's start to the end of the response body
	// (or the last failure).
	UpstreamDuration time.Duration
	// Reason is the problem reason when the gateway answered itself, "client_closed"
	// when the client left first, "upstream_aborted" after a mid-stream upstream
	// failure, else "".
	Reason string
	// BytesOut counts response body bytes written to the client.
	BytesOut int64
}
