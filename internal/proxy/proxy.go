package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/problem"
)

// Handler forwards HTTP requests to one upstream. It is immutable after New and safe
// for concurrent use; the gateway builds one per route and snapshot.
type Handler struct {
	o         Options
	log       *slog.Logger
	transport http.RoundTripper
	attempts  int
	tryLimit  time.Duration // min of PerTryTimeout and ResponseHeaderTimeout, 0: none
}

// New returns a Handler for o. o.Picker is required; nil Transport builds a default one.
func New(o Options) *Handler {
	h := &Handler{o: o, log: o.Logger, transport: o.Transport}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.transport == nil {
		h.transport = NewTransport(TransportOptions{})
	}
	h.attempts = min(max(o.Retry.Attempts, 0), MaxTries-1)
	for _, d := range []time.Duration{o.Retry.PerTryTimeout, o.ResponseHeaderTimeout} {
		if d > 0 && (h.tryLimit == 0 || d < h.tryLimit) {
			h.tryLimit = d
		}
	}
	return h
}

// call is the state of one Serve: allocated once per request and never reused, so
// the strings its scratch holds stay valid (see scratch).
type call struct {
	h     *Handler
	w     http.ResponseWriter
	r     *http.Request
	ex    *Exchange
	info  balancer.Info
	tried [MaxTries]*balancer.Target
	base  url.URL // outbound path and query; scheme and host are set per try
	host  string  // outbound Host
	body0 trackedBody
	body  *trackedBody // nil when the request has no body
	start time.Time

	upgrade  string                  // protocol the client asked to switch to
	upConn   atomic.Pointer[connBox] // connection of an upgrade try, from httptrace
	clientIP string
	s        scratch
}

// Serve forwards r to a target picked by the Picker and writes the answer to w,
// retrying as the RetryPolicy allows. It fills the out fields of ex. Serve takes over
// r.Header: it is rewritten in place into the outbound header (hop-by-hop removed,
// forwarding headers set), so callers read what they need from it first. It blocks
// until the response (or the upgraded connection) is finished. A mid-stream upstream
// failure aborts the client connection with panic(http.ErrAbortHandler), after ex is
// filled, as net/http expects.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, ex *Exchange) {
	c := &call{h: h, w: w, r: r, ex: ex}
	if !h.o.Breaker.Acquire() {
		c.answer(problem.CircuitOpen)
		return
	}
	defer h.o.Breaker.Release()
	if h.o.Budget != nil {
		h.o.Budget.Request()
	}
	c.prepare()
	ctx := r.Context()
	if h.o.RequestTimeout > 0 && c.upgrade == "" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.o.RequestTimeout)
		defer cancel()
	}
	c.run(ctx)
}

// prepare reads the picking facts and rewrites the request once for every try.
func (c *call) prepare() {
	r, o := c.r, &c.h.o
	if r.ProtoMajor == 1 {
		c.upgrade = upgradeType(r.Header)
	}
	proto := c.ex.Proto
	if proto == "" {
		proto = "http"
		if r.TLS != nil {
			proto = "https"
		}
	}
	fwdIP := c.ex.ClientIP
	if c.ex.Trusted {
		fwdIP = netip.Addr{} // a trusted chain gets the peer appended, as in RFC 7239 section 5.2
	}
	ip, v6 := clientAddr(r.RemoteAddr, fwdIP, &c.s)
	c.clientIP = ip

	// Picking facts come from the request as the client sent it, before the rewrite.
	c.info.ClientIP = c.ex.ClientIP
	if !c.info.ClientIP.IsValid() {
		c.info.ClientIP = parseAddr(ip)
	}
	c.info.Key = o.HashKey.Value(r.Header, r.URL.RawQuery, r.URL.Path, c.info.ClientIP)
	if o.StickyCookie != "" {
		c.info.Sticky = balancer.CookieValue(r.Header["Cookie"], o.StickyCookie)
	}

	f := forwarding{
		clientIP: ip,
		v6:       v6,
		proto:    proto,
		host:     r.Host,
		via:      viaFor(r.ProtoMajor, r.ProtoMinor),
		reqID:    c.ex.RequestID,
		upgrade:  c.upgrade,
		trust:    o.TrustForwarded || c.ex.Trusted,
	}
	rewriteRequest(r.Header, &f, &c.s)

	c.base = url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if p := c.ex.OutPath; p != "" {
		c.base.Path, c.base.RawPath = p, ""
		if strings.IndexByte(p, '%') >= 0 {
			if un, err := url.PathUnescape(p); err == nil {
				c.base.Path, c.base.RawPath = un, p
			}
		}
	}
	c.host = c.ex.OutHost
	if c.host == "" {
		c.host = r.Host
	}
	// ContentLength 0 on a server request means a known-empty body. HTTP/2 requests
	// that ended with their HEADERS frame still carry a non-nil Body; forwarding it
	// would make the Transport probe it (a goroutine and a timer per request) to
	// learn what the length already says.
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		c.body0.rc = r.Body
		c.body = &c.body0
	}
}

// failKind classifies a failed try.
type failKind uint8

const (
	failConnect        failKind = iota // dial, DNS, refused, unreachable, TLS handshake
	failReset                          // connection reset or closed before any response byte
	failTimeout                        // per-try or response-header timeout
	failRequestTimeout                 // the route's request timeout
	failClientGone                     // the client went away
	failBadResponse                    // malformed response or other protocol error
	failBodyTooLarge                   // the client's body passed the route's limit
)

func (k failKind) problem() problem.Problem {
	switch k {
	case failConnect:
		return problem.UpstreamConnect
	case failTimeout, failRequestTimeout:
		return problem.UpstreamTimeout
	case failBodyTooLarge:
		return problem.PayloadTooLarge
	}
	return problem.UpstreamBadResponse
}

// held is a response with a retryable status, kept until the next pick succeeds: if no
// target is left, the client gets this answer rather than a made-up one.
type held struct {
	res    *http.Response
	t      *balancer.Target
	begin  time.Time
	cancel context.CancelFunc
}

func (c *call) run(ctx context.Context) {
	h := c.h
	retryable := h.attempts > 0 && (h.o.Retry.NonIdempotent || idempotent(c.r.Method))
	var last failKind
	var hold held
	for n := 0; ; n++ {
		t, err := h.o.Picker.Pick(&c.info)
		if err != nil || t == nil {
			switch {
			case hold.res != nil:
				c.respond(hold.res, hold.t, hold.begin, hold.cancel)
			case n == 0:
				c.logf(slog.LevelWarn, "no target", nil, err)
				c.answer(problem.NoTarget)
			default:
				c.answer(last.problem())
			}
			return
		}
		if hold.res != nil {
			c.discard(hold)
			hold = held{}
		}
		c.tried[n] = t
		c.info.Tried = c.tried[:n+1]
		c.ex.Target = t.URL
		c.ex.Tries = n + 1
		if n == 0 {
			c.start = time.Now()
		}

		res, cancel, begin, kind, err := c.try(ctx, t)
		canRetry := retryable && n < h.attempts && ctx.Err() == nil
		if err != nil {
			rtt := time.Since(begin)
			if kind == failBodyTooLarge {
				// The client's fault, not the target's: no passive-health failure, no retry.
				t.State.End(rtt, false)
				c.ex.UpstreamDuration = time.Since(c.start)
				c.answer(problem.PayloadTooLarge)
				return
			}
			if kind == failClientGone {
				t.State.End(rtt, false) // says nothing about the target
				c.ex.Status, c.ex.Reason = 499, "client_closed"
				c.ex.UpstreamDuration = time.Since(c.start)
				c.logf(slog.LevelDebug, "client went away", t, err)
				return
			}
			c.done(t, rtt, 0, true)
			// A refused connection put no load on any server, so retrying it spends no
			// budget: the budget exists so retries cannot amplify an overload, and a dead
			// target must not turn into client errors while health checks catch up.
			retry := canRetry &&
				((kind == failConnect || kind == failReset) && h.o.Retry.OnConnect ||
					kind == failTimeout && h.o.Retry.OnTimeout) &&
				c.rewind() && (kind == failConnect || h.budget())
			if retry {
				c.logf(slog.LevelDebug, "try failed, retrying", t, err)
				last = kind
				continue
			}
			c.logf(slog.LevelWarn, "upstream failed", t, err)
			c.answer(kind.problem())
			return
		}
		if canRetry && h.retryStatus(res.StatusCode) && c.rewind() && h.budget() {
			c.logf(slog.LevelDebug, "retryable status, retrying", t, nil)
			hold = held{res: res, t: t, begin: begin, cancel: cancel}
			last = failBadResponse
			continue
		}
		c.respond(res, t, begin, cancel)
		return
	}
}

// try makes one round trip to t. On success the caller owns res and must call cancel
// (may be nil) when the body is done.
func (c *call) try(ctx context.Context, t *balancer.Target) (res *http.Response, cancel context.CancelFunc, begin time.Time, kind failKind, err error) {
	tctx := ctx
	if c.h.o.ConnectTimeout > 0 {
		tctx = context.WithValue(tctx, connectTimeoutKey{}, c.h.o.ConnectTimeout)
	}
	if c.h.tryLimit > 0 || c.upgrade != "" {
		tctx, cancel = context.WithCancel(tctx) // keeps the connect-timeout value set above
	}
	if c.upgrade != "" {
		// The upgraded connection's body hides the net.Conn; its half-close needs it.
		tctx = httptrace.WithClientTrace(tctx, &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { c.upConn.Store(&connBox{i.Conn}) },
		})
	}
	var timer *time.Timer
	if c.h.tryLimit > 0 {
		// The timer cancels only this try's context; stopping it once headers arrive
		// keeps the body streaming under the request's own deadline.
		timer = time.AfterFunc(c.h.tryLimit, cancel)
	}
	out := c.outRequest(tctx, t)
	t.State.Begin()
	begin = time.Now()
	res, err = c.h.transport.RoundTrip(out)
	timedOut := timer != nil && !timer.Stop()
	if err == nil && !timedOut {
		return res, cancel, begin, 0, nil
	}
	if res != nil {
		res.Body.Close()
	}
	if cancel != nil {
		cancel()
	}
	if err == nil {
		err = context.DeadlineExceeded
	}
	return nil, nil, begin, classify(err, timedOut, ctx, c.r.Context()), err
}

// outRequest builds the outbound request of one try. The header, body and trailer are
// shared by every try (rewritten once); URL and context are per try, because a
// previous try's transport goroutine may still read its own.
func (c *call) outRequest(ctx context.Context, t *balancer.Target) *http.Request {
	out := c.r.WithContext(ctx)
	u := new(url.URL)
	*u = c.base
	u.Scheme = "http"
	if t.Scheme == "https" {
		u.Scheme = "https"
	}
	u.Host = t.Addr
	out.URL = u
	out.Host = c.host
	out.RequestURI = ""
	out.Close = false
	out.GetBody = nil
	if c.body != nil {
		out.Body = c.body
	} else {
		out.Body = nil
		out.ContentLength = 0
	}
	return out
}

// rewind reports whether the request body allows another try: none, not yet read, or
// replayable through GetBody (then a fresh copy replaces it).
func (c *call) rewind() bool {
	if c.body == nil || !c.body.started.Load() {
		return true
	}
	if c.r.GetBody == nil {
		return false
	}
	rc, err := c.r.GetBody()
	if err != nil {
		return false
	}
	// A new value, not a reset: the previous try's transport may still hold the old one.
	c.body = &trackedBody{rc: rc}
	return true
}

func (h *Handler) budget() bool { return h.o.Budget == nil || h.o.Budget.Retry() }

func (h *Handler) retryStatus(code int) bool {
	for _, s := range h.o.Retry.Statuses {
		if s == code {
			return true
		}
	}
	return false
}

// discard drops a held response whose status is being retried.
func (c *call) discard(hd held) {
	// Reading a little lets a small error body end cleanly so the connection is reused.
	_, _ = io.CopyN(io.Discard, hd.res.Body, 4<<10)
	hd.res.Body.Close()
	if hd.cancel != nil {
		hd.cancel()
	}
	c.done(hd.t, time.Since(hd.begin), hd.res.StatusCode, hd.res.StatusCode >= 500)
}

// done ends a try on t: balancer feedback, passive health and per-try metrics. status
// is the upstream's answer, 0 when there was none.
func (c *call) done(t *balancer.Target, rtt time.Duration, status int, failed bool) {
	t.State.End(rtt, failed)
	if c.h.o.Observer != nil {
		c.h.o.Observer.Observe(t, failed)
	}
	if c.h.o.OnTry != nil {
		c.h.o.OnTry(t, status, rtt)
	}
}

// answer writes a gateway-made problem; the client never sees internal detail.
func (c *call) answer(p problem.Problem) {
	c.ex.Status, c.ex.Reason = p.Status, p.Reason
	if !c.start.IsZero() {
		c.ex.UpstreamDuration = time.Since(c.start)
	}
	if id := c.ex.RequestID; id != "" {
		if _, ok := c.w.Header()["X-Request-Id"]; !ok {
			c.w.Header()["X-Request-Id"] = []string{id}
		}
	}
	problem.Write(c.w, c.r, p, c.ex.RequestID)
}

// logf logs a failure with the request ID; err and the target address go only here.
func (c *call) logf(level slog.Level, msg string, t *balancer.Target, err error) {
	ctx := c.r.Context()
	if !c.h.log.Enabled(ctx, level) {
		return
	}
	attrs := [6]slog.Attr{
		slog.String("request_id", c.ex.RequestID),
		slog.String("upstream", c.h.o.Upstream),
		slog.Int("try", c.ex.Tries),
	}
	n := 3
	if t != nil {
		attrs[n] = slog.String("target", t.URL)
		n++
	}
	if err != nil {
		attrs[n] = slog.String("error", err.Error())
		n++
	}
	c.h.log.LogAttrs(ctx, level, msg, attrs[:n]...)
}

// idempotent reports whether RFC 9110 section 9.2.2 makes m safe to repeat.
func idempotent(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// connBox holds a net.Conn for an atomic.Pointer (atomic.Value would panic when
// tries of one request get connections of different concrete types).
type connBox struct{ c net.Conn }

// trackedBody is the outbound request body. It records whether a read ever started:
// after that the bytes are gone and a retry needs GetBody. Close is a no-op: the
// transport closes request bodies after every try, a retry may still need this one,
// and net/http's server closes the client's body when the handler returns.
type trackedBody struct {
	rc      io.ReadCloser
	started atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	b.started.Store(true)
	return b.rc.Read(p)
}

func (b *trackedBody) Close() error { return nil }
