package h1

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"unsafe"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/host"
	"github.com/gantrygw/gantry/internal/problem"
)

// Exchange forwards r, a request that reached the gateway outside the engine's own
// connections (an HTTP/2 stream served by net/http), to an HTTP/1.1 target through the
// engine's upstream connection pool, and writes the response to w. It exists because
// http.Transport costs a read and a write goroutine per upstream connection and a
// channel hand-off between them on every request (docs/performance.md, HTTP/2). It
// runs the engine's own forwarding (forwarder: retries, upstream connections, response
// heads, the body relay from the upstream read buffer); only reading r and writing w
// are its own.
//
// d is read as for a Forward decision: Picker, Info (Tried is maintained here),
// Observer, Path/RawQuery, Host, TrustForwarded, timeouts, MaxBodyBytes and Retry.
// d.Header's Del hides fields of r.Header, its additions are sent after them;
// d.RespHeader is added to w's header. The upstream request is built as for the
// engine's own requests: hop-by-hop fields and those named in Connection removed,
// X-Forwarded-For/-Proto/-Host and Forwarded set (kept and appended to only when
// TrustForwarded), Via added (with the protocol received). Unlike the engine,
// Exchange drops interim (1xx) responses.
//
// answer is true when nothing was written to w: the caller must answer with p (no
// target, connect failure, timeout, invalid upstream response, 413). Otherwise a
// response was written or the client went away; res tells which (res.Reason
// "client_aborted"). res.Reason "upstream_aborted" means the upstream failed mid-body
// after the head was written: the caller must abort the stream (net/http:
// panic(http.ErrAbortHandler)) so the client cannot take the cut response for a
// complete one.
//
// Exchange blocks until the exchange ends and is safe for concurrent use; it neither
// keeps r, w nor d after it returns.
func (s *Server) Exchange(w http.ResponseWriter, r *http.Request, d *Decision, res *Result) (p problem.Problem, answer bool) {
	x := exchangePool.Get().(*exchange)
	x.w, x.r = w, r
	x.f.s, x.f.d, x.f.res, x.f.down, x.f.fl = s, d, res, x, x
	if b, ok := w.(SendBatcher); ok && batchSend {
		x.f.batch = b
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		x.peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	x.forward()
	d.Info.Tried = nil // it pointed into x, which is reused
	p, answer = x.p, x.answer
	x.release()
	return p, answer
}

// SendBatcher is implemented by a ResponseWriter whose client connection carries
// other exchanges at once (an HTTP/2 connection's streams). SiblingsSending reports
// whether others are running; Exchange then yields once before sending upstream, so
// the runnable siblings reach their sends first and the sends of a burst of streams
// follow each other: a backend asleep in epoll_wait is woken once for the burst
// instead of once per stream (the HTTP/1.1 loop gets the same effect from
// netpoll.Poller.Defer; docs/performance.md).
type SendBatcher interface {
	SiblingsSending() bool
}

// batchSend turns SendBatcher's yield off with GANTRY_H2_BATCH_SEND=off, for A/B runs.
var batchSend = os.Getenv("GANTRY_H2_BATCH_SEND") != "off"

// exchange is the state of one Exchange, pooled: the client side of its forwarder.
type exchange struct {
	f    forwarder
	w    http.ResponseWriter
	r    *http.Request
	peer netip.AddrPort

	ubp   *[]byte               // f.uw's buffer
	bbp   *[]byte               // request body buffer
	conn  [maxConnTokens]string // options of the request's Connection fields
	nconn int

	bodyLen int64 // Content-Length sent upstream, -1: chunked, 0: none
	left    int64 // bytes of a body of known length not read yet

	flusher http.Flusher // set when the response streams: flushed before each wait
	werr    error        // what stopped writes to w

	p      problem.Problem // the answer the caller owes, when answer is set
	answer bool
}

var _ downstream = (*exchange)(nil)

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

func (x *exchange) release() {
	if x.ubp != nil {
		*x.ubp = x.f.uw.buf[:0]
		writeBufPool.Put(x.ubp)
	}
	if x.bbp != nil {
		copyBufPool.Put(x.bbp)
	}
	x.f.reset()
	*x = exchange{f: x.f}
	exchangePool.Put(x)
}

// forward checks r, reads a small body whole (so a retry can send it again, as the
// engine does with a body already in its read buffer), then runs the forwarder.
func (x *exchange) forward() {
	r, f := x.r, &x.f
	cl := r.ContentLength
	if r.Body == nil || r.Body == http.NoBody {
		cl = 0
	}
	if !f.check(x.validRequest(), cl) {
		return
	}
	f.method = r.Method
	x.bodyLen, x.left = cl, cl
	f.replay = cl == 0
	if cl > 0 && cl <= copyBufSize {
		x.bbp = copyBufPool.Get().(*[]byte)
		n, err := io.ReadFull(r.Body, (*x.bbp)[:cl])
		f.res.BytesIn = int64(n)
		if err != nil {
			x.bodyFailed(err)
			return
		}
		f.body, f.replay = (*x.bbp)[:cl], true
	}
	x.ubp = writeBufPool.Get().(*[]byte)
	f.uw.buf = (*x.ubp)[:0]
	f.run()
}

// problem records p as the answer the caller owes.
func (x *exchange) problem(p problem.Problem, err error) {
	x.p, x.answer = p, true
	x.f.res.Status, x.f.res.Reason, x.f.res.Err = p.Status, p.Reason, err
}

// bodyFailed turns a failure to read the client's body into the outcome: 413 for a
// body past its limit, else the client is gone and gets nothing.
func (x *exchange) bodyFailed(err error) {
	var mbe *http.MaxBytesError
	if err == errBodyTooLarge || errors.As(err, &mbe) {
		x.problem(problem.PayloadTooLarge, errBodyTooLarge)
		return
	}
	x.f.res.Reason, x.f.res.Err = "client_aborted", err
}

// sendBody sends a body that was not read whole beforehand: Content-Length framed when
// its length is known, else chunked. Each piece is flushed: the next read of r.Body
// may wait for the client.
func (x *exchange) sendBody(uw *writer) (cerr, uerr error) {
	if x.bbp == nil {
		x.bbp = copyBufPool.Get().(*[]byte)
	}
	return pipeBody(uw, (*exchangeBody)(x), *x.bbp, x.bodyLen < 0, true)
}

// exchangeBody reads an exchange's request body as an io.Reader: no further than its
// declared length, counted and limited to MaxBodyBytes as the engine's own bodies are.
type exchangeBody exchange

func (b *exchangeBody) Read(p []byte) (int, error) {
	x := (*exchange)(b)
	known := x.bodyLen >= 0
	if known {
		if x.left == 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > x.left {
			p = p[:x.left]
		}
	}
	n, err := x.r.Body.Read(p)
	x.left -= int64(n)
	res := x.f.res
	res.BytesIn += int64(n)
	if max := x.f.d.MaxBodyBytes; max > 0 && res.BytesIn > max {
		return n, errBodyTooLarge
	}
	if err == io.EOF && known && x.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// interim drops interim responses (Exchange's documented difference from the engine).
func (x *exchange) interim(*response) error { return nil }

// head copies the response head into w's header map and writes the status. A streamed
// body (chunked, close-delimited, or an event stream) flushes the head now and each
// piece before the relay waits for the next; net/http frames the body itself.
func (x *exchange) head(p *response, mode int, sent bool) bool {
	h := x.w.Header()
	stream := mode == modeChunked || mode == modeClose
	// The values go to the map as strings, which outlive the read buffer. One byte
	// array holds them all and one array their slots: two allocations for the head
	// rather than two for each field.
	n, size := 0, 0
	for i := range p.fields {
		if f := &p.fields[i]; p.forwarded(f) {
			n++
			size += len(f.value)
		}
	}
	vals := make([]string, n)
	all := make([]byte, 0, size)
	n = 0
	for i := range p.fields {
		f := &p.fields[i]
		if !p.forwarded(f) {
			continue
		}
		if !stream && len(f.name) == 12 && equalFold(f.name, "content-type") && len(f.value) >= 17 && equalFold(f.value[:17], "text/event-stream") {
			stream = true // events must not wait in a buffer
		}
		at := len(all)
		all = append(all, f.value...)
		vals[n] = b2s(all[at:]) // all is never written again below its length
		k := headerKey(f.name)
		if len(h[k]) == 0 {
			h[k] = vals[n : n+1 : n+1]
		} else {
			h[k] = append(h[k], vals[n])
		}
		n++
	}
	rh := &x.f.d.RespHeader
	for i := 0; i+1 < len(rh.kv); i += 2 {
		if k, v := rh.kv[i], rh.kv[i+1]; validTokenString(k) && validValueString(v) {
			h.Set(k, v)
		}
	}
	x.w.WriteHeader(p.status)
	if stream {
		if fl, ok := x.w.(http.Flusher); ok {
			fl.Flush()
			x.flusher = fl
		}
	}
	return false
}

// flush runs before the relay waits for the upstream.
func (x *exchange) flush() error {
	if x.flusher != nil {
		x.flusher.Flush()
	}
	return nil
}

func (x *exchange) body(p []byte, _ bool) error {
	_, err := x.w.Write(p)
	if err != nil {
		x.werr = err
	}
	return err
}

func (x *exchange) bodyAt(u *upConn, k int) error { return x.body(u.br.buffered()[:k], false) }

// end passes the chunked body's trailer fields to net/http, which sends them after
// the body.
func (x *exchange) end(_ bool, trailer []byte) error {
	if len(trailer) > 0 {
		x.trailers(trailer)
	}
	return nil
}

func (x *exchange) clientErr() error { return x.werr }

// cut needs nothing: the caller aborts the stream on "upstream_aborted".
func (x *exchange) cut(error) {}

// trailers adds the trailer lines t (already validated, forbidden fields dropped by the
// chunked reader) to w's header map under http.TrailerPrefix.
func (x *exchange) trailers(t []byte) {
	h := x.w.Header()
	for len(t) > 0 {
		i := indexCRLF(t)
		if i < 0 {
			return
		}
		line := t[:i]
		t = t[i+2:]
		f, ok := parseField(line)
		if !ok {
			continue
		}
		h.Add(http.TrailerPrefix+string(f.name), string(f.value))
	}
}

func indexCRLF(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' {
			return i
		}
	}
	return -1
}

// commonKeys are the response field names most upstreams send, in the canonical form
// net/http keys its header map by: matching them avoids two allocations per field.
var commonKeys = [...]string{
	"Content-Type", "Content-Length", "Date", "Server", "Cache-Control", "Etag",
	"Last-Modified", "Vary", "Location", "Set-Cookie", "Expires", "Content-Encoding",
	"Accept-Ranges", "Age", "X-Request-Id",
}

// headerKey returns the header-map key for a response field name.
func headerKey(name []byte) string {
	for _, k := range commonKeys {
		if equalFold(name, k) {
			return k
		}
	}
	return http.CanonicalHeaderKey(string(name))
}

// validRequest checks what r carries that the engine's parser would otherwise have
// checked: field names and values (policies may have set them) and the host.
func (x *exchange) validRequest() bool {
	r := x.r
	if !validTokenString(r.Method) || !host.Valid(r.Host) {
		return false
	}
	x.nconn = 0
	for k, vv := range r.Header {
		if !validTokenString(k) {
			return false
		}
		for _, v := range vv {
			if !validValueString(v) {
				return false
			}
		}
	}
	for _, v := range r.Header["Connection"] {
		for tok, rest := nextToken(s2b(v)); tok != nil; tok, rest = nextToken(rest) {
			if x.nconn == maxConnTokens {
				return false
			}
			x.conn[x.nconn] = b2s(tok)
			x.nconn++
		}
	}
	return true
}

// listed reports whether name is an option of the request's Connection fields.
func (x *exchange) listed(name string) bool {
	for i := 0; i < x.nconn; i++ {
		if equalFoldString(x.conn[i], name) {
			return true
		}
	}
	return false
}

// appendRequestHead is conn.appendRequestHead for an http.Request.
func (x *exchange) appendRequestHead(b []byte, t *balancer.Target) []byte {
	r, d := x.r, x.f.d
	uri := ""
	if d.Path == "" {
		uri = r.URL.RequestURI()
	}
	b = appendRequestLine(b, r.Method, uri, r.Host, d, t)
	trust := d.TrustForwarded
	h := hop{
		ip: x.peer.Addr(), host: r.Host, proto: x.f.s.o.ForwardedProto,
		// RFC 9110 section 7.6.3: the protocol received, then a pseudonym.
		via:    "Via: 1.1 gantry\r\n",
		length: x.bodyLen,
		// An empty POST/PUT/PATCH says so, as net/http's Transport does.
		sendLength: x.bodyLen > 0 || r.Method == "POST" || r.Method == "PUT" || r.Method == "PATCH",
	}
	switch {
	case r.ProtoMajor == 2:
		h.via = "Via: 2 gantry\r\n"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		h.via = "Via: 1.0 gantry\r\n"
	}
	_, h.hasProto = r.Header["X-Forwarded-Proto"]
	_, h.hasFwdHost = r.Header["X-Forwarded-Host"]
	h.hasProto = h.hasProto && trust && !x.listed("X-Forwarded-Proto")
	h.hasFwdHost = h.hasFwdHost && trust && !x.listed("X-Forwarded-Host")
	for k, vv := range r.Header {
		switch k {
		case "Host", "Expect", "Content-Length", "X-Forwarded-For":
			continue
		case "Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto":
			if !trust {
				continue
			}
		}
		name := s2b(k)
		if isHopByHop(name) || x.nconn > 0 && x.listed(k) || len(d.Header.del) > 0 && d.Header.hides(name) {
			continue
		}
		for _, v := range vv {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, crlf...)
		}
	}
	b = append(b, "X-Forwarded-For: "...)
	if trust && !x.listed("X-Forwarded-For") {
		for _, v := range r.Header["X-Forwarded-For"] {
			if v != "" {
				b = append(b, v...)
				b = append(b, ", "...)
			}
		}
	}
	return appendHop(b, &h, d)
}

// s2b views s as bytes without copying; the bytes are only read.
func s2b(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
