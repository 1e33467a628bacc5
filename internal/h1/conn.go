package h1

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gantrygw/gantry/internal/problem"
)

var connPool = sync.Pool{New: func() any { return new(conn) }}

// discardLimit is the most unread request body the engine reads and drops to keep a
// connection alive after answering without forwarding (net/http uses the same bound).
const discardLimit = 256 << 10

// conn is one client connection's state, reused across its requests and, through
// connPool, across connections.
type conn struct {
	s      *Server
	c      net.Conn
	remote netip.AddrPort
	br     reader
	rbp    *[]byte // pooled read buffer, nil once the buffer was replaced by a larger one
	cw     writer  // to the client
	wbp    *[]byte
	ubp    *[]byte
	cbp    *[]byte // copy buffer for bodies, taken when a body needs it
	dl     deadline

	req Request
	d   Decision
	res Result
	cr  chunkedReader // request body
	hs  headState
	f   forwarder // the current request's forward (forward_conn.go)

	// cl is the connection's identity and lifecycle state, which outlives this conn
	// while the connection is parked (park.go).
	cl         *session
	nreq       int
	clLeft     int64
	closeAfter bool
	handedOff  bool
	// resumed: the connection was parked and is idle again on a new goroutine.
	resumed bool
	// parked: park handed the connection to the poller; this goroutine lets go of it.
	parked bool
	// lp is the connection's state in the readiness loop (loop_linux.go).
	lp loopState
	// small is the read buffer of an idle keep-alive connection (see idleReadBuf).
	small   [256]byte
	onSmall bool
}

// init prepares c for a newly accepted connection.
func (c *conn) init(s *Server, nc net.Conn) {
	c.attach(newSession(s, nc))
	c.rbp = readBufPool.Get().(*[]byte)
	c.br.buf = *c.rbp
}

// attach binds c to a client, new or resuming after a park; the caller sets the read
// buffer.
func (c *conn) attach(cl *session) {
	s, nc := cl.s, cl.nc
	c.s, c.c, c.cl = s, nc, cl
	c.nreq, c.handedOff, c.closeAfter, c.onSmall = cl.nreq, false, false, false
	c.resumed, c.parked = false, false
	c.dl = deadline{d: s.o.StallTimeout}
	c.br = reader{c: nc}
	c.cw = writer{c: nc, dl: &c.dl}
	c.remote = cl.remote
	c.req.remote = c.remote
	c.f.s, c.f.d, c.f.res, c.f.down, c.f.fl = s, &c.d, &c.res, c, &c.cw
}

// release returns the pooled buffers and the conn itself. Nothing may reference the
// request's views any more (Done has returned).
func (c *conn) release() {
	if c.rbp != nil {
		readBufPool.Put(c.rbp)
		c.rbp = nil
	}
	c.putWriteBufs()
	c.putCopyBuf()
	c.br, c.cw = reader{}, writer{}
	c.s, c.c, c.cl = nil, nil, nil
	c.req.reset()
	c.d.reset(nil)
	c.res = Result{}
	c.cr.reset(nil)
	c.f.reset()
	connPool.Put(c)
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (c *conn) getWriteBufs() {
	if c.wbp == nil {
		c.wbp = writeBufPool.Get().(*[]byte)
		c.cw.buf = (*c.wbp)[:0]
	}
	if c.ubp == nil {
		c.ubp = writeBufPool.Get().(*[]byte)
		c.f.uw.buf = (*c.ubp)[:0]
	}
}

// putWriteBufs gives the write buffers back while the connection idles, so an idle
// keep-alive connection holds only its read buffer.
func (c *conn) putWriteBufs() {
	if c.wbp != nil {
		*c.wbp = c.cw.buf[:0]
		writeBufPool.Put(c.wbp)
		c.wbp, c.cw.buf = nil, nil
	}
	if c.ubp != nil {
		*c.ubp = c.f.uw.buf[:0]
		writeBufPool.Put(c.ubp)
		c.ubp, c.f.uw.buf = nil, nil
	}
}

func (c *conn) copyBuf() []byte {
	if c.cbp == nil {
		c.cbp = copyBufPool.Get().(*[]byte)
	}
	return *c.cbp
}

func (c *conn) putCopyBuf() {
	if c.cbp != nil {
		copyBufPool.Put(c.cbp)
		c.cbp = nil
	}
}

// setActive moves the connection out of idle; false if Shutdown closed it.
func (c *conn) setActive() bool {
	st := &c.cl.state
	return st.CompareAndSwap(stateIdle, stateActive) || st.Load() == stateActive
}

// serveRest runs the connection's requests one after the other until the connection
// ends, then closes it unless another owner has it (Fallback, or parked). It returns
// false when the readiness loop took the connection: the caller may not touch c any
// more.
func (c *conn) serveRest() bool {
	for {
		switch c.next() {
		case nextMore:
			continue
		case nextGone:
			return false
		}
		break
	}
	if !c.handedOff && !c.parked {
		_ = c.c.Close()
	}
	return true
}

// What next did with the connection.
const (
	nextEnd  = iota // it ends (closed by serveRest unless handed off or parked)
	nextMore        // serve the next request
	nextGone        // the readiness loop took it (loop_linux.go): hands off
)

// next reads, routes and serves one request and says what became of the connection.
func (c *conn) next() int {
	s, b := c.s, &c.br
	if b.r > 0 { // the previous request's views are dead: compact its leftovers down
		n := copy(b.buf, b.buf[b.r:b.w])
		b.r, b.w = 0, n
	}
	b.lo, b.fl = 0, nil
	c.req.reset()
	c.hs = headState{}
	first := c.nreq == 0
	rht, parkable := false, false
	if first {
		c.dl.readExact(c.c, s.o.ReadHeaderTimeout)
		rht = true
	} else if b.w == 0 {
		if !c.resumed {
			c.putWriteBufs()
			c.putCopyBuf()
			c.cl.fresh.Store(false)
			if !c.cl.state.CompareAndSwap(stateActive, stateIdle) || s.shutting.Load() {
				return nextEnd
			}
			c.idleReadBuf()
			// With the readiness loop the goroutine ends here: the loop reads the next
			// request when it comes (loop_linux.go).
			if s.loop && c.cl.fd != fdNone {
				if c.enterLoop() {
					return nextGone
				}
				if c.cl.state.Load() == stateClosed {
					return nextEnd // Shutdown closed it meanwhile
				}
			}
		}
		c.resumed = false
		// Nothing is buffered (no pipelined request): after a short grace the
		// connection may park instead of holding this goroutine (park.go).
		if parkable = c.cl.fd != fdNone; parkable {
			c.dl.readFor(c.c, s.parkAfter)
		} else {
			c.dl.readFor(c.c, s.o.IdleTimeout)
		}
	}
	for {
		end, status, err := parseRequestHead(&c.req, b.buf[:b.w], &c.hs, &s.lim)
		if status != 0 {
			if !c.setActive() {
				return nextEnd
			}
			c.reject(status, err)
			return nextEnd
		}
		if end > 0 {
			b.r = end
			break
		}
		if b.w == len(b.buf) {
			c.growReadBuf(s.lim.maxHeaderBytes + readBufSize)
		}
		if b.w > 0 && !rht { // the head has begun: from now on ReadHeaderTimeout applies
			c.dl.readExact(c.c, s.o.ReadHeaderTimeout)
			rht = true
		}
		n, err := c.c.Read(b.buf[b.w:])
		if n > 0 {
			b.w += n
			if c.onSmall {
				c.busyReadBuf()
			}
			if !c.setActive() {
				return nextEnd
			}
			continue
		}
		if parkable && b.w == 0 && isTimeout(err) {
			switch c.park() {
			case parkParked:
				c.parked = true
				return nextEnd
			case parkContinue:
				parkable = c.cl.fd != fdNone
				continue
			}
		}
		// EOF, timeout (idle, slowloris) or reset: close without a response.
		return nextEnd
	}
	if c.serveRequest() {
		return nextMore
	}
	return nextEnd
}

// idleReadBuf gives the pooled read buffer back while a keep-alive connection waits
// for its next request, and waits on a small array inside the conn instead: an idle
// connection then holds 256 bytes rather than 4 KiB (docs/performance.md, memory).
// Nothing is buffered here (the caller checked b.w == 0).
func (c *conn) idleReadBuf() {
	if c.rbp != nil {
		readBufPool.Put(c.rbp)
		c.rbp = nil
	}
	c.br.buf, c.br.r, c.br.w = c.small[:], 0, 0
	c.onSmall = true
}

// busyReadBuf moves what arrived into a pooled read buffer once the connection is busy.
func (c *conn) busyReadBuf() {
	c.rbp = readBufPool.Get().(*[]byte)
	n := copy(*c.rbp, c.br.buf[:c.br.w])
	c.br.buf, c.br.w = *c.rbp, n
	c.onSmall = false
}

// growReadBuf replaces the read buffer with a larger one, up to max. The old buffer is
// left to the garbage collector, never pooled: views from the current head may alias it.
func (c *conn) growReadBuf(max int) {
	b := &c.br
	n := 2 * len(b.buf)
	if n > max {
		n = max
	}
	if n <= len(b.buf) {
		return
	}
	nb := make([]byte, n)
	copy(nb, b.buf[:b.w])
	b.buf = nb
	c.rbp = nil
}

func (c *conn) serveRequest() bool {
	if !c.begin() {
		return false
	}
	c.s.o.Handler.Route(&c.req, &c.d)
	if c.dispatch() {
		return false
	}
	return c.finish()
}

// begin prepares the exchange of a parsed request, up to Route; false ends the
// connection (the request was handed to Fallback or refused).
func (c *conn) begin() bool {
	s, req, d, res := c.s, &c.req, &c.d, &c.res
	c.nreq++
	if req.h2Preface || req.fallback || req.upgrade && s.o.Fallback != nil {
		if s.o.Fallback == nil {
			if req.h2Preface {
				return false // an HTTP/1.1 answer means nothing to an h2 client
			}
			c.reject(501, errNotImplemented)
			return false
		}
		c.handoff()
		return false
	}
	b := &c.br
	b.lo = b.r
	if len(b.buf)-b.lo < 2*maxChunkLine { // room for body lines after a large head
		c.growReadBuf(len(b.buf) + readBufSize)
	}
	c.clLeft = 0
	if req.contentLength > 0 {
		c.clLeft = req.contentLength
	} else if req.contentLength < 0 {
		c.cr.reset(b)
	}
	d.reset(req)
	*res = Result{}
	c.closeAfter = !req.keepAlive || s.shutting.Load() ||
		s.o.MaxRequestsPerConn > 0 && c.nreq >= s.o.MaxRequestsPerConn
	c.getWriteBufs()
	c.cw.err = nil
	return true
}

// dispatch carries out the Decision Route made; true means the connection was handed
// to Fallback (and the exchange is not the engine's any more).
func (c *conn) dispatch() (handedOff bool) {
	switch c.d.Kind {
	case Fallback:
		if c.s.o.Fallback != nil {
			c.handoff()
			return true
		}
		c.problem(problem.Problem{Status: 501, Reason: "not_implemented", Title: "Not implemented"}, errNotImplemented)
	case Answer:
		c.writeAnswer()
	default:
		c.forward()
	}
	return false
}

// finish ends the exchange once its response is written or batched: flush, Done, and
// the decision whether the connection serves another request.
func (c *conn) finish() bool {
	s := c.s
	_ = c.cw.flush()
	s.o.Handler.Done(&c.req, &c.d, &c.res)
	if c.cw.err != nil {
		return false
	}
	if !c.closeAfter && !c.bodyDone() && !c.discardBody() {
		c.closeAfter = true
	}
	if c.closeAfter {
		c.lingerClose()
		return false
	}
	return !s.shutting.Load()
}

// reject answers a request the parser refused and ends the connection: after a framing
// error nothing that follows can be trusted to start a request.
func (c *conn) reject(status int, err error) {
	c.nreq++
	c.d.reset(&c.req)
	c.res = Result{}
	c.closeAfter = true
	c.getWriteBufs()
	c.cw.err = nil
	c.problem(problemFor(status), err)
	_ = c.cw.flush()
	c.s.o.Logger.Debug("h1: request rejected", "status", status, "cause", err, "remote", c.remote)
	c.s.o.Handler.Done(&c.req, &c.d, &c.res)
	c.lingerClose()
}

func problemFor(status int) problem.Problem {
	switch status {
	case 414:
		return problem.URITooLong
	case 431:
		return problem.HeadersTooLarge
	case 417:
		return problem.Problem{Status: 417, Reason: "expectation_failed", Title: "Expectation not supported"}
	case 501:
		return problem.Problem{Status: 501, Reason: "not_implemented", Title: "Not implemented"}
	case 505:
		return problem.Problem{Status: 505, Reason: "http_version_not_supported", Title: "HTTP version not supported"}
	}
	return problem.BadRequest
}

// handoff passes the connection, with everything read so far, to Options.Fallback.
func (c *conn) handoff() {
	replay := append([]byte(nil), c.br.buf[:c.br.w]...)
	c.handedOff = true
	_ = c.c.SetDeadline(time.Time{})
	c.s.o.Fallback(&replayConn{Conn: c.c, buf: replay})
}

// lingerClose half-closes and drains briefly before closing, so a client that is still
// sending (a rejected request's body, pipelined requests) reads our response instead
// of a reset that would discard it.
func (c *conn) lingerClose() {
	if cw, ok := c.c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = c.c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := c.br.buf
		for total := 0; total < discardLimit; {
			n, err := c.c.Read(buf)
			total += n
			if err != nil {
				break
			}
		}
	}
}

// bodyDone reports whether the request body was read to its end.
func (c *conn) bodyDone() bool {
	if c.req.contentLength < 0 {
		return c.cr.done()
	}
	return c.clLeft == 0
}

// readBody reads request body bytes into p; io.EOF at its end.
func (c *conn) readBody(p []byte) (int, error) {
	var n int
	var err error
	if c.req.contentLength < 0 {
		n, err = c.cr.Read(p)
	} else {
		if c.clLeft == 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > c.clLeft {
			p = p[:c.clLeft]
		}
		n, err = c.br.read(p)
		c.clLeft -= int64(n)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	c.res.BytesIn += int64(n)
	if max := c.d.MaxBodyBytes; max > 0 && c.res.BytesIn > max {
		return n, errBodyTooLarge
	}
	return n, err
}

// discardBody reads and drops the rest of a request body that was not forwarded, up
// to discardLimit; false if the connection cannot be kept.
func (c *conn) discardBody() bool {
	if c.req.expect100 || c.req.contentLength > 0 && c.clLeft > discardLimit {
		return false // the client waits for 100 or the body is big: close instead
	}
	c.dl.read(c.c)
	buf := c.copyBuf()
	for total := 0; total <= discardLimit; {
		n, err := c.readBody(buf)
		total += n
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}

// problem turns p into the answer for the current request (rendered by Options.Problem)
// and writes it.
func (c *conn) problem(p problem.Problem, err error) {
	d := &c.d
	d.Kind = Answer
	d.Status, d.ContentType, d.Body = p.Status, "", nil
	if c.s.o.Problem != nil {
		c.s.o.Problem(&c.req, d, p)
	} else {
		d.ContentType = problem.ContentType
		d.Body = p.JSON(d.RequestID)
	}
	c.res.Reason, c.res.Err = p.Reason, err
	c.writeAnswer()
}

var (
	continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")
	crlf         = []byte("\r\n")
	lastChunk    = []byte("0\r\n")
)

// writeAnswer writes the Decision's answer.
func (c *conn) writeAnswer() {
	req, d := &c.req, &c.d
	status := d.Status
	if status < 200 || status > 999 {
		status = 500
	}
	if !c.bodyDone() && (req.expect100 || req.contentLength < 0 || c.clLeft > discardLimit) {
		c.closeAfter = true
	}
	b := appendStatusLine(c.cw.buf, status, http.StatusText(status))
	b = appendDate(b)
	if d.ContentType != "" && validValueString(d.ContentType) {
		b = append(b, "Content-Type: "...)
		b = append(b, d.ContentType...)
		b = append(b, crlf...)
	}
	b = appendAdded(b, &d.RespHeader)
	noBody := bodyless(req.method, status)
	if status != 204 && status != 304 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(d.Body)), 10)
		b = append(b, crlf...)
	}
	b = c.appendConnection(b)
	b = append(b, crlf...)
	c.cw.buf = b
	c.res.Status = status
	if !noBody {
		_ = c.cw.write(d.Body)
		c.res.BytesOut = int64(len(d.Body))
	}
}

func (c *conn) appendConnection(b []byte) []byte {
	if c.s.shutting.Load() {
		c.closeAfter = true // Shutdown began during the exchange: this is the last response
	}
	if c.closeAfter {
		return append(b, "Connection: close\r\n"...)
	}
	if c.req.minor == 0 {
		return append(b, "Connection: keep-alive\r\n"...)
	}
	return b
}

func appendStatusLine(b []byte, status int, reason string) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	return append(b, crlf...)
}

// appendFields appends a Header's added fields as they are. Only for a Decision that
// validDecision accepted (every forward is checked before it starts); checking each
// byte again here cost about 1% of an h1 small request's CPU.
func appendFields(b []byte, h *Header) []byte {
	for i := 0; i+1 < len(h.kv); i += 2 {
		b = append(b, h.kv[i]...)
		b = append(b, ": "...)
		b = append(b, h.kv[i+1]...)
		b = append(b, crlf...)
	}
	return b
}

// appendAdded appends a Header's added fields, skipping any that could not be sent
// safely: answers are not checked by validDecision, so invalid fields are dropped here.
func appendAdded(b []byte, h *Header) []byte {
	for i := 0; i+1 < len(h.kv); i += 2 {
		if !validTokenString(h.kv[i]) || !validValueString(h.kv[i+1]) {
			continue
		}
		b = append(b, h.kv[i]...)
		b = append(b, ": "...)
		b = append(b, h.kv[i+1]...)
		b = append(b, crlf...)
	}
	return b
}

// reset prepares d for a request, keeping capacity.
func (d *Decision) reset(req *Request) {
	rh, h, info := d.RespHeader, d.Header, d.Info
	rh.reset(nil)
	h.reset(req)
	info.Tried = info.Tried[:0]
	*d = Decision{RespHeader: rh, Header: h}
	d.Info.Tried = info.Tried
}
