package h1

import (
	"strconv"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/problem"
)

// The engine's client connection as the client side of a forward: the request was
// parsed from c.br, the response goes to c.cw as HTTP/1.1 bytes.
var _ downstream = (*conn)(nil)

// forward runs the Forward decision: check, take a buffered body out of the stream,
// then pick, try, retry, relay (forwarder.run).
func (c *conn) forward() {
	req, f := &c.req, &c.f
	if !f.check(true, req.contentLength) {
		return
	}
	f.method = req.method
	// A body already in the read buffer in full can be sent again on a retry: take it
	// out of the stream now (the bytes stay in place, nothing reads c.br until the
	// exchange ends) and send it from there.
	f.body, f.replay = nil, req.contentLength == 0
	if cl := req.contentLength; cl > 0 && int64(len(c.br.buffered())) >= cl {
		f.body = c.br.buffered()[:cl]
		c.br.r += int(cl)
		c.clLeft = 0
		c.res.BytesIn = cl
		f.replay = true
	}
	f.run()
}

// sendBody streams a request body that was not in the buffer in full.
func (c *conn) sendBody(uw *writer) (cerr, uerr error) {
	if c.req.expect100 && len(c.br.buffered()) == 0 {
		// RFC 9110 section 10.1.1: the upstream is reachable, so invite the body.
		c.dl.write(c.c)
		if _, err := c.c.Write(continueLine); err != nil {
			return err, nil
		}
	}
	c.dl.read(c.c)
	c.br.fl = uw
	cerr, uerr = pipeBody(uw, (*connBody)(c), c.copyBuf(), c.req.contentLength < 0, false)
	c.br.fl = nil
	if cerr == nil && uerr != nil {
		c.closeAfter = true // the rest of the body is still on the connection
	}
	return cerr, uerr
}

// connBody reads the request body of a conn (readBody) as an io.Reader.
type connBody conn

func (b *connBody) Read(p []byte) (int, error) { return (*conn)(b).readBody(p) }

// bodyFailed answers a body that broke off or broke the rules; the connection closes.
func (c *conn) bodyFailed(cerr error) {
	c.closeAfter = true
	switch cerr {
	case errBodyTooLarge:
		c.problem(problem.PayloadTooLarge, cerr)
	case errBadChunk, errBadTrailer:
		c.problem(problem.BadRequest.WithDetail("malformed chunked body"), cerr)
	default:
		c.res.Reason, c.res.Err = "client_aborted", cerr
		c.cw.err = cerr // nothing more can be written usefully
	}
}

// interim forwards an interim response (except 100, which the engine answers itself)
// to an HTTP/1.1 client.
func (c *conn) interim(p *response) error {
	if p.status == 100 || c.req.minor != 1 {
		return nil
	}
	b := appendStatusLineBytes(c.cw.buf, p.status, p.reason)
	b = appendResponseFields(b, p, false, false)
	c.cw.buf = append(b, crlf...)
	return c.cw.flush()
}

// head batches the response head in c.cw; it leaves with the body's first bytes.
func (c *conn) head(p *response, mode int, sent bool) (outChunked bool) {
	req, d := &c.req, &c.d
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
	b = appendFields(b, &d.RespHeader)
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
	return outChunked
}

func (c *conn) body(p []byte, chunked bool) error {
	if chunked {
		return c.cw.chunk(p)
	}
	return c.cw.write(p)
}

// bodyAt writes body bytes where they lie in u's read buffer. What is batched (the
// head) and these bytes would take two writes: it puts the batch in the headroom in
// front of them instead and writes once. A client conn is usually wrapped (listener
// metrics), which hides writev.
func (c *conn) bodyAt(u *upConn, k int) error {
	out := u.br.buffered()[:k]
	if n := len(c.cw.buf); n > 0 && n+k > cap(c.cw.buf) {
		if pre := u.before(); n <= len(pre) {
			at := len(pre) - n
			copy(pre[at:], c.cw.buf)
			c.cw.buf = c.cw.buf[:0]
			out = (*u.bp)[at : len(pre)+k]
		}
	}
	return c.cw.write(out)
}

// end writes the last chunk and the trailers; an HTTP/1.0 client gets neither.
func (c *conn) end(chunked bool, trailer []byte) error {
	if !chunked {
		return nil
	}
	_ = c.cw.write(lastChunk)
	_ = c.cw.write(trailer)
	return c.cw.write(crlf)
}

func (c *conn) clientErr() error { return c.cw.err }

// cut closes the connection after a broken relay; when the upstream broke it, what is
// still buffered is dropped, so a cut response never looks complete.
func (c *conn) cut(err error) {
	c.closeAfter = true
	if c.cw.err == nil {
		c.cw.err = err
	}
}

// appendRequestHead writes the upstream request head: request line, Host, the client's
// fields minus hop-by-hop ones, those named in Connection, framing and forwarding
// fields (rewritten here) and those the Decision deletes; then X-Forwarded-*, Via, the
// Decision's additions and the framing the engine chose.
func (c *conn) appendRequestHead(b []byte, t *balancer.Target) []byte {
	req, d := &c.req, &c.d
	b = appendRequestLine(b, req.method, req.origin, b2s(req.hostRaw), d, t)
	trust := d.TrustForwarded
	h := hop{
		ip: req.remote.Addr(), host: b2s(req.hostRaw), proto: c.s.o.ForwardedProto,
		via: "Via: 1.1 gantry\r\n", length: req.contentLength, sendLength: req.hasCL,
	}
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
				h.hasFwdHost = true
			}
		case 17:
			if equalFold(f.name, "x-forwarded-proto") {
				if !trust {
					continue
				}
				h.hasProto = true
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
	return appendHop(b, &h, d)
}
