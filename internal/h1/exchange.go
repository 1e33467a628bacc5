package h1

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/problem"
)

// Exchange forwards r, a request that reached the gateway outside the engine's own
// connections (an HTTP/2 stream served by net/http), to an HTTP/1.1 target through the
// engine's upstream connection pool, and writes the response to w. It exists because
// http.Transport costs a read and a write goroutine per upstream connection and a
// channel hand-off between them on every request (docs/performance.md, HTTP/2).
//
// d is read as for a Forward decision: Picker, Info (Tried is maintained here),
// Observer, Path/RawQuery, Host, TrustForwarded, timeouts, MaxBodyBytes and Retry.
// d.Header's Del hides fields of r.Header, its additions are sent after them;
// d.RespHeader is added to w's header. The upstream request is built as for the
// engine's own requests: hop-by-hop fields and those named in Connection removed,
// X-Forwarded-For/-Proto/-Host and Forwarded set (kept and appended to only when
// TrustForwarded), Via added.
//
// answer is true when nothing was written to w: the caller must answer with p (no
// target, connect failure, timeout, invalid upstream response, 413). Otherwise a
// response was written or the client went away; res tells which. res.Reason
// "upstream_aborted" means the upstream failed mid-body after the head was written:
// the caller must abort the stream (net/http: panic(http.ErrAbortHandler)) so the client
// cannot take the cut response for a complete one.
//
// Exchange blocks until the exchange ends and is safe for concurrent use; it neither
// keeps r, w nor d after it returns.
func (s *Server) Exchange(w http.ResponseWriter, r *http.Request, d *Decision, res *Result) (p problem.Problem, answer bool) {
	x := exchangePool.Get().(*exchange)
	x.s, x.w, x.r, x.d, x.res = s, w, r, d, res
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		x.peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	x.forward()
	d.Info.Tried = nil // it pointed into x, which is reused
	p, answer = x.p, x.answer
	x.release()
	return p, answer
}

// exchange is the state of one Exchange, pooled.
type exchange struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	d    *Decision
	res  *Result
	peer netip.AddrPort

	uw    writer // to the upstream of the current try
	ubp   *[]byte
	cbp   *[]byte // response copy buffer
	bbp   *[]byte // request body buffer
	resp  response
	ucr   chunkedReader
	tried [8]*balancer.Target
	conn  [maxConnTokens]string // options of the request's Connection fields
	nconn int

	body    []byte // the whole request body when it can be sent again, else nil
	replay  bool   // the body (possibly none) can be sent again
	bodyLen int64  // Content-Length sent upstream, -1: chunked, 0: none

	p       problem.Problem // the answer the caller owes, when answer is set
	answer  bool
	lastP   problem.Problem
	lastErr error
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

func (x *exchange) release() {
	if x.ubp != nil {
		*x.ubp = x.uw.buf[:0]
		writeBufPool.Put(x.ubp)
	}
	if x.cbp != nil {
		copyBufPool.Put(x.cbp)
	}
	if x.bbp != nil {
		copyBufPool.Put(x.bbp)
	}
	resp, ucr := x.resp, x.ucr
	resp.reset()
	ucr.reset(nil)
	*x = exchange{resp: resp, ucr: ucr}
	exchangePool.Put(x)
}

func (x *exchange) copyBuf() []byte {
	if x.cbp == nil {
		x.cbp = copyBufPool.Get().(*[]byte)
	}
	return *x.cbp
}

// fail records p as the answer the caller owes.
func (x *exchange) fail(p problem.Problem, err error) {
	x.p, x.answer = p, true
	x.res.Status, x.res.Reason, x.res.Err = p.Status, p.Reason, err
}

// forward mirrors conn.forward: check, prepare the body, pick, try, retry.
func (x *exchange) forward() {
	r, d, res := x.r, x.d, x.res
	if d.Picker == nil {
		x.fail(problem.NoTarget, balancer.ErrNoTarget)
		return
	}
	if !validDecision(d) || !x.validRequest() {
		x.fail(problem.Internal, errBadDecision)
		return
	}
	cl := r.ContentLength
	if r.Body == nil || r.Body == http.NoBody {
		cl = 0
	}
	if max := d.MaxBodyBytes; max > 0 && cl > max {
		x.fail(problem.PayloadTooLarge, errBodyTooLarge)
		return
	}
	x.bodyLen = cl
	x.replay = cl == 0
	if cl > 0 && cl <= copyBufSize {
		// A small body of known length is read whole first, so a retry can send it
		// again, as the engine does with a body already in its read buffer.
		x.bbp = copyBufPool.Get().(*[]byte)
		n, err := io.ReadFull(r.Body, (*x.bbp)[:cl])
		res.BytesIn = int64(n)
		if err != nil {
			x.bodyError(err)
			return
		}
		x.body, x.replay = (*x.bbp)[:cl], true
	}
	attempts := max(d.Retry.Attempts, 1)
	d.Info.Tried = x.tried[:0]
	var next *balancer.Target
	for try := 1; ; try++ {
		t := next
		if t == nil {
			var err error
			t, err = d.Picker.Pick(&d.Info)
			if err != nil || t == nil {
				if try == 1 {
					if err == nil {
						err = balancer.ErrNoTarget
					}
					x.fail(problem.NoTarget, err)
				} else {
					x.fail(x.lastP, x.lastErr)
				}
				return
			}
		}
		d.Info.Tried = append(d.Info.Tried, t)
		res.Tries++
		res.Target = t
		var again bool
		again, next = x.try(t, try < attempts)
		if !again {
			return
		}
	}
}

// bodyError turns a failure to read the client's body into the outcome: 413 for a
// body past its limit, else the client is gone and gets nothing.
func (x *exchange) bodyError(err error) {
	var mbe *http.MaxBytesError
	if err == errBodyTooLarge || errors.As(err, &mbe) {
		x.fail(problem.PayloadTooLarge, errBodyTooLarge)
		return
	}
	x.res.Reason, x.res.Err = "client_aborted", err
}

// try mirrors conn.try for one target; see there for the retry rules. again=true asks
// for another try (on next, or on a new pick when next is nil).
func (x *exchange) try(t *balancer.Target, more bool) (again bool, next *balancer.Target) {
	s, r, d, res := x.s, x.r, x.d, x.res
	start := time.Now()
	res.Upstream = 0
	if t.State != nil {
		t.State.Begin()
	}
	failed := true
	defer func() {
		if t.State != nil {
			rtt := res.Upstream
			if rtt == 0 {
				rtt = time.Since(start)
			}
			t.State.End(rtt, failed)
		}
		if d.Observer != nil {
			d.Observer.Observe(t, failed)
		}
	}()
	resend := x.replay && (idempotent(r.Method) || d.Retry.NonIdempotent)
	ct := d.ConnectTimeout
	if ct <= 0 {
		ct = s.o.ConnectTimeout
	}
	if x.ubp == nil {
		x.ubp = writeBufPool.Get().(*[]byte)
		x.uw.buf = (*x.ubp)[:0]
	}
	u := s.pool.get(t.Addr, start)
	sent := true
	for attempt := 0; ; attempt++ {
		if u == nil {
			var err error
			if u, err = s.pool.dial(t.Addr, ct); err != nil {
				p := problem.UpstreamConnect
				if isTimeout(err) {
					p = problem.UpstreamTimeout
				}
				if more && d.Retry.OnConnect {
					x.lastP, x.lastErr = p, err
					return true, nil
				}
				x.fail(p, err)
				return false, nil
			}
		}
		x.uw.c, x.uw.dl, x.uw.err = u.c, &u.dl, nil
		x.uw.buf = x.appendRequestHead(x.uw.buf[:0], t)
		if x.replay {
			_ = x.uw.write(x.body)
			if err := x.uw.flush(); err != nil {
				u.close()
				u = nil
				if attempt == 0 && !isTimeout(err) {
					continue // a stale pooled conn (or a reset fresh one): nothing was delivered
				}
				if more && d.Retry.OnConnect {
					x.lastP, x.lastErr = problem.UpstreamConnect, err
					return true, nil
				}
				x.fail(problem.UpstreamConnect, err)
				return false, nil
			}
		} else {
			cerr, uerr := x.streamBody()
			if cerr != nil {
				u.close()
				x.bodyError(cerr)
				failed = false
				return false, nil
			}
			if uerr != nil {
				sent = false // the upstream may have answered early (RFC 9112 section 9.5)
			}
		}
		got, err := x.readHead(u)
		if err != nil {
			u.close()
			u = nil
			timeout := isTimeout(err)
			if !got && !timeout && attempt == 0 && resend && sent {
				continue // the pooled conn was closed under us: once more, fresh
			}
			p := problem.UpstreamBadResponse
			if timeout {
				p = problem.UpstreamTimeout
			}
			if more && resend && (timeout && d.Retry.OnTimeout || !timeout && !got && d.Retry.OnConnect) && d.Retry.allow() {
				x.lastP, x.lastErr = p, err
				return true, nil
			}
			x.fail(p, err)
			return false, nil
		}
		break
	}
	res.Upstream = time.Since(start)
	status := x.resp.status
	failed = status >= 500
	if more && resend && inList(status, d.Retry.OnStatus) && d.Retry.allow() {
		if n, err := d.Picker.Pick(&d.Info); err == nil && n != nil {
			u.close()
			x.lastP, x.lastErr = problem.UpstreamBadResponse, errRetryStatus
			return true, n
		}
	}
	x.relay(u, sent)
	return false, nil
}

// streamBody sends a body that was not read whole beforehand: Content-Length framed
// when its length is known, else chunked. cerr is a client-side failure (gone, too
// large), uerr an upstream write failure.
func (x *exchange) streamBody() (cerr, uerr error) {
	r, d, res := x.r, x.d, x.res
	if x.bbp == nil {
		x.bbp = copyBufPool.Get().(*[]byte)
	}
	buf := *x.bbp
	chunked := x.bodyLen < 0
	left := x.bodyLen
	for chunked || left > 0 {
		p := buf
		if !chunked && int64(len(p)) > left {
			p = p[:left]
		}
		n, err := r.Body.Read(p)
		if n > 0 {
			res.BytesIn += int64(n)
			if max := d.MaxBodyBytes; max > 0 && res.BytesIn > max {
				return errBodyTooLarge, nil
			}
			left -= int64(n)
			var werr error
			if chunked {
				werr = x.uw.chunk(p[:n])
			} else {
				werr = x.uw.write(p[:n])
			}
			if werr == nil {
				// The next Read may wait for the client: what is buffered goes now.
				werr = x.uw.flush()
			}
			if werr != nil {
				return nil, werr
			}
		}
		if err == io.EOF {
			if !chunked && left > 0 {
				return io.ErrUnexpectedEOF, nil
			}
			break
		}
		if err != nil {
			return err, nil
		}
	}
	if chunked {
		_ = x.uw.write(lastChunk)
		_ = x.uw.write(crlf) // request trailers are dropped, as on the engine's own path
	}
	return nil, x.uw.flush()
}

// readHead reads the final response head into x.resp; interim responses are dropped
// (a 101 is invalid: nothing here asked to switch protocols). got reports whether any
// byte arrived.
func (x *exchange) readHead(u *upConn) (got bool, err error) {
	d, b, lim := x.d, &u.br, &x.s.lim
	if d.ResponseHeaderTimeout > 0 {
		u.dl.readExact(u.c, d.ResponseHeaderTimeout)
	} else {
		u.dl.read(u.c)
	}
	for interim := 0; ; interim++ {
		if b.r > 0 {
			n := copy(b.buf, b.buf[b.r:b.w])
			b.r, b.w = 0, n
		}
		st := headState{}
		x.resp.reset()
		for {
			end, ok := parseResponseHead(&x.resp, b.buf[:b.w], &st, lim)
			if !ok {
				return true, errBadResponse
			}
			if end > 0 {
				b.r = end
				break
			}
			if b.w == len(b.buf) {
				if len(b.buf) >= lim.maxHeaderBytes {
					return true, errBadResponse
				}
				nb := make([]byte, min(2*len(b.buf), lim.maxHeaderBytes))
				copy(nb, b.buf[:b.w])
				b.buf = nb
				st = headState{}
				x.resp.reset()
				continue
			}
			n, rerr := u.c.Read(b.buf[b.w:])
			if n > 0 {
				b.w += n
				got = true
				continue
			}
			if rerr == nil {
				rerr = errNoProgress
			} else if rerr == io.EOF && got {
				rerr = io.ErrUnexpectedEOF
			}
			return got, rerr
		}
		if x.resp.status >= 200 {
			return true, nil
		}
		if x.resp.status == 101 || interim >= maxInterim {
			return true, errTooManyInterm
		}
	}
}

// flushHook adapts an http.Flusher to the reader's flush-before-blocking hook.
type flushHook struct{ f http.Flusher }

func (h flushHook) flush() error { h.f.Flush(); return nil }

// relay writes the response head into w's header map, then streams the body, then
// pools or closes the upstream connection.
func (x *exchange) relay(u *upConn, sent bool) {
	r, d, res, p := x.r, x.d, x.res, &x.resp
	mode := modeClose
	switch {
	case bodyless(r.Method, p.status):
		mode = modeNone
	case p.chunked:
		mode = modeChunked
	case p.contentLength >= 0:
		mode = modeLength
	}
	h := x.w.Header()
	stream := mode == modeChunked || mode == modeClose
	for i := range p.fields {
		f := &p.fields[i]
		if isHopByHop(f.name) || p.nconn > 0 && p.listedInConnection(f.name) {
			continue
		}
		if !stream && len(f.name) == 12 && equalFold(f.name, "content-type") && len(f.value) >= 17 && equalFold(f.value[:17], "text/event-stream") {
			stream = true // events must not wait in a buffer
		}
		k := headerKey(f.name)
		h[k] = append(h[k], string(f.value))
	}
	for i := 0; i+1 < len(d.RespHeader.kv); i += 2 {
		if k, v := d.RespHeader.kv[i], d.RespHeader.kv[i+1]; validTokenString(k) && validValueString(v) {
			h.Set(k, v)
		}
	}
	res.Status = p.status
	x.w.WriteHeader(p.status)

	if stream {
		if f, ok := x.w.(http.Flusher); ok {
			f.Flush() // the head goes now; body pieces are flushed before each wait
			u.br.fl = flushHook{f}
		}
	}
	var err error
	var werr bool
	switch mode {
	case modeLength:
		err, werr = x.copyLength(u, p.contentLength)
	case modeChunked:
		x.ucr.reset(&u.br)
		u.dl.read(u.c)
		err, werr = x.pump(&x.ucr)
		if err == nil {
			x.trailers(h)
		}
	case modeClose:
		u.dl.read(u.c)
		err, werr = x.pump(&u.br)
	}
	u.br.fl = nil
	if err != nil {
		u.close()
		if werr {
			res.Reason, res.Err = "client_aborted", err
		} else {
			res.Reason, res.Err = "upstream_aborted", err
			x.s.o.Logger.Debug("h1: upstream aborted mid-response", "target", u.addr, "cause", err)
		}
		return
	}
	if p.close || mode == modeClose || !sent {
		u.close()
		return
	}
	x.s.pool.put(u, time.Now())
}

// copyLength copies a Content-Length body; werr tells a client write failure from an
// upstream read failure.
func (x *exchange) copyLength(u *upConn, left int64) (err error, werr bool) {
	if bufd := u.br.buffered(); len(bufd) > 0 {
		k := len(bufd)
		if int64(k) > left {
			k = int(left)
		}
		if _, err := x.w.Write(bufd[:k]); err != nil {
			return err, true
		}
		u.br.r += k
		left -= int64(k)
		x.res.BytesOut += int64(k)
	}
	if left == 0 {
		return nil, false
	}
	u.dl.read(u.c)
	cb := x.copyBuf()
	for left > 0 {
		p := cb
		if int64(len(p)) > left {
			p = p[:left]
		}
		n, err := u.br.read(p)
		if n > 0 {
			if _, werr := x.w.Write(p[:n]); werr != nil {
				return werr, true
			}
			left -= int64(n)
			x.res.BytesOut += int64(n)
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err, false
		}
	}
	return nil, false
}

// pump copies a body from src until its EOF.
func (x *exchange) pump(src io.Reader) (err error, werr bool) {
	cb := x.copyBuf()
	for {
		n, err := src.Read(cb)
		if n > 0 {
			if _, werr := x.w.Write(cb[:n]); werr != nil {
				return werr, true
			}
			x.res.BytesOut += int64(n)
		}
		if err == io.EOF {
			return nil, false
		}
		if err != nil {
			return err, false
		}
	}
}

// trailers passes the chunked body's trailer fields (already validated, forbidden ones
// dropped by the chunked reader) to net/http, which sends them after the body.
func (x *exchange) trailers(h http.Header) {
	t := x.ucr.trailer
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
	if !validTokenString(r.Method) || !validHost(s2b(r.Host)) {
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
	r, d := x.r, x.d
	b = append(b, r.Method...)
	b = append(b, ' ')
	if d.Path != "" {
		b = append(b, d.Path...)
		if d.RawQuery != "" {
			b = append(b, '?')
			b = append(b, d.RawQuery...)
		}
	} else {
		b = append(b, r.URL.RequestURI()...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	switch {
	case d.Host != "":
		b = append(b, d.Host...)
	case r.Host != "":
		b = append(b, r.Host...)
	default:
		b = append(b, t.Addr...)
	}
	b = append(b, crlf...)
	trust := d.TrustForwarded
	_, hasProto := r.Header["X-Forwarded-Proto"]
	_, hasFwdHost := r.Header["X-Forwarded-Host"]
	hasProto = hasProto && trust && !x.listed("X-Forwarded-Proto")
	hasFwdHost = hasFwdHost && trust && !x.listed("X-Forwarded-Host")
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
	ip := x.peer.Addr()
	b = ip.AppendTo(b)
	b = append(b, crlf...)
	if !hasProto {
		b = append(b, "X-Forwarded-Proto: "...)
		b = append(b, x.s.o.ForwardedProto...)
		b = append(b, crlf...)
	}
	if !hasFwdHost && r.Host != "" {
		b = append(b, "X-Forwarded-Host: "...)
		b = append(b, r.Host...)
		b = append(b, crlf...)
	}
	// Forwarded (RFC 7239): this hop's element; a trusted client's elements were kept above.
	b = append(b, "Forwarded: for="...)
	if ip.Is6() && !ip.Is4In6() {
		b = append(b, `"[`...)
		b = ip.WithZone("").AppendTo(b)
		b = append(b, `]"`...)
	} else {
		b = ip.Unmap().AppendTo(b)
	}
	if r.Host != "" {
		b = append(b, `;host="`...)
		b = append(b, r.Host...) // validHost admitted no quote or backslash
		b = append(b, '"')
	}
	b = append(b, ";proto="...)
	b = append(b, x.s.o.ForwardedProto...)
	b = append(b, crlf...)
	// RFC 9110 section 7.6.3: the protocol received, then a pseudonym.
	switch {
	case r.ProtoMajor == 2:
		b = append(b, "Via: 2 gantry\r\n"...)
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		b = append(b, "Via: 1.0 gantry\r\n"...)
	default:
		b = append(b, "Via: 1.1 gantry\r\n"...)
	}
	b = appendAdded(b, &d.Header)
	switch {
	case x.bodyLen < 0:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case x.bodyLen > 0 || r.Method == "POST" || r.Method == "PUT" || r.Method == "PATCH":
		// An empty POST/PUT/PATCH says so, as net/http's Transport does.
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, x.bodyLen, 10)
		b = append(b, crlf...)
	}
	return append(b, crlf...)
}

// s2b views s as bytes without copying; the bytes are only read.
func s2b(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
