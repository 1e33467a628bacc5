package h1

import (
	"io"
	"net"
	"strconv"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/problem"
)

// Response body framing modes.
const (
	modeNone   = iota // HEAD, 1xx, 204, 304
	modeLength        // Content-Length
	modeChunked
	modeClose // delimited by the upstream closing the connection
)

// forward runs the Forward decision: pick, try, retry, relay.
func (c *conn) forward() {
	req, d, res := &c.req, &c.d, &c.res
	if d.Picker == nil {
		c.problem(problem.NoTarget, balancer.ErrNoTarget)
		return
	}
	if !validDecision(d) {
		c.problem(problem.Internal, errBadDecision)
		return
	}
	if max := d.MaxBodyBytes; max > 0 && req.contentLength > max {
		c.problem(problem.PayloadTooLarge, errBodyTooLarge)
		return
	}
	// A body already in the read buffer in full can be sent again on a retry: take it
	// out of the stream now (the bytes stay in place, nothing reads c.br until the
	// exchange ends) and send it from there.
	var body []byte
	replay := req.contentLength == 0
	if cl := req.contentLength; cl > 0 && int64(len(c.br.buffered())) >= cl {
		body = c.br.buffered()[:cl]
		c.br.r += int(cl)
		c.clLeft = 0
		res.BytesIn = cl
		replay = true
	}
	attempts := d.Retry.Attempts
	if attempts < 1 {
		attempts = 1
	}
	d.Info.Tried = c.tried[:0]
	var next *balancer.Target
	var lastP problem.Problem
	var lastErr error
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
					c.problem(problem.NoTarget, err)
				} else {
					c.problem(lastP, lastErr)
				}
				return
			}
		}
		d.Info.Tried = append(d.Info.Tried, t)
		res.Tries++
		res.Target = t
		var again bool
		again, next, lastP, lastErr = c.try(t, body, replay, try < attempts)
		if !again {
			return
		}
	}
}

// try runs one try against t. It returns again=true when it failed before anything
// reached the client and a retry is allowed; next is then the target to use (already
// picked when a retryable status had to be weighed against having another target), or
// nil to pick. Otherwise the client got a response, a problem, or the exchange aborted.
func (c *conn) try(t *balancer.Target, body []byte, replay, more bool) (again bool, next *balancer.Target, lastP problem.Problem, lastErr error) {
	s, req, d, res := c.s, &c.req, &c.d, &c.res
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
	resend := replay && (idempotent(req.method) || d.Retry.NonIdempotent)
	ct := d.ConnectTimeout
	if ct <= 0 {
		ct = s.o.ConnectTimeout
	}
	u := s.pool.get(t.Addr, start)
	sent := true // the whole request body reached the upstream
	for attempt := 0; ; attempt++ {
		if u == nil {
			var err error
			if u, err = s.pool.dial(t.Addr, ct); err != nil {
				p := problem.UpstreamConnect
				if isTimeout(err) {
					p = problem.UpstreamTimeout
				}
				if more && d.Retry.OnConnect {
					return true, nil, p, err
				}
				c.problem(p, err)
				return false, nil, p, err
			}
		}
		c.uw.c, c.uw.dl, c.uw.err = u.c, &u.dl, nil
		c.uw.buf = c.appendRequestHead(c.uw.buf[:0], t)
		if replay {
			_ = c.uw.write(body)
			if err := c.flushAwait(u); err != nil {
				u.close()
				u = nil
				if attempt == 0 && err != nil && !isTimeout(err) {
					continue // a stale pooled conn (or a reset fresh one): nothing was delivered
				}
				if more && d.Retry.OnConnect {
					return true, nil, problem.UpstreamConnect, err
				}
				c.problem(problem.UpstreamConnect, err)
				return false, nil, problem.UpstreamConnect, err
			}
		} else {
			cerr, uerr := c.streamBody(u)
			if cerr != nil {
				u.close()
				c.closeAfter = true
				switch cerr {
				case errBodyTooLarge:
					c.problem(problem.PayloadTooLarge, cerr)
				case errBadChunk, errBadTrailer:
					c.problem(problem.BadRequest.WithDetail("malformed chunked body"), cerr)
				default:
					res.Reason, res.Err = "client_aborted", cerr
					c.cw.err = cerr // nothing more can be written usefully
				}
				failed = false
				return false, nil, problem.Problem{}, cerr
			}
			if uerr != nil {
				// The upstream stopped taking the body. It may have answered early
				// (RFC 9112 section 9.5): read its response if there is one.
				sent = false
				c.closeAfter = true
			}
		}
		if u.fast {
			u.takeBuf()
		}
		got, err := c.readHead(u)
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
				return true, nil, p, err
			}
			c.problem(p, err)
			return false, nil, p, err
		}
		break
	}
	res.Upstream = time.Since(start)
	u.fast = res.Upstream < fastHead
	status := c.resp.status
	failed = status >= 500
	if more && resend && inList(status, d.Retry.OnStatus) && d.Retry.allow() {
		if n, err := d.Picker.Pick(&d.Info); err == nil && n != nil {
			u.close()
			return true, n, problem.UpstreamBadResponse, errRetryStatus
		}
	}
	c.relay(u, sent)
	return false, nil, problem.Problem{}, nil
}

func inList(v int, list []int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// streamBody sends a request body that was not in the buffer in full. cerr is a
// client-side failure (gone, malformed chunk, too large); uerr an upstream write failure.
func (c *conn) streamBody(u *upConn) (cerr, uerr error) {
	req := &c.req
	if req.expect100 && len(c.br.buffered()) == 0 {
		// RFC 9110 section 10.1.1: the upstream is reachable, so invite the body.
		c.dl.write(c.c)
		if _, err := c.c.Write(continueLine); err != nil {
			return err, nil
		}
	}
	c.dl.read(c.c)
	c.br.fl = &c.uw
	defer func() { c.br.fl = nil }()
	cb := c.copyBuf()
	chunked := req.contentLength < 0
	for {
		n, err := c.readBody(cb)
		if n > 0 {
			var werr error
			if chunked {
				werr = c.uw.chunk(cb[:n])
			} else {
				werr = c.uw.write(cb[:n])
			}
			if werr != nil {
				return nil, werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if c.uw.err != nil { // the flush before a blocking client read failed
				return nil, c.uw.err
			}
			return err, nil
		}
	}
	if chunked {
		_ = c.uw.write(lastChunk)
		_ = c.uw.write(crlf) // request trailers are dropped: no backend relies on them
	}
	return nil, c.uw.flush()
}

// readHead reads the final response head into c.resp, forwarding interim responses
// (except 100) to HTTP/1.1 clients. got reports whether any byte arrived.
func (c *conn) readHead(u *upConn) (got bool, err error) {
	b := &u.br
	if !u.armed {
		c.headDeadline(u)
	}
	u.armed = false
	for interim := 0; ; interim++ {
		if b.r > 0 {
			n := copy(b.buf, b.buf[b.r:b.w])
			b.r, b.w = 0, n
		}
		st := headState{}
		c.resp.reset()
		for {
			end, ok := parseResponseHead(&c.resp, b.buf[:b.w], &st, &c.s.lim)
			if !ok {
				return true, errBadResponse
			}
			if end > 0 {
				b.r = end
				break
			}
			if b.w == len(b.buf) {
				if len(b.buf) >= c.s.lim.maxHeaderBytes {
					return true, errBadResponse
				}
				nb := make([]byte, min(2*len(b.buf), c.s.lim.maxHeaderBytes))
				copy(nb, b.buf[:b.w])
				b.buf = nb
				st = headState{}
				c.resp.reset()
				continue
			}
			n, rerr := u.read(b.buf[b.w:])
			if n > 0 {
				b.w += n
				got = true
				u.takeBuf()
				continue
			}
			if rerr == nil {
				rerr = errNoProgress
			} else if rerr == io.EOF && got {
				rerr = io.ErrUnexpectedEOF
			}
			return got, rerr
		}
		p := &c.resp
		if p.status >= 200 {
			return true, nil
		}
		if p.status == 101 || interim >= maxInterim {
			return true, errTooManyInterm
		}
		if p.status != 100 && c.req.minor == 1 {
			bb := appendStatusLineBytes(c.cw.buf, p.status, p.reason)
			bb = appendResponseFields(bb, p, false, false)
			c.cw.buf = append(bb, crlf...)
			if err := c.cw.flush(); err != nil {
				return true, err
			}
		}
	}
}

// headDeadline sets the read deadline for the response head.
func (c *conn) headDeadline(u *upConn) {
	if rht := c.d.ResponseHeaderTimeout; rht > 0 {
		u.dl.readExact(u.c, rht)
	} else {
		u.dl.read(u.c)
	}
}

// flushAwait writes the request batched in c.uw to u, like c.uw.flush, and, when it
// left in one non-blocking write, waits for the answer in the same poll (awaiter), so
// readHead's first read finds bytes instead of EAGAIN. The head's read deadline is set
// before the wait.
func (c *conn) flushAwait(u *upConn) error {
	w := &c.uw
	if w.err != nil || len(w.buf) == 0 {
		return w.flush()
	}
	c.headDeadline(u)
	u.armed = true
	n, err := u.writeAwait(w.buf)
	if err != nil {
		w.buf, w.err = w.buf[:0], err
		return err
	}
	if n < len(w.buf) { // the socket buffer was full: the rest the ordinary way
		rest := copy(w.buf, w.buf[n:])
		w.buf = w.buf[:rest]
		return w.flush()
	}
	w.buf = w.buf[:0]
	return nil
}

// relay writes the response head and streams the body to the client, then pools or
// closes the upstream connection. sent is false when the request body was cut short.
func (c *conn) relay(u *upConn, sent bool) {
	req, d, res, p := &c.req, &c.d, &c.res, &c.resp
	mode := modeClose
	switch {
	case bodyless(req.method, p.status):
		mode = modeNone
	case p.chunked:
		mode = modeChunked
	case p.contentLength >= 0:
		mode = modeLength
	}
	outChunked := false
	if mode == modeChunked || mode == modeClose {
		if req.minor == 1 {
			outChunked = true
		} else {
			c.closeAfter = true // an HTTP/1.0 client can only learn the end from the close
		}
	}
	if !c.bodyDone() && (!sent || req.expect100 || req.contentLength < 0 || c.clLeft > discardLimit) {
		c.closeAfter = true
	}
	b := appendStatusLineBytes(c.cw.buf, p.status, p.reason)
	b = appendResponseFields(b, p, mode != modeNone, outChunked)
	b = appendAdded(b, &d.RespHeader)
	switch {
	case mode == modeLength:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, p.contentLength, 10)
		b = append(b, crlf...)
	case outChunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	b = c.appendConnection(b)
	c.cw.buf = append(b, crlf...)
	res.Status = p.status

	var err error
	switch mode {
	case modeLength:
		err = c.copyLength(u, p.contentLength)
	case modeChunked:
		err = c.copyChunked(u, outChunked)
	case modeClose:
		err = c.copyUntilClose(u, outChunked)
	}
	u.br.fl = nil
	if err != nil {
		u.close()
		c.closeAfter = true
		if c.cw.err != nil {
			res.Reason, res.Err = "client_aborted", c.cw.err
		} else {
			res.Reason, res.Err = "upstream_aborted", err
			c.s.o.Logger.Debug("h1: upstream aborted mid-response", "target", u.addr, "cause", err)
			// Never let a cut response look complete: drop what is buffered and close.
			c.cw.err = err
		}
		return
	}
	if p.close || mode == modeClose || !sent {
		u.close()
		return
	}
	c.s.pool.put(u, time.Now())
}

// copyLength relays a body of left bytes. It writes the bytes from where they landed
// in the upstream connection's read buffer (the head's read usually brought the whole
// body of a small or 16 KiB response with it), so a body is read once and never copied
// through a second buffer; the reader flushes what is batched for the client before it
// blocks. Bytes read past the body stay buffered, and pool.put then refuses the
// connection (an upstream that sends more than it framed is not reused).
func (c *conn) copyLength(u *upConn, left int64) error {
	b := &u.br
	for {
		if bufd := b.buffered(); len(bufd) > 0 {
			k := len(bufd)
			if int64(k) > left {
				k = int(left)
			}
			out := bufd[:k]
			// What is batched (the head) and these bytes would take two writes:
			// put the batch in front of them instead and write once. A client
			// conn is usually wrapped (listener metrics), which hides writev.
			if n := len(c.cw.buf); n > 0 && n+k > cap(c.cw.buf) {
				if pre := u.before(); n <= len(pre) {
					at := len(pre) - n
					copy(pre[at:], c.cw.buf)
					c.cw.buf = c.cw.buf[:0]
					out = (*u.bp)[at : len(pre)+k]
				}
			}
			if err := c.cw.write(out); err != nil {
				return err
			}
			b.r += k
			left -= int64(k)
			c.res.BytesOut += int64(k)
		}
		if left == 0 {
			return nil
		}
		if b.fl == nil {
			b.fl = &c.cw
			u.dl.read(u.c)
		}
		if err := b.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// copyChunked relays a chunked body, re-chunking it for an HTTP/1.1 client. Like
// copyLength it writes decoded bytes from where they landed in the upstream read buffer.
func (c *conn) copyChunked(u *upConn, outChunked bool) error {
	c.ucr.reset(&u.br)
	u.br.fl = &c.cw
	u.dl.read(u.c)
	for {
		v, err := c.ucr.next()
		if len(v) > 0 {
			if werr := c.emit(v, outChunked); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if outChunked {
		_ = c.cw.write(lastChunk)
		_ = c.cw.write(c.ucr.trailer)
		return c.cw.write(crlf)
	}
	return nil
}

// copyUntilClose relays a body delimited by the upstream closing the connection.
func (c *conn) copyUntilClose(u *upConn, outChunked bool) error {
	b := &u.br
	b.fl = &c.cw
	u.dl.read(u.c)
	for {
		if v := b.buffered(); len(v) > 0 {
			if err := c.emit(v, outChunked); err != nil {
				return err
			}
			b.r = b.w
		}
		if err := b.fill(); err != nil {
			if err == io.EOF {
				break
			}
			return err
		}
	}
	if outChunked {
		_ = c.cw.write(lastChunk)
		return c.cw.write(crlf)
	}
	return nil
}

// emit writes response body bytes to the client, as one chunk when outChunked, and
// counts them.
func (c *conn) emit(p []byte, outChunked bool) error {
	var err error
	if outChunked {
		err = c.cw.chunk(p)
	} else {
		err = c.cw.write(p)
	}
	if err == nil {
		c.res.BytesOut += int64(len(p))
	}
	return err
}

func appendStatusLineBytes(b []byte, status int, reason []byte) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	return append(b, crlf...)
}

// appendResponseFields copies the upstream's fields minus hop-by-hop ones and those it
// named in Connection; Content-Length is left out when the engine writes its own
// framing. Trailer is kept when the body goes out chunked, since trailers follow.
func appendResponseFields(b []byte, p *response, reframe, outChunked bool) []byte {
	for i := range p.fields {
		f := &p.fields[i]
		if isHopByHop(f.name) && !(outChunked && equalFold(f.name, "trailer")) {
			continue
		}
		if reframe && len(f.name) == 14 && equalFold(f.name, "content-length") {
			continue
		}
		if p.nconn > 0 && p.listedInConnection(f.name) {
			continue
		}
		b = append(b, f.name...)
		b = append(b, ": "...)
		b = append(b, f.value...)
		b = append(b, crlf...)
	}
	return b
}

// appendRequestHead writes the upstream request head: request line, Host, the client's
// fields minus hop-by-hop ones, those named in Connection, framing and forwarding
// fields (rewritten here) and those the Decision deletes; then X-Forwarded-*, Via, the
// Decision's additions and the framing the engine chose.
func (c *conn) appendRequestHead(b []byte, t *balancer.Target) []byte {
	req, d := &c.req, &c.d
	b = append(b, req.method...)
	b = append(b, ' ')
	if d.Path != "" {
		b = append(b, d.Path...)
		if d.RawQuery != "" {
			b = append(b, '?')
			b = append(b, d.RawQuery...)
		}
	} else {
		b = append(b, req.origin...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	switch {
	case d.Host != "":
		b = append(b, d.Host...)
	case len(req.hostRaw) > 0:
		b = append(b, req.hostRaw...)
	default:
		b = append(b, t.Addr...)
	}
	b = append(b, crlf...)
	trust := d.TrustForwarded
	var hasProto, hasFwdHost bool
	for i := range req.fields {
		f := &req.fields[i]
		switch len(f.name) {
		case 4:
			if equalFold(f.name, "host") {
				continue
			}
		case 6:
			if equalFold(f.name, "expect") {
				continue // answered by the engine itself
			}
		case 9:
			if !trust && equalFold(f.name, "forwarded") {
				continue
			}
		case 14:
			if equalFold(f.name, "content-length") {
				continue
			}
		case 15:
			if equalFold(f.name, "x-forwarded-for") {
				continue // rewritten below
			}
		case 16:
			if equalFold(f.name, "x-forwarded-host") {
				if !trust {
					continue
				}
				hasFwdHost = true
			}
		case 17:
			if equalFold(f.name, "x-forwarded-proto") {
				if !trust {
					continue
				}
				hasProto = true
			}
		}
		if isHopByHop(f.name) || req.nconn > 0 && req.listedInConnection(f.name) || len(d.Header.del) > 0 && d.Header.hides(f.name) {
			continue
		}
		b = append(b, f.name...)
		b = append(b, ": "...)
		b = append(b, f.value...)
		b = append(b, crlf...)
	}
	b = append(b, "X-Forwarded-For: "...)
	if trust {
		for i := range req.fields {
			f := &req.fields[i]
			if len(f.name) == 15 && equalFold(f.name, "x-forwarded-for") && len(f.value) > 0 && !req.listedInConnection(f.name) {
				b = append(b, f.value...)
				b = append(b, ", "...)
			}
		}
	}
	b = req.remote.Addr().AppendTo(b)
	b = append(b, crlf...)
	if !hasProto {
		b = append(b, "X-Forwarded-Proto: "...)
		b = append(b, c.s.o.ForwardedProto...)
		b = append(b, crlf...)
	}
	if !hasFwdHost && len(req.hostRaw) > 0 {
		b = append(b, "X-Forwarded-Host: "...)
		b = append(b, req.hostRaw...)
		b = append(b, crlf...)
	}
	// Forwarded (RFC 7239): this hop's element; a trusted client's elements were kept
	// above, and several Forwarded lines read as one list.
	b = append(b, "Forwarded: for="...)
	if ip := req.remote.Addr(); ip.Is6() && !ip.Is4In6() {
		b = append(b, `"[`...)
		b = ip.WithZone("").AppendTo(b)
		b = append(b, `]"`...)
	} else {
		b = ip.Unmap().AppendTo(b)
	}
	if len(req.hostRaw) > 0 {
		b = append(b, `;host="`...)
		b = append(b, req.hostRaw...) // validHost admitted no quote or backslash
		b = append(b, '"')
	}
	b = append(b, ";proto="...)
	b = append(b, c.s.o.ForwardedProto...)
	b = append(b, crlf...)
	b = append(b, "Via: 1.1 gantry\r\n"...)
	b = appendAdded(b, &d.Header)
	switch {
	case req.contentLength < 0:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case req.hasCL:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, req.contentLength, 10)
		b = append(b, crlf...)
	}
	return append(b, crlf...)
}

// validDecision checks what the Handler asks the engine to put on the wire, so a
// rewrite or a policy cannot inject CR/LF into the upstream request or the response.
func validDecision(d *Decision) bool {
	if d.Path != "" {
		if d.Path[0] != '/' {
			return false
		}
		for i := 0; i < len(d.Path); i++ {
			if c := d.Path[i]; c < 0x21 || c > 0x7e || c == '#' || c == '?' {
				return false
			}
		}
		for i := 0; i < len(d.RawQuery); i++ {
			if c := d.RawQuery[i]; c < 0x21 || c > 0x7e || c == '#' {
				return false
			}
		}
	}
	if d.Host != "" {
		for i := 0; i < len(d.Host); i++ {
			if c := d.Host[i]; c <= 0x20 || c >= 0x7f || c == '/' || c == '@' {
				return false
			}
		}
	}
	return validAdded(&d.Header) && validAdded(&d.RespHeader)
}

func validAdded(h *Header) bool {
	for i := 0; i+1 < len(h.kv); i += 2 {
		if !validTokenString(h.kv[i]) || !validValueString(h.kv[i+1]) {
			return false
		}
	}
	return true
}
