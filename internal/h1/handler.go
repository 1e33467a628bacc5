package h1

import (
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
)

// Handler decides what happens to each request. Both methods run on the connection's
// goroutine, or, for an exchange the readiness loop runs (loop_linux.go), on a poller
// goroutine that serves many connections, or on whichever goroutine's callback
// finished the exchange: neither may block or do I/O. A Handler is shared by all
// connections and must be safe for concurrent use. Route and Done of one request are
// never concurrent with each other, and everything Route wrote is visible to Done.
type Handler interface {
	// Route is called once per request after its head was parsed, before any body byte
	// is read. It must not block or do I/O; it fills d (reset by the engine before the
	// call). req and d are valid until Done returns.
	Route(req *Request, d *Decision)
	// Done (which, like Route, must not block) is called once per request that got
	// (or failed to get) a response, after the exchange ended, including requests the
	// parser rejected (then Route was not called, req may be partly filled and d.Kind
	// is Answer). It is not called for a request handed to Options.Fallback: net/http
	// accounts for that one.
	Done(req *Request, d *Decision, r *Result)
}

// Picker picks an upstream target; balancer.Set and every balancer.Balancer satisfy it.
type Picker interface {
	Pick(info *balancer.Info) (*balancer.Target, error)
}

// Observer is told the outcome of every try (passive health, outlier detection).
// failed is true for a connect failure, a timeout, an invalid response or a 5xx.
type Observer interface {
	Observe(t *balancer.Target, failed bool)
}

// Kind is what the engine does with a request.
type Kind uint8

const (
	// Forward proxies the request to a target chosen by Decision.Picker.
	Forward Kind = iota
	// Answer writes Decision.Status, RespHeader and Body without contacting an upstream.
	Answer
	// Fallback hands the connection to Options.Fallback (net/http) from this request on.
	Fallback
)

// Retry says when a failed try is repeated on another target. A retry only happens
// while the request body can be sent again: no body, or a body that was already in the
// engine's read buffer in full; a streamed body is never replayed.
type Retry struct {
	// Attempts is the most tries per request including the first; 0 and 1 mean one.
	Attempts int
	// OnConnect retries when the connection to a target cannot be established.
	OnConnect bool
	// OnTimeout retries when the response head did not arrive within
	// ResponseHeaderTimeout (only for idempotent requests unless NonIdempotent).
	OnTimeout bool
	// OnStatus lists upstream statuses (e.g. 502, 503) that cause a retry; the engine
	// picks the next target first and only discards the response when one was found.
	OnStatus []int
	// NonIdempotent allows retries after the request was sent for methods other than
	// GET, HEAD, OPTIONS, TRACE, PUT and DELETE. Connect failures are always retryable.
	NonIdempotent bool
	// Budget, when set, must allow every retry that may have reached a server (status,
	// timeout, reset); a refused connection reached none and spends nothing.
	Budget Budget
}

// Budget caps retries (proxy.Budget satisfies it).
type Budget interface{ Retry() bool }

// allow reports whether a retry that may have reached a server is within budget.
func (r *Retry) allow() bool { return r.Budget == nil || r.Budget.Retry() }

// Decision is the Handler's verdict on one request. The engine owns it, resets it
// before each Route and reuses it for the connection's next request.
type Decision struct {
	Kind Kind

	// RequestID is passed to Options.Problem for the engine's own error answers.
	RequestID string
	// RespHeader lists headers added to the response the client gets (answers and
	// forwarded responses alike).
	RespHeader Header

	// Status, ContentType and Body form an Answer (Body is not sent for HEAD and for
	// 1xx/204/304). ContentType "" sends none.
	Status      int
	ContentType string
	Body        []byte

	// Picker chooses targets (Forward); nil gives a 503.
	Picker Picker
	// Info is passed to Picker; the engine maintains Info.Tried itself.
	Info balancer.Info
	// Observer, if not nil, is told each try's outcome.
	Observer Observer
	// Path, if not "", replaces the request's path upstream (escaped, origin-form, from
	// the router's rewrite); RawQuery is then sent as the query ("" sends none). When
	// Path is "", the client's path and query are sent unchanged.
	Path     string
	RawQuery string
	// Host, if not "", replaces the Host header sent upstream (the client's value goes
	// in X-Forwarded-Host either way).
	Host string
	// Header edits the client's headers on their way upstream: its Del removes client
	// headers by name, Set/Add add headers after the client's.
	Header Header
	// TrustForwarded appends the client address to an incoming X-Forwarded-For chain
	// and keeps incoming X-Forwarded-Proto/Host and Forwarded; otherwise all four are
	// replaced (Forwarded is dropped) so a client cannot spoof them.
	TrustForwarded bool
	// ConnectTimeout bounds one dial (0: Options.ConnectTimeout).
	ConnectTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response head after the request
	// was sent (0: only StallTimeout applies). Exceeding it gives a 504.
	ResponseHeaderTimeout time.Duration
	// MaxBodyBytes, if > 0, caps the request body: a larger Content-Length is answered
	// 413 before forwarding; a chunked body exceeding it mid-stream aborts the exchange
	// (413 if no response byte was sent yet).
	MaxBodyBytes int64
	// Retry is the retry policy.
	Retry Retry
	// User is the Handler's own per-request state, kept from Route to Done and never
	// touched by the engine (a pointer in an interface: no allocation).
	User any
}

// Result describes how an exchange ended; the engine fills it and passes it to Done.
type Result struct {
	// Status is the status sent to the client, 0 if none was (the connection failed
	// or the request went to Fallback).
	Status int
	// BytesIn counts request body bytes read from the client.
	BytesIn int64
	// BytesOut counts response body bytes written to the client.
	BytesOut int64
	// Target is the last target tried (nil if none).
	Target *balancer.Target
	// Tries counts tries, including retries (a silent redial of a stale pooled
	// connection is not counted).
	Tries int
	// Upstream is the final try's latency: from its start to the response head.
	Upstream time.Duration
	// Reason is "" on success, else a stable reason: a problem reason for errors the
	// engine answered ("upstream_connect_failed", "upstream_timeout", ...), or
	// "client_aborted", "upstream_aborted" when a stream broke mid-way.
	Reason string
	// Err is the internal cause for the log; never shown to the client.
	Err error
}
