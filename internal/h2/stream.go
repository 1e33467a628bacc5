package h2

import (
	"context"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"

	"github.com/gantrygw/gantry/internal/host"
)

// stream is one request/response exchange. Fields below mu are guarded by c.mu; rw
// belongs to the handler goroutine.
type stream struct {
	c      *conn
	id     uint32
	req    *http.Request
	ctx    context.Context
	cancel context.CancelFunc
	body   requestBody
	rw     responseWriter
	// handler is what serves the stream: the Server's Handler, or a fixed answer for a
	// request refused before routing (431).
	handler http.Handler

	// guarded by c.mu
	remoteClosed bool // END_STREAM received (half-closed remote)
	localClosed  bool // END_STREAM sent
	reset        bool
	responded    bool  // response HEADERS queued
	sendWindow   int64 // what the peer lets us send on this stream
	recvWindow   int64 // what the peer may still send
	recvPending  int64
	declLen      int64 // request Content-Length, -1 when absent
	bodyRead     int64
	bodyClosed   bool
	rbuf         []byte // request body received, not yet read
	roff         int
	rerr         error // what Read returns once rbuf is drained
	rcond        sync.Cond
}

// onHeaders starts a stream, or takes a running stream's trailers.
func (c *conn) onHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol) // RFC 9113 section 5.1.1
	}
	c.mu.Lock()
	if st := c.streams[id]; st != nil {
		c.onTrailersLocked(st, f)
		c.mu.Unlock()
		c.pendingOut = true
		return nil
	}
	if id <= c.maxStreamID {
		c.mu.Unlock()
		// A closed stream, or a new one numbered below an earlier one (RFC 9113
		// section 5.1.1).
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	c.maxStreamID = id
	if c.goAway {
		c.mu.Unlock()
		return nil // above the GOAWAY's last stream: ignored (RFC 9113 section 6.8)
	}
	if f.HasPriority() && f.Priority.StreamDep == id {
		c.rstLocked(id, http2.ErrCodeProtocol) // RFC 9113 section 5.3.1
		c.mu.Unlock()
		c.pendingOut = true
		return nil
	}
	max := int(c.s.o.MaxConcurrentStreams)
	if len(c.streams) >= max || c.handlers >= max {
		// Handlers of reset streams still running count too: a client resetting
		// streams as fast as it opens them gets no more concurrent work (rapid reset).
		c.rstLocked(id, http2.ErrCodeRefusedStream)
		c.mu.Unlock()
		c.pendingOut = true
		return c.abuse()
	}
	// The handler is counted before the lock is let go: maxStreamID already names this
	// stream, so a GOAWAY sent meanwhile promises to answer it, and the connection
	// must not count as done (closeIfDoneLocked) until it has been.
	c.handlers++
	c.mu.Unlock()

	st := &stream{c: c, id: id, declLen: -1, handler: c.s.o.Handler}
	st.rcond.L = &c.mu
	st.body.st = st
	var code http2.ErrCode
	if f.Truncated {
		st.handler = headersTooLarge{}
	}
	code = c.newRequest(st, f)
	if code != 0 {
		c.mu.Lock()
		c.handlers--
		c.rstLocked(id, code)
		c.closeIfDoneLocked()
		c.mu.Unlock()
		c.pendingOut = true
		return nil
	}
	c.mu.Lock()
	st.sendWindow = c.peerInit
	st.recvWindow = int64(c.s.o.StreamWindow)
	if f.StreamEnded() {
		st.remoteClosed = true
		st.rerr = io.EOF
	}
	c.streams[id] = st
	c.started++
	c.mu.Unlock()
	c.s.workers.run(st)
	return nil
}

// headersTooLarge answers a request whose header block exceeded MaxHeaderListSize.
type headersTooLarge struct{}

func (headersTooLarge) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusRequestHeaderFieldsTooLarge)
	_, _ = io.WriteString(w, "request header fields too large\n")
}

// onTrailersLocked takes a HEADERS frame on a running stream: the request's trailers.
func (c *conn) onTrailersLocked(st *stream, f *http2.MetaHeadersFrame) {
	if st.remoteClosed {
		c.resetLocked(st, http2.ErrCodeStreamClosed, true) // RFC 9113 section 5.1
		return
	}
	if !f.StreamEnded() || len(f.PseudoFields()) > 0 {
		c.resetLocked(st, http2.ErrCodeProtocol, true) // RFC 9113 section 8.1
		return
	}
	if st.declLen >= 0 && st.bodyRead != st.declLen {
		c.resetLocked(st, http2.ErrCodeProtocol, true)
		return
	}
	if tr := st.req.Trailer; tr != nil {
		for _, hf := range f.RegularFields() {
			k := c.canonical(hf.Name)
			if !httpguts.ValidTrailerHeader(k) {
				c.resetLocked(st, http2.ErrCodeProtocol, true)
				return
			}
			if _, declared := tr[k]; declared { // undeclared trailers are dropped, as net/http does
				tr[k] = append(tr[k], hf.Value)
			}
		}
	}
	c.endBodyLocked(st)
}

// newRequest validates a request header block (RFC 9113 section 8.3) and builds
// st.req. It returns a stream error code when the request is malformed.
func (c *conn) newRequest(st *stream, f *http2.MetaHeadersFrame) http2.ErrCode {
	var method, scheme, authority, path string
	for _, hf := range f.PseudoFields() {
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":scheme":
			scheme = hf.Value
		case ":authority":
			authority = hf.Value
		case ":path":
			path = hf.Value
		default: // :protocol (extended CONNECT is not offered) or a response pseudo-field
			return http2.ErrCodeProtocol
		}
	}
	connect := method == "CONNECT"
	if connect {
		if scheme != "" || path != "" || authority == "" {
			return http2.ErrCodeProtocol
		}
	} else if method == "" || scheme == "" || path == "" ||
		path[0] != '/' && !(method == "OPTIONS" && path == "*") {
		return http2.ErrCodeProtocol
	}
	if !httpguts.ValidHeaderFieldName(method) { // a token (RFC 9110 section 9.1)
		return http2.ErrCodeProtocol
	}

	regular := f.RegularFields()
	hdr := make(http.Header, len(regular))
	vals := make([]string, len(regular))
	var cookies []string
	var trailer http.Header
	for i, hf := range regular {
		switch hf.Name {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
			return http2.ErrCodeProtocol // connection-specific (RFC 9113 section 8.2.2)
		case "te":
			if hf.Value != "trailers" {
				return http2.ErrCodeProtocol
			}
		case "cookie":
			// RFC 9113 section 8.2.3: split crumbs are joined for HTTP/1.1 consumers.
			cookies = append(cookies, hf.Value)
			continue
		case "content-length":
			n, ok := parseContentLength(hf.Value)
			if !ok || st.declLen >= 0 && st.declLen != n {
				return http2.ErrCodeProtocol
			}
			st.declLen = n
		case "trailer":
			for _, k := range strings.Split(hf.Value, ",") {
				k = textproto.CanonicalMIMEHeaderKey(textproto.TrimString(k))
				if k != "" && httpguts.ValidTrailerHeader(k) {
					if trailer == nil {
						trailer = http.Header{}
					}
					trailer[k] = nil
				}
			}
		}
		k := c.canonical(hf.Name)
		if vv := hdr[k]; vv != nil {
			hdr[k] = append(vv, hf.Value)
		} else {
			vals[i] = hf.Value
			hdr[k] = vals[i : i+1 : i+1]
		}
	}
	if len(cookies) > 0 {
		hdr["Cookie"] = []string{strings.Join(cookies, "; ")}
	}
	if f.StreamEnded() && st.declLen > 0 {
		return http2.ErrCodeProtocol // RFC 9113 section 8.1.1: no body follows
	}
	authHost := authority
	if authHost == "" {
		authHost = hdr.Get("Host")
	}
	if !host.Valid(authHost) { // the HTTP/1.1 engine's rule (RFC 9113 section 8.3.1)
		return http2.ErrCodeProtocol
	}
	var u *url.URL
	requestURI := path
	if connect {
		u, requestURI = &url.URL{Host: authority}, authority
	} else if path == "*" {
		u = &url.URL{Path: "*"}
	} else {
		var err error
		if u, err = url.ParseRequestURI(path); err != nil {
			return http2.ErrCodeProtocol
		}
	}
	st.ctx, st.cancel = context.WithCancel(c.ctx)
	r := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     hdr,
		Host:       authHost,
		RemoteAddr: c.remote,
		RequestURI: requestURI,
	}
	switch {
	case f.StreamEnded():
		r.Body = http.NoBody
	default:
		r.Body = &st.body
		r.ContentLength = st.declLen
		r.Trailer = trailer
	}
	st.req = r.WithContext(st.ctx)
	return 0
}

// parseContentLength parses a Content-Length value: digits only.
func parseContentLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// canonical maps a lowercase wire field name to its net/http form (read loop only).
func (c *conn) canonical(name string) string {
	return cachedName(commonCanonical, c.canon, name, textproto.CanonicalMIMEHeaderKey)
}

// cachedName maps name through a fixed table of common fields, then through a small
// per-connection cache (at most 64 entries), calling conv only on a miss, so steady
// traffic does not allocate a string per field. own belongs to one goroutine (or lock)
// of the connection.
func cachedName(common, own map[string]string, name string, conv func(string) string) string {
	if v, ok := common[name]; ok {
		return v
	}
	if v, ok := own[name]; ok {
		return v
	}
	v := conv(name)
	if len(own) < 64 {
		own[name] = v
	}
	return v
}

var commonCanonical = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Content-Encoding", "Content-Length", "Content-Type", "Cookie", "Date", "Etag",
		"Expect", "Forwarded", "Grpc-Encoding", "Grpc-Accept-Encoding", "Grpc-Timeout",
		"Host", "If-Match", "If-Modified-Since", "If-None-Match", "Last-Modified", "Origin",
		"Pragma", "Range", "Referer", "Te", "Trailer", "User-Agent", "Via", "X-Api-Key",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id",
		"Traceparent", "Tracestate",
	} {
		m[strings.ToLower(k)] = k
	}
	return m
}()

// serve runs the handler and completes the response.
func (st *stream) serve() {
	st.rw.st = st
	st.rw.declLen = -1
	st.rw.head = st.req.Method == http.MethodHead
	defer st.done()
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				st.c.s.o.Logger.Error("h2: handler panic", "remote", st.c.remote, "panic", v)
			}
			st.abort()
		}
	}()
	st.handler.ServeHTTP(&st.rw, st.req)
	st.rw.finish()
}

// abort resets the stream (INTERNAL_ERROR): the response is incomplete.
func (st *stream) abort() {
	c := st.c
	c.mu.Lock()
	if !st.reset {
		c.resetLocked(st, http2.ErrCodeInternal, true)
		c.flushLocked()
	}
	c.mu.Unlock()
}

// done releases the stream after its handler returned.
func (st *stream) done() {
	c := st.c
	st.cancel()
	c.mu.Lock()
	st.rw.done = true
	st.closeBodyLocked()
	c.handlers--
	if !st.localClosed && !st.reset {
		c.resetLocked(st, http2.ErrCodeInternal, true)
	}
	c.closeIfDoneLocked()
	c.flushLocked()
	c.mu.Unlock()
}

// requestBody is a stream's request body: the bytes the read loop received, handed
// out as the handler reads, returning flow-control credit as they are consumed.
type requestBody struct{ st *stream }

func (b *requestBody) Read(p []byte) (int, error) {
	st := b.st
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for st.roff == len(st.rbuf) && st.rerr == nil {
		st.rcond.Wait()
	}
	if st.roff == len(st.rbuf) {
		return 0, st.rerr
	}
	n := copy(p, st.rbuf[st.roff:])
	st.roff += n
	if st.roff == len(st.rbuf) {
		st.rbuf, st.roff = st.rbuf[:0], 0
	}
	c.creditConnLocked(int64(n))
	c.creditStreamLocked(st, int64(n))
	if len(c.wbuf) > 0 {
		c.flushLocked()
	}
	return n, nil
}

func (b *requestBody) Close() error {
	c := b.st.c
	c.mu.Lock()
	b.st.closeBodyLocked()
	c.mu.Unlock()
	return nil
}

func (st *stream) closeBodyLocked() {
	if st.bodyClosed {
		return
	}
	st.bodyClosed = true
	if unread := int64(len(st.rbuf) - st.roff); unread > 0 {
		st.c.creditConnLocked(unread)
	}
	st.rbuf, st.roff = nil, 0
	if st.rerr == nil || st.rerr == io.EOF {
		st.rerr = ErrBodyClosed
	}
	st.rcond.Broadcast()
}
